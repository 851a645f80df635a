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
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.corpus import join_groups, timestamps
from classifier.errors import ModelError, OutputError, UsageError
from classifier.export.layout import (
    DEFAULT_MIN_CONFIDENCE,
    FIELDS,
    REVIEW,
    SUFFIXES,
    Counts,
    Export,
    Selection,
    Suggester,
    file_tags,
)

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


def build_export(corpus: Corpus, selection: Selection, suggest: Suggester | None = None) -> Export:
    """Select messages and assign each to exactly one file (pure: nothing is written).

    Parameters
    ----------
    corpus : Corpus
        The resolved corpus.
    selection : Selection
        From :func:`select` over the corpus's taxonomy.
    suggest : callable, optional
        Fills missing tags (see ``Suggester``); called once, with the texts of the selected
        messages that lack a tag on some axis and have text.
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

    ids = take(messages["id"])
    repeat = (ids.duplicated(keep="first") & ids.ne("")).to_numpy(dtype=bool)
    complete = np.logical_and.reduce([(counts[a] == 1) | filled[a] for a in taxonomy.axes])
    good = complete[positions] & ~repeat
    blank = pd.Series("", index=range(len(positions)), dtype=object)
    rows = pd.DataFrame({"row": take(messages["row"]), "id": ids})
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
    rows.loc[repeat, "file"] = REVIEW
    rows["reason"] = blank
    review = np.flatnonzero(~good)
    if len(review):
        reasons = _reasons(corpus, rows, positions, review, repeat, counts, filled, notes)
        rows.loc[review, "reason"] = reasons

    files = file_tags(taxonomy, selection.by, rows["file"].unique())
    exported = int(good.sum())
    tally = Counts(
        input=n,
        outside_dates=outside_dates,
        other_topics=other_topics,
        exported=exported,
        needs_review=len(positions) - exported,
        undated=undated,
        suggested=int(any_filled.sum()),
    )
    return Export(corpus.path, taxonomy, selection, rows, files, tally, suggest is not None)


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


def _reasons(corpus, rows, positions, review, repeat, counts, filled, notes) -> Any:
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
    if repeat.any():
        firsts = rows.loc[~repeat, ["id", "row"]].drop_duplicates("id").set_index("id")["row"]
        ids = rows["id"].to_numpy(dtype=object)[review]
        again = repeat[review]
        part = np.full(len(where), "", dtype=object)
        first = pd.Series(ids[again], dtype=object).map(firsts).astype(str).to_numpy(dtype=object)
        part[again] = "duplicate id (first at row " + first + ")"
        reasons = _joined(reasons, part)
    return reasons


def _joined(left: Any, right: Any) -> Any:
    """Element-wise ``left; right``, leaving out empty sides."""
    import numpy as np

    both = (left != "") & (right != "")
    out = np.where(left == "", right, left)
    out[both] = left[both] + "; " + right[both]
    return out


def check_out_dir(out: str | Path, force: bool) -> None:
    """Refuse a file, or a non-empty directory without ``force``, before any work is done."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(
            f"{out}: the directory is not empty; pass --force to write the export into it "
            "(a previous export there is replaced, other files are kept)"
        )


def export_names(taxonomy: Taxonomy) -> set[str]:
    """Every file name an export may write, in any format: what ``--force`` replaces."""
    stems = [REVIEW, *(tag.id for body in taxonomy.axes.values() for tag in body.tags)]
    names = {stem + suffix for stem in stems for suffix in SUFFIXES.values()}
    return names | {"index.csv", "index.md"}


def write_export(
    export: Export, out: str | Path, *, format: str = "csv", force: bool = False, newest: int = 5
) -> Export:
    """Write one file per tag, ``_needs-review`` and ``index.csv``/``index.md``: all or nothing.

    Every file is written first into a temporary directory beside ``out``; only when all
    are there does the export take the place of the old one: a new or empty ``out`` is that
    directory renamed (one atomic step), an existing one gets each file moved in by rename.
    Any error before that leaves ``out`` exactly as it was. With ``force``, files of an
    earlier export in ``out`` that this one does not write (other tags, other formats) are
    removed afterwards, so re-reading the directory never counts a message twice; files
    feedtag does not name are kept.
    """
    from dataclasses import replace

    from classifier.output import csv_bytes, refuse_overwrite

    if format not in SUFFIXES:
        raise UsageError(f"--format '{format}': choose from: {', '.join(SUFFIXES)}")
    out = Path(out)
    check_out_dir(out, force)
    if export.source != "-":
        refuse_overwrite({"--out": out}, {"CORPUS": export.source})
    names = export_names(export.taxonomy)
    in_the_way = sorted(name for name in names if (out / name).is_dir())
    if in_the_way:
        raise OutputError(
            f"{out / in_the_way[0]}: a directory where the export writes a file; "
            "move it away or choose another --out"
        )
    suffix = SUFFIXES[format]
    if format == "markdown":
        from classifier.export.digest import digests

        contents: dict[str, str | bytes] = {
            stem + suffix: data for stem, data in dict(digests(export, newest)).items()
        }
    else:
        contents = {stem + suffix: data for stem, data in _data_files(export, format)}
    index = export.index()
    contents["index.csv"] = csv_bytes(index)
    from classifier.export.digest import index_markdown

    contents["index.md"] = index_markdown(export, index)
    _swap_in(out, contents, stale=sorted(names - set(contents)) if force else [])
    return replace(export, paths=[out / name for name in contents])


def _swap_in(out: Path, contents: dict[str, str | bytes], stale: list[str]) -> None:
    """Write ``contents`` to a directory beside ``out``, then put it in ``out``'s place."""
    import shutil
    import tempfile

    from classifier.output import write_atomic

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as err:
        raise OutputError(f"{out}: cannot write here ({err.strerror or err})") from None
    try:
        for name, data in contents.items():
            write_atomic(temp / name, data)
        fresh = not out.is_symlink() and (not out.exists() or not any(out.iterdir()))
        if fresh:
            temp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; exports get normal permissions
            os.replace(temp, out)
            return
        for name in contents:
            os.replace(temp / name, out / name)
        for name in stale:
            (out / name).unlink(missing_ok=True)
    except OSError as err:
        raise OutputError(f"{out}: cannot write the export ({err.strerror or err})") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _data_files(export: Export, format: str) -> Iterable[tuple[str, bytes]]:
    """(file stem, content) of every tag file and ``_needs-review``, as CSV or JSON Lines.

    The rows become one Arrow table, sorted by file once and sliced: per-file conversions
    would cost more than the writing. Only CSV is neutralised (JSON is read by programs).
    """
    import numpy as np
    import pyarrow as pa

    from classifier.output import csv_bytes, json_literals, jsonl_bytes, neutralise_table

    rows, columns = export.rows, export.columns
    stems = [*export.files, REVIEW]
    code = rows["file"].map({stem: i for i, stem in enumerate(stems)}).to_numpy(dtype=np.int64)
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(stems) + 1))
    table = pa.Table.from_pandas(rows[["row", *columns, "reason"]], preserve_index=False)
    table = neutralise_table(table) if format == "csv" else json_literals(table)
    table = table.combine_chunks().take(order)
    for i, stem in enumerate(stems):
        part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
        part = part if stem == REVIEW else part.select(columns)
        if format == "csv":
            yield stem, csv_bytes(part, neutralised=True)
        else:
            yield stem, jsonl_bytes(part, literal=True)


def export_corpus(
    corpus: Corpus,
    selection: Selection,
    out: str | Path,
    *,
    format: str = "csv",
    force: bool = False,
    suggest: Suggester | None = None,
) -> Export:
    """Build and write an export: :func:`build_export`, then :func:`write_export`."""
    check_out_dir(out, force)
    return write_export(build_export(corpus, selection, suggest), out, format=format, force=force)
