"""Row checks: each takes a resolved corpus and returns findings with the same columns.

Every check is vectorised over the corpus's tags table, so a million messages take seconds.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from classifier.taxonomy import fold

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus

COLUMNS = ["row", "id", "check", "severity", "axis", "tags", "message", "fix"]


def findings(
    corpus: Corpus,
    positions: Any,
    check: str,
    severity: str,
    axis: Any = "",
    tags: Any = "",
    message: Any = "",
    fix: Any = "",
) -> pd.DataFrame:
    """Findings for the messages at ``positions``; other arguments are scalars or aligned arrays."""
    import numpy as np
    import pandas as pd

    positions = np.asarray(positions, dtype=np.int64)
    rows = corpus.messages.iloc[positions]
    frame = pd.DataFrame(
        {
            "row": rows["row"].to_numpy(),
            "id": rows["id"].to_numpy(dtype=object),
            "check": check,
            "severity": severity,
            "axis": _values(axis, positions),
            "tags": _values(tags, positions),
            "message": _values(message, positions),
            "fix": _values(fix, positions),
        }
    )
    return frame[COLUMNS]


def _none() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=COLUMNS)


def _values(value: Any, positions: Any) -> Any:
    if isinstance(value, str):
        return value
    return getattr(value, "to_numpy", lambda **_: value)(dtype=object)


def _axis_tags(corpus: Corpus) -> pd.DataFrame:
    """Known tags with their axis, one row per message, axis and distinct tag, in written order."""
    known = corpus.tags[corpus.tags["axis"].notna()]
    return known.drop_duplicates(["message", "axis", "tag"])


def missing_tag(corpus: Corpus) -> pd.DataFrame:
    """No tag on an axis: one finding per message and axis."""
    import pandas as pd

    if not corpus.has_tags:
        return _none()
    tagged = _axis_tags(corpus)
    parts = []
    for axis in corpus.taxonomy.axes:
        has = tagged.loc[tagged["axis"] == axis, "message"].unique()
        absent = pd.Index(range(len(corpus))).difference(pd.Index(has))
        parts.append(
            findings(corpus, absent, "missing-tag", "error", axis, message=f"no {axis} tag")
        )
    return pd.concat(parts, ignore_index=True)


def multiple_tags(corpus: Corpus) -> pd.DataFrame:
    """More than one distinct tag on one axis: breaks mutual exclusivity."""
    tagged = _axis_tags(corpus)
    grouped = tagged.groupby(["message", "axis"], sort=True)["tag"].agg(["count", list])
    several = grouped[grouped["count"] > 1].reset_index()
    if several.empty:
        return _none()
    names = several["list"].map("; ".join)
    message = several["count"].astype(str) + " " + several["axis"] + " tags; keep exactly one"
    return findings(
        corpus, several["message"], "multiple-tags", "error", several["axis"], names, message
    )


def unknown_tag(corpus: Corpus) -> pd.DataFrame:
    """A tag the taxonomy does not know; the fix names the closest spelling if one is near."""
    unknown = corpus.tags[corpus.tags["how"] == "unknown"]
    if unknown.empty:
        return _none()
    spellings = _spellings(corpus)
    closest = {raw: _closest(raw, spellings) for raw in unknown["raw"].unique()}
    fix = unknown["raw"].map(closest)
    where = unknown["column"].map(lambda c: "" if c == corpus.columns.tags else f" ({c} column)")
    message = "'" + unknown["raw"] + "' is not in the taxonomy" + where
    return findings(
        corpus,
        unknown["message"],
        "unknown-tag",
        "error",
        unknown["column"].map(_axis_of_column(corpus)),
        unknown["raw"],
        message,
        fix,
    )


def empty_text(corpus: Corpus) -> pd.DataFrame:
    """No message text to read or classify."""
    blank = corpus.messages.index[corpus.messages["text"].str.strip().eq("")]
    return findings(corpus, blank, "empty-text", "error", message="the message has no text")


def repeated_tag(corpus: Corpus) -> pd.DataFrame:
    """The same tag written twice on one message (possibly under two spellings)."""
    known = corpus.tags[corpus.tags["axis"].notna()]
    counts = known.groupby(["message", "axis", "tag"], sort=True)["raw"].agg(["count", list])
    twice = counts[counts["count"] > 1].reset_index()
    if twice.empty:
        return _none()
    message = "'" + twice["tag"] + "' appears " + twice["count"].astype(str) + " times"
    return findings(
        corpus,
        twice["message"],
        "repeated-tag",
        "warning",
        twice["axis"],
        twice["list"].map("; ".join),
        message,
        _names(corpus, twice),
    )


def alias_tag(corpus: Corpus) -> pd.DataFrame:
    """A tag written under an alias or former name; the fix is its canonical name."""
    aliased = corpus.tags[corpus.tags["how"] == "alias"]
    if aliased.empty:
        return _none()
    canonical = _names(corpus, aliased)
    message = "'" + aliased["raw"] + "' is an alias of '" + canonical + "'"
    return findings(
        corpus,
        aliased["message"],
        "alias-tag",
        "warning",
        aliased["axis"],
        aliased["raw"],
        message,
        canonical,
    )


def deprecated_tag(corpus: Corpus) -> pd.DataFrame:
    """A retired tag; the fix is the tag that replaced it."""
    retired = corpus.tags[corpus.tags["how"] == "deprecated"]
    if retired.empty:
        return _none()
    keys = list(zip(retired["axis"], retired["tag"], strict=True))
    successor = {}
    for axis, tag in set(keys):
        live = corpus.taxonomy.successor(axis, tag)
        successor[axis, tag] = "" if live == tag else _name(corpus, axis, live)
    fix = [successor[key] for key in keys]
    message = [
        f"'{raw}' is retired" + (f"; use '{name}'" if name else "; pick a current tag")
        for raw, name in zip(retired["raw"], fix, strict=True)
    ]
    return findings(
        corpus,
        retired["message"],
        "deprecated-tag",
        "warning",
        retired["axis"],
        retired["raw"],
        message,
        fix,
    )


def _name(corpus: Corpus, axis: str, tag: str) -> str:
    return corpus.taxonomy.tag(axis, tag).name


def _names(corpus: Corpus, tags: pd.DataFrame) -> pd.Series:
    lookup = {
        (axis, tag.id): tag.name for axis, body in corpus.taxonomy.axes.items() for tag in body.tags
    }
    import pandas as pd

    return pd.Series(
        [lookup[key] for key in zip(tags["axis"], tags["tag"], strict=True)],
        index=tags.index,
        dtype=object,
    )


def _spellings(corpus: Corpus) -> dict[str, str]:
    """Folded spelling -> canonical name, for suggesting a fix for a misspelt tag."""
    spellings = {}
    for body in corpus.taxonomy.axes.values():
        for tag in body.tags:
            if tag.suggestable:
                for spelling in (tag.id, tag.name, *tag.aliases):
                    spellings[fold(spelling)] = tag.name
    return spellings


def _closest(raw: str, spellings: dict[str, str]) -> str:
    match = difflib.get_close_matches(fold(raw), list(spellings), n=1, cutoff=0.8)
    return spellings[match[0]] if match else ""


def _axis_of_column(corpus: Corpus) -> Callable[[str], str]:
    by_column = {column: axis for axis, column in corpus.columns.axes.items()}
    return lambda column: by_column.get(column, "")


ROW_CHECKS = {
    "missing-tag": missing_tag,
    "multiple-tags": multiple_tags,
    "unknown-tag": unknown_tag,
    "empty-text": empty_text,
    "repeated-tag": repeated_tag,
    "alias-tag": alias_tag,
    "deprecated-tag": deprecated_tag,
}
