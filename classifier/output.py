"""Writing results safely: atomic files, and text escaped for the format it lands in."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from classifier.errors import OutputError

# A spreadsheet runs a cell starting with these as a formula (OWASP "CSV injection"); the
# full-width forms too, since some spreadsheets fold them to ASCII before parsing.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
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
    """Write a whole file or nothing: an ``AtomicFile`` written at once, then renamed."""
    target = AtomicFile(path)
    try:
        target.write(data.encode("utf-8") if isinstance(data, str) else data)
    except BaseException:
        target.discard()
        raise
    return target.commit()


def append_bytes(path: str | Path, data: bytes) -> None:
    """Add ``data`` at the end of ``path``: a file being built inside a temporary directory
    (an export written chunk by chunk), never an output in place, which is renamed whole."""
    try:
        with Path(path).open("ab") as stream:
            stream.write(data)
    except OSError as err:
        raise OutputError(f"{path}: cannot write it ({err.strerror or err})") from None


class AtomicFile:
    """A file written piece by piece into a temp file beside ``path``: ``commit`` syncs and
    renames it into place, ``discard`` removes it and leaves ``path`` as it was."""

    def __init__(self, path: str | Path) -> None:
        self.path = path = Path(path)
        if path.is_dir():
            raise OutputError(f"{path}: is a directory; name a file to write")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as err:
            raise OutputError(f"{path}: cannot write here ({err.strerror})") from None
        self._temp = Path(temp)
        self.stream: BinaryIO = os.fdopen(handle, "wb")
        try:
            os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal ones
        except OSError as err:
            self.discard()
            raise OutputError(f"{path}: cannot write here ({err.strerror})") from None

    def write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except OSError as err:
            self.discard()
            raise OutputError(f"{self.path}: cannot write it ({err.strerror or err})") from None

    def commit(self) -> Path:
        try:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self._temp, self.path)
        except OSError as err:
            self.discard()
            raise OutputError(f"{self.path}: cannot write it ({err.strerror or err})") from None
        return self.path

    def discard(self) -> None:
        if not self.stream.closed:
            self.stream.close()
        self._temp.unlink(missing_ok=True)


@contextmanager
def atomic_stream(path: str | Path) -> Iterator[BinaryIO]:
    """A file written piece by piece, then renamed into place: whole or not at all.

    For outputs built chunk by chunk (``suggest --input`` over a large dataset): leaving the
    block normally commits the ``AtomicFile``; an exception (or Ctrl-C) discards it.
    """
    target = AtomicFile(path)
    try:
        yield target.stream
    except OSError as err:
        target.discard()
        raise OutputError(f"{path}: cannot write it ({err.strerror or err})") from None
    except BaseException:
        target.discard()
        raise
    target.commit()


def refuse_overwrite(
    outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path | None]
) -> None:
    """Refuse any output that would replace, hold or sit inside a file the command reads.

    One rule for every command that writes, so "never modify an input" does not depend on
    each command remembering it. An output is refused when it is an input under another
    spelling (``./x``, ``../dir/x``, a symlink: compared resolved; a hard link: the same
    file on disk), when it is a directory holding an input (an export or model directory
    around the corpus), or when it lies inside an input directory (a model directory's
    files).

    Parameters
    ----------
    outputs : mapping of str to path or None
        Option name (``--output``) to the path it writes; ``None`` means not given.
    inputs : mapping of str to path, list of paths or None
        Name (``CORPUS``, ``--taxonomy``) to what the command reads; ``None`` and ``-``
        (stdin) are skipped.

    Raises
    ------
    OutputError
        Naming the output, the option and the input it would destroy.
    """
    sources = [
        (name, Path(path))
        for name, given in inputs.items()
        for path in (given if isinstance(given, list | tuple) else [given])
        if path is not None and str(path) != "-"
    ]
    given = [(o, Path(t)) for o, t in outputs.items() if t is not None and str(t) != "-"]
    for i, (option, out) in enumerate(given):
        for other, second in given[:i]:
            if out.resolve() == second.resolve():
                raise OutputError(f"{out}: {option} and {other} name the same file; give two")
    for option, target in outputs.items():
        if target is None or str(target) == "-":
            continue
        out = Path(target)
        where = out.resolve()
        for name, source in sources:
            resolved = source.resolve()
            named = name if source == out else f"{name} ({source})"
            if where == resolved or _same_file(out, source):
                problem = f"is the input {named}"
            elif resolved.is_relative_to(where):
                problem = f"is a directory holding the input {named}"
            elif source.is_dir() and where.is_relative_to(resolved):
                problem = f"is inside the input {named}"
            else:
                continue
            raise OutputError(
                f"{out}: {option} {problem}; inputs are never overwritten: write somewhere else"
            )


def _same_file(a: Path, b: Path) -> bool:
    """Two existing names of one file (hard links); ``False`` when either is missing."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def csv_text(data: Any, sep: str = ",") -> str:
    """:func:`csv_bytes` as text, for commands that print CSV to stdout."""
    return csv_bytes(data, sep=sep).decode("utf-8")


def _formula_pattern() -> str:
    return "^[" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_STARTS) + "]"


def neutralise_table(table: Any) -> Any:
    """``neutralise_formula`` over every text column and the header of an Arrow table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pattern = _formula_pattern()
    for i, column in enumerate(table.columns):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        risky = pc.fill_null(pc.match_substring_regex(column, pattern), False)
        if pc.any(risky).as_py():
            quote, nothing = pa.scalar("'", column.type), pa.scalar("", column.type)
            safe = pc.if_else(risky, pc.binary_join_element_wise(quote, column, nothing), column)
            table = table.set_column(i, table.field(i), safe)
    names = [neutralise_formula(name) for name in table.column_names]
    return table.rename_columns(names) if names != table.column_names else table


def csv_bytes(
    data: Any, *, sep: str = ",", neutralised: bool = False, header: bool = True
) -> bytes:
    """A DataFrame or Arrow table as UTF-8 CSV: the one CSV writer of feedtag.

    Every CSV feedtag writes comes from here, so the two rules that keep a spreadsheet from
    running a cell live in one place: a cell (header included) starting with a formula
    character gets a ``'`` in front (:data:`FORMULA_STARTS`), and every text cell is quoted,
    so a line break inside a cell can never start a new row with a live formula. Missing
    values are written as empty cells. ``neutralised`` says the table already went through
    :func:`neutralise_table` (export does it once for all its files). ``header=False``
    leaves out the header line: the rows of a later chunk of a file written in chunks.
    """
    import io

    import pyarrow as pa
    import pyarrow.csv

    table = data if isinstance(data, pa.Table) else _arrow(data)
    if not neutralised:
        table = neutralise_table(table)
    sink = io.BytesIO()
    options = pyarrow.csv.WriteOptions(quoting_style="needed", delimiter=sep, include_header=header)
    pyarrow.csv.write_csv(table, sink, options)
    return sink.getvalue()


def _arrow(frame: Any) -> Any:
    """A DataFrame as an Arrow table; columns of mixed Python objects become text."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        text = frame.astype({c: str for c in mixed})
        for column in mixed:
            text[column] = text[column].where(frame[column].notna(), None)
        return pa.Table.from_pandas(text, preserve_index=False)


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
