"""Writing an export: every file built chunk by chunk in a temporary directory, then swapped in.

An export of a large dataset never holds the whole corpus: each chunk's rows (from
``teams.export_chunk``, duplicates marked by ``teams.SeenIds``) are appended to their tag's file
as they come; the index and the Markdown digests are made at the end from compact state (the
``compact_rows`` of every chunk, each row's time, the few newest rows per tag). Only when every
file is whole does the export take the place of the old one, so it stays all or nothing. One
chunk or many write the same bytes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import OutputError, UsageError
from classifier.export.layout import REVIEW, SUFFIXES, Counts, Export, compact_rows, file_tags

if TYPE_CHECKING:
    from classifier.taxonomy import Taxonomy


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

    :func:`write_exports` of one export held whole.
    """
    return write_exports([export], out, format=format, force=force, newest=newest)


def write_exports(
    parts: Iterable[Export],
    out: str | Path,
    *,
    format: str = "csv",
    force: bool = False,
    newest: int = 5,
) -> Export:
    """Write the export made of ``parts`` (chunks in order, duplicates marked): all or nothing.

    Every file is written first into a temporary directory beside ``out``; only when all
    are there does the export take the place of the old one: a new or empty ``out`` is that
    directory renamed (one atomic step), an existing one gets each file moved in by rename.
    Any error before that leaves ``out`` exactly as it was. With ``force``, files of an
    earlier export in ``out`` that this one does not write (other tags, other formats) are
    removed afterwards, so re-reading the directory never counts a message twice; files
    feedtag does not name are kept.

    Returns the export's summary: its counts, files and paths, with ``rows`` holding only
    the :func:`compact_rows` of every chunk.
    """
    from classifier.output import refuse_overwrite

    if format not in SUFFIXES:
        raise UsageError(f"--format '{format}': choose from: {', '.join(SUFFIXES)}")
    out = Path(out)
    check_out_dir(out, force)
    parts = iter(parts)
    first = next(parts)
    if first.source != "-":
        refuse_overwrite({"--out": out}, {"CORPUS": first.source})
    names = export_names(first.taxonomy)
    in_the_way = sorted(name for name in names if (out / name).is_dir())
    if in_the_way:
        raise OutputError(
            f"{out / in_the_way[0]}: a directory where the export writes a file; "
            "move it away or choose another --out"
        )
    temp = _temp_dir(out)
    try:
        summary, written = _write_parts(temp, first, parts, format, newest)
        _swap_in(out, temp, written, stale=sorted(names - set(written)) if force else [])
    except OSError as err:
        raise OutputError(f"{out}: cannot write the export ({err.strerror or err})") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return replace(summary, paths=[out / name for name in written])


def _write_parts(
    temp: Path, first: Export, rest: Iterable[Export], format: str, newest: int
) -> tuple[Export, list[str]]:
    """Append each part's rows to its files in ``temp``; then the index (and the digests)."""
    import pandas as pd

    from classifier.export.digest import Digests, index_markdown
    from classifier.output import append_bytes, csv_bytes, write_atomic

    suffix = SUFFIXES[format]
    digests = Digests(newest) if format == "markdown" else None
    review_rows = temp / ".review-rows"
    compact: list[pd.DataFrame] = []
    tallies: list[Counts] = []
    present: set[str] = set()
    started: set[str] = set()
    for part in _chain(first, rest):
        rows = compact_rows(part)
        compact.append(rows.astype({c: "category" for c in rows.columns if c != "row"}))
        tallies.append(part.counts)
        present.update(rows["file"].unique().tolist())
        if digests is not None:
            append_bytes(review_rows, digests.add(part).encode("utf-8"))
            continue
        for stem, data in _data_files(part, format, started):
            append_bytes(temp / (stem + suffix), data)
            started.add(stem)
    summary = _summary(first, compact, tallies, present)
    stems = [*summary.files, REVIEW]
    if digests is not None:
        for stem, page in digests.pages(summary).items():
            write_atomic(temp / (stem + suffix), page)
        write_atomic(temp / (REVIEW + suffix), digests.review_head(summary))
        with (temp / (REVIEW + suffix)).open("ab") as target, review_rows.open("rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
        review_rows.unlink()
    index = summary.index()
    write_atomic(temp / "index.csv", csv_bytes(index))
    write_atomic(temp / "index.md", index_markdown(summary, index))
    return summary, [stem + suffix for stem in stems] + ["index.csv", "index.md"]


def _chain(first: Export, rest: Iterable[Export]) -> Iterable[Export]:
    yield first
    yield from rest


def _summary(first: Export, compact: list[Any], tallies: list[Counts], present: set[str]) -> Export:
    """The whole export from its parts' compact state: counts summed, rows end to end."""
    import pandas as pd

    rows = pd.concat(compact, ignore_index=True) if len(compact) > 1 else compact[0]
    rows = rows.astype({c: object for c in rows.columns if c != "row"})
    counts = Counts(**{k: sum(getattr(t, k) for t in tallies) for k in vars(tallies[0])})
    files = file_tags(first.taxonomy, first.by, present)
    return replace(first, rows=rows, files=files, counts=counts)


def _temp_dir(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as err:
        raise OutputError(f"{out}: cannot write here ({err.strerror or err})") from None


def _swap_in(out: Path, temp: Path, names: list[str], stale: list[str]) -> None:
    """Put the files ``names`` of ``temp`` in ``out``'s place (``temp`` itself when it can)."""
    for name in names:  # each file on disk before any rename, as write_atomic leaves them
        descriptor = os.open(temp / name, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    fresh = not out.is_symlink() and (not out.exists() or not any(out.iterdir()))
    if fresh:
        temp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; exports get normal permissions
        os.replace(temp, out)
        return
    for name in names:
        os.replace(temp / name, out / name)
    for name in stale:
        (out / name).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _data_files(export: Export, format: str, started: set[str]) -> Iterable[tuple[str, bytes]]:
    """(file stem, bytes to append) of every tag file and ``_needs-review`` of one part, as
    CSV (with the header when the stem is not in ``started``) or JSON Lines.

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
            yield stem, csv_bytes(part, neutralised=True, header=stem not in started)
        else:
            yield stem, jsonl_bytes(part, literal=True)
