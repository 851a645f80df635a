"""The audit of a dataset on a Dask cluster: row checks per file, cross-row checks shuffled.

1. Per file, on a worker: ``row_findings`` of every chunk, the chunk's ``Tally``, and the
   cross-row keys (``cross_row_keys``) split into buckets by text hash and by id hash.
2. The shuffle: bucket ``b`` of every file goes to one task, which runs
   ``cross_row_findings`` on it, ``by="text"`` or ``by="id"``; each is complete for what it
   checks, as every row sharing a hash lands in the same bucket.
3. Here: the files' findings taken one file at a time (``FindingsWriter``: on disk past a
   million messages), ``combine_cross_row`` (the one-reason-per-message rule across buckets),
   the ids of flagged rows fetched from their files' workers, the tallies summed, the health
   checks run on the sum; the report's findings come out in report order as
   ``audit_dataset``'s do on one machine.

Only the keys (about 70 bytes a message) cross the network; the checks are the library's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.dataset import CHUNK_ROWS
from classifier.engine.cluster import broadcast
from classifier.engine.partitions import (
    Partition,
    partition_corpora,
    plan_columns,
    result_directory,
    write_part,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from distributed import Client

    from classifier.audit.health import HealthSettings
    from classifier.audit.report import AuditReport
    from classifier.audit.tally import Tally
    from classifier.corpus import Columns
    from classifier.taxonomy import Taxonomy

FINDINGS_PER_PART = 1_000_000  # rows of each Parquet part of the findings


@dataclass
class AuditPart:
    """What a worker keeps of one file: its findings and tally (sent back), its ids and its
    keys by bucket (fetched by the shuffle's tasks)."""

    first_row: int
    findings: list[pd.DataFrame]
    tally: Tally
    names: dict[int, str]
    ids: np.ndarray | None
    by_text: list[pd.DataFrame]
    by_id: list[pd.DataFrame]


@dataclass(frozen=True)
class DistributedAudit:
    """The report, and where its findings were written (when they were)."""

    report: AuditReport
    path: Path | None = None
    parts: int = 0

    @property
    def messages(self) -> int:
        return self.report.summary.messages

    @property
    def findings(self) -> int:
        return len(self.report.found)


def audit_partition(
    partition: Partition,
    taxonomy: Taxonomy,
    columns: Columns | None,
    checks: list[str],
    buckets: int,
    chunk_rows: int,
) -> AuditPart:
    """On a worker: the row checks, tally and bucketed cross-row keys of one file."""
    import numpy as np
    import pandas as pd

    from classifier.audit.checks import row_findings
    from classifier.audit.duplicates import (
        CROSS_ROW_CHECKS,
        cross_row_keys,
        signature_names,
        split_by_hash,
    )
    from classifier.audit.findings import compact_findings
    from classifier.audit.tally import Tally

    cross = any(check in CROSS_ROW_CHECKS for check in checks)
    tally = Tally(taxonomy)
    found, keys, ids, names = [], [], [], {}
    for chunk in partition_corpora(
        partition, taxonomy, columns, require_tags=True, chunk_rows=chunk_rows
    ):
        tally.add(chunk)
        found.append(compact_findings(row_findings(chunk, checks)))
        if cross:
            keys.append(cross_row_keys(chunk))
            names.update(signature_names(chunk))
            ids.append(chunk.messages["id"].to_numpy(dtype=object))
    if not cross:
        return AuditPart(partition.first_row, found, tally, {}, None, [], [])
    by_text, by_id = split_by_hash(pd.concat(keys, ignore_index=True), buckets)
    return AuditPart(partition.first_row, found, tally, names, np.concatenate(ids), by_text, by_id)


def part_summary(part: AuditPart) -> tuple[list[pd.DataFrame], Tally, dict[int, str]]:
    """What this machine needs of a part: its findings, tally and tag signatures."""
    return part.findings, part.tally, part.names


def bucket_of(part: AuditPart, by: str, bucket: int) -> pd.DataFrame:
    """One bucket of a part's keys (a task beside the part: only the bucket moves)."""
    return (part.by_text if by == "text" else part.by_id)[bucket]


def bucket_findings(
    names: dict[int, str], checks: list[str], by: str, *pieces: pd.DataFrame
) -> pd.DataFrame:
    """The cross-row findings of one bucket, gathered from every part."""
    import pandas as pd

    from classifier.audit.duplicates import cross_row_findings

    keys = pd.concat(pieces, ignore_index=True)
    return cross_row_findings(keys, names, checks=checks, by=(by,))


def ids_at(part: AuditPart, rows: np.ndarray) -> np.ndarray:
    """The ids of some of a part's rows (dataset row numbers)."""
    return part.ids[rows - part.first_row]


def distributed_audit(
    client: Client,
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    out: Path | None = None,
    *,
    checks: Iterable[str] | None = None,
    settings: HealthSettings | None = None,
    chunk_rows: int = CHUNK_ROWS,
    buckets: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DistributedAudit:
    """``audit_dataset`` of the dataset ``name``, its files checked on the cluster's workers.

    The report equals the single-machine one. With ``out``, the findings (in report order)
    are also written there as a new directory of Parquet parts of ``FINDINGS_PER_PART`` rows.
    ``buckets`` (default: twice the workers, at most one per file) sets the shuffle's width.
    ``progress(files_done, files)`` ticks as the files' checks finish.

    Raises
    ------
    CorpusError
        As the single-machine path, naming the file and row.
    UsageError
        For a check that does not exist or needs a model.
    OutputError
        When ``out`` exists and is not empty, or cannot be written.
    """
    from classifier.audit.health import HealthSettings
    from classifier.audit.report import select_checks
    from classifier.engine.partitions import check_target

    settings = settings or HealthSettings()
    selected = select_checks(checks, None, settings)
    if out is not None:
        check_target(Path(out))
    partitions, found = plan_columns(client, name, taxonomy, columns, True)
    workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    width = buckets or max(1, min(len(partitions), 2 * workers))
    report = _report(client, name, partitions, taxonomy, found, selected, settings, width,
                     chunk_rows, progress)  # fmt: skip
    if out is None:
        return DistributedAudit(report)
    with result_directory(Path(out)) as temp:
        index = 0
        for part in _parts_of(report, FINDINGS_PER_PART):
            write_part(temp, index, part)
            index += 1
    return DistributedAudit(report, Path(out), index)


def _parts_of(report: AuditReport, rows: int) -> Iterable[pd.DataFrame]:
    """The findings in report order, cut into frames of ``rows`` (one empty frame for none)."""
    import pandas as pd

    held, size = [], 0
    for batch in report.batches():
        while len(batch):
            take = batch.iloc[: rows - size]
            held.append(take)
            size += len(take)
            batch = batch.iloc[len(take) :]
            if size == rows:
                yield pd.concat(held, ignore_index=True)
                held, size = [], 0
    if held or not len(report.found):
        yield pd.concat(held, ignore_index=True) if held else report.findings


def _report(
    client: Client,
    name: str,
    partitions: list[Partition],
    taxonomy: Taxonomy,
    columns: Columns,
    selected: dict[str, Any],
    settings: HealthSettings,
    width: int,
    chunk_rows: int,
    progress: Callable[[int, int], None] | None,
) -> AuditReport:
    from classifier.audit.findings import FindingsWriter
    from classifier.audit.report import HEALTH_CHECKS, report_of
    from classifier.audit.spill import MEMORY_ROWS
    from classifier.audit.tally import Tally

    names = list(selected)
    shipped = broadcast(client, taxonomy)
    parts = [
        client.submit(audit_partition, p, shipped, columns, names, width, chunk_rows, pure=False)
        for p in partitions
    ]
    summaries = client.map(part_summary, parts, pure=False)
    if progress is not None:
        from distributed import as_completed

        for done, _ in enumerate(as_completed(summaries), 1):
            progress(done, len(partitions))
    tally = Tally(taxonomy)
    signatures: dict[int, str] = {}
    with FindingsWriter(tally, memory_rows=MEMORY_ROWS) as writer:
        while summaries:  # in file order, one file's findings here at a time
            findings, part_tally, part_names = summaries.pop(0).result()
            tally.extend(part_tally)
            signatures.update(part_names)
            for chunk in findings:
                writer.add(chunk)
        cross = _cross_row(client, parts, partitions, names, signatures, width)
        tail = [check(tally) for name_, check in selected.items() if name_ in HEALTH_CHECKS]
        del parts
        found = writer.findings(cross, tail)
    return report_of(name, tally, found, None, settings, names)


def _cross_row(
    client: Client,
    parts: list[Any],
    partitions: list[Partition],
    names: list[str],
    signatures: dict[int, str],
    width: int,
) -> pd.DataFrame | None:
    """The cross-row findings: the shuffle of the parts' keys, ids fetched from the parts."""
    import numpy as np

    from classifier.audit.duplicates import CROSS_ROW_CHECKS, combine_cross_row

    if any(check in CROSS_ROW_CHECKS for check in names):
        shipped_names = broadcast(client, signatures)
        cross = {}
        for by in ("id", "text"):
            cross[by] = [
                client.submit(
                    bucket_findings,
                    shipped_names,
                    names,
                    by,
                    *[client.submit(bucket_of, part, by, b, pure=False) for part in parts],
                    pure=False,
                )
                for b in range(width)
            ]
        combined = combine_cross_row(*client.gather(cross["id"] + cross["text"]))
        rows = combined["row"].to_numpy(dtype=np.int64)
        firsts = np.array([p.first_row for p in partitions], dtype=np.int64)
        owner = np.searchsorted(firsts, rows, side="right") - 1
        ids = np.empty(rows.size, dtype=object)
        lookups = {
            i: (np.flatnonzero(owner == i), client.submit(ids_at, parts[i], rows[owner == i]))
            for i in np.unique(owner).tolist()
        }
        for positions, future in lookups.values():
            ids[positions] = future.result()
        return combined.assign(id=ids)
    return None
