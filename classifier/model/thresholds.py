"""Per-tag confidence thresholds for a target precision, chosen on out-of-fold predictions.

A suggestion is auto-accepted when its confidence reaches its tag's threshold. For each tag the
threshold is the lowest confidence at which the out-of-fold suggestions of that tag, from the
most confident down, are still correct at least ``target`` of the time: the most coverage the
target allows. A tag whose suggestions never reach the target (or are too few to tell) gets no
threshold and is always left for review.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def choose_thresholds(
    classes: np.ndarray,
    truth: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    target: float = 0.9,
    min_support: int = 5,
) -> dict[str, float | None]:
    """Threshold per tag id (``None``: never auto).

    Parameters
    ----------
    classes : ndarray of str
        Tag ids; ``truth`` and ``predicted`` are indices into it.
    truth, predicted : ndarray of int
        True and suggested class per out-of-fold message.
    confidence : ndarray of float
        Confidence of the suggestion.
    target : float
        Precision the auto-accepted suggestions of a tag must reach.
    min_support : int
        Fewest suggestions at or above the threshold it may rest on.
    """
    import numpy as np

    thresholds: dict[str, float | None] = {}
    for index, tag in enumerate(classes):
        mine = predicted == index
        conf = confidence[mine]
        order = np.argsort(-conf, kind="stable")
        conf = conf[order]
        correct = (truth[mine] == index)[order]
        precision = np.cumsum(correct) / np.arange(1, conf.size + 1)
        # Only cut after the last of equal confidences: a threshold takes all of them.
        last_of_tie = np.append(conf[1:] != conf[:-1], True) if conf.size else conf.astype(bool)
        support = np.arange(1, conf.size + 1)
        ok = np.flatnonzero(last_of_tie & (precision >= target) & (support >= min_support))
        thresholds[str(tag)] = float(conf[ok[-1]]) if ok.size else None
    return thresholds
