"""``audit --fix``: a corrected copy of the corpus, in the input's format.

Only the mechanical fixes are made: aliases and retired tags become their canonical tag, and a
tag written twice is kept once. Rows, columns, order and every other cell stay as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.corpus import SEPARATORS, repeats
from classifier.errors import UsageError
from classifier.output import csv_bytes, refuse_overwrite, write_atomic
from classifier.readers import FORMATS, csv_delimiter, jsonl_lines

if TYPE_CHECKING:
    from classifier.corpus import Corpus


@dataclass(frozen=True)
class FixResult:
    path: Path
    messages_changed: int
    cells_changed: int


def fixed_cells(corpus: Corpus) -> dict[tuple[int, str], list[str]]:
    """The new tag list of every cell the fix changes, keyed by (message position, column)."""
    tags = corpus.tags
    taxonomy = corpus.taxonomy
    repeated = repeats(tags)
    fixable = repeated | tags["how"].isin(["alias", "deprecated"])
    affected = tags[tags["message"].isin(tags.loc[fixable, "message"].unique())]
    before: dict[tuple[int, str], list[str]] = {}
    after: dict[tuple[int, str], list[str]] = {}
    kept: set[tuple[int, str, str]] = set()
    for row in affected.itertuples(index=False):
        cell = (row.message, row.column)
        before.setdefault(cell, []).append(row.raw)
        written = after.setdefault(cell, [])
        raw, tag = row.raw, row.tag
        if row.how == "alias":
            raw = taxonomy.tag(row.axis, tag).name
        elif row.how == "deprecated" and taxonomy.successor(row.axis, tag) != tag:
            tag = taxonomy.successor(row.axis, tag)
            raw = taxonomy.tag(row.axis, tag).name
        if isinstance(row.axis, str):
            if (row.message, row.axis, tag) in kept:
                continue  # the same tag again, perhaps after a rename: keep it once
            kept.add((row.message, row.axis, tag))
        written.append(raw)
    return {cell: tags for cell, tags in after.items() if tags != before[cell]}


def write_fixed(corpus: Corpus, out: str | Path) -> FixResult:
    """Write the corrected copy atomically; the input is never touched."""
    cells = fixed_cells(corpus)
    path = write_cells(corpus, cells, out, option="--fix")
    return FixResult(path, len({message for message, _ in cells}), len(cells))


def write_cells(
    corpus: Corpus, cells: dict[tuple[int, str], list[str]], out: str | Path, *, option: str
) -> Path:
    """Write a copy of the corpus, in its format, with new tag lists in some cells; atomic.

    ``cells`` maps (message position, column) to the tags to write there, in the way the
    original cell was written. A column the file lacks is added (empty elsewhere). ``option``
    names the command line option in errors (``--fix``, ``--apply --out``).
    """
    out = Path(out)
    refuse_overwrite({option: out}, {"CORPUS": corpus.path})
    wanted = FORMATS.get(out.suffix.lower())
    if wanted is not None and wanted != corpus.format:
        raise UsageError(
            f"{out}: {option} writes the input's format ({corpus.format}); "
            "give the file that suffix"
        )
    writer = {"csv": _csv, "tsv": _csv, "jsonl": _jsonl, "json": _json, "parquet": _parquet}
    writer[corpus.format](corpus, cells, out)
    return out


def _cell(original: Any, tags: list[str]) -> Any:
    """Write a tag list back the way the original cell was written."""
    if not isinstance(original, str):
        return tags
    if original.strip().startswith("["):
        return json.dumps(tags, ensure_ascii=False)
    separator = SEPARATORS.search(original)
    return (separator.group() if separator else "; ").join(tags)


def _csv(corpus: Corpus, cells: dict, out: Path) -> None:
    frame = corpus.frame.copy()
    for (position, column), tags in cells.items():
        if column not in frame.columns:
            frame[column] = ""
        at = frame.columns.get_loc(column)
        frame.iat[position, at] = _cell(frame.iat[position, at], tags)
    sep = "\t" if corpus.format == "tsv" else ","
    if corpus.format == "csv" and corpus.path != "-":
        with open(corpus.path, "rb") as source:
            sep = csv_delimiter(source.readline())  # keep a ';' file a ';' file
    write_atomic(out, csv_bytes(frame, sep=sep))


def _records(corpus: Corpus) -> list[tuple[str, dict | None]]:
    """The original JSON Lines, each with its parsed object (``None`` for a blank line)."""
    lines = jsonl_lines(Path(corpus.path).read_text(encoding="utf-8-sig"))
    return [(line, json.loads(line) if line.strip() else None) for line in lines]


def _jsonl(corpus: Corpus, cells: dict, out: Path) -> None:
    by_position: dict[int, dict[str, list[str]]] = {}
    for (position, column), tags in cells.items():
        by_position.setdefault(position, {})[column] = tags
    lines, position = [], 0
    for line, record in _records(corpus):
        if record is not None:
            for column, tags in by_position.get(position, {}).items():
                record[column] = _cell(record.get(column), tags)
            if position in by_position:
                line = json.dumps(record, ensure_ascii=False)
            position += 1
        lines.append(line)
    write_atomic(out, "\n".join(lines) + "\n")


def _json(corpus: Corpus, cells: dict, out: Path) -> None:
    records = json.loads(Path(corpus.path).read_text(encoding="utf-8-sig"))
    for (position, column), tags in cells.items():
        records[position][column] = _cell(records[position].get(column), tags)
    write_atomic(out, json.dumps(records, ensure_ascii=False, indent=2) + "\n")


def _parquet(corpus: Corpus, cells: dict, out: Path) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(corpus.path)
    for column in {column for _, column in cells} - set(table.column_names):
        table = table.append_column(column, pa.nulls(len(table), pa.list_(pa.string())))
    for column in {column for _, column in cells}:
        values = table.column(column).to_pylist()
        for (position, name), tags in cells.items():
            if name == column:
                values[position] = _cell(values[position], tags)
        index = table.schema.get_field_index(column)
        array = pa.array(values, type=table.schema.field(index).type)
        table = table.set_column(index, table.schema.field(index), array)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    write_atomic(out, buffer.getvalue())
