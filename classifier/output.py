"""Writing results safely: atomic files, and text escaped for the format it lands in."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from classifier.errors import OutputError

# A spreadsheet runs a cell starting with these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def neutralise_formula(value: Any) -> Any:
    """Prefix a cell a spreadsheet would run as a formula with ``'`` so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def escape_markdown(value: Any) -> str:
    """Escape text for a Markdown table cell or paragraph: no markup, no HTML, one line."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table with every cell escaped."""
    lines = [
        "| " + " | ".join(escape_markdown(cell) for cell in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(escape_markdown(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write a whole file or nothing: a temp file in the same folder, then a rename."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OutputError(f"{path}: cannot write here ({err.strerror})") from None
    try:
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal permissions
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def csv_text(frame: Any, sep: str = ",") -> str:
    """A DataFrame as CSV with every formula-like cell neutralised for spreadsheets."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or str(values.dtype) in ("str", "string"):
            risky = values.str.startswith(FORMULA_STARTS, na=False).to_numpy(dtype=bool)
            if risky.any():
                safe[column] = values.astype(object).where(~risky, "'" + values.astype(str))
    return safe.to_csv(index=False, sep=sep, lineterminator="\n")


def neutralise_table(table: Any) -> Any:
    """``neutralise_formula`` over every text column of an Arrow table, in Arrow's kernels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pattern = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_STARTS) + "]"
    for i, column in enumerate(table.columns):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        risky = pc.fill_null(pc.match_substring_regex(column, pattern), False)
        if pc.any(risky).as_py():
            quote, nothing = pa.scalar("'", column.type), pa.scalar("", column.type)
            safe = pc.if_else(risky, pc.binary_join_element_wise(quote, column, nothing), column)
            table = table.set_column(i, table.field(i), safe)
    return table


def csv_bytes(data: Any, *, neutralised: bool = False) -> bytes:
    """A DataFrame or Arrow table as UTF-8 CSV, formula cells neutralised; Arrow's fast writer.

    Every text cell is quoted (valid CSV that any reader, spreadsheets included, takes);
    missing values are written as empty cells. ``neutralised`` says the table already is.
    """
    import io

    import pyarrow as pa
    import pyarrow.csv

    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    if not neutralised:
        table = neutralise_table(table)
    sink = io.BytesIO()
    pyarrow.csv.write_csv(table, sink, pyarrow.csv.WriteOptions(quoting_style="needed"))
    return sink.getvalue()


def json_literals(table: Any) -> Any:
    """Each cell of an Arrow table as its JSON text (``"a\\"b"``, ``3``, ``null``).

    Done once over a whole export, then sliced per file by :func:`jsonl_bytes`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            value = _json_strings(column)
        elif pa.types.is_floating(column.type):
            value = pc.if_else(pc.is_finite(column), pc.cast(column, pa.string()), None)
        else:
            value = pc.cast(column, pa.string())
        value = pc.cast(value, pa.large_string())
        columns.append(pc.fill_null(value, pa.scalar("null", pa.large_string())))
    return pa.table(columns, names=table.column_names)


def jsonl_bytes(table: Any, *, literal: bool = False) -> bytes:
    """An Arrow table as JSON Lines (UTF-8, one object per row), built in Arrow's kernels.

    Parses to what ``json.dumps(row, ensure_ascii=False)`` would write, nulls as ``null``;
    for exports of millions of rows, where a per-row encoder takes seconds. ``literal`` says
    the cells already went through :func:`json_literals`.
    """
    import json

    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return b""
    if not literal:
        table = json_literals(table)

    def text(value: str) -> Any:
        return pa.scalar(value, pa.large_string())

    pieces: list[Any] = []
    for i, name in enumerate(table.column_names):
        key = ("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":"
        pieces += [text(key), table.column(i)]
    lines = pc.binary_join_element_wise(*pieces, text("}\n"), text(""))
    return "".join(lines.to_pylist()).encode("utf-8")


def _json_strings(column: Any) -> Any:
    """Each string as a JSON string literal: quoted, with the escapes ``json.dumps`` writes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pc.cast(column, pa.large_string())
    controls = "".join(chr(c) for c in range(32))
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    escapes |= {"\b": "\\b", "\f": "\\f"}
    escapes |= {c: f"\\u{ord(c):04x}" for c in controls if c not in escapes}
    special = pc.match_substring_regex(column, r'[\x00-\x1f"\\]')
    if pc.any(special).as_py():
        subset = pc.filter(column, special)
        rare = pc.any(pc.match_substring_regex(subset, r"[\x00-\x07\x0b\x0e-\x1f]")).as_py()
        for i, (raw, escaped) in enumerate(escapes.items()):
            if (i < 7 or rare) and pc.any(pc.match_substring(subset, raw)).as_py():
                column = pc.replace_substring(column, raw, escaped)
    quote, nothing = pa.scalar('"', pa.large_string()), pa.scalar("", pa.large_string())
    return pc.binary_join_element_wise(quote, column, quote, nothing)


def refuse_inputs(outputs: dict[str, Any], inputs: Iterable[Any]) -> None:
    """Raise when an output path (by option) is one of the command's inputs: never overwrite one.

    Raises
    ------
    UsageError
        Naming the option and the file.
    """
    from classifier.errors import UsageError

    read = {Path(path).resolve() for path in inputs if path is not None and str(path) != "-"}
    for option, path in outputs.items():
        if path is not None and Path(path).resolve() in read:
            raise UsageError(f"{option} {path}: that is an input of this command; write elsewhere")
