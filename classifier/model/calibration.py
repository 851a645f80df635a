"""Calibrate a trained model on a team's own labelled messages, without refitting it.

The features and weights stay as trained; what changes, per axis the sample labels, is the
temperature of each linear member and the per-tag thresholds: the two things that say how far
to trust a score on *this* team's messages. A few hundred reviewed messages are enough for that,
where they would be far too few to retrain on.

The figures a team is shown are cross-validated: the sample is split into folds, each fold is
scored with a calibration fitted on the other folds, and the auto share and auto accuracy are
pooled over the folds; "before" is the loaded calibration on the whole sample. Nothing is judged
on the rows it was fitted on. The calibration finally written is fitted on the whole sample.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from classifier.errors import CorpusError
from classifier.model.heads import fit_temperature, labels_frame, softmax
from classifier.model.thresholds import choose_thresholds

if TYPE_CHECKING:
    import scipy.sparse as sp

    from classifier.model.estimator import TagClassifier

MIN_MESSAGES = 50  # fewer labelled messages on an axis than this say nothing about a threshold


@dataclass(frozen=True)
class Calibration:
    """A calibrated copy of a model and what the calibration did, per calibrated axis.

    ``report[axis]``: ``messages``, ``before`` and ``after`` (each ``accuracy``, ``auto_share``,
    ``auto_accuracy``, ``auto``: how many), ``folds``, ``thresholds`` (new, per tag).
    """

    model: TagClassifier
    report: dict[str, dict[str, Any]]


def calibrate(
    model: TagClassifier,
    texts: Sequence[str],
    labels: Any,
    *,
    folds: int = 5,
    seed: int = 0,
    source: str | None = None,
    min_messages: int = MIN_MESSAGES,
    target_precision: float | None = None,
    min_support: int | None = None,
) -> Calibration:
    """Refit temperatures and thresholds of ``model`` on labelled messages.

    Parameters
    ----------
    model : TagClassifier
        A fitted model; it is not changed (a calibrated copy is returned).
    texts : sequence of str
        The team's messages.
    labels : DataFrame or mapping of axis to sequence
        One tag id (or ``None``) per message and axis; an axis absent or with no label keeps
        its calibration.
    folds : int
        Folds of the cross-validated before/after figures.
    source : str, optional
        What the sample was (a file name), recorded in the model.
    min_messages : int
        Fewest labelled messages an axis must have to be calibrated.
    target_precision, min_support : optional
        As in ``TagClassifier``; by default the model's own.

    Raises
    ------
    CorpusError
        No axis labelled, an axis with fewer than ``min_messages`` messages, or tags the
        model does not know (named).
    """
    texts = list(texts)
    frame = labels_frame(labels, len(texts))
    settings = (
        target_precision if target_precision is not None else model.target_precision,
        min_support if min_support is not None else getattr(model, "min_support", 5),
    )
    blank = np.array([not str(t).strip() for t in texts])
    matrix = model.features_.transform(texts)
    calibrated = copy.deepcopy(model)
    report = {}
    for axis in [a for a in frame.columns if a in model.axes_]:
        column = frame[axis].to_numpy(dtype=object)
        rows = np.flatnonzero(np.array([v is not None for v in column]) & ~blank)
        if rows.size == 0:
            continue
        if rows.size < min_messages:
            raise CorpusError(
                f"axis '{axis}': {rows.size} labelled messages; calibrating needs at least "
                f"{min_messages} (review more messages first)"
            )
        head = model.heads_[axis]
        if not head.members:  # a single-tag axis: always that tag, nothing to calibrate
            continue
        known = {str(c): i for i, c in enumerate(head.classes)}
        unknown = sorted({str(t) for t in column[rows]} - set(known))
        if unknown:
            raise CorpusError(
                f"axis '{axis}': the model does not know {', '.join(unknown)}; calibrate only "
                "on tags it was trained with, or retrain (feedtag train)"
            )
        codes = np.array([known[str(t)] for t in column[rows]])
        scores = _member_scores(head, matrix[rows])
        report[axis] = {
            "messages": int(rows.size),
            "before": _figures(model, axis, codes, model.heads_[axis].proba(matrix[rows])),
            "after": _cross_validated(calibrated, axis, scores, codes, folds, seed, settings),
        }
        temperatures, thresholds = _fit(calibrated, axis, scores, codes, settings)
        for member, temperature in zip(calibrated.heads_[axis].members, temperatures, strict=True):
            member.temperature = temperature
        calibrated.thresholds_[axis] = thresholds
        report[axis]["thresholds"] = thresholds
        calibrated.calibration_ = {
            **_previous(calibrated),
            axis: {
                "kind": "team",
                "messages": int(rows.size),
                "source": source,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
        }
    if not report:
        raise CorpusError(
            "no labelled message on any axis the model suggests "
            f"({', '.join(model.axes_)}); nothing to calibrate on"
        )
    return Calibration(calibrated, report)


def _previous(model: TagClassifier) -> dict[str, Any]:
    return dict(getattr(model, "calibration_", None) or {})


def _member_scores(head: Any, matrix: sp.csr_matrix) -> list[np.ndarray]:
    return [np.asarray(matrix @ m.weights + m.bias, dtype=np.float64) for m in head.members]


def _proba(scores: list[np.ndarray], temperatures: Sequence[float]) -> np.ndarray:
    return sum(softmax(t * s) for s, t in zip(scores, temperatures, strict=True)) / len(scores)


def _fit(
    model: Any, axis: str, scores: list[np.ndarray], codes: np.ndarray, settings: tuple
) -> tuple[list[float], dict[str, float | None]]:
    """Temperatures and thresholds fitted on these rows."""
    temperatures = [fit_temperature(s, codes) for s in scores]
    proba = model._masked(axis, _proba(scores, temperatures))
    pred, conf = proba.argmax(axis=1), proba.max(axis=1)
    classes = model.heads_[axis].classes
    thresholds = choose_thresholds(classes, codes, pred, conf, *settings)
    return temperatures, thresholds


def _figures(model: TagClassifier, axis: str, codes: np.ndarray, proba: np.ndarray) -> dict:
    """Accuracy, auto share and auto accuracy of probabilities at the model's thresholds."""
    masked = model._masked(axis, proba)
    pred = masked.argmax(axis=1)
    conf = masked[np.arange(pred.size), pred]
    tags = model.heads_[axis].classes[pred]
    auto = model._auto(axis, tags, conf)
    return _summary(pred == codes, auto)


def _summary(correct: np.ndarray, auto: np.ndarray) -> dict[str, Any]:
    return {
        "accuracy": round(float(correct.mean()), 4),
        "auto": int(auto.sum()),
        "auto_share": round(float(auto.mean()), 4),
        "auto_accuracy": round(float(correct[auto].mean()), 4) if auto.any() else None,
    }


def _cross_validated(
    model: TagClassifier,
    axis: str,
    scores: list[np.ndarray],
    codes: np.ndarray,
    folds: int,
    seed: int,
    settings: tuple,
) -> dict[str, Any]:
    """Each fold scored by a calibration fitted on the other folds; figures pooled."""
    from classifier.model.heads import _splits

    correct = np.zeros(codes.size, dtype=bool)
    auto = np.zeros(codes.size, dtype=bool)
    for train, test in _splits(codes, {"folds": folds, "random_state": seed}):
        trained = [s[train] for s in scores]
        temperatures, thresholds = _fit(model, axis, trained, codes[train], settings)
        proba = model._masked(axis, _proba([s[test] for s in scores], temperatures))
        pred = proba.argmax(axis=1)
        conf = proba[np.arange(pred.size), pred]
        tags = model.heads_[axis].classes[pred]
        limits = np.array([np.inf if thresholds.get(t) is None else thresholds[t] for t in tags])
        correct[test] = pred == codes[test]
        auto[test] = conf >= limits
    return {**_summary(correct, auto), "folds": folds}
