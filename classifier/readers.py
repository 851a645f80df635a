"""Reading corpus files into a DataFrame of text cells: CSV, TSV, JSON Lines, JSON, Parquet.

Errors name the file and, where the format has them, the line; nothing here knows about tags.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import CorpusError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

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
            records.append(_jsonl_record(name, number, line))
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


def _jsonl_record(name: str, number: int, line: str) -> dict:
    """The JSON object on line ``number`` of ``name``, or an error naming the line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise CorpusError(f"{name}:{number}: invalid JSON: {err.msg}") from None
    if not isinstance(record, dict):
        raise CorpusError(f"{name}:{number}: expected a JSON object per line")
    return record


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


def iter_file_frames(name: str, fmt: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The file as ``read_frame`` reads it, in frames of at most ``chunk_rows`` rows.

    CSV, TSV and JSON Lines are parsed incrementally and Parquet by record batch, so memory
    stays bounded by the chunk, not the file; a JSON array is read whole, then sliced. The
    frames hold the same cells, with the same types, as ``read_frame``'s frame cut in pieces,
    and a file that ``read_frame`` refuses raises an error naming the file and, where it can,
    the line (perhaps after some frames).
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if fmt == "parquet":
        yield from _parquet_batches(name, chunk_rows)
    elif fmt in ("csv", "tsv") and name != "-":
        yield from _delimited_batches(name, fmt, chunk_rows)
    elif fmt == "jsonl" and name != "-":
        yield from _jsonl_batches(name, chunk_rows)
    else:  # a JSON array, or standard input: read whole
        frame = read_frame(name, fmt)
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)


def _open(name: str):
    try:
        return Path(name).open("rb")
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{name}: is a directory, not a corpus file") from None
    except PermissionError:
        raise CorpusError(f"{name}: permission denied") from None


def _check_utf8(name: str) -> None:
    """Raise ``_read_bytes``' error naming the first byte that is not UTF-8 (an error path:
    the file is read whole only once something in it is known to be wrong)."""
    _read_bytes(name)


def _head(name: str) -> bytes:
    """The first line of the file (at least), refusing an empty file as ``_read_bytes`` does."""
    with _open(name) as file:
        head = file.read(1 << 16)
        while b"\n" not in head and (more := file.read(1 << 20)):
            head += more
        rest_blank = not head.strip()
        while rest_blank and (more := file.read(1 << 20)):
            rest_blank = not more.strip()
    if rest_blank:
        raise CorpusError(f"{name}: the file is empty")
    return head.removeprefix(b"\xef\xbb\xbf")


def _delimited_batches(name: str, fmt: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """CSV/TSV through pyarrow's streaming reader; a cell longer than a block retries with
    larger blocks, skipping the rows already yielded."""
    import pyarrow as pa

    head = _head(name)
    delimiter = "\t" if fmt == "tsv" else csv_delimiter(head)
    kind = "TSV" if delimiter == "\t" else "CSV"
    done, block = 0, 1 << 20
    while True:
        try:
            for frame in _stream_csv(name, delimiter, block, chunk_rows, skip=done):
                done += len(frame)
                yield frame
            return
        except pa.ArrowInvalid as err:
            size = Path(name).stat().st_size
            if "straddl" in str(err) and block <= size:
                block = min(block * 8, 2**31 - 1)
                continue
            if "UTF8" in str(err):
                _check_utf8(name)
            raise _malformed(name, Path(name).read_bytes(), delimiter, kind, err) from None


def _stream_csv(name: str, delimiter: str, block: int, chunk_rows: int, skip: int):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    read = pacsv.ReadOptions(block_size=block)
    with _open(name) as probe:
        names = pacsv.open_csv(probe, read_options=read, parse_options=parse).schema.names
    if len(set(names)) < len(names):
        raise CorpusError(f"{name}: the header names a column twice: {', '.join(names)}")
    convert = pacsv.ConvertOptions(
        column_types={column: pa.string() for column in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    with _open(name) as file:
        reader = pacsv.open_csv(
            file, read_options=read, parse_options=parse, convert_options=convert
        )
        yield from _rechunk(reader, chunk_rows, skip)


def _rechunk(batches: Iterable[Any], chunk_rows: int, skip: int = 0) -> Iterator[pd.DataFrame]:
    """Arrow record batches as pandas frames of exactly ``chunk_rows`` rows (the last fewer)."""
    import pyarrow as pa

    pending: list[Any] = []
    held = 0
    for batch in batches:
        if skip:
            dropped = min(skip, batch.num_rows)
            batch, skip = batch.slice(dropped), skip - dropped
        if not batch.num_rows:
            continue
        pending.append(pa.Table.from_batches([batch]))
        held += batch.num_rows
        if held >= chunk_rows:
            table = pa.concat_tables(pending)
            start = 0
            while held - start >= chunk_rows:
                yield table.slice(start, chunk_rows).to_pandas()
                start += chunk_rows
            pending = [table.slice(start)] if held > start else []
            held -= start
    if held:
        yield pa.concat_tables(pending).to_pandas()


def _jsonl_batches(name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    _head(name)
    records: list[dict] = []
    offset = 0
    with _open(name) as file:
        for number, raw in enumerate(file, start=1):
            start, offset = offset, offset + len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                at = start + err.start
                raise CorpusError(
                    f"{name}:{number}: not UTF-8 (byte 0x{raw[err.start : err.start + 1].hex()} "
                    f"at offset {at}); re-save the file as UTF-8"
                ) from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            if not line.strip():
                continue
            records.append(_jsonl_record(name, number, line))
            if len(records) == chunk_rows:
                yield pd.DataFrame.from_records(records)
                records = []
    if records:
        yield pd.DataFrame.from_records(records)


def _parquet_batches(name: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(name)
    if path.is_dir():
        raise CorpusError(f"{name}: is a directory, not a corpus file")
    try:
        parquet = pq.ParquetFile(path)
        yield from _rechunk(parquet.iter_batches(batch_size=chunk_rows), chunk_rows)
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except (pa.ArrowException, OSError, ValueError, TypeError) as err:
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise CorpusError(f"{name}: not a readable Parquet file ({detail})") from None
