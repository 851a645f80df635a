"""The audit of a dataset read in chunks: memory follows the chunk size, not the corpus.

One pass over the chunks (``classifier.dataset.iter_chunks``) runs the row checks on each
(``row_findings``) and keeps their findings compactly, in memory or, past a million messages,
on disk (``findings.FindingsWriter``); collects the cross-row keys (``cross_row_keys``: eight
integers per message) with the ids, in memory or on disk in hash buckets
(``spill.CrossRowKeys``); counts what the summary needs (``Tally``); and hands each chunk to
the ``--fix`` writer. Then ``cross_row_findings`` runs on the keys (all at once, or bucket by
bucket), and the report's findings are read back in report order a chunk at a time: the
report is the one ``run_audit`` gives for the corpus read whole (tests/test_audit_stream.py
holds the two equal on random corpora and chunk sizes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from classifier.audit.checks import row_findings
from classifier.audit.duplicates import CROSS_ROW_CHECKS, cross_row_keys
from classifier.audit.findings import FindingsWriter, compact_findings
from classifier.audit.health import HealthSettings
from classifier.audit.report import CHECKS, HEALTH_CHECKS, AuditReport, report_of, select_checks
from classifier.audit.spill import MEMORY_ROWS, CrossRowKeys
from classifier.audit.tally import Tally
from classifier.dataset import CHUNK_ROWS, iter_chunks

if TYPE_CHECKING:
    from classifier.audit.fix import ChunkedFix
    from classifier.corpus import Columns
    from classifier.taxonomy import Taxonomy


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
    disk (``classifier.audit.spill``), and so do the findings (``FindingsWriter``; removed
    with the report): memory does not grow with the corpus.

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
    names: dict[int, str] = {}
    with (
        CrossRowKeys(memory_rows=memory_rows) as keys,
        FindingsWriter(tally, memory_rows=memory_rows) as found,
    ):
        for chunk in iter_chunks(name, taxonomy, columns, require_tags=True, chunk_rows=chunk_rows):
            tally.add(chunk)
            found.add(compact_findings(row_findings(chunk, selected)))
            if cross:
                keys.add(cross_row_keys(chunk, names), chunk.messages["id"])
            if fix is not None:
                fix.add(chunk)
            if progress is not None:
                progress(tally.messages)
        tail = []
        for check_name, check in selected.items():
            if check_name in HEALTH_CHECKS:
                tail.append(check(tally))
            elif check_name not in CHECKS:  # pragma: no cover - select_checks refuses these
                raise AssertionError(check_name)
        cross_found = keys.findings(names, selected) if cross else None
        findings = found.findings(cross_found, tail)
    return report_of(name, tally, findings, None, settings, selected)
