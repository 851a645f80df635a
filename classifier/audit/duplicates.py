"""Checks across messages: the same message recorded twice, and the same text tagged differently.

They run in two steps so a corpus too large for memory (or spread over workers) is checked
with the same code as one in memory:

1. ``cross_row_keys(chunk)``: per message a few integers (hashes of its id, normalised text,
   conversation, user and per-axis tags; its time), computed chunk by chunk;
2. ``cross_row_findings(keys, names)``: the findings of both checks from the keys of many
   chunks. It is correct on any subset of the keys that holds every row sharing a text hash
   (``by=("text",)``) or an id hash (``by=("id",)``), so keys may be shuffled on those hashes
   and the parts' findings put back together with ``combine_cross_row``.

Hashes are pandas' SipHash of the strings with its fixed key: the same string gives the same
hash in every process. 0 stands for "none" (an empty text, no conversation, no tag).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from classifier.audit.checks import COLUMNS, none
from classifier.corpus import normalise_text, timestamps

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from classifier.corpus import Corpus

DAY = 24 * 3600
NO_TIME = -(2**63)  # ``seconds`` of a message without a readable created_at
CROSS_ROW_CHECKS = ("duplicate-message", "conflicting-duplicates")
DUPLICATE = CROSS_ROW_CHECKS[0]
BY = ("id", "text")


def signature_column(axis: str) -> str:
    """The keys column holding the hash of a message's tags on ``axis`` (``sig:team``)."""
    return f"sig:{axis}"


def _hash(values: Iterable[str], empty_is_none: bool = True) -> np.ndarray:
    """SipHash (uint64) of each string; 0 for ``""`` when ``empty_is_none``; never 0 else."""
    import numpy as np
    import pandas as pd

    strings = np.asarray(values, dtype=object)
    hashed = pd.util.hash_array(strings, categorize=False)  # 7x faster; same hashes
    hashed[hashed == 0] = 1
    if empty_is_none:
        hashed[strings == ""] = 0
    return hashed


def cross_row_keys(chunk: Corpus, names: dict[int, str] | None = None) -> pd.DataFrame:
    """Compact keys of every message of ``chunk`` for ``cross_row_findings``.

    Columns (one row per message, in order): ``row`` (int64, the dataset's row number),
    ``id`` (uint64 hash of the id; empty ids hash too), ``text`` (uint64 hash of the
    normalised text, 0 when it is empty), ``conversation`` and ``user`` (uint64 hashes, 0 when
    empty or the column is absent), ``seconds`` (int64 UTC seconds of ``created_at``;
    ``NO_TIME`` when unreadable, or when the corpus lacks ``created_at`` or ``user_id``), and per
    taxonomy axis ``sig:<axis>`` (uint64 hash of ``Corpus.signatures(axis)``, 0 for no tag).
    About 8 bytes per column and message. ``names``, when given, is updated with this chunk's
    ``signature_names`` (which would compute the signatures again).
    """
    import numpy as np
    import pandas as pd

    messages = chunk.messages
    size = len(messages)
    zeros = np.zeros(size, dtype=np.uint64)
    keys = {
        "row": messages["row"].to_numpy(dtype=np.int64),
        "id": _hash(messages["id"].to_numpy(dtype=object), empty_is_none=False),
        "text": _hash(normalise_text(messages["text"].tolist())),
        "conversation": (
            _hash(messages["conversation_id"].to_numpy(dtype=object))
            if "conversation_id" in messages
            else zeros
        ),
    }
    if "user_id" in messages and "created_at" in messages:
        when = timestamps(messages["created_at"])
        seconds = when.to_numpy(dtype="datetime64[s]").astype(np.int64)
        seconds[when.isna().to_numpy()] = NO_TIME
        keys["user"] = _hash(messages["user_id"].to_numpy(dtype=object))
        keys["seconds"] = seconds
    else:
        keys["user"] = zeros
        keys["seconds"] = np.full(size, NO_TIME, dtype=np.int64)
    for axis in chunk.taxonomy.axes:
        signatures = chunk.signatures(axis).to_numpy(dtype=object)
        keys[signature_column(axis)] = hashed = _hash(signatures)
        if names is not None:
            _, first = np.unique(hashed, return_index=True)
            names.update(zip(hashed[first].tolist(), signatures[first].tolist(), strict=True))
            names.pop(0, None)
    return pd.DataFrame(keys)


def hash_buckets(hashes: np.ndarray, buckets: int) -> np.ndarray:
    """The bucket (0 to ``buckets - 1``) of each uint64 hash: every row sharing a hash lands
    in the same bucket, on every machine."""
    import numpy as np

    return (hashes % np.uint64(buckets)).astype(np.int64)


def split_by_hash(
    keys: pd.DataFrame, buckets: int
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """``keys`` cut into ``buckets`` parts by text hash (every column but ``id``) and by id
    hash (``row`` and ``id``). Cut every chunk so, and bucket ``b`` of all chunks is
    complete for ``cross_row_findings(by=("text",))``, or ``by=("id",)``: a shuffle."""
    text_bucket = hash_buckets(keys["text"].to_numpy(), buckets)
    id_bucket = hash_buckets(keys["id"].to_numpy(), buckets)
    text_keys = keys.drop(columns=["id"])
    id_keys = keys[["row", "id"]]
    return (
        [text_keys[text_bucket == b].reset_index(drop=True) for b in range(buckets)],
        [id_keys[id_bucket == b].reset_index(drop=True) for b in range(buckets)],
    )


def signature_names(chunk: Corpus) -> dict[int, str]:
    """Hash -> signature string of every per-axis tag signature in ``chunk`` (a few dozen).

    ``cross_row_findings`` writes signatures into its findings from the union of these.
    """
    import pandas as pd

    names: dict[int, str] = {}
    for axis in chunk.taxonomy.axes:
        distinct = pd.unique(chunk.signatures(axis).to_numpy(dtype=object))
        names.update(zip(_hash(distinct).tolist(), distinct.tolist(), strict=True))
    names.pop(0, None)
    return names


def cross_row_findings(
    keys: pd.DataFrame,
    names: Mapping[int, str],
    *,
    checks: Iterable[str] = CROSS_ROW_CHECKS,
    by: Iterable[str] = BY,
) -> pd.DataFrame:
    """``duplicate-message`` and ``conflicting-duplicates`` findings from ``cross_row_keys``.

    ``keys`` may come from many chunks, in any order. ``by`` says what ``keys`` is complete
    for: ``"id"`` (every row sharing an id hash is in ``keys``: the same-id duplicates) and
    ``"text"`` (every row sharing a text hash: same text in a conversation, from a user within
    24 h, and conflicting tags). Findings are in ``COLUMNS`` with ``id`` left ``""`` (fill it
    from the rows, as ``with_ids`` does), ordered by row, then check, then axis.

    A message is one duplicate-message finding, the first reason that applies: same id, same
    text in the conversation, same text from the user within a day. With parts checked
    separately, ``combine_cross_row(by_id, by_text)`` applies that rule across them.
    """
    checks, by = set(checks), set(by)
    parts = []
    keys = keys.sort_values("row", kind="stable", ignore_index=True)
    if "duplicate-message" in checks:
        if "id" in by:
            parts.append(_same_id(keys))
        if "text" in by:
            parts.append(_same_text(keys))
    if "conflicting-duplicates" in checks and "text" in by:
        parts.append(_conflicting(keys, names))
    return _ordered(combine_cross_row(*parts) if parts else _frame([], CROSS_ROW_CHECKS[0]))


def combine_cross_row(*parts: pd.DataFrame) -> pd.DataFrame:
    """Findings of parts checked separately, earlier parts first: a message flagged as a
    duplicate in an earlier part (the same-id part) keeps only that duplicate-message finding."""
    import pandas as pd

    masks = first_reasons(
        [(part["row"].to_numpy(), part["check"].eq(DUPLICATE).to_numpy()) for part in parts]
    )
    found = [part[keep] for part, keep in zip(parts, masks, strict=True) if keep.any()]
    return _ordered(
        pd.concat(found, ignore_index=True) if found else _frame([], CROSS_ROW_CHECKS[0])
    )


def first_reasons(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """``combine_cross_row``'s rule on parts given as arrays (rows, is duplicate-message):
    per part, which of its findings stay."""
    import numpy as np

    flagged = np.zeros(0, dtype=np.int64)
    kept = []
    for rows, duplicate in parts:
        kept.append(~(duplicate & np.isin(rows, flagged)))
        flagged = np.union1d(flagged, rows[duplicate])
    return kept


def cross_row_order(rows: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The order of findings by row, then check (``ranks``: each one's place in
    ``CROSS_ROW_CHECKS``); stable, so axes stay in taxonomy order."""
    import numpy as np

    return np.lexsort((ranks, rows))


def _ordered(found: pd.DataFrame) -> pd.DataFrame:
    """By row, then ``CROSS_ROW_CHECKS`` order; stable, so axes stay in taxonomy order."""
    import numpy as np

    if found.empty:
        return found.astype({"row": np.int64})
    ranks = found["check"].map({c: i for i, c in enumerate(CROSS_ROW_CHECKS)}).to_numpy()
    order = cross_row_order(found["row"].to_numpy(dtype=np.int64), ranks)
    return found.iloc[order].reset_index(drop=True)


def _frame(rows, check: str, axis="", tags="", message="") -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "id": "",
            "check": check,
            "severity": "warning",
            "axis": axis,
            "tags": tags,
            "message": message,
            "fix": "",
            "score": float("nan"),
        }
    )
    return frame[COLUMNS].astype({"id": object, "tags": object, "message": object})


def _repeats(keys: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the rows whose key repeats an earlier row's, with that first row."""
    import numpy as np

    grouped = keys.groupby(columns, sort=False)["row"]
    first = grouped.transform("min").to_numpy(dtype=np.int64)
    rows = keys["row"].to_numpy(dtype=np.int64)
    later = np.flatnonzero(rows != first)
    return later, first[later]


def _same_id(keys: pd.DataFrame) -> pd.DataFrame:
    later, first = _repeats(keys, ["id"])
    rows = keys["row"].to_numpy()[later]
    return _frame(rows, "duplicate-message", message=[f"id also at row {r}" for r in first])


def _same_text(keys: pd.DataFrame) -> pd.DataFrame:
    """Same text in the same conversation; else from the same user within a day."""
    import numpy as np
    import pandas as pd

    rows = keys["row"].to_numpy(dtype=np.int64)
    text = keys["text"].to_numpy()
    found: dict[int, str] = {}
    talk = keys[(keys["text"] != 0) & (keys["conversation"] != 0)]
    later, first = _repeats(talk, ["text", "conversation"])
    for row, earlier in zip(talk["row"].to_numpy()[later], first, strict=True):
        found[int(row)] = f"same text in the same conversation as row {earlier}"
    user = keys["user"].to_numpy()
    seconds = keys["seconds"].to_numpy()
    usable = np.flatnonzero((user != 0) & (text != 0) & (seconds != NO_TIME))
    order = usable[np.lexsort((seconds[usable], text[usable], user[usable]))]
    same = (user[order][1:] == user[order][:-1]) & (text[order][1:] == text[order][:-1])
    near = (seconds[order][1:] - seconds[order][:-1]) <= DAY
    pairs = zip(order[1:][same & near], order[:-1][same & near], strict=True)
    for later_at, earlier_at in pairs:
        why = f"same text from the same user within 24 h of row {rows[earlier_at]}"
        found.setdefault(int(rows[later_at]), why)
    flagged = sorted(found)
    return _frame(
        flagged,
        "duplicate-message",
        message=pd.Series([found[r] for r in flagged], dtype=object),
    )


def _conflicting(keys: pd.DataFrame, names: Mapping[int, str]) -> pd.DataFrame:
    """Per axis, the same text tagged differently: each such message names the earliest row
    of the other signature that comes first."""
    import pandas as pd

    parts = []
    axes = [c.removeprefix("sig:") for c in keys.columns if c.startswith("sig:")]
    for axis in axes:
        frame = pd.DataFrame(
            {"text": keys["text"], "sig": keys[signature_column(axis)], "row": keys["row"]}
        )
        frame = frame[(frame["text"] != 0) & (frame["sig"] != 0)]
        variants = frame.groupby("text")["sig"].transform("nunique")
        frame = frame[variants > 1]
        if frame.empty:
            continue
        firsts = frame.groupby(["text", "sig"], as_index=False)["row"].min()
        paired = frame.merge(firsts, on="text", suffixes=("", "_other"))
        paired = paired[paired["sig"] != paired["sig_other"]]
        nearest = paired.loc[paired.groupby("row")["row_other"].idxmin()]
        own = nearest["sig"].map(names).astype(object)
        other = nearest["sig_other"].map(names).astype(object)
        message = "same text tagged '" + other + "' at row " + nearest["row_other"].astype(str)
        parts.append(
            _frame(
                nearest["row"].to_numpy(),
                "conflicting-duplicates",
                axis,
                own.to_numpy(dtype=object),
                message.to_numpy(dtype=object),
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else _frame([], CROSS_ROW_CHECKS[1])


def with_ids(found: pd.DataFrame, corpus: Corpus) -> pd.DataFrame:
    """``found`` with the ``id`` of each finding's row read off ``corpus`` (rows of it)."""
    import numpy as np

    first = int(corpus.messages["row"].iat[0]) if len(corpus) else 1
    positions = found["row"].to_numpy(dtype=np.int64) - first
    ids = corpus.messages["id"].to_numpy(dtype=object)[positions]
    return found.assign(id=ids)


def duplicate_message(corpus: Corpus) -> pd.DataFrame:
    """The same message recorded more than once.

    Same id; or the same text in the same conversation; or the same text from the same user
    within 24 hours (when ``created_at`` exists). The first occurrence is kept unflagged.
    """
    found = cross_row_findings(cross_row_keys(corpus), {}, checks=["duplicate-message"])
    return with_ids(found, corpus) if len(found) else none()


def conflicting_duplicates(corpus: Corpus) -> pd.DataFrame:
    """The same (normalised) text tagged differently on an axis."""
    found = cross_row_findings(
        cross_row_keys(corpus), signature_names(corpus), checks=["conflicting-duplicates"]
    )
    return with_ids(found, corpus) if len(found) else none()
