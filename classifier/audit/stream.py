"""The audit of a dataset read in chunks: memory follows the chunk size, not the corpus.

One pass over the chunks (``classifier.dataset.iter_chunks``) runs the row checks on each
(``row_findings``) and keeps their findings compactly, in memory or, past a million messages,
on disk (``findings.FindingsWriter``); collects the cross-row keys (``cross_row_keys``: eight
integers per message) with the ids, in memory or on disk in hash buckets
(``spill.CrossRowKeys``); counts what the summary needs (``Tally``); hands each chunk to the
``--fix`` writer; and, in a model-assisted audit, to the judge (``classifier.audit.judges``),
which keeps the model's view of every tag. Then ``cross_row_findings`` runs on the keys (all at
once, or bucket by bucket), the model-assisted and taxonomy checks on the judge's view and the
counts, and the report's findings are read back in report order a chunk at a time: the report
is the one ``run_audit`` gives for the corpus read whole (tests/test_audit_stream.py and
tests/test_audit_judged.py hold the two equal on random corpora and chunk sizes).

``StreamedAudit`` is that audit fed chunk by chunk, for a command that reads the chunks for
more than the audit (``feedtag report`` counts its stats on the same read); ``audit_dataset``
feeds it a dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from classifier.audit.checks import row_findings
from classifier.audit.duplicates import CROSS_ROW_CHECKS, cross_row_keys
from classifier.audit.findings import FindingsWriter, compact_findings
from classifier.audit.health import HealthSettings
from classifier.audit.report import (
    CHECKS,
    HEALTH_CHECKS,
    MODEL_CHECKS,
    AuditReport,
    check_names,
    report_of,
    select_checks,
)
from classifier.audit.spill import MEMORY_ROWS, CrossRowKeys
from classifier.audit.tally import Tally
from classifier.dataset import CHUNK_ROWS, iter_chunks

if TYPE_CHECKING:
    from classifier.audit.fix import ChunkedFix
    from classifier.audit.judges import Judge
    from classifier.corpus import Columns, Corpus
    from classifier.taxonomy import Taxonomy


def audit_dataset(
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    checks: Iterable[str] | None = None,
    *,
    settings: HealthSettings | None = None,
    judge: Judge | None = None,
    chunk_rows: int = CHUNK_ROWS,
    memory_rows: int = MEMORY_ROWS,
    fix: ChunkedFix | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """``run_audit`` of the corpus, file, directory or glob ``name``, read in chunks.

    The checks are those ``select_checks`` chooses: the rule checks, and the model-assisted
    and taxonomy-health ones when a ``judge`` (``classifier.audit.judges``: ``ModelJudge``
    for ``--model``, ``CrossValidation``) gives the model's view of the tags. ``fix``
    receives every chunk (``ChunkedFix.add``); the caller commits it. ``progress(rows)`` is
    called after each chunk with the rows read so far. Past ``memory_rows`` messages the
    cross-row keys wait on disk (``classifier.audit.spill``), and so do the findings
    (``FindingsWriter``; removed with the report): memory does not grow with the corpus but
    for the judge's view (``classifier.audit.judges`` says what it keeps).

    Raises
    ------
    CorpusError
        As ``load_corpus``, naming the file and row; as ``cross_validate`` with too few tags.
    UsageError
        For a check that does not exist or needs a model.
    """
    with StreamedAudit(
        name, taxonomy, checks, settings=settings, judge=judge, memory_rows=memory_rows, fix=fix
    ) as audit:
        for chunk in iter_chunks(name, taxonomy, columns, require_tags=True, chunk_rows=chunk_rows):
            audit.add(chunk)
            if progress is not None:
                progress(audit.tally.messages)
        return audit.report()


class StreamedAudit:
    """The audit of a dataset given chunk by chunk (``add``, in row order), then ``report``.

    Use as a context manager: the temporary files of the keys go when it closes, and the
    findings' with the report (or at once, when the audit fails). See ``audit_dataset``.

    Raises
    ------
    UsageError
        For a check that does not exist or needs a model, before any chunk is read.
    """

    def __init__(
        self,
        name: str,
        taxonomy: Taxonomy,
        checks: Iterable[str] | None = None,
        *,
        settings: HealthSettings | None = None,
        judge: Judge | None = None,
        memory_rows: int = MEMORY_ROWS,
        fix: ChunkedFix | None = None,
    ) -> None:
        self.name = name
        self.settings = settings or HealthSettings()
        self.checks = check_names(checks, judge is not None)
        self.judge, self.fix = judge, fix
        self.cross = any(check in CROSS_ROW_CHECKS for check in self.checks)
        self.tally = Tally(taxonomy)
        self._names: dict[int, str] = {}
        self._keys = CrossRowKeys(memory_rows=memory_rows)
        self._found = FindingsWriter(self.tally, memory_rows=memory_rows)

    def add(self, chunk: Corpus) -> None:
        """One more chunk: counted, row-checked, keyed, judged, fixed."""
        self.tally.add(chunk)
        self._found.add(compact_findings(row_findings(chunk, self.checks)))
        if self.cross:
            self._keys.add(cross_row_keys(chunk, self._names), chunk.messages["id"])
        if self.judge is not None:
            self.judge.add(chunk)
        if self.fix is not None:
            self.fix.add(chunk)

    def report(self) -> AuditReport:
        """The report of every chunk added: the cross-row findings, then the judge's view
        and the checks that read it, then the taxonomy's health."""
        cross = self._keys.findings(self._names, self.checks) if self.cross else None
        self._keys.close()
        predictions, judged = self.judge.judge() if self.judge is not None else (None, None)
        selected = select_checks(self.checks, predictions, self.settings)
        tail = []
        for check_name, check in selected.items():
            if check_name in HEALTH_CHECKS:
                tail.append(check(self.tally))
            elif check_name in MODEL_CHECKS:
                tail.append(check(judged))
            elif check_name not in CHECKS:  # pragma: no cover - select_checks refuses these
                raise AssertionError(check_name)
        found = self._found.findings(cross, tail)
        return report_of(self.name, self.tally, found, predictions, self.settings, selected)

    def close(self) -> None:
        self._keys.close()
        self._found.close()

    def __enter__(self) -> StreamedAudit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
