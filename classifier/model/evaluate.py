"""How far to trust a model on labelled messages: ``axis_report`` of each axis over a corpus."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classifier.model.metrics import axis_report

if TYPE_CHECKING:
    from classifier.corpus import Corpus
    from classifier.model.estimator import TagClassifier


@dataclass(frozen=True)
class Evaluation:
    """The evaluation of a model on labelled messages (``to_dict`` is the JSON output)."""

    rows: int
    axes: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "axes": self.axes}


def evaluate(model: TagClassifier, texts: Sequence[str], labels: Any) -> Evaluation:
    """Evaluate ``model`` on texts with known tags.

    ``labels`` is anything ``TagClassifier.fit`` takes as ``y``; per axis, only messages with
    exactly one tag on that axis count. Axes the labels lack are skipped.
    """
    from classifier.model.heads import labels_frame

    texts = list(texts)
    frame = labels_frame(labels, len(texts))
    predicted = model.predict_axes(texts, top=1)
    axes = {}
    for axis, p in predicted.items():
        if axis not in frame.columns:
            continue
        known = frame[axis].notna().to_numpy()
        axes[axis] = axis_report(
            frame[axis].to_numpy()[known], p.tags[known], p.confidence[known], p.auto[known]
        )
    return Evaluation(rows=len(texts), axes=axes)


def evaluate_corpus(model: TagClassifier, corpus: Corpus) -> Evaluation:
    """``evaluate`` on a loaded corpus: messages and their one tag per axis (retired tags
    count under their successor, as the model was trained)."""
    from classifier.model.training import corpus_labels

    texts, labels, _ = corpus_labels(corpus)
    return evaluate(model, texts, labels)
