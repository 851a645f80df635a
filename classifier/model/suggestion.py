"""What the classifier hands an agent: one tag per axis, how sure it is, and whether to trust it.

Small frozen objects, checked on construction, so a suggestion cannot claim a confidence outside
0..1 or a status other than ``auto``/``review``. Batch paths stay columnar (a DataFrame, see
``TagClassifier.suggest_table``) and only build these objects for what is shown to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["auto", "review"]
STATUSES = ("auto", "review")


@dataclass(frozen=True, slots=True)
class Alternative:
    """A runner-up tag and its calibrated probability."""

    tag: str
    confidence: float

    def __post_init__(self) -> None:
        _check_confidence(self.confidence)


@dataclass(frozen=True, slots=True)
class AxisSuggestion:
    """The suggested tag on one axis.

    Attributes
    ----------
    axis : str
        The axis, e.g. ``team``.
    tag : str
        The suggested tag id: the most probable tag the classifier may suggest.
    confidence : float
        Its calibrated probability (after removing human-only and retired tags).
    status : {"auto", "review"}
        ``auto`` when ``confidence`` reaches the tag's threshold, else ``review``.
    threshold : float or None
        The tag's threshold; ``None`` when the tag never reached the target precision in
        cross-validation, so it is always ``review``.
    alternatives : tuple of Alternative
        The next most probable tags, best first.
    evidence : bool
        Whether the message gave the model anything to go on: usable text with a feature it
        knows. Without, the suggestion is the model's prior and never ``auto``.
    """

    axis: str
    tag: str
    confidence: float
    status: Status
    threshold: float | None = None
    alternatives: tuple[Alternative, ...] = ()
    evidence: bool = True

    def __post_init__(self) -> None:
        _check_confidence(self.confidence)
        if self.status not in STATUSES:
            raise ValueError(f"status must be 'auto' or 'review', not {self.status!r}")
        cleared = self.threshold is not None and self.confidence >= self.threshold
        expected = "auto" if cleared and self.evidence else "review"
        if self.status != expected:
            raise ValueError(
                f"status {self.status!r} contradicts confidence {self.confidence:.4f} "
                f"and threshold {self.threshold}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "confidence": round(self.confidence, 4),
            "status": self.status,
            "threshold": None if self.threshold is None else round(self.threshold, 4),
            "alternatives": [
                {"tag": a.tag, "confidence": round(a.confidence, 4)} for a in self.alternatives
            ],
        }


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Suggestions for one message: exactly one per axis."""

    axes: dict[str, AxisSuggestion] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """``auto`` only when every axis is ``auto``."""
        return "auto" if all(s.status == "auto" for s in self.axes.values()) else "review"

    def __getitem__(self, axis: str) -> AxisSuggestion:
        return self.axes[axis]

    def to_dict(self) -> dict[str, Any]:
        return {"axes": {a: s.to_dict() for a, s in self.axes.items()}, "status": self.status}


def _check_confidence(value: float) -> None:
    if not 0.0 <= value <= 1.0 + 1e-9:
        raise ValueError(f"confidence must be within 0..1, not {value}")
