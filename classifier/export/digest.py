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


def digests(export: Export, newest: int = 5) -> dict[str, str]:
    """One digest per tag file and one for ``_needs-review``, keyed by file stem."""
    rows = export.rows
    when = _when(rows)
    weeks = _weeks(export, when)
    ranked = rows.loc[_newest_first(rows, when)]
    pages = {}
    for tag in export.files:
        part = rows[rows["file"] == tag]
        newest_part = ranked[ranked["file"] == tag]
        pages[tag] = _tag_page(export, tag, part, when, weeks, newest_part, newest)
    pages[REVIEW] = _review_page(export, rows[rows["file"] == REVIEW])
    return pages


def _when(rows: pd.DataFrame) -> pd.Series | None:
    stamps = timestamps(rows["created_at"])
    return stamps if stamps.notna().any() else None


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
    for value in part[group_by].value_counts().index:  # largest first, as in the counts
        group = groups[value]
        shown = group.head(newest)
        heading = _name(export, group_by, value)
        lines.append(f"### {escape_markdown(heading)} ({len(group)})\n")
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


def _review_page(export: Export, part: pd.DataFrame) -> str:
    """Every message under review, with its reason: each needs a person, so none is left out."""
    lines = ["# Needs review\n", f"{len(part)} messages need a person to tag them.\n"]
    if part.empty:
        return "\n".join(lines)
    kinds = part["reason"].str.split("; ").explode().str.split(" \\(", n=1).str[0]
    kinds = kinds.str.replace(r"^\d+ (\w+) tags$", r"several \1 tags", regex=True)
    lines.append(markdown_table(("problem", "messages"), kinds.value_counts().items()))
    axes = list(export.taxonomy.axes)
    header = ("row", "id", "reason", *axes, "text")
    cells = [part["row"], part["id"], part["reason"], *(part[a] for a in axes)]
    cells.append(part["text"].astype(object).map(_clip))
    lines.append("## Messages\n")
    lines.append(_big_table(header, cells))
    return "\n".join(lines)


def _big_table(header: tuple[str, ...], columns: list[pd.Series]) -> str:
    """``markdown_table`` for many rows: each distinct cell escaped once, rows joined by pandas.

    Reasons and tags repeat a lot; ids and texts do not, so this halves the work or better.
    """
    import pandas as pd

    escaped = []
    for column in columns:
        values = pd.Series(column.to_numpy(dtype=object), dtype=object).fillna("")
        distinct = values.drop_duplicates()
        lookup = dict(zip(distinct, map(escape_markdown, distinct), strict=True))
        escaped.append(values.map(lookup).astype(object))
    body = escaped[0].str.cat(escaped[1:], sep=" | ")
    head = markdown_table(header, [])
    return head + "".join("| " + body + " |\n")


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
