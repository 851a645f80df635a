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
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        header = pacsv.open_csv(io.BytesIO(data), parse_options=parse).schema.names
        convert = pacsv.ConvertOptions(
            column_types={column: pa.string() for column in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        table = pacsv.read_csv(io.BytesIO(data), parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as err:
        detail = str(err).removeprefix("CSV parse error: ")
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise CorpusError(f"{name}: malformed {kind}: {detail}") from None
    if len(set(header)) < len(header):
        raise CorpusError(f"{name}: the header names a column twice: {', '.join(header)}")
    return table.to_pandas()


def _read_parquet(name: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(name).to_pandas()
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except (pa.ArrowInvalid, OSError) as err:
        raise CorpusError(f"{name}: not a readable Parquet file ({err})") from None
    return frame
