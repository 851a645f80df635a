"""Run the checks over a corpus and summarise what a lead needs to know."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from classifier.audit.checks import COLUMNS, ROW_CHECKS
from classifier.audit.duplicates import CROSS_ROW_CHECKS, conflicting_duplicates, duplicate_message
from classifier.audit.findings import ORDER, FindingCounts, Findings
from classifier.audit.health import AxisHealth, HealthSettings
from classifier.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from classifier.audit.suspects import Predictions
    from classifier.audit.tally import Tally
    from classifier.corpus import Corpus

Check = Callable[["Corpus"], "pd.DataFrame"]
CHECKS: dict[str, Check] = {
    **ROW_CHECKS,
    "duplicate-message": duplicate_message,
    "conflicting-duplicates": conflicting_duplicates,
}
# Model-assisted checks: functions of (corpus, predictions), run when predictions exist.
MODEL_CHECKS = ("suspect-tag", "confusable-tags")
# Taxonomy health: findings without a row; run with predictions, or when named.
HEALTH_CHECKS = ("rare-tag", "unused-tag", "catch-all")
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
    model: str | None = None  # what judged the tags: "cross-validation (5 folds)", "model DIR"
    health: dict[str, AxisHealth] | None = None


@dataclass(frozen=True)
class AuditReport:
    """Findings (one row each, ``COLUMNS``, in report order) and their summary.

    ``found`` may be on disk (a large dataset's): ``batches`` reads it a frame at a time;
    ``findings`` is every finding in one frame.
    """

    found: Findings
    summary: Summary

    @cached_property
    def findings(self) -> pd.DataFrame:
        return self.found.frame()

    def batches(self) -> Iterator[pd.DataFrame]:
        """The findings in report order, a frame at a time."""
        if "findings" in self.__dict__:
            yield self.findings
        else:
            yield from self.found.batches()

    def fails(self, fail_on: str) -> bool:
        """Whether any finding is at or above ``fail_on`` (``never`` never fails)."""
        if fail_on == "never":
            return False
        levels = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
        return any(self.summary.by_severity.get(level, 0) for level in levels)

    def by_check(self, limit: int | None = None) -> list[tuple[str, pd.DataFrame]]:
        """Findings grouped by check, in the order of ``ORDER`` (errors first): with
        ``limit``, the first ``limit`` of each (one pass over the batches)."""
        import pandas as pd

        heads: dict[str, list[pd.DataFrame]] = {}
        for batch in self.batches():
            for name, group in batch.groupby("check", sort=False):
                held = heads.setdefault(name, [])
                room = None if limit is None else limit - sum(len(g) for g in held)
                if room is None or room > 0:
                    held.append(group if room is None else group.head(room))
        return [
            (name, pd.concat(heads[name], ignore_index=True)) for name in ORDER if name in heads
        ]

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
            *([f"- tags judged by: {escape_markdown(summary.model)}"] if summary.model else []),
            *_health_lines(summary.health),
            "",
        ]
        for check, shown in self.by_check(limit):
            count = summary.by_check[check]
            lines.append(f"\n## {check} ({count})\n")
            cells = shown[COLUMNS].astype(object).where(shown[COLUMNS].notna(), "")
            lines.append(markdown_table(COLUMNS, cells.itertuples(index=False)))
            if len(shown) < count:
                lines.append(f"... and {count - len(shown)} more\n")
        return "\n".join(lines) + "\n"

    def write_csv(self, out: str | Path, rows: int = 200_000) -> Path:
        """The findings as CSV (``csv_text``'s bytes), written ``rows`` at a time into a
        temp file renamed at the end: no second copy of every finding in memory."""
        from classifier.audit.fix import CsvParts

        parts = CsvParts(Path(out))
        try:
            parts.write(_none())  # the header, findings or none
            for batch in self.batches():
                for start in range(0, len(batch), rows):
                    parts.write(batch.iloc[start : start + rows])
        except BaseException:
            parts.discard()
            raise
        return parts.commit()

    def csv_chunks(self) -> Iterator[str]:
        """The findings as CSV text (``csv_text``'s), a batch at a time, for standard output."""
        from classifier.output import csv_text

        header = csv_text(_none())
        yield header
        for batch in self.batches():
            yield csv_text(batch)[len(header) :]

    def to_dict(self) -> dict[str, Any]:
        records = self.findings.astype(object).where(self.findings.notna(), None)
        return {
            "summary": self.summary.model_dump(mode="json"),
            "findings": records.to_dict(orient="records"),
        }

    def json_chunks(self) -> Iterator[str]:
        """``json.dumps(to_dict(), indent=2, ensure_ascii=False)``, written a batch of
        findings at a time: a large audit's JSON is never held whole."""
        import json

        def indented(value: Any, by: str) -> str:
            return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + by)

        yield '{\n  "summary": ' + indented(self.summary.model_dump(mode="json"), "  ")
        yield ',\n  "findings": ['
        first = True
        for batch in self.batches():
            records = batch.astype(object).where(batch.notna(), None).to_dict(orient="records")
            text = ",\n    ".join(indented(record, "    ") for record in records)
            yield ("\n    " if first else ",\n    ") + text
            first = False
        yield "]\n}" if first else "\n  ]\n}"


def _none() -> pd.DataFrame:
    from classifier.audit.findings import order_findings

    return order_findings([])


def check_names(names: Iterable[str] | None, judged: bool = False) -> list[str]:
    """The checks to run, by name, in the order to run them; refuses names that do not exist.

    By default: every row check, plus the model-assisted and taxonomy-health checks when the
    tags are ``judged`` (there are predictions). A model-assisted check named without them is
    refused.
    """
    if names is None:
        default = [*CHECKS, *((*MODEL_CHECKS, *HEALTH_CHECKS) if judged else ())]
        return [name for name in ORDER if name in default]
    chosen = [name.strip() for name in names if name.strip()]
    for name in chosen:
        if name in MODEL_CHECKS and not judged:
            raise UsageError(f"check '{name}' needs a model: add --cross-validate or --model DIR")
        if name not in ORDER:
            raise UsageError(f"unknown check '{name}'; choose from: {', '.join(ORDER)}")
    return chosen


def select_checks(
    names: Iterable[str] | None,
    predictions: Predictions | None = None,
    settings: HealthSettings | None = None,
) -> dict[str, Check]:
    """The checks named (``check_names``), bound to their inputs.

    Row and cross-row checks take the corpus; taxonomy health the counts (``Tally``, or a
    corpus); the model-assisted checks the corpus or ``JudgedRows``.
    """
    from functools import partial

    from classifier.audit import health
    from classifier.audit.suspects import suspect_tag

    settings = settings or HealthSettings()
    available: dict[str, Check] = dict(CHECKS)
    available["rare-tag"] = partial(health.rare_tag, settings=settings)
    available["unused-tag"] = health.unused_tag
    available["catch-all"] = partial(health.catch_all, settings=settings)
    if predictions is not None:
        available["suspect-tag"] = partial(suspect_tag, predictions=predictions)
        available["confusable-tags"] = partial(
            health.confusable_tags, predictions=predictions, settings=settings
        )
    return {name: available[name] for name in check_names(names, predictions is not None)}


def run_audit(
    corpus: Corpus,
    checks: Iterable[str] | None = None,
    predictions: Predictions | None = None,
    settings: HealthSettings | None = None,
) -> AuditReport:
    """Run the checks and return every finding with a summary.

    Row findings come first, ordered by row, then by the order of ``CHECKS``; then
    ``suspect-tag`` findings, worst (lowest ``score``) first; then the taxonomy findings,
    which have no row (``row`` is a nullable integer column). A dataset too large for memory
    gets the same report from ``classifier.audit.stream.audit_dataset``.
    """
    from classifier.audit.checks import row_findings
    from classifier.audit.duplicates import (
        cross_row_findings,
        cross_row_keys,
        signature_names,
        with_ids,
    )
    from classifier.audit.tally import Tally

    settings = settings or HealthSettings()
    selected = select_checks(checks, predictions, settings)
    tally = Tally.of(corpus)
    parts = [row_findings(corpus, selected)]
    if any(name in CROSS_ROW_CHECKS for name in selected):
        keys = cross_row_keys(corpus)
        found = cross_row_findings(keys, signature_names(corpus), checks=selected)
        parts.append(with_ids(found, corpus))
    for name, check in selected.items():
        if name not in CHECKS:
            parts.append(check(tally if name in HEALTH_CHECKS else corpus))
    return report_of(corpus.path, tally, parts, predictions, settings, selected)


def report_of(
    source: str,
    tally: Tally,
    found: list[pd.DataFrame] | Findings,
    predictions: Predictions | None,
    settings: HealthSettings,
    selected: Iterable[str],
) -> AuditReport:
    """The report from the findings of every check (frames in any order, or ``Findings``
    already in report order) and the corpus's counts: the summary and health."""
    if not isinstance(found, Findings):
        found = Findings.of(found, tally)
    selected = list(selected)
    health = None
    if predictions is not None or any(name not in CHECKS for name in selected):
        from classifier.audit.health import axis_health

        suspects = found.counts.suspects if "suspect-tag" in selected else None
        health = axis_health(tally, settings, predictions, suspects)
    return AuditReport(found, summarise(tally, found.counts, predictions, health, source))


def _health_lines(health: dict[str, AxisHealth] | None) -> list[str]:
    if not health:
        return []
    lines = ["", "## Taxonomy health", ""]
    for axis, figures in health.items():
        lines.append(f"- {axis}: {health_line(figures)}")
    return lines


def health_line(figures: AxisHealth) -> str:
    """One line of an axis's health figures, for the summary of every output."""
    parts = [f"{figures.used} of {figures.tags} tags used"]
    if figures.largest is not None:
        parts.append(f"largest '{figures.largest}' {figures.largest_share:.0%}")
    parts.append(f"{len(figures.rare)} rare")
    if figures.out_of_fold_accuracy is not None:
        parts.append(f"model agrees with {figures.out_of_fold_accuracy:.1%} of tags")
    if figures.suspects is not None:
        parts.append(f"{figures.suspects} suspect")
    if figures.confusable is not None:
        parts.append(f"{len(figures.confusable)} confusable pairs")
    return ", ".join(parts)


def summarise(
    tally: Tally,
    counts: FindingCounts,
    predictions: Predictions | None = None,
    health: dict[str, AxisHealth] | None = None,
    source: str = "",
) -> Summary:
    """The summary of a corpus from its counts and its findings'."""
    messages = tally.messages
    return Summary(
        source=source,
        messages=messages,
        complete=tally.complete,
        complete_share=tally.complete / messages if messages else 0.0,
        by_severity={s: int(counts.severities[s]) for s in SEVERITIES},
        by_check=counts.by_check(),
        tags={axis: dict(counts) for axis, counts in tally.tags.items()},
        agents=_agents(tally, counts),
        model=None if predictions is None else _judged_by(predictions),
        health=health,
    )


def _judged_by(predictions: Predictions) -> str:
    if predictions.source == "model":
        return f"model {predictions.detail}"
    return f"cross-validation ({predictions.detail})"


def _agents(tally: Tally, counts: FindingCounts) -> list[AgentSummary] | None:
    """Per agent (by name): messages, share complete, and errors and warnings on them."""
    if tally.agents is None:
        return None
    result = []
    for name in sorted(tally.agents):
        messages, complete = tally.agents[name]
        code = tally.agent_names.index(name)
        result.append(
            AgentSummary(
                agent=name,
                messages=messages,
                complete_share=complete / messages,
                errors=int(counts.agent_errors[code]),
                warnings=int(counts.agent_warnings[code]),
            )
        )
    return result
