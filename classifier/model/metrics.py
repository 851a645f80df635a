"""Scoring arrays of predictions: accuracy, per-tag precision and recall, confusions,
calibration error and the coverage/accuracy trade-off, per axis.

``axis_report`` works on plain arrays, so the cross-validated report written at training time
and ``evaluate`` on a labelled corpus have one shape (the JSON of ``feedtag evaluate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SWEEP = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.5 ... 0.95
TOP_CONFUSIONS = 10
ECE_BINS = 15


def axis_report(
    truth: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, auto: np.ndarray
) -> dict[str, Any]:
    """Metrics of one axis from true and suggested tag ids, confidences and auto flags.

    Returns
    -------
    dict
        ``rows``, ``accuracy``, ``macro_f1``, ``coverage`` (share auto-accepted at the per-tag
        thresholds), ``accuracy_at_threshold`` (their accuracy; ``None`` when nothing is
        auto), ``ece``, ``per_tag`` {tag: precision, recall, f1, support}, ``confused``
        [{true, predicted, count}] and ``sweep`` [{threshold, coverage, accuracy}].
    """
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support

    truth = np.asarray(truth, dtype=object).astype(str)
    predicted = np.asarray(predicted, dtype=object).astype(str)
    confidence = np.asarray(confidence, dtype=float)
    auto = np.asarray(auto, dtype=bool)
    correct = truth == predicted
    n = int(truth.size)
    tags = sorted(set(truth) | set(predicted))
    per_tag: dict[str, dict[str, float | int]] = {}
    macro_f1 = 0.0
    if n:
        p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=tags, zero_division=0)
        for i, tag in enumerate(tags):
            per_tag[tag] = {
                "precision": _r(p[i]),
                "recall": _r(r[i]),
                "f1": _r(f[i]),
                "support": int(s[i]),
            }
        supported = s > 0  # tags only ever predicted do not count towards macro-F1
        macro_f1 = float(f[supported].mean()) if supported.any() else 0.0
    return {
        "rows": n,
        "accuracy": _r(correct.mean()) if n else None,
        "macro_f1": _r(macro_f1) if n else None,
        "coverage": _r(auto.mean()) if n else None,
        "accuracy_at_threshold": _r(correct[auto].mean()) if auto.any() else None,
        "ece": _r(expected_calibration_error(confidence, correct)) if n else None,
        "per_tag": per_tag,
        "confused": confusions(truth, predicted),
        "sweep": sweep(confidence, correct),
    }


def confusions(truth: np.ndarray, predicted: np.ndarray, top: int = TOP_CONFUSIONS) -> list[dict]:
    """The most frequent (true, predicted) pairs among the mistakes, most frequent first."""
    from collections import Counter

    wrong = Counter((str(t), str(p)) for t, p in zip(truth, predicted, strict=True) if t != p)
    ranked = sorted(wrong.items(), key=lambda item: (-item[1], item[0]))[:top]
    return [{"true": t, "predicted": p, "count": c} for (t, p), c in ranked]


def sweep(
    confidence: np.ndarray, correct: np.ndarray, thresholds: Sequence[float] = SWEEP
) -> list[dict[str, Any]]:
    """Share of messages at or above each confidence threshold, and their accuracy."""
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append(
            {
                "threshold": threshold,
                "coverage": _r(kept.mean()) if kept.size else None,
                "accuracy": _r(correct[kept].mean()) if kept.any() else None,
            }
        )
    return rows


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    import numpy as np

    if not confidence.size:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def accuracy_at_coverage(confidence: np.ndarray, correct: np.ndarray, coverage: float) -> float:
    """Accuracy of the ``coverage`` share of messages the model is most confident about."""
    import numpy as np

    keep = max(1, round(coverage * confidence.size))
    order = np.argsort(-confidence, kind="stable")[:keep]
    return float(correct[order].mean())


def _r(value: float) -> float:
    return round(float(value), 4)
