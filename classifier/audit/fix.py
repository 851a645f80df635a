"""``audit --fix``: a corrected copy of the corpus, in the input's format.

Only the mechanical fixes are made: aliases and retired tags become their canonical tag, and a
tag written twice is kept once. Rows, columns, order and every other cell stay as they were.
A dataset read in chunks is fixed by ``ChunkedFix``: CSV and TSV chunk by chunk into a temp
file renamed at the end (the same bytes as ``write_fixed``), other formats from the changed
cells at the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
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


class ChunkedFix:
    """``write_fixed`` of a dataset read in chunks: ``add`` each chunk in order, then
    ``commit`` (or ``discard``; leaving the ``with`` block without a commit discards).

    The output is refused before any reading (an input, or another format, as
    ``write_cells`` refuses). CSV and TSV rows are written as each chunk arrives, so memory
    follows the chunk; JSON, JSON Lines and Parquet keep the changed cells and are written
    from the input file at the end (one file only).
    """

    def __init__(self, name: str, out: str | Path, option: str = "--fix") -> None:
        from classifier.dataset import dataset_files
        from classifier.readers import format_of

        self.name, self.out, self.option = name, Path(out), option
        files = dataset_files(name)
        self.format = format_of(files[0])
        refuse_overwrite({option: self.out}, {"CORPUS": name})
        wanted = FORMATS.get(self.out.suffix.lower())
        if wanted is not None and wanted != self.format:
            raise UsageError(
                f"{self.out}: {option} writes the input's format ({self.format}); "
                "give the file that suffix"
            )
        self.streamed = self.format in ("csv", "tsv")
        if not self.streamed and len(files) > 1:
            raise UsageError(
                f"{name}: {option} of a dataset of several {self.format} files is not "
                "supported; fix each file, or give a CSV dataset"
            )
        self.sep = "\t" if self.format == "tsv" else ","
        if self.format == "csv" and files[0] != "-":
            with open(files[0], "rb") as source:
                self.sep = csv_delimiter(source.readline())  # keep a ';' file a ';' file
        self.messages_changed = self.cells_changed = 0
        self._cells: dict[tuple[int, str], list[str]] = {}
        self._last: Corpus | None = None
        self._csv: CsvParts | None = None

    def __enter__(self) -> ChunkedFix:
        return self

    def __exit__(self, *_: object) -> None:
        self.discard()

    def add(self, chunk: Corpus) -> None:
        cells = fixed_cells(chunk)
        self.cells_changed += len(cells)
        self.messages_changed += len({message for message, _ in cells})
        if not self.streamed:
            offset = int(chunk.messages["row"].iat[0]) - 1 if len(chunk) else 0
            self._cells.update({(p + offset, c): tags for (p, c), tags in cells.items()})
            self._last = chunk
            return
        if self._csv is None:
            self._csv = CsvParts(self.out, self.sep)
        self._csv.write(_fixed_frame(chunk.frame, cells))

    def commit(self) -> FixResult:
        """Put the corrected copy in place (atomically) and say what changed."""
        if not self.streamed:
            assert self._last is not None, "commit before any chunk"
            corpus = replace(self._last, path=self.name)
            write_cells(corpus, self._cells, self.out, option=self.option)
        else:
            self._csv.commit()
            self._csv = None
        return FixResult(self.out, self.messages_changed, self.cells_changed)

    def discard(self) -> None:
        """Remove the temp file, if any; the output is left as it was."""
        if self._csv is not None:
            self._csv.discard()
            self._csv = None


class CsvParts:
    """One CSV written frame by frame into a temp file beside ``out``, renamed by ``commit``:
    the bytes ``csv_bytes`` gives for the frames put end to end (one header)."""

    def __init__(self, out: Path, sep: str = ",") -> None:
        from classifier.output import AtomicFile

        self.out, self.sep, self._header = out, sep, None
        self._file = AtomicFile(out)

    def write(self, frame: Any) -> None:
        data = csv_bytes(frame, sep=self.sep)
        if self._header is None:
            self._header = csv_bytes(frame.iloc[:0], sep=self.sep)
        elif data.startswith(self._header):
            data = data[len(self._header) :]
        else:  # pragma: no cover - every frame has the first one's columns
            raise AssertionError("a frame's header differs from the first frame's")
        self._file.write(data)

    def commit(self) -> Path:
        return self._file.commit()

    def discard(self) -> None:
        self._file.discard()


def _fixed_frame(frame: Any, cells: dict[tuple[int, str], list[str]]) -> Any:
    """A copy of ``frame`` with the new tag lists written in."""
    frame = frame.copy()
    for (position, column), tags in cells.items():
        if column not in frame.columns:
            frame[column] = ""
        at = frame.columns.get_loc(column)
        frame.iat[position, at] = _cell(frame.iat[position, at], tags)
    return frame


def _cell(original: Any, tags: list[str]) -> Any:
    """Write a tag list back the way the original cell was written."""
    if not isinstance(original, str):
        return tags
    if original.strip().startswith("["):
        return json.dumps(tags, ensure_ascii=False)
    separator = SEPARATORS.search(original)
    return (separator.group() if separator else "; ").join(tags)


def _csv(corpus: Corpus, cells: dict, out: Path) -> None:
    frame = _fixed_frame(corpus.frame, cells)
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
