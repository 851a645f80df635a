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
    safe = frame.astype(object).map(neutralise_formula)
    return safe.to_csv(index=False, sep=sep, lineterminator="\n")
