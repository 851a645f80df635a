"""An agreement report as Markdown (for a pull request or a wiki) and as long-form rows (CSV)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from classifier.output import escape_markdown, markdown_table
from classifier.quality.agreement import Agreement, PairAgreement
from classifier.quality.kappa import Interval, Score

BREAKDOWNS = ("agent", "tag")
NAMED_IDS = 10


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def interval(value: Interval) -> str:
    """``0.812 [0.731, 0.884]``: the estimate and its 95% interval."""
    if value.value is None:
        return "-"
    return f"{value.value:.3f} [{value.low:.3f}, {value.high:.3f}]"


def not_compared(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {why}" for why, count in counts.items() if count) or "-"


def named(ids: list[str], limit: int = NAMED_IDS) -> str:
    """The first ids, and how many more: ``a, b, c and 4 more``."""
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def to_rows(report: Agreement, by: Sequence[str] = BREAKDOWNS) -> pd.DataFrame:
    """One row per axis, agent and tag of every pair: the CSV a spreadsheet can pivot."""
    rows = []

    def scored(pair, axis, scope, group, s: Score) -> dict:
        return {
            "retagged": pair.retagged,
            "axis": axis,
            "scope": scope,
            "group": group,
            "compared": s.compared,
            "kappa": s.kappa.value,
            "kappa_low": s.kappa.low,
            "kappa_high": s.kappa.high,
            "agreement": s.agreement.value,
            "agreement_low": s.agreement.low,
            "agreement_high": s.agreement.high,
        }

    for pair in report.pairs:
        for axis, result in pair.axes.items():
            rows.append(scored(pair, axis, "axis", "", result.overall))
            if "agent" in by:
                for agent, s in result.by_agent.items():
                    rows.append(scored(pair, axis, "agent", agent, s))
            if "tag" in by:
                for tag in result.by_tag:
                    rows.append(
                        {"retagged": pair.retagged, "axis": axis, "scope": "tag"}
                        | {"group": tag.tag, "compared": tag.original}
                        | {"original": tag.original, "retagged_count": tag.retagged}
                        | {"both": tag.both, "precision": tag.precision, "recall": tag.recall}
                    )
    columns = [
        "retagged", "axis", "scope", "group", "compared", "kappa", "kappa_low", "kappa_high",
        "agreement", "agreement_low", "agreement_high", "original", "retagged_count", "both",
        "precision", "recall",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    counts = ["compared", "original", "retagged_count", "both"]
    return frame.astype(dict.fromkeys(counts, "Int64"))  # missing counts as empty cells


def to_markdown(report: Agreement, by: Sequence[str] = BREAKDOWNS, top: int = 10) -> str:
    """The report as GitHub Markdown, every cell escaped."""
    parts = []
    for pair in report.pairs:
        parts.append(_pair_markdown(pair, by, top))
    if report.many:
        parts.append("## Fleiss' kappa over all taggers\n\n")
        rows = [
            (axis, m.taggers, m.compared, m.left_out, interval(m.kappa))
            for axis, m in report.many.items()
        ]
        header = ("axis", "taggers", "compared", "left out", "Fleiss' kappa [95%]")
        parts.append(markdown_table(header, rows))
    return "\n".join(parts)


def _pair_markdown(pair: PairAgreement, by: Sequence[str], top: int) -> str:
    title = f"{escape_markdown(pair.original)} vs {escape_markdown(pair.retagged)}"
    lines = [f"## Agreement: {title}\n", "", summary_line(pair), ""]
    for side, ids in (("original", pair.only_original), ("re-tag", pair.only_retagged)):
        if ids:
            lines += [f"Only in the {side}: {escape_markdown(named(ids))}", ""]
    rows = [
        (
            axis,
            r.overall.compared,
            interval(r.overall.kappa),
            interval(r.overall.agreement),
            not_compared(r.not_compared),
        )
        for axis, r in pair.axes.items()
    ]
    header = ("axis", "compared", "kappa [95%]", "agreement [95%]", "not compared")
    lines.append(markdown_table(header, rows))
    for axis, r in pair.axes.items():
        if "agent" in by and r.by_agent:
            lines += [f"### {escape_markdown(axis)}: kappa per agent\n"]
            rows = [
                (agent, s.compared, interval(s.kappa), interval(s.agreement))
                for agent, s in r.by_agent.items()
            ]
            lines.append(markdown_table(("agent", "compared", "kappa", "agreement"), rows))
        if "tag" in by:
            lines += [f"### {escape_markdown(axis)}: per tag (original against the re-tag)\n"]
            rows = [
                (t.tag, t.original, t.retagged, t.both, number(t.precision), number(t.recall))
                for t in r.by_tag
            ]
            header = ("tag", "original", "re-tag", "both", "precision", "recall")
            lines.append(markdown_table(header, rows))
        if r.disagreements:
            lines += [f"### {escape_markdown(axis)}: most frequent disagreements\n"]
            rows = [
                (d.original, d.retagged, d.count, examples(d.examples))
                for d in r.disagreements[:top]
            ]
            lines.append(markdown_table(("original", "re-tag", "count", "examples"), rows))
    return "\n".join(lines)


def summary_line(pair: PairAgreement) -> str:
    """Matched, and what was not: ids in one file only, later rows of a repeated id."""
    line = (
        f"{pair.matched} message{'' if pair.matched == 1 else 's'} in both files; "
        f"{len(pair.only_original)} only in the "
        f"original, {len(pair.only_retagged)} only in the re-tag."
    )
    repeated = [f"{n} in {name}" for name, n in pair.repeated_ids.items() if n]
    if repeated:
        line += f" Repeated ids left out (first row kept): {', '.join(repeated)}."
    return line


def examples(items, width: int = 90) -> str:
    """Example messages as ``id: text`` (shortened), one after the other."""
    return " / ".join(f"{i}: {shorten(text, width)}" for i, text in items)


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
