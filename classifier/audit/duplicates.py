"""Checks across messages: the same message recorded twice, and the same text tagged differently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from classifier.audit.checks import findings, none
from classifier.corpus import timestamps

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from classifier.corpus import Corpus

DAY = 24 * 3600


def duplicate_message(corpus: Corpus) -> pd.DataFrame:
    """The same message recorded more than once.

    Same id; or the same text in the same conversation; or the same text from the same user
    within 24 hours (when ``created_at`` exists). The first occurrence is kept unflagged.
    """
    import pandas as pd

    messages = corpus.messages
    text = corpus.text_keys
    found: dict[int, str] = {}

    def flag(key: pd.DataFrame, why: str) -> None:
        repeat = key.duplicated(keep="first")
        if not repeat.any():
            return
        rows = messages["row"].loc[key.index]
        first = rows.groupby([key[c] for c in key.columns], sort=False).transform("min")
        for position, row in zip(key.index[repeat], first[repeat], strict=True):
            found.setdefault(position, why.format(row=row))

    flag(messages[["id"]], "id also at row {row}")
    if "conversation_id" in messages:
        key = pd.DataFrame({"text": text, "conversation": messages["conversation_id"]})
        flag(
            key[(text >= 0) & messages["conversation_id"].ne("").to_numpy()],
            "same text in the same conversation as row {row}",
        )
    if "user_id" in messages and "created_at" in messages:
        _same_user_within_a_day(messages, text, found)
    if not found:
        return none()
    positions = sorted(found)
    message = [found[p] for p in positions]
    return findings(corpus, positions, "duplicate-message", "warning", message=message)


def _same_user_within_a_day(messages: pd.DataFrame, text: np.ndarray, found: dict) -> None:
    import numpy as np
    import pandas as pd

    when = timestamps(messages["created_at"])
    user, _ = pd.factorize(messages["user_id"].where(messages["user_id"] != ""))
    seconds = when.to_numpy(dtype="datetime64[s]").astype(np.int64)
    usable = np.flatnonzero((user >= 0) & (text >= 0) & when.notna().to_numpy())
    order = usable[np.lexsort((seconds[usable], text[usable], user[usable]))]
    same = (user[order][1:] == user[order][:-1]) & (text[order][1:] == text[order][:-1])
    near = (seconds[order][1:] - seconds[order][:-1]) <= DAY
    rows = messages["row"].to_numpy()
    for later, earlier in zip(order[1:][same & near], order[:-1][same & near], strict=True):
        found.setdefault(
            int(later), f"same text from the same user within 24 h of row {rows[earlier]}"
        )


def conflicting_duplicates(corpus: Corpus) -> pd.DataFrame:
    """The same (normalised) text tagged differently on an axis."""
    import pandas as pd

    text = corpus.text_keys
    parts = []
    for axis in corpus.taxonomy.axes:
        signature = corpus.signatures(axis)
        frame = pd.DataFrame({"text": text, "sig": signature, "row": corpus.messages["row"]})
        frame = frame[(frame["text"] >= 0) & frame["sig"].ne("")]
        variants = frame.groupby("text")["sig"].transform("nunique")
        frame = frame[variants > 1]
        if frame.empty:
            continue
        firsts = frame.groupby(["text", "sig"], as_index=False)["row"].min()
        paired = frame.reset_index().merge(firsts, on="text", suffixes=("", "_other"))
        paired = paired[paired["sig"] != paired["sig_other"]]
        nearest = paired.loc[paired.groupby("index")["row_other"].idxmin()]
        message = (
            "same text tagged '"
            + nearest["sig_other"]
            + "' at row "
            + nearest["row_other"].astype(str)
        )
        parts.append(
            findings(
                corpus,
                nearest["index"],
                "conflicting-duplicates",
                "warning",
                axis,
                nearest["sig"],
                message,
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else none()
