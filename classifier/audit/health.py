"""Taxonomy health: findings about tags rather than messages, so they carry no row.

``rare-tag``, ``unused-tag`` and ``catch-all`` read the tag counts; ``confusable-tags`` reads
the out-of-fold confusions of the model-assisted audit. Counts are of messages with exactly
one tag on the axis (as the summary's tag table); retired tags are left to ``deprecated-tag``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from classifier.audit.checks import COLUMNS, none

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import pandas as pd

    from classifier.audit.suspects import JudgedRows, Predictions
    from classifier.audit.tally import Tally
    from classifier.corpus import Corpus


@dataclass(frozen=True)
class HealthSettings:
    """When a tag counts as rare, a catch-all, or confusable with another.

    rare_below : a tag on fewer messages than this (but some) is rare.
    catch_all_share : a tag holding at least this share of an axis's messages, and at least
        twice the share of an even split over its tags, is a catch-all.
    confusable_share, confusable_ratio, confusable_min : a pair is confusable when the model
        (out of fold) puts at least ``confusable_share`` of the two tags' messages on the other
        tag of the pair, at least ``confusable_ratio`` times the share an even spread of the
        axis's disagreements over all pairs would give, and at least ``confusable_min`` messages.
    """

    rare_below: int = 20
    catch_all_share: float = 0.4
    confusable_share: float = 0.05
    confusable_ratio: float = 2.0
    confusable_min: int = 5


class ConfusablePair(BaseModel):
    tags: tuple[str, str]
    messages: int  # messages tagged with either
    confused: int  # of them, the model put on the other tag of the pair
    first_as_second: int
    second_as_first: int


class AxisHealth(BaseModel):
    """Figures of one axis for the summary."""

    tags: int  # current (not retired) tags
    used: int
    rare: list[str]
    unused: list[str]
    largest: str | None
    largest_share: float
    out_of_fold_accuracy: float | None = None
    suspects: int | None = None
    confusable: list[ConfusablePair] | None = None


def tally_of(source: Corpus | Tally) -> Tally:
    """The counts the health checks read: a corpus is counted, a ``Tally`` (of a dataset
    read in chunks) is used as it is."""
    from classifier.audit.tally import Tally

    return source if isinstance(source, Tally) else Tally.of(source)


def _taxonomy_findings(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    if not rows:
        return none()
    frame = pd.DataFrame(rows)
    frame.insert(0, "row", pd.array([None] * len(frame), dtype="Int64"))
    frame.insert(1, "id", "")
    frame["score"] = float("nan")
    return frame[COLUMNS]


def _name(corpus: Corpus | Tally | JudgedRows, axis: str, tag: str) -> str:
    return corpus.taxonomy.tag(axis, tag).name


def rare_tag(corpus: Corpus | Tally, settings: HealthSettings | None = None) -> pd.DataFrame:
    """A tag on a few messages: a model cannot learn it and agents may not know it."""
    settings = settings or HealthSettings()
    corpus = tally_of(corpus)
    rows = []
    for axis in corpus.taxonomy.axes:
        for tag, n in corpus.label_counts(axis).items():
            if 0 < n < settings.rare_below:
                rows.append(
                    _row(
                        "rare-tag",
                        "info",
                        axis,
                        tag,
                        corpus,
                        f"only {n} messages "
                        f"(rare below {settings.rare_below}); merge it or tag more carefully",
                    )
                )
    return _taxonomy_findings(rows)


def unused_tag(corpus: Corpus | Tally) -> pd.DataFrame:
    """A current tag no message carries: dead weight in the agents' picker, or a missed one."""
    corpus = tally_of(corpus)
    rows = [
        _row("unused-tag", "info", axis, tag, corpus, "no message carries it")
        for axis in corpus.taxonomy.axes
        for tag, n in corpus.label_counts(axis).items()
        if n == 0
    ]
    return _taxonomy_findings(rows)


def catch_all(corpus: Corpus | Tally, settings: HealthSettings | None = None) -> pd.DataFrame:
    """One tag holding an outsized share of an axis: it hides what the messages are about."""
    settings = settings or HealthSettings()
    corpus = tally_of(corpus)
    rows = []
    for axis in corpus.taxonomy.axes:
        counts = corpus.label_counts(axis)
        total = sum(counts.values())
        if not total or not counts:
            continue
        tag = max(counts, key=counts.__getitem__)
        share = counts[tag] / total
        even = 1 / len(counts)
        if share >= settings.catch_all_share and share >= 2 * even:
            rows.append(
                _row(
                    "catch-all",
                    "warning",
                    axis,
                    tag,
                    corpus,
                    f"holds {share:.0%} of {axis} tags ({counts[tag]} of {total}); an even "
                    f"split over {len(counts)} tags would give {even:.0%}: split it",
                )
            )
    return _taxonomy_findings(rows)


def _row(
    check: str, severity: str, axis: str, tags: str, corpus: Corpus | Tally, message: str
) -> dict:
    return {
        "check": check,
        "severity": severity,
        "axis": axis,
        "tags": tags,
        "message": f"'{_name(corpus, axis, tags)}' {message}",
        "fix": "",
    }


def confusions(predictions: Predictions, axis: str, settings: HealthSettings) -> list[dict]:
    """Tag pairs the model confuses out of fold, most confused first, with their row positions."""
    import numpy as np

    oof = predictions.axes[axis]
    k = oof.classes.size
    predicted = oof.proba.argmax(axis=1)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (oof.labels, predicted), 1)
    support = np.bincount(oof.labels, minlength=k)
    even = (predicted != oof.labels).mean() / max(k - 1, 1) if oof.labels.size else 0.0
    bar = max(settings.confusable_share, settings.confusable_ratio * even)
    pairs = []
    for a in range(k):
        for b in range(a + 1, k):
            confused = int(matrix[a, b] + matrix[b, a])
            messages = int(support[a] + support[b])
            if confused >= settings.confusable_min and confused >= bar * messages:
                pairs.append(
                    {
                        "a": a,
                        "b": b,
                        "confused": confused,
                        "messages": messages,
                        "a_as_b": int(matrix[a, b]),
                        "b_as_a": int(matrix[b, a]),
                    }
                )
    return sorted(pairs, key=lambda p: (-p["confused"] / p["messages"], -p["confused"]))


def confusable_tags(
    corpus: Corpus | JudgedRows, predictions: Predictions, settings: HealthSettings | None = None
) -> pd.DataFrame:
    """Tag pairs the model (out of fold) often swaps: their boundary is unclear to agents too.

    The message gives the counts both ways and two example messages
    (``confusable_examples``), the ones the model puts most surely on the other tag.
    """
    from classifier.audit.suspects import judged_rows

    settings = settings or HealthSettings()
    judged = judged_rows(corpus)
    rows = []
    for axis, oof in predictions.axes.items():
        for pair in confusions(predictions, axis, settings):
            a, b = pair["a"], pair["b"]
            name_a = _name(judged, axis, str(oof.classes[a]))
            name_b = _name(judged, axis, str(oof.classes[b]))
            examples = confusable_examples(oof.labels, oof.proba, a, b)
            positions = oof.rows[examples]
            quoted = zip(examples, judged.numbers(positions), judged.texts(positions), strict=True)
            shown = "; ".join(
                f"row {number} tagged "
                f"'{_name(judged, axis, str(oof.classes[oof.labels[i]]))}': "
                f'"{_snippet(text)}"'
                for i, number, text in quoted
            )
            rows.append(
                {
                    "check": "confusable-tags",
                    "severity": "warning",
                    "axis": axis,
                    "tags": f"{oof.classes[a]}; {oof.classes[b]}",
                    "message": (
                        f"'{name_a}' and '{name_b}' confused in {pair['confused']} of "
                        f"{pair['messages']} messages ({pair['confused'] / pair['messages']:.0%}): "
                        f"{pair['a_as_b']} '{name_a}' read as '{name_b}', {pair['b_as_a']} the "
                        f"other way; e.g. {shown}"
                    ),
                    "fix": "",
                }
            )
    return _taxonomy_findings(rows)


def _surest(
    labels: np.ndarray, predicted: np.ndarray, proba: np.ndarray, given: int, other: int
) -> np.ndarray:
    """Positions of the messages tagged ``given`` that the model puts on ``other``
    (``predicted``: its top tag), the surest first (the earlier message first on a tie)."""
    import numpy as np

    mine = np.flatnonzero((labels == given) & (predicted == other))
    return mine[np.lexsort((mine, -proba[mine, other]))]


def confusable_examples(labels: np.ndarray, proba: np.ndarray, a: int, b: int) -> list[int]:
    """Up to two messages to quote for the pair ``a``, ``b`` (positions into ``labels``):
    the surest each way, and a second from the side that has one when the other has none."""
    predicted = proba.argmax(axis=1)
    ranked = [_surest(labels, predicted, proba, a, b), _surest(labels, predicted, proba, b, a)]
    examples = [int(side[0]) for side in ranked if side.size]
    for side in ranked:
        if len(examples) >= 2:
            break
        examples += [int(i) for i in side[:2] if i not in examples][: 2 - len(examples)]
    return examples


def quote_candidates(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Every message ``confusable_examples`` can pick among these (positions, sorted): the two
    surest of each ordered pair of tags. Those of each chunk's candidates and the previous
    ones are the candidates of the rows so far, so an audit read in chunks keeps the texts of
    these few messages only."""
    import numpy as np

    k = proba.shape[1]
    predicted = proba.argmax(axis=1)
    picked = [
        _surest(labels, predicted, proba, given, other)[:2]
        for given in range(k)
        for other in range(k)
        if given != other
    ]
    return np.unique(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def _snippet(text: Any, width: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def axis_health(
    corpus: Corpus | Tally,
    settings: HealthSettings,
    predictions: Predictions | None,
    suspects: Mapping[str, int] | None = None,
) -> dict[str, AxisHealth]:
    """The summary's figures per axis; ``suspects``: the suspect-tag findings per axis, when
    that check ran."""
    result = {}
    corpus = tally_of(corpus)
    accuracy = predictions.accuracy() if predictions is not None else {}
    for axis in corpus.taxonomy.axes:
        counts = corpus.label_counts(axis)
        total = sum(counts.values())
        largest = max(counts, key=counts.__getitem__) if total else None
        figures = AxisHealth(
            tags=len(counts),
            used=sum(1 for n in counts.values() if n),
            rare=[t for t, n in counts.items() if 0 < n < settings.rare_below],
            unused=[t for t, n in counts.items() if n == 0],
            largest=largest,
            largest_share=counts[largest] / total if largest else 0.0,
        )
        if predictions is not None and axis in predictions.axes:
            oof = predictions.axes[axis]
            figures.out_of_fold_accuracy = accuracy[axis]
            if suspects is not None:
                figures.suspects = int(suspects.get(axis, 0))
            figures.confusable = [
                ConfusablePair(
                    tags=(str(oof.classes[p["a"]]), str(oof.classes[p["b"]])),
                    messages=p["messages"],
                    confused=p["confused"],
                    first_as_second=p["a_as_b"],
                    second_as_first=p["b_as_a"],
                )
                for p in confusions(predictions, axis, settings)
            ]
        result[axis] = figures
    return result
