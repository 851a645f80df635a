"""Corpora: help-desk exports read into messages and their tags, resolved through the taxonomy.

Every raw tag keeps its spelling, the axis and tag id it resolved to, and how it matched
(exact, alias, deprecated, unknown): the audit reads all of its findings off that table.
"""

from __future__ import annotations

import io
import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import CorpusError
from classifier.taxonomy import Taxonomy

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
# Names each standard column is found under, compared case-insensitively.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "message_id", "msg_id"),
    "text": ("text", "message", "body", "content"),
    "tags": ("tags", "tag", "labels"),
    "conversation_id": ("conversation_id", "conversation", "thread_id"),
    "created_at": ("created_at", "created", "timestamp", "date"),
    "agent": ("agent", "tagged_by", "assignee"),
    "user_id": ("user_id", "customer_id", "user"),
}
OPTIONAL = ("conversation_id", "created_at", "agent", "user_id")
SEPARATORS = re.compile(r"\s*[;|,]\s*")


def split_tags(cell: Any) -> list[str]:
    """Parse one tags cell: a JSON list, or names separated by ``;``, ``|`` or ``,``.

    Raises ``ValueError`` for a cell that opens a JSON list but is not one.
    """
    if cell is None:
        return []
    if not isinstance(cell, str):
        if hasattr(cell, "tolist"):  # numpy arrays from Parquet list columns
            cell = cell.tolist()
        if isinstance(cell, list | tuple):
            return [str(tag).strip() for tag in cell if tag is not None and str(tag).strip()]
        if cell != cell:  # NaN
            return []
        cell = str(cell)
    cell = cell.strip()
    if cell.startswith("["):
        parsed = json.loads(cell)
        if not isinstance(parsed, list):
            raise ValueError("expected a JSON list")
        return [str(tag).strip() for tag in parsed if tag is not None and str(tag).strip()]
    return [tag for tag in SEPARATORS.split(cell) if tag]


def format_tags(tags: list[str]) -> str:
    """Write tags as a help-desk export would (``a; b``), falling back to JSON when needed."""
    plain = all(
        tag and tag == tag.strip() and not SEPARATORS.search(tag) and '"' not in tag for tag in tags
    )
    if plain and not (tags and tags[0].startswith("[")):
        return "; ".join(tags)
    return json.dumps(tags, ensure_ascii=False)


@dataclass(frozen=True)
class Columns:
    """Which source column holds what; ``None`` means detect it by name."""

    id: str | None = None
    text: str | None = None
    tags: str | None = None
    axes: dict[str, str] = field(default_factory=dict)
    conversation_id: str | None = None
    created_at: str | None = None
    agent: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Corpus:
    """A corpus file read and resolved.

    Attributes
    ----------
    path : str
        The file as the user named it (``-`` for stdin).
    format : str
        ``csv``, ``tsv``, ``jsonl``, ``json`` or ``parquet``.
    frame : pandas.DataFrame
        The file as read, untouched: outputs that copy the input (``audit --fix``) start here.
    columns : Columns
        The source column found for each role, after detection.
    messages : pandas.DataFrame
        One row per message: ``row`` (1-based data row), ``id``, ``text`` and whichever of
        ``conversation_id``, ``created_at``, ``agent``, ``user_id`` the file has.
    tags : pandas.DataFrame
        One row per raw tag: ``message`` (position in ``messages``), ``column``, ``raw``,
        ``axis``, ``tag``, ``how``. Unknown tags have no axis and no tag.
    """

    path: str
    format: str
    frame: pd.DataFrame
    columns: Columns
    messages: pd.DataFrame
    tags: pd.DataFrame
    taxonomy: Taxonomy

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def has_tags(self) -> bool:
        return self.columns.tags is not None or bool(self.columns.axes)

    def axis_tags(self, axis: str) -> pd.Series:
        """Distinct tag ids on ``axis`` per message, in the order written (a tuple each)."""
        on_axis = self.tags[self.tags["axis"] == axis].drop_duplicates(["message", "tag"])
        grouped = on_axis.groupby("message", sort=True)["tag"].agg(tuple)
        present = grouped.reindex(range(len(self.messages)))
        return present.map(lambda tags: tags if isinstance(tags, tuple) else ()).rename(axis)

    def labels(self, axis: str) -> pd.Series:
        """The one tag id per message on ``axis``; ``None`` where there are none or several."""
        return self.axis_tags(axis).map(lambda tags: tags[0] if len(tags) == 1 else None)


def load_corpus(
    path: str | Path,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    *,
    require_tags: bool = False,
) -> Corpus:
    """Read a corpus file and resolve its tags.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``, ``.jsonl``/``.ndjson``, ``.json`` (array of objects), ``.parquet``,
        or ``-`` for CSV on standard input.
    taxonomy : Taxonomy
        Raw tags are resolved against its ids, names and aliases.
    columns : Columns, optional
        Source column names that override detection.
    require_tags : bool
        Fail when the file has no tags column (audit and train need one; suggest does not).

    Raises
    ------
    CorpusError
        Naming the file, and the row, line or column where it can.
    """
    name = str(path)
    fmt = _format_of(name)
    frame = _read(name, fmt)
    if frame.empty:
        raise CorpusError(f"{name}: no messages in the file (only a header, or nothing)")
    found = _detect(name, frame, columns or Columns(), taxonomy)
    if require_tags and found.tags is None and not found.axes:
        axes = ", ".join(taxonomy.axes)
        raise CorpusError(
            f"{name}: no tags column; columns are: {_listing(frame)}. "
            f"Name it with --tags-column, or give one column per axis ({axes})"
        )
    messages = _messages(frame, found)
    tags = _resolve_tags(name, frame, found, taxonomy)
    return Corpus(name, fmt, frame, found, messages, tags, taxonomy)


def _format_of(name: str) -> str:
    if name == "-":
        return "csv"
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise CorpusError(f"{name}: unknown file type '{suffix}'; use one of {known}")
    return FORMATS[suffix]


def _read_text(name: str) -> str:
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
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        byte = data[err.start : err.start + 1].hex()
        raise CorpusError(
            f"{name}:{line}: not UTF-8 (byte 0x{byte} at offset {err.start}); "
            "re-save the file as UTF-8"
        ) from None


def _read(name: str, fmt: str) -> pd.DataFrame:
    import pandas as pd

    if fmt == "parquet":
        return _read_parquet(name)
    text = _read_text(name)
    if fmt in ("csv", "tsv"):
        try:
            return pd.read_csv(
                io.StringIO(text),
                sep="\t" if fmt == "tsv" else ",",
                dtype=str,
                keep_default_na=False,
                na_filter=False,
            )
        except pd.errors.ParserError as err:
            detail = str(err).strip().removeprefix("Error tokenizing data. C error: ")
            raise CorpusError(f"{name}: malformed {fmt.upper()}: {detail}") from None
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
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


def _listing(frame: pd.DataFrame) -> str:
    return ", ".join(str(column) for column in frame.columns) or "(none)"


def _detect(name: str, frame: pd.DataFrame, wanted: Columns, taxonomy: Taxonomy) -> Columns:
    by_folded = {str(column).strip().casefold(): column for column in frame.columns}

    def find(role: str, override: str | None, option: str) -> str | None:
        if override is not None:
            if override in frame.columns:
                return override
            if override.casefold() in by_folded:
                return by_folded[override.casefold()]
            raise CorpusError(
                f"{name}: no column '{override}' ({option}); columns are: {_listing(frame)}"
            )
        return next((by_folded[s] for s in SYNONYMS.get(role, (role,)) if s in by_folded), None)

    text = find("text", wanted.text, "--text-column")
    if text is None:
        raise CorpusError(
            f"{name}: no text column; columns are: {_listing(frame)}. "
            "Name the message column with --text-column"
        )
    axes = {axis: find(axis, wanted.axes.get(axis), f"--{axis}-column") for axis in taxonomy.axes}
    axes = {axis: column for axis, column in axes.items() if column is not None}
    tags = find("tags", wanted.tags, "--tags-column")
    if wanted.tags is None and axes:
        tags = None  # per-axis columns win over a stray 'tags' column unless asked for
    optional = {role: find(role, getattr(wanted, role), f"--{role}") for role in OPTIONAL}
    return replace(
        wanted,
        id=find("id", wanted.id, "--id-column"),
        text=text,
        tags=tags,
        axes=axes,
        **optional,
    )


def _messages(frame: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    import pandas as pd

    def as_text(column: str) -> pd.Series:
        values = frame[column].reset_index(drop=True)
        if not pd.api.types.is_string_dtype(values) or values.isna().any():
            values = values.map(lambda v: "" if v is None or v != v else str(v)).astype(str)
        return values

    rows = pd.RangeIndex(1, len(frame) + 1)
    messages = pd.DataFrame({"row": rows})
    messages["id"] = as_text(columns.id) if columns.id else rows.astype(str)
    messages["text"] = as_text(columns.text)
    for role in OPTIONAL:
        column = getattr(columns, role)
        if column is not None:
            messages[role] = as_text(column)
    return messages


def _resolve_tags(name: str, frame: pd.DataFrame, columns: Columns, taxonomy: Taxonomy):
    import pandas as pd

    sources = [(columns.tags, None)] if columns.tags else []
    sources += [(column, axis) for axis, column in columns.axes.items()]
    parts = []
    for column, axis in sources:
        exploded = _explode(name, frame[column].reset_index(drop=True), column)
        unique = exploded["raw"].unique().tolist()
        resolved = [taxonomy.resolve(raw, axis) for raw in unique]
        exploded["column"] = column
        for attribute in ("axis", "tag", "how"):
            lookup = {raw: getattr(r, attribute) for raw, r in zip(unique, resolved, strict=True)}
            exploded[attribute] = exploded["raw"].map(lookup)
        parts.append(exploded)
    names = ["message", "column", "raw", "axis", "tag", "how"]
    if not parts:
        return pd.DataFrame({key: pd.Series(dtype=object) for key in names})
    tags = pd.concat(parts, ignore_index=True).astype({key: object for key in names[1:]})
    return tags.sort_values("message", kind="stable", ignore_index=True)[
        ["message", "column", "raw", "axis", "tag", "how"]
    ]


def _explode(name: str, cells: pd.Series, column: str) -> pd.DataFrame:
    """One row per raw tag of a tags column, vectorised for the plain ``a; b`` cells."""
    import pandas as pd

    is_text = cells.map(type).eq(str)
    stripped = cells[is_text].str.strip()
    plain = stripped[~stripped.str.startswith("[")]
    lists = plain.str.split(SEPARATORS.pattern, regex=True)
    special = pd.concat([stripped[stripped.str.startswith("[")], cells[~is_text]])
    parsed = {}
    for position, cell in special.items():
        try:
            parsed[position] = split_tags(cell)
        except ValueError as err:
            raise CorpusError(
                f"{name}: row {position + 1}, column '{column}': broken tag list "
                f'({err}); write a JSON list like ["a", "b"] or names separated by \';\''
            ) from None
    if parsed:
        lists = pd.concat([lists, pd.Series(parsed, dtype=object)])
    raw = lists.explode()
    raw = raw[raw.notna() & raw.ne("")]
    return pd.DataFrame({"message": raw.index.to_numpy(), "raw": raw.to_numpy(dtype=object)})
