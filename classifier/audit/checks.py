"""Row checks: each takes a resolved corpus and returns findings with the same columns.

Every check is vectorised over the corpus's tags table, so a million messages take seconds.
A row check reads nothing but the message's own row, so it runs on any chunk of a dataset
(``row_findings``) and the chunks' findings, end to end, are the whole corpus's.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from classifier.corpus import repeats
from classifier.taxonomy import fold

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus

COLUMNS = ["row", "id", "check", "severity", "axis", "tags", "message", "fix", "score"]


def findings(
    corpus: Corpus,
    positions: Any,
    check: str,
    severity: str,
    axis: Any = "",
    tags: Any = "",
    message: Any = "",
    fix: Any = "",
    score: Any = float("nan"),
) -> pd.DataFrame:
    """Findings for the messages at ``positions``; other arguments are scalars or aligned arrays.

    ``score`` is the label quality of model-assisted findings (0 = surely wrong), NaN elsewhere.
    """
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
            "axis": _values(axis),
            "tags": _values(tags),
            "message": _values(message),
            "fix": _values(fix),
            "score": score,
        }
    )
    return frame[COLUMNS]


def none() -> pd.DataFrame:
    """No findings, with the columns every check returns."""
    import pandas as pd

    return pd.DataFrame(columns=COLUMNS).astype({"score": "float64"})


def _values(value: Any) -> Any:
    if isinstance(value, str):
        return value
    return getattr(value, "to_numpy", lambda **_: value)(dtype=object)


def _subset(corpus: Corpus, how: str) -> pd.DataFrame:
    """Raw tags matched a given way, as plain strings (small enough for string building)."""
    tags = corpus.tags[corpus.tags["how"] == how]
    return tags.astype({key: object for key in ("column", "raw", "axis", "tag", "how")})


def missing_tag(corpus: Corpus) -> pd.DataFrame:
    """No tag on an axis: one finding per message and axis."""
    import numpy as np
    import pandas as pd

    if not corpus.has_tags:
        return none()
    parts = []
    for axis in corpus.taxonomy.axes:
        absent = np.flatnonzero(corpus.tag_counts(axis) == 0)
        parts.append(
            findings(corpus, absent, "missing-tag", "error", axis, message=f"no {axis} tag")
        )
    return pd.concat(parts, ignore_index=True)


def multiple_tags(corpus: Corpus) -> pd.DataFrame:
    """More than one distinct tag on one axis: breaks mutual exclusivity."""
    import numpy as np
    import pandas as pd

    parts = []
    for axis in corpus.taxonomy.axes:
        counts = corpus.tag_counts(axis)
        several = np.flatnonzero(counts > 1)
        if len(several):
            signature = corpus.signatures(axis).iloc[several]
            message = [f"{n} {axis} tags; keep exactly one" for n in counts[several]]
            parts.append(
                findings(corpus, several, "multiple-tags", "error", axis, signature, message)
            )
    return pd.concat(parts, ignore_index=True) if parts else none()


def unknown_tag(corpus: Corpus) -> pd.DataFrame:
    """A tag the taxonomy does not know; the fix names the closest spelling if one is near."""
    unknown = _subset(corpus, "unknown")
    if unknown.empty:
        return none()
    spellings = _spellings(corpus)
    closest = {raw: _closest(raw, spellings) for raw in unknown["raw"].unique()}
    axis_of = {column: axis for axis, column in corpus.columns.axes.items()}
    axis = unknown["column"].map(lambda column: axis_of.get(column, ""))
    where = axis.map(lambda a: f" ({a} column)" if a else "")
    message = "'" + unknown["raw"] + "' is not in the taxonomy" + where
    return findings(
        corpus,
        unknown["message"],
        "unknown-tag",
        "error",
        axis,
        unknown["raw"],
        message,
        unknown["raw"].map(closest),
    )


def empty_text(corpus: Corpus) -> pd.DataFrame:
    """No message text to read or classify."""
    import numpy as np

    blank = np.flatnonzero(corpus.messages["text"].str.strip().eq("").to_numpy(dtype=bool))
    return findings(corpus, blank, "empty-text", "error", message="the message has no text")


def repeated_tag(corpus: Corpus) -> pd.DataFrame:
    """The same tag written twice on one message (possibly under two spellings)."""
    known = corpus.tags[corpus.tags["axis"].notna()]
    again = known[repeats(known, keep=False)]
    if again.empty:
        return none()
    again = again.astype({"raw": object, "axis": object, "tag": object})
    counted = again.groupby(["message", "axis", "tag"], sort=True, observed=True)["raw"]
    twice = counted.agg(["count", "; ".join]).reset_index()
    message = "'" + twice["tag"] + "' appears " + twice["count"].astype(str) + " times"
    return findings(
        corpus,
        twice["message"],
        "repeated-tag",
        "warning",
        twice["axis"],
        twice["join"],
        message,
        _names(corpus, twice),
    )


def alias_tag(corpus: Corpus) -> pd.DataFrame:
    """A tag written under an alias or former name; the fix is its canonical name."""
    aliased = _subset(corpus, "alias")
    if aliased.empty:
        return none()
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
    retired = _subset(corpus, "deprecated")
    if retired.empty:
        return none()
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
    import pandas as pd

    lookup = {
        (axis, tag.id): tag.name for axis, body in corpus.taxonomy.axes.items() for tag in body.tags
    }
    names = [lookup[key] for key in zip(tags["axis"], tags["tag"], strict=True)]
    return pd.Series(names, index=tags.index, dtype=object)


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


ROW_CHECKS = {
    "missing-tag": missing_tag,
    "multiple-tags": multiple_tags,
    "unknown-tag": unknown_tag,
    "empty-text": empty_text,
    "repeated-tag": repeated_tag,
    "alias-tag": alias_tag,
    "deprecated-tag": deprecated_tag,
}


def row_findings(chunk: Corpus, checks: Iterable[str] | None = None) -> pd.DataFrame:
    """The findings of the row checks named in ``checks`` (others are ignored; default: every
    one) on one chunk of a dataset, or a whole corpus.

    ``row`` holds the dataset's row numbers (``chunk.messages.row``). Ordered by row, then
    by the order of ``ROW_CHECKS``, as the report orders them; so chunks' findings in chunk
    order are in report order too.
    """
    import numpy as np
    import pandas as pd

    names = set(ROW_CHECKS if checks is None else checks)
    parts = [check(chunk) for name, check in ROW_CHECKS.items() if name in names]
    parts = [part for part in parts if len(part)]
    if not parts:
        return none()
    found = pd.concat(parts, ignore_index=True)
    order = found["check"].map({name: i for i, name in enumerate(ROW_CHECKS)}).to_numpy()
    rows = found["row"].to_numpy(dtype=np.int64)
    return found.iloc[np.lexsort((order, rows))].reset_index(drop=True)
