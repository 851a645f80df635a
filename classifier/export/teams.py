"""Export feedback by team (or topic): one file per tag, an index, and a pile to review.

Every selected message lands in exactly one file: its tag's file when it has exactly one tag on
every axis, ``_needs-review`` with the reason otherwise. Decisions a reader of an export relies on:

- **Tags are written as canonical ids.** An alias or a name resolves to its tag's id; a retired
  tag to its successor (``replaced_by`` followed to the live tag), so ``Team: Growth`` lands in
  ``outbound``. A retired tag without a successor stays under its own id. Ids are what the file
  names use and what a re-read resolves exactly; the Markdown digests show names.
- **Each input row is a message, counted once.** A row whose id an earlier selected row already
  has goes to ``_needs-review`` as a duplicate, so a team's file counts every message once and no
  row is lost. Rows with a blank id are never duplicates.
- **Tags the taxonomy does not know are left out**: help desks carry many tags of their own. They
  are named in the reason when a message lacks a tag on an axis.
- **Selection.** ``--since``/``--until`` are inclusive; a date-only ``--until`` covers its whole
  day; times without a zone are UTC; messages without a readable ``created_at`` are left out
  when either is given. ``--topic`` keeps messages with one of the topics among their tagged (or
  confidently suggested) topics. Left-out messages are counted, not exported.
- **Suggestions** fill only a missing tag, only at or above ``min_confidence``; such rows say
  ``source=suggested`` with the lowest confidence of the tags suggested and the axes filled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.corpus import join_groups, timestamps
from classifier.errors import ModelError, UsageError
from classifier.export.layout import (
    DEFAULT_MIN_CONFIDENCE,
    FIELDS,
    REVIEW,
    Counts,
    Export,
    Selection,
    Suggester,
    file_tags,
)
from classifier.export.writer import check_out_dir, export_names, write_export, write_exports

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "REVIEW",
    "SeenIds",
    "build_export",
    "check_out_dir",
    "export_chunk",
    "export_chunks",
    "export_corpus",
    "export_names",
    "model_suggester",
    "parse_date",
    "select",
    "write_export",
]

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus
    from classifier.taxonomy import Taxonomy


def select(
    taxonomy: Taxonomy,
    by: str,
    *,
    since: str | None = None,
    until: str | None = None,
    topics: Iterable[str] | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> Selection:
    """Validate export options: an axis, ISO dates, topics of the taxonomy, a confidence.

    Raises
    ------
    UsageError
        Naming the option and what it accepts.
    """
    if by not in taxonomy.axes:
        raise UsageError(f"--by '{by}': not an axis; choose from: {', '.join(taxonomy.axes)}")
    start = parse_date(since, "--since") if since else None
    end = parse_date(until, "--until", end=True) if until else None
    if start is not None and end is not None and start >= end:
        raise UsageError(f"--since {since} is after --until {until}: nothing to export")
    chosen = None
    if topics:
        if "topic" not in taxonomy.axes:
            raise UsageError("--topic: the taxonomy has no 'topic' axis")
        chosen = frozenset(_topic(taxonomy, spelling) for spelling in topics)
    if not 0.0 <= min_confidence <= 1.0:
        raise UsageError(f"--min-confidence {min_confidence}: give a number from 0 to 1")
    return Selection(by, start, end, chosen, min_confidence)


def _topic(taxonomy: Taxonomy, spelling: str) -> str:
    hit = taxonomy.resolve(spelling, "topic")
    if hit.tag is None:
        ids = ", ".join(taxonomy.axes["topic"].ids)
        raise UsageError(f"--topic '{spelling}': no such topic; choose from: {ids}")
    return taxonomy.successor("topic", hit.tag)


def parse_date(value: str, option: str, *, end: bool = False) -> pd.Timestamp:
    """An ISO date or date-time as a UTC timestamp; a date-only ``end`` means the next midnight."""
    import pandas as pd

    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time())
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} '{value}': not an ISO date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp + pd.Timedelta(microseconds=1) if end and len(text) != 10 else stamp


def export_chunk(corpus: Corpus, selection: Selection, suggest: Suggester | None = None) -> Export:
    """Select the messages of one corpus (or chunk of a dataset) and assign each to a file.

    Pure: nothing is written, and the result depends on this chunk alone, so chunks can be
    built in any order or in parallel (the unit an engine such as Dask maps over
    partitions). One thing needs the rows before: an id an earlier row already has makes a
    duplicate. That is :meth:`SeenIds.mark`'s, the combine step, applied to the chunks in
    order; until then ``counts.exported`` and ``counts.needs_review`` are left at 0.

    Parameters
    ----------
    corpus : Corpus
        The resolved corpus, or one chunk of a dataset (``iter_chunks``).
    selection : Selection
        From :func:`select` over the corpus's taxonomy.
    suggest : callable, optional
        Fills missing tags (see ``Suggester``); called once per chunk, with the texts of the
        selected messages that lack a tag on some axis and have text. Its answer for a text
        must not depend on the other texts asked with it (a model's does not).
    """
    import numpy as np
    import pandas as pd

    taxonomy, messages, n = corpus.taxonomy, corpus.messages, len(corpus)
    keep = np.ones(n, dtype=bool)
    undated = 0
    if selection.since is not None or selection.until is not None:
        if "created_at" not in messages:
            raise UsageError(f"{corpus.path}: no created_at column to select --since/--until by")
        when = timestamps(messages["created_at"])
        undated = int(when.isna().sum())
        if selection.since is not None:
            keep &= (when >= selection.since).fillna(False).to_numpy(dtype=bool)
        if selection.until is not None:
            keep &= (when < selection.until).fillna(False).to_numpy(dtype=bool)
    outside_dates = n - int(keep.sum())

    values, counts, known = _axis_values(corpus)
    filled = {axis: np.zeros(n, dtype=bool) for axis in taxonomy.axes}
    confidence = {axis: np.full(n, np.nan) for axis in taxonomy.axes}
    notes: dict[str, dict[int, str]] = {axis: {} for axis in taxonomy.axes}
    if suggest is not None:
        _suggest(corpus, suggest, selection, keep, values, counts, filled, confidence, notes)

    other_topics = 0
    if selection.topics is not None:
        on_topic = np.zeros(n, dtype=bool)
        on, tag = known["topic"]
        on_topic[on[np.isin(tag, list(selection.topics))]] = True
        on_topic |= filled["topic"] & pd.Series(values["topic"]).isin(selection.topics).to_numpy()
        other_topics = int((keep & ~on_topic).sum())
        keep &= on_topic

    positions = np.flatnonzero(keep)
    everything = len(positions) == n

    def take(column: Any) -> pd.Series:
        """Selected cells; strings stay in their (Arrow) dtype: converting costs seconds."""
        if isinstance(column, pd.Series):
            return (
                column.reset_index(drop=True)
                if everything
                else column.take(positions).reset_index(drop=True)
            )
        return pd.Series(column[positions], dtype=object)

    complete = np.logical_and.reduce([(counts[a] == 1) | filled[a] for a in taxonomy.axes])
    blank = pd.Series("", index=range(len(positions)), dtype=object)
    rows = pd.DataFrame({"row": take(messages["row"]), "id": take(messages["id"])})
    for name in FIELDS[1:]:
        rows[name] = take(messages[name]) if name in messages else blank
    for axis in taxonomy.axes:
        rows[axis] = take(values[axis])
    rows["text"] = take(messages["text"])
    any_filled = np.logical_or.reduce([filled[a] for a in taxonomy.axes])[positions]
    rows["source"] = np.where(any_filled, "suggested", "tagged")
    if suggest is not None:
        lowest = np.fmin.reduce([confidence[a] for a in taxonomy.axes])[positions]
        rows["confidence"] = np.round(lowest, 3)
        which = [np.where(filled[a][positions], a, "") for a in taxonomy.axes]
        rows["suggested_for"] = ["; ".join(filter(None, axes)) for axes in zip(*which, strict=True)]
    rows["file"] = take(np.where(keep & complete, values[selection.by], REVIEW))
    rows["reason"] = blank
    review = np.flatnonzero(~complete[positions])
    if len(review):
        reasons = _reasons(corpus, rows, positions, review, counts, filled, notes)
        rows.loc[review, "reason"] = reasons

    files = file_tags(taxonomy, selection.by, rows["file"].unique())
    tally = Counts(
        input=n,
        outside_dates=outside_dates,
        other_topics=other_topics,
        exported=0,
        needs_review=0,
        undated=undated,
        suggested=int(any_filled.sum()),
    )
    return Export(corpus.path, taxonomy, selection, rows, files, tally, suggest is not None)


class SeenIds:
    """The ids of the rows exported so far, to find duplicates across chunks (compact state).

    Each id is kept as a 64-bit hash (``pandas.util.hash_array``) with the row of its first
    message: 16 bytes a row, not the id. Two different ids sharing a hash (about 3 in 10^8
    for a million distinct ids) would make the later one a duplicate.
    """

    def __init__(self) -> None:
        import numpy as np

        self.keys = np.zeros(0, dtype=np.uint64)  # sorted
        self.rows = np.zeros(0, dtype=np.int64)  # the first row of each key

    def mark(self, export: Export) -> Export:
        """The combine step of :func:`export_chunk`: rows whose id an earlier row (in this
        chunk or one marked before) has go to review as duplicates; counts are completed.

        Call it on the chunks in their order; it updates ``self`` and the chunk's rows in
        place.
        """
        from dataclasses import replace

        import numpy as np
        import pandas as pd

        rows = export.rows
        ids = rows["id"].to_numpy(dtype=object)
        keys = pd.util.hash_array(ids) if len(ids) else np.zeros(0, dtype=np.uint64)
        blank = rows["id"].eq("").to_numpy(dtype=bool)
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        earlier = self.keys[at] == keys if len(self.keys) else np.zeros(len(keys), dtype=bool)
        again = pd.Series(keys).duplicated(keep="first").to_numpy(dtype=bool)
        repeat = (earlier | again) & ~blank
        if repeat.any():
            row = rows["row"].to_numpy(dtype=np.int64)
            here = pd.Series(row).groupby(keys, sort=False).transform("first").to_numpy()
            first = np.where(earlier, self.rows[at] if len(self.rows) else 0, here)[repeat]
            rows.loc[repeat, "file"] = REVIEW
            note = "duplicate id (first at row " + first.astype(str).astype(object) + ")"
            reason = rows["reason"].to_numpy(dtype=object)[repeat]
            rows.loc[repeat, "reason"] = _joined(reason, note)
        new = ~earlier & ~again & ~blank
        if new.any():
            keys_new = np.concatenate([self.keys, keys[new]])
            rows_new = np.concatenate([self.rows, rows["row"].to_numpy(dtype=np.int64)[new]])
            order = np.argsort(keys_new, kind="stable")
            self.keys, self.rows = keys_new[order], rows_new[order]
        exported = int(rows["file"].ne(REVIEW).sum())
        counts = replace(export.counts, exported=exported, needs_review=len(rows) - exported)
        files = file_tags(export.taxonomy, export.by, rows["file"].unique())
        return replace(export, files=files, counts=counts)


def build_export(corpus: Corpus, selection: Selection, suggest: Suggester | None = None) -> Export:
    """Select messages and assign each to exactly one file (pure: nothing is written).

    :func:`export_chunk` over the whole corpus, duplicates marked (see ``SeenIds``).
    """
    return SeenIds().mark(export_chunk(corpus, selection, suggest))


def _axis_values(corpus: Corpus) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Per axis: each message's canonical tag id (``a; b`` when several, ``""`` when none),
    its number of distinct tags, and the (message, tag) pairs; on integer codes, for speed."""
    import numpy as np
    import pandas as pd

    taxonomy, n = corpus.taxonomy, len(corpus)
    canonical = {
        tag.id: (axis, taxonomy.successor(axis, tag.id))
        for axis, body in taxonomy.axes.items()
        for tag in body.tags
    }
    tags = corpus.tags[corpus.tags["axis"].notna()]
    codes, written = pd.factorize(tags["tag"])
    codes, names = pd.factorize(np.array([canonical[t][1] for t in written], dtype=object)[codes])
    names = np.asarray(names, dtype=object)
    message = tags["message"].to_numpy(dtype=np.int64)
    _, first = np.unique(message * max(len(names), 1) + codes, return_index=True)
    first.sort()  # distinct (message, tag) pairs, in the order written
    message, codes = message[first], codes[first]
    axis_of = np.array([canonical[name][0] for name in names], dtype=object)
    values, counts, pairs = {}, {}, {}
    for axis in taxonomy.axes:
        mine = axis_of[codes] == axis if len(codes) else np.zeros(0, dtype=bool)
        on, tag = message[mine], names[codes[mine]]
        count = np.bincount(on, minlength=n)
        value = np.full(n, "", dtype=object)
        single = count[on] == 1
        value[on[single]] = tag[single]
        if not single.all():
            where, joined = join_groups(on[~single], tag[~single], "; ")
            value[where] = joined
        values[axis], counts[axis], pairs[axis] = value, count, (on, tag)
    return values, counts, pairs


def _suggest(corpus, suggest, selection, keep, values, counts, filled, confidence, notes) -> None:
    """Ask the suggester about selected messages missing a tag; accept confident answers."""
    import numpy as np

    axes = list(corpus.taxonomy.axes)
    missing = np.logical_or.reduce([counts[a] == 0 for a in axes]) & keep
    texts = corpus.messages["text"]
    blank = texts.str.strip().eq("").to_numpy(dtype=bool)
    for axis in axes:
        for position in np.flatnonzero(keep & (counts[axis] == 0) & blank):
            notes[axis][int(position)] = "empty text, nothing to suggest from"
    ask = np.flatnonzero(missing & ~blank)
    if not len(ask):
        return
    answers = suggest(texts.iloc[ask].tolist())
    for axis in [a for a in axes if a in answers]:  # an axis the model lacks stays unfilled
        pairs = list(answers[axis])
        if len(pairs) != len(ask):
            raise ModelError(
                f"the suggester gave {len(pairs)} {axis} suggestions for {len(ask)} messages"
            )
        allowed = set(corpus.taxonomy.suggestable(axis))
        tags = [tag for tag, _ in pairs]
        stray = sorted(set(tags) - allowed)
        if stray:
            raise ModelError(
                f"the model suggests {axis} '{stray[0]}', which this taxonomy does not offer; "
                "use a model trained on this taxonomy"
            )
        scores = np.array([float(score) for _, score in pairs])
        need = counts[axis][ask] == 0
        sure = need & (scores >= selection.min_confidence)
        values[axis][ask[sure]] = np.array(tags, dtype=object)[sure]
        filled[axis][ask[sure]] = True
        confidence[axis][ask[sure]] = scores[sure]
        for position, tag, score in zip(
            ask[need & ~sure], np.array(tags)[need & ~sure], scores[need & ~sure], strict=True
        ):
            notes[axis][int(position)] = (
                f"suggested '{tag}' at {score:.2f}, below {selection.min_confidence:.2f}"
            )


def model_suggester(model: Any) -> Suggester:
    """Adapt a fitted ``classifier.model.TagClassifier`` to ``Suggester``: its top tag per axis
    with the calibrated confidence. The model's own per-tag thresholds are not used: export
    applies one ``--min-confidence`` that the reader of the files can see and reason about."""

    def suggest(texts: list[str]) -> dict[str, list[tuple[str, float]]]:
        predicted = model.predict_axes(texts, top=1)
        return {  # no evidence (see TagClassifier._auto): confidence 0, never filled in
            axis: list(zip(p.tags.tolist(), _with_evidence(p).tolist(), strict=True))
            for axis, p in predicted.items()
        }

    return suggest


def _with_evidence(predictions: Any) -> Any:
    """The confidences, 0 where the message gave the model nothing to go on."""
    import numpy as np

    if predictions.evidence is None:
        return predictions.confidence
    return np.where(predictions.evidence, predictions.confidence, 0.0)


def _reasons(corpus, rows, positions, review, counts, filled, notes) -> Any:
    """Why each row under review is there, as ``problem (detail); problem (detail)``.

    Vectorised: a corpus nobody tagged sends every message here.
    """
    import numpy as np
    import pandas as pd

    where = positions[review]
    unknown = corpus.tags[corpus.tags["how"] == "unknown"]
    unknown = unknown[np.isin(unknown["message"].to_numpy(), where)]
    axis_of = {column: axis for axis, column in corpus.columns.axes.items()}
    on_axis = unknown["column"].map(lambda column: axis_of.get(column, "")).to_numpy(dtype=object)
    quoted = ("'" + unknown["raw"].astype(object) + "'").to_numpy(dtype=object)
    message = unknown["message"].to_numpy(dtype=np.int64)
    reasons = np.full(len(where), "", dtype=object)
    for axis in corpus.taxonomy.axes:
        count = counts[axis][where]
        part = np.full(len(where), "", dtype=object)
        several = count > 1
        if several.any():
            listed = rows[axis].to_numpy(dtype=object)[review[several]]
            text = pd.Series(count[several].astype(str), dtype=object) + f" {axis} tags ("
            part[several] = text + pd.Series(listed, dtype=object).str.replace("; ", ", ") + ")"
        none = (count == 0) & ~filled[axis][where]
        part[none] = f"no {axis} tag"
        details = pd.Series("", index=where[none], dtype=object)
        mine = np.isin(on_axis, ["", axis])
        strays = pd.Series(*reversed(join_groups(message[mine], quoted[mine], ", ")), dtype=object)
        strays = strays[strays.index.isin(details.index)]
        details[strays.index] = "unknown: " + strays
        note = pd.Series(notes[axis], dtype=object)
        note = note[note.index.isin(details.index)]
        if len(note):
            known = details[note.index]
            details[note.index] = (known + "; ").where(known.ne(""), "") + note
        details = details[details.ne("")]
        at = np.searchsorted(where, details.index.to_numpy())
        part[at] = part[at] + " (" + details.to_numpy(dtype=object) + ")"
        reasons = _joined(reasons, part)
    return reasons


def _joined(left: Any, right: Any) -> Any:
    """Element-wise ``left; right``, leaving out empty sides."""
    import numpy as np

    both = (left != "") & (right != "")
    out = np.where(left == "", right, left)
    out[both] = left[both] + "; " + right[both]
    return out


def export_corpus(
    corpus: Corpus,
    selection: Selection,
    out: str | Path,
    *,
    format: str = "csv",
    force: bool = False,
    suggest: Suggester | None = None,
) -> Export:
    """Build and write an export of a corpus held whole: :func:`export_chunks` of one chunk."""
    return export_chunks([corpus], selection, out, format=format, force=force, suggest=suggest)


def export_chunks(
    chunks: Iterable[Corpus],
    selection: Selection,
    out: str | Path,
    *,
    format: str = "csv",
    force: bool = False,
    suggest: Suggester | None = None,
) -> Export:
    """Build and write the export of a corpus read in chunks (``dataset.iter_chunks``).

    Each chunk goes through :func:`export_chunk`, then :meth:`SeenIds.mark` in order, then
    to ``writer.write_exports``, which appends its rows to the files; only compact state
    (hashed ids, the compact rows) is kept across chunks. The files are the same bytes
    whatever the chunk size, and appear all at once.
    """
    check_out_dir(out, force)
    seen = SeenIds()
    parts = (seen.mark(export_chunk(chunk, selection, suggest)) for chunk in chunks)
    return write_exports(parts, out, format=format, force=force)
