"""``feedtag agreement``: how often the original tags agree with a careful re-tag.

Messages are joined on id. Per axis: Cohen's kappa and raw agreement with 95% bootstrap
intervals, kappa per agent (the original's agent column), precision and recall of every
original tag against the re-tag, and the most frequent disagreements with examples. Ids in
one file only are counted and named, never dropped silently. With several re-tags (files, or
one file with a tagger column), Fleiss' kappa over all taggers as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from classifier.corpus import Corpus
from classifier.errors import UsageError
from classifier.quality.kappa import Interval, Score, confusion, score

RESAMPLES = 2000
EXAMPLES = 2


@dataclass(frozen=True)
class Tagging:
    """One tagger's tags: per axis the one tag of each message (``None``: none or several)."""

    name: str
    ids: np.ndarray
    texts: np.ndarray
    agents: np.ndarray | None
    labels: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    repeated_ids: int = 0


def tagging(corpus: Corpus, name: str | None = None, positions: np.ndarray | None = None):
    """A corpus (or some of its messages) as a ``Tagging``; a repeated id keeps its first row."""
    if positions is None:
        positions = np.arange(len(corpus))
    ids = corpus.messages["id"].to_numpy(dtype=object)[positions]
    first = ~pd.Series(ids).duplicated().to_numpy()
    keep = positions[first]
    agents = corpus.messages["agent"].to_numpy(dtype=object)[keep] if corpus.columns.agent else None
    return Tagging(
        name=name or corpus.path,
        ids=ids[first],
        texts=corpus.messages["text"].to_numpy(dtype=object)[keep],
        agents=agents,
        labels={a: _live(corpus, a)[keep] for a in corpus.taxonomy.axes},
        counts={a: corpus.tag_counts(a)[keep] for a in corpus.taxonomy.axes},
        repeated_ids=int((~first).sum()),
    )


def _live(corpus: Corpus, axis: str) -> np.ndarray:
    """The one tag of each message with retired tags read as their successor (as ``audit
    --fix`` writes them): a re-tagger cannot choose a retired tag, so it is no disagreement."""
    labels = corpus.labels(axis).to_numpy(dtype=object).copy()
    retired = [t.id for t in corpus.taxonomy.axes[axis].tags if t.deprecated]
    for tag in retired:
        labels[labels == tag] = corpus.taxonomy.successor(axis, tag)
    return labels


def taggings_by(corpus: Corpus, column: str) -> list[Tagging]:
    """A long-format file (one row per message and tagger) as one ``Tagging`` per tagger."""
    found = {str(c).casefold(): c for c in corpus.frame.columns}
    if column.casefold() not in found:
        columns = ", ".join(map(str, corpus.frame.columns))
        raise UsageError(f"{corpus.path}: no tagger column '{column}'; columns are: {columns}")
    names = corpus.frame[found[column.casefold()]].fillna("").astype(str).to_numpy()
    return [
        tagging(corpus, f"{corpus.path} [{name}]", np.flatnonzero(names == name))
        for name in sorted(set(names.tolist()))
    ]


@dataclass(frozen=True)
class TagScore:
    """One tag: how often the original and the re-tag used it, precision and recall of the
    original against the re-tag (``None`` where the tag was never used on that side)."""

    tag: str
    original: int
    retagged: int
    both: int

    @property
    def precision(self) -> float | None:
        return self.both / self.original if self.original else None

    @property
    def recall(self) -> float | None:
        return self.both / self.retagged if self.retagged else None

    def to_dict(self) -> dict:
        return {
            "tag": self.tag,
            "original": self.original,
            "retagged": self.retagged,
            "both": self.both,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(frozen=True)
class Disagreement:
    """Original tag -> re-tag, how often, and example messages as (id, text)."""

    original: str
    retagged: str
    count: int
    examples: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict:
        return {
            "original": self.original,
            "retagged": self.retagged,
            "count": self.count,
            "examples": [{"id": i, "text": t} for i, t in self.examples],
        }


@dataclass(frozen=True)
class AxisAgreement:
    """One axis: messages with exactly one tag in both files are compared; the rest counted."""

    axis: str
    overall: Score
    not_compared: dict[str, int]
    by_agent: dict[str, Score]
    by_tag: list[TagScore]
    disagreements: list[Disagreement]

    def to_dict(self) -> dict:
        return {
            "overall": self.overall.to_dict(),
            "not_compared": self.not_compared,
            "by_agent": {agent: s.to_dict() for agent, s in self.by_agent.items()},
            "by_tag": [t.to_dict() for t in self.by_tag],
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


@dataclass(frozen=True)
class PairAgreement:
    """The original against one re-tag."""

    original: str
    retagged: str
    matched: int
    only_original: list[str]
    only_retagged: list[str]
    repeated_ids: dict[str, int]
    axes: dict[str, AxisAgreement]

    def to_dict(self) -> dict:
        return {
            "original": self.original,
            "retagged": self.retagged,
            "matched": self.matched,
            "only_in_original": {"count": len(self.only_original), "ids": self.only_original},
            "only_in_retagged": {"count": len(self.only_retagged), "ids": self.only_retagged},
            "repeated_ids_left_out": self.repeated_ids,
            "axes": {axis: a.to_dict() for axis, a in self.axes.items()},
        }


@dataclass(frozen=True)
class ManyTaggers:
    """Fleiss' kappa of one axis over every tagger, on the messages all of them tagged once."""

    axis: str
    taggers: int
    compared: int
    left_out: int
    kappa: Interval

    def to_dict(self) -> dict:
        return {
            "taggers": self.taggers,
            "compared": self.compared,
            "left_out": self.left_out,
            "fleiss_kappa": self.kappa.to_dict(),
        }


@dataclass(frozen=True)
class Agreement:
    """The whole report: one pair per re-tag, and Fleiss' kappa when there are several."""

    pairs: list[PairAgreement]
    many: dict[str, ManyTaggers] = field(default_factory=dict)
    resamples: int = RESAMPLES
    seed: int = 0

    def to_dict(self) -> dict:
        return {
            "confidence": 0.95,
            "resamples": self.resamples,
            "seed": self.seed,
            "pairs": [p.to_dict() for p in self.pairs],
            "fleiss": {axis: m.to_dict() for axis, m in self.many.items()},
        }


def compare(
    original: Tagging,
    retagged: Sequence[Tagging],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    top: int = 10,
) -> Agreement:
    """Agreement of the original with each re-tag, and of all taggers when there are several.

    Raises
    ------
    UsageError
        When no message id is in both files.
    """
    if resamples < 100:
        raise UsageError(f"--resamples {resamples}: use at least 100 for a 95% interval")
    rng = np.random.default_rng(seed)
    pairs = [_pair(original, other, resamples, rng, top) for other in retagged]
    many = _fleiss([original, *retagged], resamples, rng) if len(retagged) > 1 else {}
    return Agreement(pairs, many, resamples, seed)


def _pair(original: Tagging, other: Tagging, resamples, rng, top) -> PairAgreement:
    index = pd.Index(other.ids)
    where = index.get_indexer(original.ids)
    mine = np.flatnonzero(where >= 0)
    theirs = where[mine]
    if not len(mine):
        raise UsageError(
            f"{original.name} and {other.name} share no message id; "
            "re-tag a sample of the original (feedtag sample) and keep its id column"
        )
    in_both = np.zeros(len(other.ids), dtype=bool)
    in_both[theirs] = True
    axes = {
        axis: _axis(axis, original, other, mine, theirs, resamples, rng, top)
        for axis in original.labels
        if axis in other.labels
    }
    return PairAgreement(
        original=original.name,
        retagged=other.name,
        matched=len(mine),
        only_original=[str(i) for i in original.ids[where < 0]],
        only_retagged=[str(i) for i in other.ids[~in_both]],
        repeated_ids={original.name: original.repeated_ids, other.name: other.repeated_ids},
        axes=axes,
    )


def _axis(axis, original, other, mine, theirs, resamples, rng, top) -> AxisAgreement:
    first, second = original.counts[axis][mine], other.counts[axis][theirs]
    not_compared = {
        "original: no tag": int((first == 0).sum()),
        "original: several tags": int((first > 1).sum()),
        "re-tag: no tag": int((second == 0).sum()),
        "re-tag: several tags": int((second > 1).sum()),
    }
    both = (first == 1) & (second == 1)
    a = original.labels[axis][mine][both].astype(str)
    b = other.labels[axis][theirs][both].astype(str)
    tags = sorted(set(a.tolist()) | set(b.tolist()))
    codes_a, codes_b = np.searchsorted(tags, a), np.searchsorted(tags, b)
    counts = confusion(codes_a, codes_b, len(tags))
    by_agent = {}
    if original.agents is not None:
        agents = original.agents[mine][both].astype(str)
        for agent in sorted(set(agents.tolist())):
            chosen = agents == agent
            matrix = confusion(codes_a[chosen], codes_b[chosen], len(tags))
            by_agent[agent or "(none)"] = score(matrix, resamples, rng)
    by_tag = [
        TagScore(tag, int(counts[i].sum()), int(counts[:, i].sum()), int(counts[i, i]))
        for i, tag in enumerate(tags)
    ]
    ids = original.ids[mine][both]
    texts = original.texts[mine][both]
    k = len(tags)
    off = [(int(counts[i, j]), i, j) for i in range(k) for j in range(k) if i != j and counts[i, j]]
    disagreements = []
    for count, i, j in sorted(off, key=lambda w: (-w[0], w[1], w[2]))[:top]:
        where = np.flatnonzero((codes_a == i) & (codes_b == j))[:EXAMPLES]
        examples = tuple((str(ids[k]), str(texts[k])) for k in where)
        disagreements.append(Disagreement(tags[i], tags[j], count, examples))
    return AxisAgreement(
        axis, score(counts, resamples, rng), not_compared, by_agent, by_tag, disagreements
    )


def _fleiss(taggers: Sequence[Tagging], resamples: int, rng) -> dict[str, ManyTaggers]:
    """Fleiss' kappa per axis over the messages every tagger tagged with exactly one tag.

    statsmodels' ``fleiss_kappa`` (BSD-3) does the arithmetic; imported here because it
    takes seconds to import and only this case needs it.
    """
    from statsmodels.stats.inter_rater import fleiss_kappa

    common = pd.Index(taggers[0].ids)
    for other in taggers[1:]:
        common = common.intersection(pd.Index(other.ids), sort=False)
    result = {}
    for axis in taggers[0].labels:
        if not all(axis in t.labels for t in taggers):
            continue
        columns, ok = [], np.ones(len(common), dtype=bool)
        for t in taggers:
            where = pd.Index(t.ids).get_indexer(common)
            ok &= t.counts[axis][where] == 1
            columns.append(t.labels[axis][where])
        labels = np.stack(columns, axis=1)[ok].astype(str)
        tags, codes = np.unique(labels, return_inverse=True)
        codes = codes.reshape(labels.shape)
        table = np.stack([(codes == c).sum(axis=1) for c in range(len(tags))], axis=1)
        if len(table) == 0:
            kappa = Interval(None, None, None)
        else:
            point = _fleiss_or_one(fleiss_kappa, table)
            drawn = rng.integers(0, len(table), size=(resamples, len(table)))
            values = [_fleiss_or_one(fleiss_kappa, table[rows]) for rows in drawn]
            low, high = np.percentile(values, [2.5, 97.5])
            kappa = Interval(point, float(low), float(high))
        result[axis] = ManyTaggers(axis, len(taggers), len(table), len(common) - len(table), kappa)
    return result


def _fleiss_or_one(fleiss_kappa, table: np.ndarray) -> float:
    """Fleiss' kappa, 1 where every tagger used one and the same tag (there 0/0)."""
    if (table.sum(axis=0) > 0).sum() == 1:
        return 1.0
    return float(fleiss_kappa(table))
