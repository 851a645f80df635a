"""``feedtag report``: one self-contained HTML page of the stats and the tagging audit.

``report_dataset`` gathers both from one read of the corpus, chunk by chunk: each chunk goes
to the stats (``stats_of_chunks``) and to the audit (``StreamedAudit``, model-assisted with a
judge), so memory follows the chunk and the input (standard input too) is read once. The page
shows the audit's summary, not its findings.

Nothing is fetched when it opens: charts are inline SVG, the style is inline, there is no
script but the figures themselves as JSON (``<script type="application/json">``, escaped so no
text can close it). Every text from the corpus is escaped with ``html.escape``.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from classifier.dataset import CHUNK_ROWS
from classifier.stats import charts
from classifier.stats.render import duration, life_label, number, share
from classifier.stats.results import Stats

if TYPE_CHECKING:
    import pandas as pd

    from classifier.audit.judges import Judge
    from classifier.audit.report import AuditReport
    from classifier.corpus import Columns
    from classifier.stats import StatsOptions
    from classifier.stats.users import Users
    from classifier.taxonomy import Taxonomy

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;
margin:0;background:#f3f4f6}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.muted{color:#6b7280}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{background:#fff;border-radius:8px;padding:10px 14px;min-width:130px;
box-shadow:0 1px 2px #0001}
.card b{display:block;font-size:20px}
.chart{background:#fff;border-radius:8px;padding:8px;margin:10px 0;box-shadow:0 1px 2px #0001}
.chart svg{width:100%;height:auto;display:block}
table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f9fafb}
.spike{color:#dc2626;font-weight:600}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def script_json(data: object) -> str:
    """JSON safe inside ``<script>``: no ``</script>``, ``<!--`` or ``&`` can be formed."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _table(header: tuple[str, ...], rows, classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart(name: str, title: str, drawing: str | None) -> str:
    if drawing is None:
        return ""
    return (
        f'<figure class="chart" data-chart="{_e(name)}" aria-label="{_e(title)}">{drawing}</figure>'
    )


def _cards(stats: Stats) -> str:
    answered = [w.first_response_median_s for w in stats.weeks if w.first_response_median_s]
    cohorts = stats.first_week.cohorts if stats.first_week else []
    new = sum(c.new_users for c in cohorts)
    reached = sum(c.contacted_first_week for c in cohorts)
    items = [
        ("contacts", stats.contacts),
        ("messages", stats.messages),
        ("weeks", len(stats.weeks)),
        ("spikes", len(stats.spikes)),
    ]
    if answered:
        items.append(
            ("median weekly first response", duration(sorted(answered)[len(answered) // 2]))
        )
    if new:
        items.append(("new users contacting in week 1", share(reached / new)))
    if stats.repeat_contacts is not None:
        items.append(("followed by another within 7 days", share(stats.repeat_contacts.share)))
    cells = "".join(f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in items)
    return f'<div class="cards">{cells}</div>'


def _stats_sections(stats: Stats) -> list[str]:
    parts = [_cards(stats), "<h2>Load</h2>"]
    parts.append(_chart("weekly", "contacts per week", charts.weekly_load(stats)))
    parts.append(_chart("hour-weekday", "hour x weekday", charts.hour_weekday(stats)))
    parts.append("<h2>Trends and spikes</h2>")
    parts.append(f'<p class="muted">{_e(stats.spike_rule)}</p>')
    if stats.spikes:
        parts.append(
            _table(
                ("axis", "tag", "week", "contacts", "baseline", "p"),
                [
                    (t.axis, t.tag, t.week, t.contacts, number(t.baseline, 1), f"{t.p_value:.1e}")
                    for t in stats.spikes
                ],
                ["spike"] * len(stats.spikes),
            )
        )
    else:
        parts.append("<p>No spikes.</p>")
    for axis in dict.fromkeys(t.axis for t in stats.trends):
        parts.append(_chart(f"trend-{axis}", f"{axis} trend", charts.trend(stats, axis)))
    parts.append(_chart_tags(stats))
    if stats.first_response_by_team is not None:
        parts.append("<h2>Time to first response</h2>")
        parts.append(_chart("first-response", "first response", charts.first_response(stats)))
        parts.append(
            _table(
                ("team", "answered", "unanswered", "median", "p90"),
                [
                    (t.team, t.answered, t.unanswered, duration(t.median_s), duration(t.p90_s))
                    for t in stats.first_response_by_team
                ],
            )
        )
        parts.append('<p class="muted">Per team, never per agent: easy to game.</p>')
    if stats.first_week is not None:
        parts.append("<h2>New users</h2>")
        parts.append(_chart("cohorts", "first-week share", charts.cohorts(stats)))
        parts.append(_chart("life", "contacts over life", charts.life_curve(stats)))
        rows = [
            (t.axis, t.tag, t.first_week_contacts, share(t.first_week_share), share(t.other_share))
            for t in stats.first_week.tags
        ]
        parts.append("<p>What new users ask in their first week, against everyone else:</p>")
        parts.append(_table(("axis", "tag", "first-week contacts", "share", "others"), rows))
        life = [
            (life_label(p.weeks_since_signup), p.users_at_risk, p.contacts,
             number(p.contacts_per_user))
            for p in stats.first_week.life
        ]  # fmt: skip
        table = _table(("weeks", "users at risk", "contacts", "per user"), life)
        parts.append(f"<details><summary>life curve figures</summary>{table}</details>")
    if stats.repeat_contacts is not None:
        repeats = stats.repeat_contacts
        parts.append("<h2>Next-contact avoidance</h2>")
        parts.append(
            f"<p>{_e(share(repeats.share))} of {repeats.contacts} contacts were followed by "
            "another contact from the same user within 7 days.</p>"
        )
        parts.append(
            _table(
                ("topic", "contacts", "followed within 7 days", "share"),
                [(t.topic, t.contacts, t.followed, share(t.share)) for t in repeats.by_topic],
            )
        )
    return parts


def _chart_tags(stats: Stats) -> str:
    rows = []
    for axis, counts in stats.tags.items():
        special = {k: v for k, v in counts.items() if k.startswith("(")}
        rows.append((axis, sum(counts.values()), *(special.get(k, 0) for k in
                     ("(none)", "(several)", "(unknown)"))))  # fmt: skip
    header = ("axis", "contacts", "untagged", "several tags", "unknown tag only")
    return "<p>Contacts counted as such, never dropped:</p>" + _table(header, rows)


def _audit_sections(audit: AuditReport | None) -> list[str]:
    if audit is None:
        return ["<h2>Tagging audit</h2><p>The corpus has no tags column.</p>"]
    from classifier.audit.report import health_line

    summary = audit.summary
    parts = [
        "<h2>Tagging audit</h2>",
        f"<p><b>{summary.complete_share:.1%}</b> of {summary.messages} messages complete (exactly "
        f"one tag on every axis); {summary.by_severity['error']} errors, "
        f"{summary.by_severity['warning']} warnings.</p>",
        _table(("check", "findings"), list(summary.by_check.items())),
    ]
    if summary.agents:
        parts.append(
            _table(
                ("agent", "messages", "complete", "errors", "warnings"),
                [
                    (a.agent, a.messages, share(a.complete_share), a.errors, a.warnings)
                    for a in summary.agents
                ],
            )
        )
    if summary.health:
        parts.append(f"<h2>Taxonomy health</h2><p>Tags judged by {_e(summary.model)}.</p>")
        rows = [(axis, health_line(figures), figures.suspects) for axis, figures in
                summary.health.items()]  # fmt: skip
        parts.append(_table(("axis", "health", "suspect tags"), rows))
    return parts


def render_report(stats: Stats, audit: AuditReport | None = None) -> str:
    """The whole HTML page, as text."""
    first, last = (stats.weeks[0].week, stats.weeks[-1].week) if stats.weeks else ("", "")
    body = [
        f"<h1>Support report: {_e(stats.source)}</h1>",
        f'<p class="muted">{_e(first)} to {_e(last)}, ISO weeks in {_e(stats.timezone)}. A '
        "contact is a conversation, counted once in the week of its first message.</p>",
        *_stats_sections(stats),
        *_audit_sections(audit),
    ]
    data = {
        "stats": stats.to_dict(),
        "audit": None if audit is None else audit.summary.model_dump(mode="json"),
    }
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Support report: {_e(stats.source)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main>"
        f'<script type="application/json" id="feedtag-data">{script_json(data)}</script>'
        "</body></html>\n"
    )


def report_dataset(
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    options: StatsOptions | None = None,
    users: Users | None = None,
    active: dict[pd.Timestamp, int] | None = None,
    *,
    judge: Judge | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[Stats, AuditReport | None]:
    """The stats and the audit of the dataset ``name`` for ``render_report``, from one read.

    The audit is ``audit_dataset``'s (every default check; the model-assisted ones with a
    ``judge``), or ``None`` when the corpus has no tags column: the stats need none.

    Raises
    ------
    CorpusError, UsageError
        As ``stats_of_chunks`` and ``audit_dataset``.
    """
    from classifier.audit.stream import StreamedAudit
    from classifier.dataset import iter_chunks
    from classifier.stats import stats_of_chunks

    tagged: list[bool] = []  # whether the corpus has tags, known from its first chunk
    with StreamedAudit(name, taxonomy, judge=judge) as audit:

        def chunks():
            for chunk in iter_chunks(name, taxonomy, columns, chunk_rows=chunk_rows):
                if not tagged:
                    tagged.append(chunk.has_tags)
                if tagged[0]:
                    audit.add(chunk)
                yield chunk

        stats = stats_of_chunks(chunks(), options, users, active)
        return stats, audit.report() if tagged and tagged[0] else None
