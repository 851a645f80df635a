"""Run the checks over a corpus and summarise what a lead needs to know."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from classifier.audit.checks import COLUMNS, ROW_CHECKS
from classifier.audit.duplicates import conflicting_duplicates, duplicate_message
from classifier.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus

Check = Callable[["Corpus"], "pd.DataFrame"]
CHECKS: dict[str, Check] = {
    **ROW_CHECKS,
    "duplicate-message": duplicate_message,
    "conflicting-duplicates": conflicting_duplicates,
}
SEVERITIES = ("error", "warning", "info")


class AgentSummary(BaseModel):
    agent: str
    messages: int
    complete_share: float
    errors: int
    warnings: int


class Summary(BaseModel):
    """Figures for the top of an audit report."""

    source: str
    messages: int
    complete: int
    complete_share: float
    by_severity: dict[str, int]
    by_check: dict[str, int]
    tags: dict[str, dict[str, int]]
    agents: list[AgentSummary] | None = None


@dataclass(frozen=True)
class AuditReport:
    """Findings (one row each, ``COLUMNS``) and their summary."""

    findings: pd.DataFrame
    summary: Summary

    def fails(self, fail_on: str) -> bool:
        """Whether any finding is at or above ``fail_on`` (``never`` never fails)."""
        if fail_on == "never":
            return False
        levels = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
        return bool(self.findings["severity"].isin(levels).any())

    def by_check(self) -> list[tuple[str, pd.DataFrame]]:
        """Findings grouped by check, in the order of ``CHECKS`` (errors first)."""
        groups = dict(tuple(self.findings.groupby("check", sort=False)))
        return [(name, groups[name]) for name in CHECKS if name in groups]

    def to_markdown(self, limit: int | None = None) -> str:
        """A report a lead can paste into an issue: summary, then findings by check."""
        from classifier.output import escape_markdown, markdown_table

        summary = self.summary
        lines = [
            f"# Tagging audit of {escape_markdown(summary.source)}\n",
            f"- messages: {summary.messages}",
            f"- complete (exactly one tag on every axis): {summary.complete} "
            f"({summary.complete_share:.1%})",
            *(f"- {severity}s: {count}" for severity, count in summary.by_severity.items()),
            "",
        ]
        for check, group in self.by_check():
            shown = group if limit is None else group.head(limit)
            lines.append(f"\n## {check} ({len(group)})\n")
            lines.append(markdown_table(COLUMNS, shown[COLUMNS].itertuples(index=False)))
            if len(shown) < len(group):
                lines.append(f"... and {len(group) - len(shown)} more\n")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        records = self.findings.astype(object).where(self.findings.notna(), None)
        return {
            "summary": self.summary.model_dump(mode="json"),
            "findings": records.to_dict(orient="records"),
        }


def select_checks(names: Iterable[str] | None) -> dict[str, Check]:
    """The checks named (all of them by default), refusing names that do not exist."""
    if names is None:
        return dict(CHECKS)
    chosen = [name.strip() for name in names if name.strip()]
    unknown = [name for name in chosen if name not in CHECKS]
    if unknown:
        raise UsageError(f"unknown check '{unknown[0]}'; choose from: {', '.join(CHECKS)}")
    return {name: CHECKS[name] for name in chosen}


def run_audit(corpus: Corpus, checks: Iterable[str] | None = None) -> AuditReport:
    """Run the checks and return every finding with a summary.

    Findings are ordered by row, then by the order of ``CHECKS``.
    """
    import pandas as pd

    selected = select_checks(checks)
    parts = [check(corpus) for check in selected.values()]
    found = pd.concat([p for p in parts if len(p)] or [pd.DataFrame(columns=COLUMNS)])
    order = {name: i for i, name in enumerate(CHECKS)}
    found = found.assign(_order=found["check"].map(order))
    found = found.sort_values(["row", "_order"], kind="stable", ignore_index=True)
    found = found.drop(columns="_order").astype({"row": "int64"})
    return AuditReport(found, summarise(corpus, found))


def summarise(corpus: Corpus, found: pd.DataFrame) -> Summary:
    import numpy as np
    import pandas as pd

    counts = {axis: corpus.tag_counts(axis) for axis in corpus.taxonomy.axes}
    complete = pd.Series(np.logical_and.reduce([n == 1 for n in counts.values()]))
    tags = {}
    for axis, per_message in counts.items():
        labels = corpus.labels(axis).dropna().value_counts()
        distribution = {tag: int(labels.get(tag, 0)) for tag in corpus.taxonomy.axes[axis].ids}
        distribution["(none)"] = int((per_message == 0).sum())
        distribution["(several)"] = int((per_message > 1).sum())
        tags[axis] = distribution
    return Summary(
        source=corpus.path,
        messages=len(corpus),
        complete=int(complete.sum()),
        complete_share=float(complete.mean()) if len(corpus) else 0.0,
        by_severity={s: int(found["severity"].eq(s).sum()) for s in SEVERITIES},
        by_check={name: int(n) for name, n in found["check"].value_counts().items()},
        tags=tags,
        agents=_agents(corpus, found, complete),
    )


def _agents(corpus: Corpus, found: pd.DataFrame, complete: pd.Series) -> list[AgentSummary] | None:
    import pandas as pd

    if "agent" not in corpus.messages:
        return None
    agent = corpus.messages["agent"].replace("", "(none)")
    by_row = pd.Series(agent.to_numpy(), index=corpus.messages["row"].to_numpy())
    finding_agent = found["row"].map(by_row)
    result = []
    for name, members in agent.groupby(agent, sort=True).groups.items():
        mine = found[finding_agent.eq(name)]
        result.append(
            AgentSummary(
                agent=str(name),
                messages=len(members),
                complete_share=float(complete.loc[members].mean()),
                errors=int(mine["severity"].eq("error").sum()),
                warnings=int(mine["severity"].eq("warning").sum()),
            )
        )
    return result
