"""Reading corpus files into a DataFrame of text cells: CSV, TSV, JSON Lines, JSON, Parquet.

Errors name the file and, where the format has them, the line; nothing here knows about tags.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.errors import CorpusError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def format_of(name: str) -> str:
    if name == "-":
        return "csv"
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise CorpusError(f"{name}: unknown file type '{suffix}'; use one of {known}")
    return FORMATS[suffix]


def _read_bytes(name: str) -> bytes:
    """The file's bytes, checked to be UTF-8 (a BOM is fine) so errors can name the line."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{name}: is a directory, not a corpus file") from None
    except PermissionError:
        raise CorpusError(f"{name}: permission denied") from None
    if not data.strip():
        raise CorpusError(f"{name}: the file is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        byte = data[err.start : err.start + 1].hex()
        raise CorpusError(
            f"{name}:{line}: not UTF-8 (byte 0x{byte} at offset {err.start}); "
            "re-save the file as UTF-8"
        ) from None
    return data.removeprefix(b"\xef\xbb\xbf")


def read_frame(name: str, fmt: str) -> pd.DataFrame:
    import pandas as pd

    if fmt == "parquet":
        return _read_parquet(name)
    data = _read_bytes(name)
    if fmt in ("csv", "tsv"):
        return _read_delimited(name, data, "\t" if fmt == "tsv" else csv_delimiter(data))
    text = data.decode("utf-8")
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(jsonl_lines(text), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise CorpusError(f"{name}:{number}: invalid JSON: {err.msg}") from None
            if not isinstance(record, dict):
                raise CorpusError(f"{name}:{number}: expected a JSON object per line")
            records.append(record)
        return pd.DataFrame.from_records(records)
    try:
        records = json.loads(text)
    except json.JSONDecodeError as err:
        raise CorpusError(f"{name}:{err.lineno}: invalid JSON: {err.msg}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise CorpusError(f"{name}: expected a JSON array of objects, one per message")
    return pd.DataFrame.from_records(records)


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSON Lines text, split on ``\n`` only (a ``\r`` before it dropped).

    ``str.splitlines`` also splits at U+2028, U+0085 and other separators that JSON allows
    unescaped inside a string, and would cut such a message in two.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def csv_delimiter(data: bytes) -> str:
    """The delimiter of a ``.csv`` file, from its header line: ``,`` unless ``;`` or a tab is
    clearly meant (spreadsheets in many European locales write ``;``)."""
    end = data.find(b"\n")
    header = data if end < 0 else data[:end]
    counts = {delimiter: header.count(delimiter.encode()) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def _read_delimited(name: str, data: bytes, delimiter: str) -> pd.DataFrame:
    """CSV/TSV with every column read as text (ids like 007 keep their zeros).

    pyarrow's reader is several times faster than pandas' on exports of millions of rows.
    It parses in blocks (1 MiB by default) and fails on a cell longer than a block, so a
    file with a large cell is read again in one block. When pyarrow finds the file
    malformed, Python's csv module finds the line and row to name.
    """
    import pyarrow as pa

    kind = "TSV" if delimiter == "\t" else "CSV"
    try:
        header, table = _arrow_csv(data, delimiter, block_size=1 << 20)
    except pa.ArrowInvalid as err:
        if "straddl" not in str(err):
            raise _malformed(name, data, delimiter, kind, err) from None
        try:  # a cell longer than a block: the whole file is one block
            header, table = _arrow_csv(data, delimiter, block_size=min(len(data) + 1, 2**31 - 1))
        except pa.ArrowInvalid as again:
            raise _malformed(name, data, delimiter, kind, again) from None
    if len(set(header)) < len(header):
        raise CorpusError(f"{name}: the header names a column twice: {', '.join(header)}")
    return table.to_pandas()


def _arrow_csv(data: bytes, delimiter: str, block_size: int):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    read = pacsv.ReadOptions(block_size=block_size)
    header = pacsv.open_csv(io.BytesIO(data), read_options=read, parse_options=parse)
    names = header.schema.names
    convert = pacsv.ConvertOptions(
        column_types={column: pa.string() for column in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    table = pacsv.read_csv(
        io.BytesIO(data), read_options=read, parse_options=parse, convert_options=convert
    )
    return names, table


def _malformed(name: str, data: bytes, delimiter: str, kind: str, err: Exception) -> CorpusError:
    """The first problem of a malformed file, as ``FILE:LINE: ...``, found by Python's csv."""
    import csv

    text = io.StringIO(data.decode("utf-8"), newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    width, row, start = None, 0, 1
    try:
        for record in reader:
            if record:
                if width is None:
                    width = len(record)
                else:
                    row += 1
                    if len(record) != width:
                        return CorpusError(
                            f"{name}:{start}: malformed {kind}: row {row} has {len(record)} "
                            f"fields, the header has {width}"
                        )
            start = reader.line_num + 1
    except csv.Error as problem:
        if reader.line_num > start or "end of data" in str(problem):
            return CorpusError(
                f"{name}:{start}: malformed {kind}: a quoted field starting on this line "
                "is never closed"
            )
        return CorpusError(f"{name}:{start}: malformed {kind}: {problem}")
    finally:
        csv.field_size_limit(limit)
    detail = " ".join(str(err).removeprefix("CSV parse error: ").split())
    return CorpusError(f"{name}: malformed {kind}: {detail[:200]}")


def _read_parquet(name: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(name)
    if path.is_dir():
        raise CorpusError(f"{name}: is a directory, not a corpus file")
    try:
        frame = pq.read_table(path).to_pandas()
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except (pa.ArrowException, OSError, ValueError, TypeError) as err:
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise CorpusError(f"{name}: not a readable Parquet file ({detail})") from None
    return frame
