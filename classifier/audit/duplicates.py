"""Checks across messages: the same message recorded twice, and the same text tagged differently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from classifier.audit.checks import COLUMNS, findings

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus

DAY = 24 * 3600


def normalise_text(texts: pd.Series) -> pd.Series:
    """Fold case, accents and other unicode variants, punctuation and whitespace."""
    folded = texts.astype(str).str.normalize("NFKD")
    folded = folded.str.replace(r"[\u0300-\u036f]", "", regex=True).str.casefold()
    return folded.str.replace(r"[\W_]+", " ", regex=True).str.strip()


def duplicate_message(corpus: Corpus) -> pd.DataFrame:
    """The same message recorded more than once.

    Same id; or the same text in the same conversation; or the same text from the same user
    within 24 hours (when ``created_at`` exists). The first occurrence is kept unflagged.
    """
    import pandas as pd

    messages = corpus.messages
    norm = normalise_text(messages["text"])
    first_row = messages["row"]
    found: dict[int, str] = {}

    def flag(key: pd.DataFrame, why: str) -> None:
        key = key[norm.ne("")] if "norm" in key else key
        dup = key.duplicated(keep="first")
        rows = first_row.loc[key.index]
        firsts = rows.groupby([key[c] for c in key.columns], sort=False).transform("min")
        for position, row in zip(key.index[dup], firsts[dup], strict=True):
            found.setdefault(position, why.format(row=row))

    flag(pd.DataFrame({"id": messages["id"]}), "id also at row {row}")
    if "conversation_id" in messages:
        conversation = messages["conversation_id"]
        key = pd.DataFrame({"norm": norm, "conversation": conversation})
        flag(key[conversation.ne("")], "same text in the same conversation as row {row}")
    if "user_id" in messages and "created_at" in messages:
        _same_user_within_a_day(messages, norm, found)
    positions = sorted(found)
    message = [found[p] for p in positions]
    if not positions:
        return pd.DataFrame(columns=COLUMNS)
    return findings(corpus, positions, "duplicate-message", "warning", message=message)


def _same_user_within_a_day(messages: pd.DataFrame, norm: pd.Series, found: dict) -> None:
    import pandas as pd

    when = pd.to_datetime(messages["created_at"], errors="coerce", utc=True, format="mixed")
    frame = pd.DataFrame(
        {"user": messages["user_id"], "norm": norm, "when": when, "row": messages["row"]}
    )
    frame = frame[frame["user"].ne("") & frame["norm"].ne("") & frame["when"].notna()]
    frame = frame.sort_values(["user", "norm", "when"], kind="stable")
    same = frame["user"].eq(frame["user"].shift()) & frame["norm"].eq(frame["norm"].shift())
    gap = (frame["when"] - frame["when"].shift()).dt.total_seconds()
    repeat = same & gap.le(DAY)
    previous = frame["row"].shift()
    for position, row in zip(frame.index[repeat], previous[repeat], strict=True):
        found.setdefault(position, f"same text from the same user within 24 h of row {int(row)}")


def conflicting_duplicates(corpus: Corpus) -> pd.DataFrame:
    """The same (normalised) text tagged differently on an axis."""
    import pandas as pd

    norm = normalise_text(corpus.messages["text"])
    parts = []
    for axis in corpus.taxonomy.axes:
        signature = corpus.axis_tags(axis).map("; ".join)
        frame = pd.DataFrame({"norm": norm, "sig": signature, "row": corpus.messages["row"]})
        frame = frame[frame["norm"].ne("") & frame["sig"].ne("")]
        variants = frame.groupby("norm")["sig"].transform("nunique")
        frame = frame[variants > 1]
        if frame.empty:
            continue
        firsts = frame.groupby(["norm", "sig"], as_index=False)["row"].min()
        paired = frame.reset_index().merge(firsts, on="norm", suffixes=("", "_other"))
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
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
