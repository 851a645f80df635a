"""Corpora: help-desk exports read into messages and their tags, resolved through the taxonomy.

Every raw tag keeps its spelling, the axis and tag id it resolved to, and how it matched
(exact, alias, deprecated, unknown): the audit reads all of its findings off that table.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import compress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import CorpusError
from classifier.taxonomy import Taxonomy

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Names each standard column is found under, compared case-insensitively.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "message_id", "msg_id"),
    "text": ("text", "message", "body", "content"),
    "tags": ("tags", "tag", "labels"),
    "conversation_id": ("conversation_id", "conversation", "thread_id"),
    "created_at": ("created_at", "created", "timestamp", "date"),
    "agent": ("agent", "tagged_by", "assignee"),
    "user_id": ("user_id", "customer_id", "user"),
    "first_response_at": ("first_response_at", "first_reply_at", "first_response"),
    "first_response_seconds": (
        "first_response_seconds",
        "first_reply_seconds",
        "time_to_first_response",
    ),
    # Where a message came from (a help desk, an app store, a dataset): training holds out
    # whole groups to choose confidence thresholds that hold on a source it has not seen.
    "group": ("source", "group"),
    "links": ("issue", "issues", "issue_url", "issue_link", "issue_links", "links"),
}
OPTIONAL = (
    "conversation_id",
    "created_at",
    "agent",
    "user_id",
    "first_response_at",
    "first_response_seconds",
    "group",
)
SEPARATORS = re.compile(r"\s*[;|,]\s*")
ASCII_NOISE = (string.punctuation + string.whitespace).encode()


def normalise_text(texts: list[str]) -> list[str]:
    """Fold case, accents, unicode variants, punctuation and spacing: letters and digits only.

    Two messages that normalise equal are the same message for the duplicate checks. The
    ASCII texts (most of them) are folded together in one C-speed pass over their join, with
    the same result as the unicode path; the others one by one.
    """
    plain = [text.isascii() for text in texts]
    easy = list(compress(texts, plain))
    joined = "\x00".join(easy)
    if joined.count("\x00") > len(easy) - 1:  # an ASCII text holds NUL: it folds on its own
        plain = [ok and "\x00" not in text for text, ok in zip(texts, plain, strict=True)]
        easy = list(compress(texts, plain))
        joined = "\x00".join(easy)
    folded = _fold_ascii(joined.lower()).split("\x00") if easy else []
    if len(easy) == len(texts):
        return folded
    import numpy as np

    normalised = np.empty(len(texts), dtype=object)
    mask = np.array(plain, dtype=bool)
    normalised[mask] = folded
    normalised[~mask] = [_fold(text) for text in compress(texts, ~mask)]
    return normalised.tolist()


def _fold_ascii(text: str) -> str:
    return text.encode("ascii").translate(None, ASCII_NOISE).decode("ascii")


def _fold(text: str) -> str:
    """One text as ``normalise_text`` folds it (a lowercase Kelvin sign is ASCII, say)."""
    lowered = text.lower()
    if lowered.isascii() and "\x00" not in lowered:
        return _fold_ascii(lowered)
    decomposed = unicodedata.normalize("NFKD", lowered).casefold()
    return "".join(c for c in decomposed if unicodedata.category(c)[0] in "LN")


def repeats(tags: pd.DataFrame, keep: str | bool = "first") -> np.ndarray:
    """Which known tags repeat a (message, tag) pair (tag ids are unique across axes).

    An integer key per pair hashes far faster than the three columns would.
    """
    import numpy as np
    import pandas as pd

    codes = tags["tag"].cat.codes.to_numpy().astype(np.int64)
    keys = tags["message"].to_numpy() * (len(tags["tag"].cat.categories) + 1) + codes
    return pd.Series(keys).duplicated(keep=keep).to_numpy() & (codes >= 0)


def join_groups(keys: np.ndarray, values: np.ndarray, sep: str = "; ") -> tuple[np.ndarray, Any]:
    """``sep.join`` of the values of each key, in order: (distinct keys, joined strings).

    A pandas ``groupby().agg(sep.join)`` runs Python per group; this runs per group size.
    """
    import numpy as np

    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    if not len(keys):
        return keys, values
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    joined = values[starts].copy()
    for extra in range(1, int(sizes.max())):
        more = sizes > extra
        joined[more] = joined[more] + sep + values[starts[more] + extra]
    return keys[starts], joined


def timestamps(values: pd.Series) -> pd.Series:
    """``created_at`` cells as UTC times (NaT where unreadable); fast for ISO 8601 cells.

    Times without an offset are taken as UTC.
    """
    import pandas as pd

    when = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    retry = when.isna() & values.astype(str).str.strip().ne("")
    if retry.any():
        when[retry] = pd.to_datetime(values[retry], errors="coerce", utc=True, format="mixed")
    return when


def split_tags(cell: Any, separators: re.Pattern[str] = SEPARATORS) -> list[str]:
    """Parse one tags cell: a JSON list, or names separated by ``;``, ``|`` or ``,``
    (``separators``: link cells split on white space too).

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
    return [tag for tag in separators.split(cell) if tag]


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
    first_response_at: str | None = None
    first_response_seconds: str | None = None
    group: str | None = None
    links: str | None = None  # issue references (feedtag issues); read off ``Corpus.frame``


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
        ``conversation_id``, ``created_at``, ``agent``, ``user_id``, ``first_response_at``,
        ``first_response_seconds``, ``group`` the file has.
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

    @cached_property
    def text_keys(self) -> np.ndarray:
        """One integer per distinct normalised text (see ``normalise_text``); -1 when empty."""
        import pandas as pd

        keys = normalise_text(self.messages["text"].tolist())
        codes, _ = pd.factorize(pd.Series(keys, dtype=object).replace("", None))
        return codes

    @cached_property
    def known_tags(self) -> pd.DataFrame:
        """Tags the taxonomy knows, each (message, axis, tag) once, in written order."""
        known = self.tags[self.tags["axis"].notna()]
        return known[~repeats(known, keep="first")]

    def tag_counts(self, axis: str) -> np.ndarray:
        """How many distinct known tags each message has on ``axis``."""
        import numpy as np

        known = self.known_tags
        on_axis = known.loc[known["axis"] == axis, "message"].to_numpy()
        return np.bincount(on_axis, minlength=len(self))

    def labels(self, axis: str) -> pd.Series:
        """The one tag id per message on ``axis``; ``None`` where there are none or several."""
        import numpy as np
        import pandas as pd

        known = self.known_tags
        on_axis = known[known["axis"] == axis]
        single = on_axis[self.tag_counts(axis)[on_axis["message"].to_numpy()] == 1]
        labels = np.full(len(self), None, dtype=object)
        labels[single["message"].to_numpy()] = single["tag"].astype(object).to_numpy()
        return pd.Series(labels, name=axis)

    def axis_tags(self, axis: str) -> pd.Series:
        """Distinct tag ids on ``axis`` per message, in the order written (a tuple each)."""
        import pandas as pd

        known = self.known_tags
        on_axis = known[known["axis"] == axis].astype({"tag": object})
        grouped = on_axis.groupby("message", sort=True)["tag"].agg(tuple)
        tuples = [()] * len(self)
        for position, tags in grouped.items():
            tuples[position] = tags
        return pd.Series(tuples, name=axis, dtype=object)

    def signatures(self, axis: str) -> pd.Series:
        """The tags on ``axis`` as one string per message (``a; b``; empty when none)."""
        labels = self.labels(axis)
        counts = self.tag_counts(axis)
        signature = labels.fillna("").astype(object)
        if (counts > 1).any():
            known = self.known_tags
            several = counts[known["message"].to_numpy()] > 1
            on_axis = known[several & (known["axis"] == axis).to_numpy()]
            messages, joined = join_groups(
                on_axis["message"].to_numpy(), on_axis["tag"].to_numpy(dtype=object)
            )
            signature.iloc[messages] = joined
        return signature


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
    from classifier.dataset import read_dataset

    name = str(path)
    frame, fmt = read_dataset(name)
    if frame.empty:
        raise CorpusError(f"{name}: no messages in the file (only a header, or nothing)")
    return corpus_from_frame(
        frame, taxonomy, columns, name=name, fmt=fmt, require_tags=require_tags
    )


def corpus_from_frame(
    frame: pd.DataFrame,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    *,
    name: str = "(data)",
    fmt: str = "json",
    require_tags: bool = False,
    first_row: int = 1,
    file_row: int | None = None,
) -> Corpus:
    """Resolve a table already in memory (a request's messages, say) as ``load_corpus`` would.

    ``name`` stands for the file in messages and in ``Corpus.path``; rows are numbered from
    ``first_row`` in the frame's order (a chunk of a larger dataset starts past 1), and errors
    name rows from ``file_row`` (the chunk's place in its file; ``first_row`` by default).
    A list in a tags cell is a list of tags, as in JSON Lines.
    """
    found = _detect(name, frame, columns or Columns(), taxonomy)
    if require_tags and found.tags is None and not found.axes:
        axes = ", ".join(taxonomy.axes)
        raise CorpusError(
            f"{name}: no tags column; columns are: {_listing(frame)}. "
            f"Name it with --tags-column, or give one column per axis ({axes})"
        )
    messages = _messages(frame, found, first_row)
    tags = _resolve_tags(name, frame, found, taxonomy, first_row if file_row is None else file_row)
    return Corpus(name, fmt, frame, found, messages, tags, taxonomy)


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
    options = {"group": "--group-column"}
    optional = {
        role: find(role, getattr(wanted, role), options.get(role, f"--{role}")) for role in OPTIONAL
    }
    optional["links"] = find("links", wanted.links, "--link-column")
    return replace(
        wanted,
        id=find("id", wanted.id, "--id-column"),
        text=text,
        tags=tags,
        axes=axes,
        **optional,
    )


def _messages(frame: pd.DataFrame, columns: Columns, first_row: int = 1) -> pd.DataFrame:
    import pandas as pd

    def as_text(column: str) -> pd.Series:
        values = frame[column].reset_index(drop=True)
        if not pd.api.types.is_string_dtype(values) or values.isna().any():
            values = values.map(_cell_text).astype(str)
        return values

    rows = pd.RangeIndex(first_row, first_row + len(frame))
    messages = pd.DataFrame({"row": rows})
    messages["id"] = as_text(columns.id) if columns.id else rows.astype(str)
    messages["text"] = as_text(columns.text)
    for role in OPTIONAL:
        column = getattr(columns, role)
        if column is not None:
            messages[role] = as_text(column)
    return messages


def _cell_text(value: object) -> str:
    """A cell as text: missing as ``""``, lists and objects (JSON, Parquet) as JSON."""
    import json

    import pandas as pd

    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):  # numpy arrays and scalars, from Parquet lists
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _resolve_tags(
    name: str, frame: pd.DataFrame, columns: Columns, taxonomy: Taxonomy, file_row: int = 1
) -> pd.DataFrame:
    """One row per raw tag, in written order; resolution columns are categoricals.

    Each distinct spelling is resolved once and every column is built from codes: a chunk
    of 200,000 messages holds a few dozen spellings, not half a million strings.
    """
    import numpy as np
    import pandas as pd

    sources = [(columns.tags, None)] if columns.tags else []
    sources += [(column, axis) for axis, column in columns.axes.items()]
    messages, origin, codes, spellings, resolved = [], [], [], [], []
    offset = 0
    for number, (column, axis) in enumerate(sources):
        message, code, unique = _explode(
            name, frame[column].reset_index(drop=True), column, file_row
        )
        messages.append(message)
        origin.append(np.full(len(message), number))
        codes.append(code + offset)
        spellings.append(unique)
        resolved += [taxonomy.resolve(spelling, axis) for spelling in unique.tolist()]
        offset += len(unique)
    message = np.concatenate(messages) if sources else np.array([], dtype=np.int64)
    order = np.argsort(message, kind="stable")
    code = np.concatenate(codes)[order] if sources else np.array([], dtype=np.int64)
    names = [column for column, _ in sources]
    table = {
        "message": message[order],
        "column": pd.Categorical.from_codes(
            np.concatenate(origin)[order] if sources else code, categories=names
        ),
        "raw": _categorical(np.concatenate(spellings) if sources else [], code),
    }
    for key in ("axis", "tag", "how"):
        table[key] = _categorical([getattr(r, key) for r in resolved], code)
    return pd.DataFrame(table)


def _categorical(values: Any, codes: np.ndarray) -> pd.Categorical:
    """``pd.Categorical(values[codes])``, made from the few ``values`` (None is missing)."""
    import numpy as np
    import pandas as pd

    few = pd.Categorical(np.asarray(values, dtype=object))
    return pd.Categorical.from_codes(few.codes[codes], dtype=few.dtype)


def _explode(
    name: str, cells: pd.Series, column: str, file_row: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Message positions of one tags column's raw tags, and each tag's code in the distinct
    raw spellings (an object array; a spelling may appear twice), in written order.

    Plain ``a; b`` cells are split and encoded in bulk with pyarrow; JSON-list cells and list
    values (JSONL, Parquet) go through ``split_tags`` one by one.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if cells.dtype != object and pd.api.types.is_string_dtype(cells):
        is_text = cells.notna().to_numpy()
        text = pa.array(cells.fillna(""))
    else:
        values = cells.to_numpy(dtype=object)
        is_text = np.fromiter((type(cell) is str for cell in values), bool, len(values))
        text = pa.array(np.where(is_text, values, ""), type=pa.string())
    text = pc.utf8_trim_whitespace(text)
    is_json = pc.starts_with(text, "[").to_numpy(zero_copy_only=False)
    plain = pc.if_else(pa.array(is_json), "", text)
    parts = pc.split_pattern_regex(plain, SEPARATORS.pattern)
    flat = pc.list_flatten(parts)
    keep = pc.not_equal(flat, "")
    parent = pc.list_parent_indices(parts).filter(keep).to_numpy().astype(np.int64)
    raw = flat.filter(keep)
    spellings = pc.unique(raw)
    message = [parent]
    code = [pc.index_in(raw, value_set=spellings).to_numpy(zero_copy_only=False).astype(np.int64)]
    unique = [np.array(spellings.to_pylist(), dtype=object)]
    special = np.flatnonzero(is_json | ~is_text)
    if len(special):
        extra_message, extra_raw = [], []
        for position in special.tolist():
            try:
                tags = split_tags(cells.iat[position])
            except ValueError as err:
                raise CorpusError(
                    f"{name}: row {position + file_row}, column '{column}': broken tag list "
                    f'({err}); write a JSON list like ["a", "b"] or names separated by \';\''
                ) from None
            extra_message += [position] * len(tags)
            extra_raw += tags
        extra_code, extra_unique = pd.factorize(np.array(extra_raw, dtype=object))
        message.append(np.array(extra_message, dtype=np.int64))
        code.append(extra_code.astype(np.int64) + len(unique[0]))
        unique.append(np.asarray(extra_unique, dtype=object))
    messages = np.concatenate(message)
    order = np.argsort(messages, kind="stable")
    return messages[order], np.concatenate(code)[order], np.concatenate(unique)
