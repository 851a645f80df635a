"""Cohen's kappa and raw agreement from confusion counts, with bootstrap intervals.

Everything works on confusion-count arrays of shape ``(..., k, k)``, so one call scores a
thousand bootstrap resamples at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval (``None`` where nothing was compared)."""

    value: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Score:
    """Cohen's kappa and raw agreement between two taggers on ``compared`` messages."""

    compared: int
    kappa: Interval
    agreement: Interval

    def to_dict(self) -> dict:
        return {
            "compared": self.compared,
            "kappa": self.kappa.to_dict(),
            "agreement": self.agreement.to_dict(),
        }


def confusion(first: np.ndarray, second: np.ndarray, k: int) -> np.ndarray:
    """Counts of (first, second) code pairs as a ``k`` by ``k`` matrix."""
    pairs = np.asarray(first, dtype=np.int64) * k + np.asarray(second, dtype=np.int64)
    return np.bincount(pairs, minlength=k * k).reshape(k, k)


def agreement_from_counts(counts: np.ndarray) -> np.ndarray:
    """Share of messages on the diagonal; NaN where there are none."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.trace(counts, axis1=-2, axis2=-1) / total


def kappa_from_counts(counts: np.ndarray) -> np.ndarray:
    """Cohen's kappa of confusion counts ``(..., k, k)``: (p_o - p_e) / (1 - p_e).

    Where both taggers used one and the same tag for everything, the formula is 0/0 while the
    agreement is perfect; that case is 1 here (scikit-learn returns NaN). NaN where there are
    no messages.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = counts.sum(axis=(-2, -1))
    chance = (counts.sum(axis=-1) * counts.sum(axis=-2)).sum(axis=-1)  # exact, in integers
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.trace(counts, axis1=-2, axis2=-1) / total
        expected = chance / total.astype(np.float64) ** 2
        kappa = (observed - expected) / (1 - expected)
    return np.where((chance == total**2) & (total > 0), 1.0, kappa)


def bootstrap_counts(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Confusion counts of ``resamples`` bootstrap resamples of the compared messages.

    Resampling the n messages with replacement and counting their cells gives counts drawn
    from Multinomial(n, observed cell shares); drawing those counts directly is the same
    distribution without an n-sized index array per resample.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    shares = counts.ravel() / total
    drawn = rng.multinomial(total, shares, size=resamples)
    return drawn.reshape(resamples, *counts.shape)


def score(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> Score:
    """Kappa and agreement of one confusion matrix, each with a percentile bootstrap interval."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        nothing = Interval(None, None, None)
        return Score(0, nothing, nothing)
    drawn = bootstrap_counts(counts, resamples, rng)
    tail = 100 * (1 - CONFIDENCE) / 2
    intervals = []
    for measure in (kappa_from_counts, agreement_from_counts):
        point = float(measure(counts))
        low, high = np.percentile(measure(drawn), [tail, 100 - tail])
        intervals.append(Interval(point, float(low), float(high)))
    return Score(total, *intervals)
