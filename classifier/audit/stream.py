"""The audit of a dataset read in chunks: memory follows the chunk size, not the corpus.

One pass over the chunks (``classifier.dataset.iter_chunks``) runs the row checks on each
(``row_findings``), keeps their findings compactly (categoricals), collects the cross-row keys
(``cross_row_keys``: eight integers per message) with the ids, in memory or, past a million
messages, on disk in hash buckets (``spill.CrossRowKeys``), the counts of the summary
(``Tally``), and hands each chunk to the ``--fix`` writer. Then ``cross_row_findings`` runs on
the keys (all at once, or bucket by bucket) and ``report_of`` puts
the findings in report order: the report is the one ``run_audit`` gives for the corpus read
whole (tests/test_audit_stream.py holds the two equal on random corpora and chunk sizes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from classifier.audit.checks import row_findings
from classifier.audit.duplicates import CROSS_ROW_CHECKS, cross_row_keys
from classifier.audit.health import HealthSettings
from classifier.audit.report import CHECKS, HEALTH_CHECKS, AuditReport, report_of, select_checks
from classifier.audit.spill import MEMORY_ROWS, CrossRowKeys
from classifier.audit.tally import Tally
from classifier.dataset import CHUNK_ROWS, iter_chunks

if TYPE_CHECKING:
    import pandas as pd

    from classifier.audit.fix import ChunkedFix
    from classifier.corpus import Columns
    from classifier.taxonomy import Taxonomy

TEXT_COLUMNS = ("check", "severity", "axis", "tags", "message", "fix")


def audit_dataset(
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    checks: Iterable[str] | None = None,
    *,
    settings: HealthSettings | None = None,
    chunk_rows: int = CHUNK_ROWS,
    memory_rows: int = MEMORY_ROWS,
    fix: ChunkedFix | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """``run_audit`` of the corpus, file, directory or glob ``name``, read in chunks.

    The checks are the rule checks and taxonomy health (as ``select_checks`` without
    predictions: the model-assisted audit reads the corpus whole). ``fix`` receives every
    chunk (``ChunkedFix.add``); the caller commits it. ``progress(rows)`` is called after each
    chunk with the rows read so far. Past ``memory_rows`` messages the cross-row keys wait on
    disk (``classifier.audit.spill``): they take no memory however large the corpus; the
    findings are still held until the end.

    Raises
    ------
    CorpusError
        As ``load_corpus``, naming the file and row.
    UsageError
        For a check that does not exist or needs a model.
    """
    settings = settings or HealthSettings()
    selected = select_checks(checks, None, settings)
    cross = any(check in CROSS_ROW_CHECKS for check in selected)
    tally = Tally(taxonomy)
    found, names = [], {}
    with CrossRowKeys(memory_rows=memory_rows) as keys:
        for chunk in iter_chunks(name, taxonomy, columns, require_tags=True, chunk_rows=chunk_rows):
            tally.add(chunk)
            found.append(compact_findings(row_findings(chunk, selected)))
            if cross:
                keys.add(cross_row_keys(chunk, names), chunk.messages["id"])
            if fix is not None:
                fix.add(chunk)
            if progress is not None:
                progress(tally.messages)
        parts = found  # compact: order_findings expands them column by column
        if cross:
            parts.append(keys.findings(names, selected))
    for check_name, check in selected.items():
        if check_name in HEALTH_CHECKS:
            parts.append(check(tally))
        elif check_name not in CHECKS:  # pragma: no cover - select_checks refuses these
            raise AssertionError(check_name)
    return report_of(name, tally, parts, None, settings, selected)


def compact_findings(found: pd.DataFrame) -> pd.DataFrame:
    """Findings held between chunks: repeated strings as categoricals, ids as Arrow text."""
    import pandas as pd
    import pyarrow as pa

    if found.empty:
        return found
    compact = {column: found[column].astype("category") for column in TEXT_COLUMNS}
    compact["id"] = found["id"].astype(pd.ArrowDtype(pa.string()))
    return found.assign(**compact)
