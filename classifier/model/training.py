"""Training from a tagged corpus: labels per axis, the fit, and the model directory.

Rows without exactly one tag on an axis are left out of that axis only, and counted. A tag
written under a retired id trains its successor, so the model learns today's taxonomy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus
    from classifier.model.estimator import TagClassifier


@dataclass(frozen=True)
class TrainResult:
    """A trained and saved model, and what went into it."""

    model: TagClassifier
    directory: Path
    meta: dict[str, Any]
    left_out: dict[str, dict[str, int]]

    @property
    def report(self) -> dict[str, dict[str, Any]]:
        """Cross-validated metrics per axis (``classifier.evaluate.axis_report``)."""
        return self.model.cv_report_


def corpus_labels(
    corpus: Corpus, decisions: str | Path | None = None
) -> tuple[list[str], pd.DataFrame, dict[str, dict[str, int]]]:
    """Texts, one tag id (or ``None``) per axis and message, and per axis the rows left out.

    Left out of an axis: ``missing`` (no tag on it), ``multiple`` (several), ``empty_text``.
    With ``decisions`` (a review decisions file), an agent's accepted or chosen tag replaces
    or adds the label of that message and axis.
    """
    import pandas as pd

    taxonomy = corpus.taxonomy
    if decisions is None:
        given = {axis: corpus.labels(axis) for axis in taxonomy.axes}
    else:
        from classifier.review.decisions import decision_labels

        given = decision_labels(decisions, corpus)
    texts = corpus.messages["text"].fillna("").astype(str).tolist()
    blank = pd.Series(texts).str.strip().eq("").to_numpy()
    columns, left_out = {}, {}
    for axis in taxonomy.axes:
        labels = given[axis].to_numpy(dtype=object)
        counts = corpus.tag_counts(axis).copy()
        counts[pd.notna(labels)] = 1  # a decision settles a missing or multiple tag
        # A label is a tag id string; anything else (None, NaN) means not exactly one tag.
        known = [
            t if isinstance(t, str) and not b else None for t, b in zip(labels, blank, strict=True)
        ]
        successors = {t: taxonomy.successor(axis, t) for t in set(known) if t is not None}
        columns[axis] = [None if t is None else successors[t] for t in known]
        left_out[axis] = {
            "missing": int(((counts == 0) & ~blank).sum()),
            "multiple": int(((counts > 1) & ~blank).sum()),
            "empty_text": int(blank.sum()),
        }
    return texts, pd.DataFrame(columns, dtype=object), left_out


def data_sha256(texts: list[str], labels: pd.DataFrame) -> str:
    """A hash of what the model learned from: texts and labels, independent of file format."""
    digest = DataHash()
    digest.update(texts, labels)
    return digest.hexdigest()


class DataHash:
    """``data_sha256`` of rows given a chunk at a time (``update`` in row order): the
    model-assisted audit of a dataset read in chunks asks whether a model learned from it."""

    def __init__(self) -> None:
        import hashlib

        self._digest = hashlib.sha256()

    def update(self, texts: list[str], labels: pd.DataFrame) -> None:
        import json

        columns = [labels[axis].tolist() for axis in labels.columns]
        for text, *tags in zip(texts, *columns, strict=True):
            self._digest.update(json.dumps([text, *tags], ensure_ascii=False).encode() + b"\n")

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def train_model(
    corpus: Corpus,
    *,
    folds: int = 5,
    target_precision: float = 0.9,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    n_jobs: int | None = -1,
    decisions: str | Path | None = None,
    **params: Any,
) -> tuple[TagClassifier, list[str], pd.DataFrame, dict[str, dict[str, int]]]:
    """Fit a :class:`TagClassifier` on a corpus; returns it with texts, labels and left-out counts.

    Raises
    ------
    CorpusError
        When an axis has no message with exactly one tag.
    """
    from classifier.errors import CorpusError
    from classifier.model.estimator import TagClassifier
    from classifier.model.store import never_suggest

    texts, labels, left_out = corpus_labels(corpus, decisions)
    for axis in labels.columns:
        if labels[axis].notna().sum() == 0:
            raise CorpusError(
                f"{corpus.path}: no message has exactly one {axis} tag; nothing to train on"
            )
    model = TagClassifier(
        folds=folds,
        target_precision=target_precision,
        random_state=seed,
        n_jobs=n_jobs,
        never_suggest=never_suggest(corpus.taxonomy),
        **params,
    )
    model.fit(texts, labels, groups=corpus_groups(corpus), progress=progress)
    return model, texts, labels, left_out


def corpus_groups(corpus: Corpus) -> list[str] | None:
    """The group (source) of each message, when the corpus has a group column."""
    if "group" not in corpus.messages.columns:
        return None
    return corpus.messages["group"].fillna("").astype(str).tolist()


def train(corpus: Corpus, out: str | Path, **options: Any) -> TrainResult:
    """Train on a tagged corpus and write the model directory ``out``.

    ``options`` are those of :func:`train_model`; the directory holds the model's data files
    (``classifier.model.store``), ``meta.json`` and ``card.md``.
    """
    from classifier.model.store import save_model

    model, texts, labels, left_out = train_model(corpus, **options)
    decisions = options.get("decisions")
    training = {
        "source": Path(corpus.path).name if corpus.path != "-" else "stdin",
        "rows": len(texts),
        "data_sha256": data_sha256(texts, labels),
        "left_out": left_out,
        "decisions": Path(decisions).name if decisions is not None else None,
        "group_column": corpus.columns.group,
    }
    meta = save_model(model, out, corpus.taxonomy, training=training)
    return TrainResult(model, Path(out), meta, left_out)


@dataclass(frozen=True)
class CalibrateResult:
    """A calibrated model directory and the before/after figures per calibrated axis."""

    directory: Path
    meta: dict[str, Any]
    report: dict[str, dict[str, Any]]


def calibrate_directory(
    corpus: Corpus,
    model_dir: str | Path,
    out: str | Path,
    *,
    decisions: str | Path | None = None,
    folds: int = 5,
    seed: int = 0,
) -> CalibrateResult:
    """Calibrate the model in ``model_dir`` on a labelled corpus (or review decisions on it)
    and write the calibrated model to ``out``; the weights are not refitted.

    Raises
    ------
    UsageError
        When ``out`` is the model directory itself.
    CorpusError
        See :func:`classifier.model.calibration.calibrate`.
    """
    from classifier.errors import UsageError
    from classifier.model.calibration import calibrate
    from classifier.model.store import load_model, read_meta, save_calibrated

    model_dir, out = Path(model_dir), Path(out)
    if out.resolve() == model_dir.resolve():
        raise UsageError(
            f"--out {out}: that is the model being calibrated; write to a new directory"
        )
    model = load_model(model_dir, corpus.taxonomy)
    params = read_meta(model_dir).get("params", {})
    texts, labels, _ = corpus_labels(corpus, decisions)
    source = Path(decisions).name if decisions is not None else Path(corpus.path).name
    result = calibrate(
        model,
        texts,
        labels,
        folds=folds,
        seed=seed,
        source=source,
        target_precision=float(params.get("target_precision", 0.9)),
        min_support=int(params.get("min_support", 5)),
    )
    meta = save_calibrated(result.model, model_dir, out, team_calibration=result.report)
    return CalibrateResult(out, meta, result.report)
