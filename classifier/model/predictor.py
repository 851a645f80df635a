"""Suggesting with fitted parts: masks, thresholds, top-k and the suggestion objects.

``Predictor`` holds what a model does with its parts once they exist, with no scikit-learn in
sight, so a model loaded from a directory (``classifier.model.inference.LoadedModel``) suggests
without importing it. It needs ``features_`` (``transform`` to a sparse matrix, ``sparse_row``
for one text), ``heads_`` (``classifier.model.heads.Head`` per axis), ``axes_``,
``thresholds_`` and ``never_suggest``. The methods mirror ``TagClassifier``'s one for one;
``tests/test_inference.py`` checks a loaded model against the fitted one it was saved from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classifier.model.suggestion import Alternative, AxisSuggestion, Suggestion

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class AxisPredictions:
    """Columnar suggestions for one axis over many messages (see ``TagClassifier.predict_axes``).

    ``tags``, ``confidence``, ``auto`` and ``threshold`` have one entry per message; ``top_tags``
    and ``top_confidence`` hold the best ``top`` suggestable tags per message, best first.
    """

    axis: str
    tags: np.ndarray
    confidence: np.ndarray
    auto: np.ndarray
    threshold: np.ndarray
    top_tags: np.ndarray
    top_confidence: np.ndarray
    evidence: np.ndarray | None = None  # per message: anything to go on (see _auto)


class Predictor:
    """Prediction methods over ``features_``, ``heads_``, ``axes_``, ``thresholds_``."""

    features_: Any
    heads_: dict[str, Any]
    axes_: list[str]
    thresholds_: dict[str, dict[str, float | None]]
    never_suggest: Any

    def _check_fitted(self) -> None:
        """Hook for estimators that may be unfitted; a loaded model always is fitted."""

    def _check_suggestable(self) -> None:
        from classifier.errors import ModelError

        for axis in self.axes_:
            if not self._allowed(axis).any():
                raise ModelError(
                    f"axis '{axis}': every tag the model knows is human-only or retired, "
                    "so there is nothing it may suggest"
                )

    def predict_proba(self, X: Sequence[str]) -> dict[str, np.ndarray]:
        """Calibrated probabilities per axis over ``heads_[axis].classes`` (nothing masked)."""
        self._check_fitted()
        matrix = self.features_.transform(list(X))
        return {axis: self.heads_[axis].proba(matrix) for axis in self.axes_}

    def predict_axes(self, X: Sequence[str], top: int = 3) -> dict[str, AxisPredictions]:
        """Suggestions for many texts, columnar: the fast path for files."""
        import numpy as np

        self._check_fitted()
        texts = list(X)
        matrix = self.features_.transform(texts)
        evidence = _evidence(texts, (matrix != 0) @ self._content_columns())
        result = {}
        for axis in self.axes_:
            head = self.heads_[axis]
            proba = self._masked(axis, head.proba(matrix))
            k = min(max(int(top), 1), int(self._allowed(axis).sum()))
            order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
            top_conf = np.take_along_axis(proba, order, axis=1)
            tags = head.classes[order[:, 0]]
            conf = top_conf[:, 0]
            result[axis] = AxisPredictions(
                axis=axis,
                tags=tags,
                confidence=conf,
                auto=self._auto(axis, tags, conf, evidence),
                threshold=self._threshold_array(axis, tags),
                top_tags=head.classes[order],
                top_confidence=top_conf,
                evidence=evidence,
            )
        return result

    def predict(self, X: Sequence[str]) -> pd.DataFrame:
        """The suggested tag id per axis (one column each)."""
        import pandas as pd

        return pd.DataFrame({a: p.tags for a, p in self.predict_axes(X, top=1).items()})

    def suggest_table(self, X: Sequence[str]) -> pd.DataFrame:
        """Per axis ``AXIS``, ``AXIS_confidence``, ``AXIS_status``; then ``status``.

        ``status`` is ``auto`` only when every axis is ``auto``.
        """
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {}
        every = None
        for axis, p in self.predict_axes(X, top=1).items():
            columns[axis] = p.tags
            columns[f"{axis}_confidence"] = p.confidence
            columns[f"{axis}_status"] = np.where(p.auto, "auto", "review")
            every = p.auto if every is None else every & p.auto
        columns["status"] = np.where(every, "auto", "review")
        return pd.DataFrame(columns)

    def suggest(self, X: Sequence[str], top: int = 3) -> list[Suggestion]:
        """One :class:`Suggestion` per text, with up to ``top - 1`` alternatives per axis."""
        predicted = self.predict_axes(X, top=top)
        n = len(next(iter(predicted.values())).tags)
        return [
            Suggestion({axis: axis_suggestion(p, i) for axis, p in predicted.items()})
            for i in range(n)
        ]

    def suggest_one(self, text: str, top: int = 3) -> Suggestion:
        """Suggestion for a single text without building sparse matrices (about 0.1 ms)."""
        import numpy as np

        self._check_fitted()
        columns, values = self.features_.sparse_row(text)
        evidence = _evidence([text], self._content_columns()[columns].sum(keepdims=True))
        axes = {}
        for axis in self.axes_:
            head = self.heads_[axis]
            proba = self._masked(axis, head.proba_row(columns, values)[None, :])[0]
            k = min(max(int(top), 1), int(self._allowed(axis).sum()))
            order = np.argsort(-proba, kind="stable")[:k]
            tag = str(head.classes[order[0]])
            confidence = float(proba[order[0]])
            threshold = self.thresholds_[axis].get(tag)
            auto = self._auto(axis, head.classes[order[:1]], proba[order[:1]], evidence)[0]
            axes[axis] = AxisSuggestion(
                axis=axis,
                tag=tag,
                confidence=confidence,
                status="auto" if auto else "review",
                threshold=threshold,
                evidence=bool(evidence[0]),
                alternatives=tuple(
                    Alternative(str(head.classes[j]), float(proba[j])) for j in order[1:]
                ),
            )
        return Suggestion(axes)

    def score(self, X: Sequence[str], y: Any) -> float:
        """Mean over axes of the accuracy on messages with exactly one tag on that axis."""
        import numpy as np

        from classifier.model.heads import labels_frame

        frame = labels_frame(y, len(X))
        predicted = self.predict(X)
        scores = []
        for axis in self.axes_:
            known = frame[axis].notna().to_numpy()
            if known.any():
                truth = frame[axis].to_numpy()[known]
                scores.append(float(np.mean(predicted[axis].to_numpy()[known] == truth)))
        return float(np.mean(scores)) if scores else float("nan")

    # ----------------------------------------------------------------- helpers
    def _allowed(self, axis: str) -> np.ndarray:
        import numpy as np

        banned = set((self.never_suggest or {}).get(axis, ()))
        return np.array([tag not in banned for tag in self.heads_[axis].classes], dtype=bool)

    def _masked(self, axis: str, proba: np.ndarray) -> np.ndarray:
        """Zero the tags never to suggest and renormalise each row to sum to 1."""
        import numpy as np

        allowed = self._allowed(axis)
        if allowed.all():
            return proba
        masked = np.where(allowed, proba, 0.0)
        total = masked.sum(axis=1, keepdims=True)
        # A row whose whole mass sat on banned tags: spread it evenly over the allowed ones.
        even = allowed / allowed.sum()
        return np.where(total > 0, masked / np.where(total > 0, total, 1.0), even)

    def _threshold_array(self, axis: str, tags: np.ndarray) -> np.ndarray:
        import numpy as np

        table = self.thresholds_[axis]
        lookup = {t: (np.inf if v is None else v) for t, v in table.items()}
        return np.array([lookup.get(t, np.inf) for t in tags], dtype=float)

    def _auto(
        self,
        axis: str,
        tags: np.ndarray,
        confidence: np.ndarray,
        evidence: np.ndarray | None = None,
    ) -> np.ndarray:
        """Which suggestions are ``auto``: the one rule, for files and single messages alike.

        Auto when the confidence clears the tag's threshold and the message gave the model
        something to go on (``evidence``, see :func:`_evidence`): on an empty message the
        model only repeats its prior, whatever confidence that has.
        """
        auto = confidence >= self._threshold_array(axis, tags)
        return auto if evidence is None else auto & evidence

    def _content_columns(self) -> np.ndarray:
        """Per feature column, whether it stands for content: not a whitespace-only n-gram.

        Character n-grams pad every word with spaces, so any text at all hits the ``" "``
        feature; that says nothing about the message.
        """
        import numpy as np

        cached = self.__dict__.get("_content_cache")
        if cached is None:
            parts = []
            for vocabulary in self.features_.vocabularies():
                mask = np.zeros(len(vocabulary), dtype=np.int64)
                for term, column in vocabulary.items():
                    mask[column] = bool(str(term).strip())
                parts.append(mask)
            # Columns past the vocabularies (a sentence encoder's) stand for no n-gram.
            parts.append(np.zeros(self.features_.n_features_out_ - sum(map(len, parts)), int))
            cached = np.concatenate(parts).astype(np.int64)
            self.__dict__["_content_cache"] = cached
        return cached


def _evidence(texts: Sequence[Any], known_features: Any) -> np.ndarray:
    """Per message: usable text (a letter or digit) with at least one feature the model knows."""
    import re

    import numpy as np

    usable = [isinstance(t, str) and re.search(r"\w", t) is not None for t in texts]
    return np.asarray(usable, dtype=bool) & (np.asarray(known_features) > 0)


def axis_suggestion(p: AxisPredictions, i: int) -> AxisSuggestion:
    """Message ``i`` of columnar predictions as a suggestion object."""
    import math

    threshold = float(p.threshold[i])
    confidence = float(p.confidence[i])
    return AxisSuggestion(
        axis=p.axis,
        tag=str(p.tags[i]),
        confidence=confidence,
        status="auto" if bool(p.auto[i]) else "review",
        threshold=None if math.isinf(threshold) else threshold,
        evidence=True if p.evidence is None else bool(p.evidence[i]),
        alternatives=tuple(
            Alternative(str(t), float(c))
            for t, c in zip(p.top_tags[i, 1:], p.top_confidence[i, 1:], strict=True)
        ),
    )
