"""``feedtag issues`` and ``feedtag followups`` as Markdown, every cell escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from classifier.output import escape_markdown, markdown_table

if TYPE_CHECKING:
    from classifier.export.followups import Followups
    from classifier.export.tracker import IssuesReport

ISSUE_HEADER = [
    "issue",
    "conversations",
    "users",
    "first report",
    "last report",
    "team",
    "share",
    "frequency",
    "topics",
    "findings",
]
SNIPPET = 120


def issues_markdown(report: IssuesReport, limit: int) -> str:
    """Issues (most reported first, up to ``limit``), findings, unreadable links, unlinked."""
    settings = report.settings
    as_of = "-" if report.as_of is None else report.as_of.strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Issues\n",
        f"{len(report.issues)} issues from {report.reports} reports in {report.messages} "
        f"messages, as of {as_of}. daily: reported on at least {settings.daily_days} of the "
        f"last 7 days; weekly: in each of the last {settings.weekly_weeks} weeks.\n",
    ]
    shown = report.issues.head(limit)
    rows = [
        [
            row.issue,
            row.conversations,
            row.users,
            row.first_report or "",
            row.last_report or "",
            row.team,
            "" if row.team_share != row.team_share else f"{row.team_share:.0%}",
            row.frequency,
            row.topics,
            row.findings,
        ]
        for row in shown.itertuples()
    ]
    parts.append(markdown_table(ISSUE_HEADER, rows))
    if len(report.issues) > limit:
        parts.append(f"\n... and {len(report.issues) - limit} more issues (--limit).\n")
    if len(report.findings):
        parts.append("\n## Findings\n")
        rows = [[f.issue, f.check, f.message] for f in report.findings.itertuples()]
        parts.append(markdown_table(["issue", "check", "message"], rows))
    if len(report.unreadable):
        parts.append("\n## Unreadable links\n")
        rows = [[u.row, u.id, u.value] for u in report.unreadable.itertuples()]
        parts.append(markdown_table(["row", "id", "value"], rows))
    parts.append(f"\n## Unlinked bug reports ({len(report.unlinked)})\n")
    for team, members in report.unlinked.groupby("team", sort=False):
        parts.append(f"\n### {escape_markdown(team or '(no team)')}\n")
        rows = [
            [m.group, m.group_size, m.row, m.id, m.user_id, m.created_at or "", _snippet(m.text)]
            for m in members.itertuples()
        ]
        header = ["group", "size", "row", "id", "user", "created", "text"]
        parts.append(markdown_table(header, rows))
    return "".join(parts)


def followups_markdown(found: Followups) -> str:
    """The conversations to get back to, oldest last message first."""
    header = ["conversation", "user", "team", "issue", "closed", "last message", "row"]
    rows = [
        [r.conversation_id, r.user_id, r.team, r.issue, r.closed_at, r.last_message, r.row]
        for r in found.rows.itertuples()
    ]
    title = f"# Customers to get back to ({len(found.rows)})\n\n"
    return title + markdown_table(header, rows)


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET else text[: SNIPPET - 3] + "..."
