"""Run the checks over a corpus and summarise what a lead needs to know."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from classifier.audit.checks import COLUMNS, ROW_CHECKS
from classifier.audit.duplicates import CROSS_ROW_CHECKS, conflicting_duplicates, duplicate_message
from classifier.audit.health import AxisHealth, HealthSettings
from classifier.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
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
ORDER = (*CHECKS, "suspect-tag", "rare-tag", "unused-tag", "confusable-tags", "catch-all")
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
        """Findings grouped by check, in the order of ``ORDER`` (errors first)."""
        groups = dict(tuple(self.findings.groupby("check", sort=False)))
        return [(name, groups[name]) for name in ORDER if name in groups]

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
        for check, group in self.by_check():
            shown = group if limit is None else group.head(limit)
            lines.append(f"\n## {check} ({len(group)})\n")
            cells = shown[COLUMNS].astype(object).where(shown[COLUMNS].notna(), "")
            lines.append(markdown_table(COLUMNS, cells.itertuples(index=False)))
            if len(shown) < len(group):
                lines.append(f"... and {len(group) - len(shown)} more\n")
        return "\n".join(lines) + "\n"

    def write_csv(self, out: str | Path, rows: int = 200_000) -> Path:
        """The findings as CSV (``csv_text``'s bytes), written ``rows`` at a time into a
        temp file renamed at the end: no second copy of every finding in memory."""
        from classifier.audit.fix import CsvParts

        parts = CsvParts(Path(out))
        try:
            for start in range(0, max(len(self.findings), 1), rows):
                parts.write(self.findings.iloc[start : start + rows])
        except BaseException:
            parts.discard()
            raise
        return parts.commit()

    def to_dict(self) -> dict[str, Any]:
        records = self.findings.astype(object).where(self.findings.notna(), None)
        return {
            "summary": self.summary.model_dump(mode="json"),
            "findings": records.to_dict(orient="records"),
        }


def select_checks(
    names: Iterable[str] | None,
    predictions: Predictions | None = None,
    settings: HealthSettings | None = None,
) -> dict[str, Check]:
    """The checks named, bound to their inputs; refuses names that do not exist.

    By default: every row check, plus the model-assisted and taxonomy-health checks when
    ``predictions`` are given. A model-assisted check named without predictions is refused.
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
    if names is None:
        default = [*CHECKS, *(() if predictions is None else (*MODEL_CHECKS, *HEALTH_CHECKS))]
        return {name: available[name] for name in ORDER if name in default}
    chosen = [name.strip() for name in names if name.strip()]
    for name in chosen:
        if name in MODEL_CHECKS and predictions is None:
            raise UsageError(f"check '{name}' needs a model: add --cross-validate or --model DIR")
        if name not in available:
            raise UsageError(f"unknown check '{name}'; choose from: {', '.join(ORDER)}")
    return {name: available[name] for name in chosen}


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
    parts: list[pd.DataFrame],
    predictions: Predictions | None,
    settings: HealthSettings,
    selected: Iterable[str],
) -> AuditReport:
    """The report from the findings of every check (any order of parts) and the corpus's
    counts: findings put in report order (see ``run_audit``), the summary and health."""
    found = order_findings(parts)
    selected = list(selected)
    health = None
    if predictions is not None or any(name not in CHECKS for name in selected):
        from classifier.audit.health import axis_health

        health = axis_health(tally, settings, predictions, found, "suspect-tag" in selected)
    return AuditReport(found, summarise(tally, found, predictions, health, source))


def order_findings(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Findings of all checks in report order: row findings by row then ``ORDER``, then
    suspects by score, then taxonomy findings by ``ORDER``; ties keep their parts' order.

    Consumes ``parts`` (plain or ``compact_findings`` frames): the result is built one column
    at a time and each part's column dropped once copied, so a large audit's findings are
    never held twice. Text columns come out as ``object``, ``row`` as ``Int64``.
    """
    import numpy as np
    import pandas as pd

    kept = [part for part in parts if len(part)]
    parts.clear()
    text = {column: object for column in COLUMNS if column not in ("row", "score")}
    if not kept:
        empty = pd.DataFrame(columns=COLUMNS)
        return empty.astype({"row": "Int64", "score": "float64", **text})
    check = np.concatenate([part["check"].to_numpy(dtype=object) for part in kept])
    rows = np.concatenate([_floats(part["row"], "Int64") for part in kept])
    score = np.concatenate([_floats(part["score"], "Float64") for part in kept])
    group = np.where(check == "suspect-tag", 1, np.where(np.isin(check, list(CHECKS)), 0, 2))
    rank = pd.Series(check).map({name: i for i, name in enumerate(ORDER)}).to_numpy(float)
    order = np.lexsort((rank, np.where(group == 0, rows, score), group))  # stable
    del check, group, rank
    columns: dict[str, Any] = {}
    for column in COLUMNS:
        if column == "row":
            taken = rows[order]
            missing = np.isnan(taken)
            values = np.where(missing, 0, taken).astype(np.int64)
            columns[column] = pd.arrays.IntegerArray(values, missing)
        elif column == "score":
            columns[column] = score[order]
        else:
            pieces = []
            for part in kept:
                pieces.append(_objects(part[column]))
                del part[column]
            columns[column] = np.concatenate(pieces)[order]
            del pieces
    return pd.DataFrame(columns, columns=COLUMNS)


def _objects(column: pd.Series) -> np.ndarray:
    """A text column as an object array. A categorical's values are made once per category
    and shared by its rows: made per row, 3M findings' repeated strings took 1.7 GB."""
    import numpy as np
    import pandas as pd

    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.to_numpy(dtype=object)
    categories = np.asarray(column.cat.categories.to_numpy(dtype=object), dtype=object)
    codes = column.cat.codes.to_numpy()
    values = (
        categories.take(np.maximum(codes, 0)) if len(categories) else np.empty(len(codes), object)
    )
    values[codes < 0] = np.nan
    return values


def _floats(column: pd.Series, dtype: str) -> np.ndarray:
    """A numeric findings column (int, nullable, or object holding None) as float64, NaN
    for missing: row numbers stay exact far past any corpus size."""
    import numpy as np
    import pandas as pd

    return pd.array(column, dtype=dtype).to_numpy(dtype="float64", na_value=np.nan)


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
    found: pd.DataFrame,
    predictions: Predictions | None = None,
    health: dict[str, AxisHealth] | None = None,
    source: str = "",
) -> Summary:
    """The summary of a corpus from its counts and every finding."""
    messages = tally.messages
    return Summary(
        source=source,
        messages=messages,
        complete=tally.complete,
        complete_share=tally.complete / messages if messages else 0.0,
        by_severity={s: int(found["severity"].eq(s).sum()) for s in SEVERITIES},
        by_check={name: int(n) for name, n in found["check"].value_counts().items()},
        tags={axis: dict(counts) for axis, counts in tally.tags.items()},
        agents=_agents(tally, found),
        model=None if predictions is None else _judged_by(predictions),
        health=health,
    )


def _judged_by(predictions: Predictions) -> str:
    if predictions.source == "model":
        return f"model {predictions.detail}"
    return f"cross-validation ({predictions.detail})"


def _agents(tally: Tally, found: pd.DataFrame) -> list[AgentSummary] | None:
    """Per agent (by name): messages, share complete, and errors and warnings on them."""
    import numpy as np

    if tally.agents is None:
        return None
    rows = found["row"].fillna(0).to_numpy(dtype=np.int64)
    agent = tally.agent_of(rows)
    known = agent >= 0
    size = len(tally.agent_names)
    severity = found["severity"].to_numpy(dtype=object)
    errors = np.bincount(agent[known & (severity == "error")], minlength=size)
    warnings = np.bincount(agent[known & (severity == "warning")], minlength=size)
    result = []
    for name in sorted(tally.agents):
        messages, complete = tally.agents[name]
        code = tally.agent_names.index(name)
        result.append(
            AgentSummary(
                agent=name,
                messages=messages,
                complete_share=complete / messages,
                errors=int(errors[code]),
                warnings=int(warnings[code]),
            )
        )
    return result
