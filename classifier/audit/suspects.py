"""Model-assisted audit: tags that a model which never learned from the message doubts.

Confident learning (Northcutt et al., cleanlab) finds label issues from out-of-fold
probabilities: it estimates how many labels are wrong from the per-class confident joint and
flags that many messages with the lowest self-confidence (the probability of the given tag).
Two passes over the folds (as cleanlab's ``CleanLearning`` does): the first pass's surest
issues are kept out of the second pass's training folds and temperature, so the second model
learns from cleaner labels and is calibrated on them; every message is still scored by heads
that never saw it. Settings were chosen on a development set (BENCHMARKS.md, issue 6).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from classifier.audit.checks import COLUMNS, none
from classifier.corpus import Corpus
from classifier.errors import CorpusError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from classifier.model.estimator import OutOfFold, TagClassifier
    from classifier.taxonomy import Taxonomy

# The classifier's head and regularisation for the audit's folds, chosen on the dev set.
AUDIT_PARAMS: dict[str, Any] = {"head": "svc", "C": 1.0, "char_ngrams": (2, 5)}
MIN_MESSAGES = 10  # fewer labelled messages on an axis than this: too few to cross-validate


@dataclass(frozen=True)
class Predictions:
    """Per axis, probabilities for each message with exactly one tag on it (``OutOfFold``).

    ``source`` is ``cross-validation`` (out of fold: a model never judges a row it learned
    from) or ``model`` (an existing model); ``detail`` says which folds or directory.
    ``trained_on_this_corpus`` is true when the model's training data hash equals the
    corpus's: its opinions on its own training rows are not evidence.
    """

    source: str
    detail: str
    axes: dict[str, OutOfFold]
    trained_on_this_corpus: bool = False
    skipped: dict[str, str] = field(default_factory=dict)

    def accuracy(self) -> dict[str, float]:
        """Share of messages per axis whose given tag is the model's top tag."""
        return {
            axis: float((oof.proba.argmax(axis=1) == oof.labels).mean()) if oof.rows.size else 0.0
            for axis, oof in self.axes.items()
        }


class JudgedRows(Protocol):
    """What the model-assisted checks read of the messages besides ``Predictions``, by
    position in the corpus (``OutOfFold.rows``): a whole ``Corpus`` (``CorpusRows``), or what
    an audit read in chunks kept of it (``classifier.audit.judges``)."""

    taxonomy: Taxonomy

    def numbers(self, positions: np.ndarray) -> np.ndarray:
        """The row numbers (int64) of the messages at ``positions``."""

    def ids(self, positions: np.ndarray) -> np.ndarray:
        """Their ids (an object array of strings)."""

    def signatures(self, axis: str, positions: np.ndarray) -> np.ndarray:
        """Their tags on ``axis`` as ``Corpus.signatures`` writes them (judged rows only)."""

    def texts(self, positions: np.ndarray) -> np.ndarray:
        """Their texts (those a check quotes: ``health.quote_candidates``)."""


@dataclass(frozen=True)
class CorpusRows:
    """``JudgedRows`` of a corpus in memory."""

    corpus: Corpus

    @property
    def taxonomy(self) -> Taxonomy:
        return self.corpus.taxonomy

    def numbers(self, positions: np.ndarray) -> np.ndarray:
        return self.corpus.messages["row"].to_numpy()[positions]

    def ids(self, positions: np.ndarray) -> np.ndarray:
        return self.corpus.messages["id"].to_numpy(dtype=object)[positions]

    def signatures(self, axis: str, positions: np.ndarray) -> np.ndarray:
        return self.corpus.signatures(axis).to_numpy(dtype=object)[positions]

    def texts(self, positions: np.ndarray) -> np.ndarray:
        return self.corpus.messages["text"].to_numpy(dtype=object)[positions]


def judged_rows(source: Corpus | JudgedRows) -> JudgedRows:
    """``source`` as ``JudgedRows``: the checks take a corpus or what was kept of one."""
    return CorpusRows(source) if isinstance(source, Corpus) else source


def cross_validate(
    corpus: Corpus,
    *,
    folds: int = 5,
    seed: int = 0,
    n_jobs: int | None = -1,
    progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> Predictions:
    """Out-of-fold probabilities per axis, in two passes (see the module docstring).

    ``params`` override ``AUDIT_PARAMS`` (any :class:`classifier.model.TagClassifier`
    parameter). ``progress(done, total)`` is called after each fit of both passes.

    Raises
    ------
    CorpusError
        When no axis has at least ``MIN_MESSAGES`` messages with exactly one tag, of two tags.
    """
    import numpy as np

    from classifier.model.estimator import FEATURE_PARAMS, OutOfFold, TagClassifier
    from classifier.model.features import TextFeatures
    from classifier.model.heads import fit_axis_heads
    from classifier.model.training import corpus_labels

    texts, labels, _ = corpus_labels(corpus)
    labels, skipped = _judgeable(labels)
    if labels.shape[1] == 0:
        raise CorpusError(
            f"{corpus.path}: too few tagged messages to cross-validate "
            f"({'; '.join(f'{a}: {why}' for a, why in skipped.items())})"
        )
    settings = TagClassifier(folds=folds, random_state=seed, n_jobs=n_jobs, **AUDIT_PARAMS)
    settings.set_params(**params)
    settings._check_params()
    matrix = TextFeatures(**{p: getattr(settings, p) for p in FEATURE_PARAMS}).fit_transform(texts)
    options = settings._head_options()
    fits_per_pass = folds * len(labels.columns) * (2 if settings.head == "svc+lr" else 1)

    def tick(offset: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        return lambda done, total: progress(offset + done, 2 * fits_per_pass)

    first = fit_axis_heads(matrix, labels, options, final=False, progress=tick(0))
    sure = {axis: _surest_issues(fit.codes, fit.oof_proba) for axis, fit in first.items()}
    second = fit_axis_heads(
        matrix, labels, options, final=False, progress=tick(fits_per_pass), exclude=sure
    )
    axes = {
        axis: OutOfFold(axis, fit.rows, fit.classes, fit.codes, fit.oof_proba)
        for axis, fit in second.items()
        if np.unique(fit.codes).size > 1
    }
    return Predictions("cross-validation", f"{folds} folds", axes, skipped=skipped)


def _judgeable(labels: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The axes with enough messages and at least two tags in use; why the others are not."""
    keep, skipped = [], {}
    for axis in labels.columns:
        known = labels[axis].dropna()
        if len(known) < MIN_MESSAGES:
            skipped[axis] = f"{len(known)} messages with exactly one tag"
        elif known.nunique() < 2:
            skipped[axis] = "only one tag in use"
        else:
            keep.append(axis)
    return labels[keep], skipped


def model_predictions(corpus: Corpus, directory: str | Path) -> Predictions:
    """The probabilities of an existing model (hash and tags checked by ``load_model``).

    Messages whose tag the model does not know are left out of that axis.
    """
    from classifier.model.store import load_model, read_meta

    model = load_model(directory, corpus.taxonomy)
    return fitted_predictions(corpus, model, read_meta(directory), str(directory))


def fitted_predictions(
    corpus: Corpus, model: TagClassifier, meta: dict[str, Any], detail: str
) -> Predictions:
    """``model_predictions`` for a model already loaded (``feedtag serve`` holds one);
    ``detail`` names it in the report. The corpus as the one chunk of a ``ModelJudge``."""
    from classifier.audit.judges import ModelJudge

    judge = ModelJudge(model, meta, detail)
    judge.add(corpus)
    return judge.judge()[0]


def _surest_issues(codes: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """The first pass's issues that two cleanlab filters agree on (few false alarms)."""
    import numpy as np

    if proba.shape[1] < 2:
        return np.zeros(codes.size, dtype=bool)
    return label_issues(codes, proba, "both") & label_issues(codes, proba, "low_self_confidence")


def label_issues(codes: np.ndarray, proba: np.ndarray, filter_by: str) -> np.ndarray:
    """cleanlab's ``find_label_issues`` as a boolean mask, quiet about tiny classes."""
    from cleanlab.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return find_label_issues(codes, proba, filter_by=filter_by, n_jobs=1)


def label_quality(codes: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """cleanlab's self-confidence score: the probability of the given tag (0 = surely wrong)."""
    from cleanlab.rank import get_label_quality_scores

    return get_label_quality_scores(codes, proba, method="self_confidence")


def suspect_tag(corpus: Corpus | JudgedRows, predictions: Predictions) -> pd.DataFrame:
    """Messages whose tag the model confidently doubts; fix = the tag it prefers.

    Ordered worst first (lowest ``score``) within each axis, axes in taxonomy order. An axis
    whose judged messages all carry one tag has none: confident learning estimates how many
    tags are wrong from the given tags' classes, and needs two.
    """
    import numpy as np
    import pandas as pd

    judged = judged_rows(corpus)
    parts = []
    for axis, oof in predictions.axes.items():
        if np.unique(oof.labels).size < 2:
            continue
        issues = np.flatnonzero(label_issues(oof.labels, oof.proba, "low_self_confidence"))
        if issues.size == 0:
            continue
        scores = label_quality(oof.labels, oof.proba)[issues]
        order = np.argsort(scores, kind="stable")
        issues, scores = issues[order], scores[order]
        preferred = _preferred(judged.taxonomy, axis, oof, issues)
        names = {tag.id: tag.name for tag in judged.taxonomy.axes[axis].tags}
        given = oof.classes[oof.labels[issues]]
        message = [
            f"the model prefers '{names.get(str(p), p)}' ({oof.proba[i, j]:.0%}) "
            f"over '{names.get(str(g), g)}' ({s:.0%})"
            for i, j, p, g, s in zip(
                issues, _column(oof, preferred), preferred, given, scores, strict=True
            )
        ]
        positions = oof.rows[issues]
        found = pd.DataFrame(
            {
                "row": judged.numbers(positions),
                "id": judged.ids(positions),
                "check": "suspect-tag",
                "severity": "warning",
                "axis": axis,
                "tags": judged.signatures(axis, positions),
                "message": np.array(message, dtype=object),
                "fix": np.array([names.get(str(p), str(p)) for p in preferred], dtype=object),
                "score": scores,
            }
        )
        parts.append(found[COLUMNS])
    return pd.concat(parts, ignore_index=True) if parts else none()


def _preferred(taxonomy: Taxonomy, axis: str, oof: OutOfFold, issues: np.ndarray) -> np.ndarray:
    """The most probable tag other than the given one, among the current (not retired) tags.

    Human-only tags count: the classifier never suggests them to agents, but a lead auditing
    the corpus should hear that a message looks like one.
    """
    import numpy as np

    current = {tag.id for tag in taxonomy.axes[axis].tags if not tag.deprecated}
    allowed = np.array([str(tag) in current for tag in oof.classes], dtype=bool)
    proba = np.where(allowed, oof.proba[issues], -1.0)
    proba[np.arange(issues.size), oof.labels[issues]] = -1.0
    return oof.classes[proba.argmax(axis=1)]


def _column(oof: OutOfFold, tags: Sequence[Any]) -> list[int]:
    index = {tag: i for i, tag in enumerate(oof.classes)}
    return [index[tag] for tag in tags]
