"""Markdown digests of an export, for a product manager: counts by topic, the week's change,
the newest messages. Every cell from the corpus is escaped; nothing in it can become markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classifier.corpus import timestamps
from classifier.export.layout import REVIEW
from classifier.output import escape_markdown, markdown_table

if TYPE_CHECKING:
    import pandas as pd

    from classifier.export.layout import Export

WEEK_DAYS = 7
TEXT_LIMIT = 300  # characters of a message shown in a digest; the CSV has the whole text


class Digests:
    """The Markdown digests of an export built chunk by chunk, from compact state.

    Counts come from the compact rows the writer keeps (``Export.rows`` of the summary: file
    and tag columns) and each row's ``created_at`` as a time; the tables of newest messages
    from the few rows per (file, tag) that can still be among the newest ``newest``; the
    review page lists every message, so its rows are rendered chunk by chunk
    (:meth:`add` returns them) and only its head waits for the end (:meth:`review_head`).
    """

    def __init__(self, newest: int = 5) -> None:
        self.newest = newest
        self.stamps: list[pd.Series] = []
        self.kinds: list[pd.Series] = []
        self.shown: pd.DataFrame | None = None
        self.offset = 0

    def add(self, export: Export) -> str:
        """Take in one chunk's rows (marked, in order); its rows of the review table."""
        import pandas as pd

        rows = export.rows.set_axis(pd.RangeIndex(self.offset, self.offset + len(export.rows)))
        self.offset += len(rows)
        when = timestamps(rows["created_at"])
        self.stamps.append(when)
        review = rows[rows["file"] == REVIEW]
        kinds = review["reason"].str.split("; ").explode().str.split(" \\(", n=1).str[0]
        kinds = kinds.str.replace(r"^\d+ (\w+) tags$", r"several \1 tags", regex=True)
        self.kinds.append(kinds.astype("category"))
        others = [axis for axis in export.taxonomy.axes if axis != export.by]
        group = ["file", others[0] if others else export.by]
        shown = ["file", *export.taxonomy.axes, "created_at", "id", "user_id", "text", "source"]
        shown += ["suggested_for", "confidence"] if export.suggested else []
        fresh = rows.loc[rows["file"] != REVIEW, shown].assign(when=when)
        both = fresh if self.shown is None else pd.concat([self.shown, fresh])
        dated = both.loc[_newest_first(both, both["when"])].groupby(group, sort=False)
        last = both.iloc[::-1].groupby(group, sort=False)
        keep = dated.head(self.newest).index.union(last.head(self.newest).index)
        self.shown = both.loc[keep.sort_values()]
        return _review_rows(export, review) if len(review) else ""

    def pages(self, export: Export) -> dict[str, str]:
        """One digest per tag file, keyed by file stem; ``export`` is the written summary."""
        import pandas as pd

        rows = export.rows
        when = pd.concat(self.stamps).set_axis(rows.index)
        when = when if when.notna().any() else None
        weeks = _weeks(export, when)
        shown = self.shown if self.shown is not None else rows.iloc[:0]
        ranked = shown.loc[_newest_first(shown, None if when is None else shown["when"])]
        pages = {}
        for tag in export.files:
            part = rows[rows["file"] == tag]
            newest_part = ranked[ranked["file"] == tag]
            pages[tag] = _tag_page(export, tag, part, when, weeks, newest_part, self.newest)
        return pages

    def review_head(self, export: Export) -> str:
        """The review page up to its rows (all of it when there are none)."""
        import pandas as pd

        count = export.counts.needs_review
        lines = ["# Needs review\n", f"{count} messages need a person to tag them.\n"]
        if not count:
            return "\n".join(lines)
        kinds = pd.concat([k.astype(object) for k in self.kinds], ignore_index=True)
        lines.append(markdown_table(("problem", "messages"), kinds.value_counts().items()))
        lines.append("## Messages\n")
        lines.append(markdown_table(_review_header(export), []))
        return "\n".join(lines)


def digests(export: Export, newest: int = 5) -> dict[str, str]:
    """One digest per tag file and one for ``_needs-review``, keyed by file stem: the
    :class:`Digests` of an export held whole (one chunk)."""
    from classifier.export.layout import compact_rows

    state = Digests(newest)
    review = state.add(export)
    from dataclasses import replace

    summary = replace(export, rows=compact_rows(export))
    pages = state.pages(summary)
    pages[REVIEW] = state.review_head(summary) + review
    return pages


def _weeks(export: Export, when: pd.Series | None) -> tuple[Any, Any] | None:
    """(start of the last 7 days, their exclusive end), ending with the export's newest day."""
    import pandas as pd

    if when is None:
        return None
    end = export.selection.until
    if end is None:
        end = when.max().normalize() + pd.Timedelta(days=1)
    return end - pd.Timedelta(days=WEEK_DAYS), end


def _newest_first(rows: pd.DataFrame, when: pd.Series | None) -> Any:
    """Row labels newest first: by ``created_at``, or later in the file first without dates."""
    if when is None:
        return rows.index[::-1]
    return when.sort_values(ascending=False, na_position="last", kind="stable").index


def _name(export: Export, axis: str, tag: str) -> str:
    return export.taxonomy.tag(axis, tag).name if tag else "(none)"


def _tag_page(export, tag, part, when, weeks, ranked, newest) -> str:
    by = export.by
    title = _name(export, by, tag)
    lines = [f"# {escape_markdown(title)}: customer feedback\n"]
    lines.append(
        f"{len(part)} messages with {by} `{tag}` in {escape_markdown(export.source)}"
        + (
            f", {int(part['source'].eq('suggested').sum())} of them with a machine-suggested tag"
            " (marked *suggested*)"
            if export.suggested
            else ""
        )
        + ".\n"
    )
    if part.empty:
        lines.append("No messages in this export.\n")
        return "\n".join(lines)
    others = [axis for axis in export.taxonomy.axes if axis != by]
    for axis in others:
        lines.append(f"## Messages by {axis}\n")
        lines.append(_count_table(export, axis, part, when, weeks))
    if weeks is None:
        lines.append("No dates in `created_at`, so there is no change versus the previous week.\n")
    group_by = others[0] if others else by
    lines.append(f"## Newest messages by {group_by}\n")
    groups = dict(tuple(ranked.groupby(group_by, sort=False)))
    for value, size in part[group_by].value_counts().items():  # largest first, as counted
        shown = groups[value].head(newest)
        heading = _name(export, group_by, value)
        lines.append(f"### {escape_markdown(heading)} ({size})\n")
        table_rows = [
            (r.created_at, r.id, r.user_id, _clip(r.text), _provenance(r, export.suggested))
            for r in shown.itertuples(index=False)
        ]
        header = ("created_at", "id", "user_id", "text", "source")
        lines.append(markdown_table(header, table_rows))
    return "\n".join(lines)


def _count_table(export, axis, part, when, weeks) -> str:
    counts = part[axis].value_counts()
    if weeks is None:
        rows = [(_name(export, axis, tag), int(n)) for tag, n in counts.items()]
        return markdown_table((axis, "messages"), rows)
    start, end = weeks
    stamps = when.loc[part.index]
    recent = part[axis][(stamps >= start) & (stamps < end)].value_counts()
    earlier_start = start - (end - start)
    earlier = part[axis][(stamps >= earlier_start) & (stamps < start)].value_counts()
    last_day = (end - _one_day()).date()
    header = (axis, "messages", f"7 days to {last_day}", "7 days before", "change")
    rows = []
    for tag, n in counts.items():
        now, before = int(recent.get(tag, 0)), int(earlier.get(tag, 0))
        change = f"{now - before:+d}" if now != before else "0"
        change += f" ({(now - before) / before:+.0%})" if before and now != before else ""
        rows.append((_name(export, axis, tag), int(n), now, before, change))
    return markdown_table(header, rows)


def _one_day() -> Any:
    import pandas as pd

    return pd.Timedelta(days=1)


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _provenance(row: Any, suggested: bool) -> str:
    if suggested and row.source == "suggested":
        return f"suggested {row.suggested_for} ({row.confidence:.2f})"
    return row.source


def _review_header(export: Export) -> tuple[str, ...]:
    return ("row", "id", "reason", *export.taxonomy.axes, "text")


def _review_rows(export: Export, part: pd.DataFrame) -> str:
    """The review table's rows for ``part``: every message under review, with its reason."""
    axes = list(export.taxonomy.axes)
    cells = [part["row"], part["id"], part["reason"], *(part[a] for a in axes)]
    cells.append(part["text"].astype(object).map(_clip))
    return _big_rows(cells)


def _big_rows(columns: list[pd.Series]) -> str:
    """``markdown_table``'s rows for many rows: each distinct cell escaped once, rows joined
    by pandas. Reasons and tags repeat a lot; ids and texts do not, so this halves the work."""
    import pandas as pd

    escaped = []
    for column in columns:
        values = pd.Series(column.to_numpy(dtype=object), dtype=object).fillna("")
        distinct = values.drop_duplicates()
        lookup = dict(zip(distinct, map(escape_markdown, distinct), strict=True))
        escaped.append(values.map(lookup).astype(object))
    body = escaped[0].str.cat(escaped[1:], sep=" | ")
    return "".join("| " + body + " |\n")


def index_markdown(export: Export, index: pd.DataFrame) -> str:
    """The index as a page: where every message went, and messages per tag pair."""
    counts = export.counts
    lines = [
        f"# Export of {escape_markdown(export.source)} by {export.by}\n",
        f"- messages in the corpus: {counts.input}",
        f"- exported to {export.by} files: {counts.exported}",
        f"- needs review: {counts.needs_review} (`{REVIEW}`)",
    ]
    if export.selection.since is not None or export.selection.until is not None:
        lines.append(
            f"- outside --since/--until: {counts.outside_dates}"
            f" ({counts.undated} without a readable date)"
        )
    if export.selection.topics is not None:
        lines.append(f"- other topics than --topic: {counts.other_topics}")
    if export.suggested:
        lines.append(f"- with a machine-suggested tag: {counts.suggested}")
    lines.append("")
    table = index.astype(object).where(index.notna(), "")
    lines.append(markdown_table([str(c) for c in table.columns], table.itertuples(index=False)))
    return "\n".join(lines)
