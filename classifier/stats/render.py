"""``Stats`` as tables: rows for the terminal and Markdown, the weekly CSV.

The CLI draws the terminal tables from the same rows, so every format shows the same figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from classifier.stats.results import Stats

if TYPE_CHECKING:
    import pandas as pd

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TREND_WEEKS = 8  # weeks of trend shown in tables; JSON and the report have all


def duration(seconds: float | None) -> str:
    """``42s``, ``17m``, ``3h 05m``, ``2d 4h``: a first-response time a lead reads at a glance."""
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def change(value: float | None) -> str:
    return "" if value is None else f"{value:+.0%}"


WEEK_HEADER = (
    "week",
    "start",
    "contacts",
    "change",
    "messages",
    "active users",
    "per active user",
    "response median",
    "response p90",
)


def week_rows(stats: Stats) -> Iterator[tuple[str, ...]]:
    for w in stats.weeks:
        yield (
            w.week,
            w.start,
            str(w.contacts),
            change(w.contacts_change),
            str(w.messages),
            "" if w.active_users is None else str(w.active_users),
            number(w.contacts_per_active_user),
            duration(w.first_response_median_s),
            duration(w.first_response_p90_s),
        )


def weeks_frame(stats: Stats) -> pd.DataFrame:
    """One row per week with the JSON keys as columns (the CSV output)."""
    import pandas as pd

    return pd.DataFrame([w.model_dump() for w in stats.weeks])


SPIKE_HEADER = ("axis", "tag", "week", "contacts", "baseline", "p")


def spike_rows(stats: Stats) -> Iterator[tuple[str, ...]]:
    for t in stats.spikes:
        yield (t.axis, t.tag, t.week, str(t.contacts), number(t.baseline, 1), f"{t.p_value:.1e}")


def hour_rows(stats: Stats) -> Iterator[tuple[str, ...]]:
    for day, counts in zip(WEEKDAYS, stats.hour_weekday, strict=True):
        yield (day, *(str(n) for n in counts), str(sum(counts)))


def trend_table(stats: Stats, axis: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Tags (rows) by the last weeks (columns) on ``axis``; a spike is marked ``*``."""
    trends = [t for t in stats.trends if t.axis == axis]
    weeks = [w.week for w in stats.weeks][-TREND_WEEKS:]
    cells: dict[str, dict[str, str]] = {}
    for t in trends:
        if t.week in weeks:
            cells.setdefault(t.tag, {})[t.week] = f"{t.contacts}{'*' if t.spike else ''}"
    header = ("tag", *(w.split("-")[1] for w in weeks))
    return header, [(tag, *(row.get(w, "0") for w in weeks)) for tag, row in cells.items()]


def to_markdown(stats: Stats) -> str:
    """Every table of ``feedtag stats`` in Markdown, spikes first."""
    from classifier.output import escape_markdown, markdown_table

    lines = [
        f"# Support stats of {escape_markdown(stats.source)}\n",
        f"- {stats.messages} messages, {stats.contacts} contacts, {len(stats.weeks)} weeks "
        f"(ISO weeks in {escape_markdown(stats.timezone)})",
        f"- {escape_markdown(stats.spike_rule)}",
        *skip_lines(stats),
        "",
        f"## Spikes ({len(stats.spikes)})\n",
        markdown_table(SPIKE_HEADER, spike_rows(stats)) if stats.spikes else "none\n",
        "## Contacts per week\n",
        markdown_table(WEEK_HEADER, week_rows(stats)),
        "## Contacts per hour and weekday\n",
        markdown_table(("day", *(f"{h:02d}" for h in range(24)), "total"), hour_rows(stats)),
    ]
    if stats.first_response_by_team is not None:
        lines += [
            "## Time to first response per team\n",
            markdown_table(
                ("team", "answered", "unanswered", "median", "p90"),
                (
                    (t.team, t.answered, t.unanswered, duration(t.median_s), duration(t.p90_s))
                    for t in stats.first_response_by_team
                ),
            ),
        ]
    if stats.first_week is not None:
        lines += [
            "## New users contacting in their first week\n",
            markdown_table(
                ("signup week", "new users", "contacted in first week", "share"),
                (
                    (c.week, c.new_users, c.contacted_first_week, share(c.share))
                    for c in stats.first_week.cohorts
                ),
            ),
            "## Contacts over the life of a customer\n",
            markdown_table(
                ("weeks since signup", "users at risk", "contacts", "contacts per user"),
                (
                    (
                        life_label(x.weeks_since_signup),
                        x.users_at_risk,
                        x.contacts,
                        number(x.contacts_per_user),
                    )
                    for x in life_rows(stats.first_week.life)
                ),
            ),
        ]
    if stats.repeat_contacts is not None:
        repeats = stats.repeat_contacts
        lines += [
            f"## Next-contact avoidance: {share(repeats.share)} of {repeats.contacts} contacts "
            "followed by another within 7 days\n",
            markdown_table(
                ("topic", "contacts", "followed within 7 days", "share"),
                ((t.topic, t.contacts, t.followed, share(t.share)) for t in repeats.by_topic),
            ),
        ]
    for axis in dict.fromkeys(t.axis for t in stats.trends):
        header, rows = trend_table(stats, axis)
        lines += [f"## {escape_markdown(axis)} trend (contacts per week, * = spike)\n"]
        lines += [markdown_table(header, rows)]
    return "\n".join(lines)


def life_rows(life: list) -> list:
    """The life curve for a table: the first 13 weeks after signup and 52+ (JSON has all)."""
    from classifier.stats.metrics import LIFE_WEEKS

    return [x for x in life if x.weeks_since_signup <= 12 or x.weeks_since_signup >= LIFE_WEEKS]


def life_label(weeks: int) -> str:
    from classifier.stats.metrics import LIFE_WEEKS

    return f"{weeks}+" if weeks >= LIFE_WEEKS else str(weeks)


def skip_lines(stats: Stats) -> list[str]:
    skipped = stats.skipped
    return [
        f"- skipped (--skip-bad-dates): {count} {what}"
        for count, what in (
            (skipped.created_at, "rows without a readable created_at"),
            (skipped.first_response, "unreadable first responses (counted as unanswered)"),
            (skipped.users, "users without a readable signed_up_at"),
        )
        if count
    ]
