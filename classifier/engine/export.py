"""An export of a dataset on a Dask cluster: chunks selected (and suggested) on the workers.

Each worker runs ``export.teams.export_chunk`` (what ``feedtag export`` runs per chunk) on every
chunk of its file, with the model sent to every worker once for ``--suggest``. This machine
takes the files' results in dataset order, marks duplicate ids across them (``SeenIds``, the
combine step) and writes the export directory with ``writer.write_exports``: the same files,
byte for byte, as the single-machine export. An export is files per team for people to read,
so it is written here, not as Parquet parts; only a few files are in flight at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.dataset import CHUNK_ROWS
from classifier.engine.cluster import broadcast
from classifier.engine.partitions import Partition, partition_corpora, plan_columns

if TYPE_CHECKING:
    from distributed import Client

    from classifier.corpus import Columns
    from classifier.export.teams import Export, Selection
    from classifier.model.predictor import Predictor
    from classifier.taxonomy import Taxonomy


def export_partition(
    partition: Partition,
    taxonomy: Taxonomy,
    columns: Columns | None,
    selection: Selection,
    model: Predictor | None,
    chunk_rows: int,
) -> list[Export]:
    """On a worker: ``export_chunk`` of every chunk of one file (duplicates not yet marked)."""
    from classifier.export.teams import export_chunk, model_suggester

    suggest = model_suggester(model) if model is not None else None
    chunks = partition_corpora(
        partition, taxonomy, columns, require_tags=model is None, chunk_rows=chunk_rows
    )
    return [export_chunk(chunk, selection, suggest) for chunk in chunks]


def distributed_export(
    client: Client,
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None,
    selection: Selection,
    out: str | Path,
    *,
    format: str = "csv",
    force: bool = False,
    model: Predictor | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> Export:
    """``export_chunks`` of the dataset ``name``, its files selected on the cluster's workers.

    ``model`` fills missing tags (``--suggest``). ``progress(files_done, files)`` ticks as
    each file's rows are written. Returns the export's summary, as ``export_chunks``.

    Raises
    ------
    CorpusError
        As the single-machine path, naming the file and row.
    UsageError, OutputError
        As ``export_chunks``: a bad selection, or ``out`` not writable or not empty.
    """
    from classifier.export.teams import SeenIds, check_out_dir
    from classifier.export.writer import write_exports

    check_out_dir(out, force)
    partitions, found = plan_columns(client, name, taxonomy, columns, model is None)
    shipped = [broadcast(client, value) for value in (taxonomy, selection, model)]
    window = 2 * max(1, len(client.scheduler_info(n_workers=-1)["workers"]))

    def submit(partition: Partition) -> Any:
        return client.submit(
            export_partition, partition, shipped[0], found, *shipped[1:], chunk_rows, pure=False
        )

    def parts() -> Iterator[Export]:
        """The chunks in dataset order, duplicates marked; a few files computed ahead."""
        seen = SeenIds()
        pending = deque(submit(p) for p in partitions[:window])
        for done, _ in enumerate(partitions, 1):
            future = pending.popleft()
            if done + window <= len(partitions):
                pending.append(submit(partitions[done + window - 1]))
            chunks = future.result()
            future.release()
            for chunk in chunks:
                yield seen.mark(chunk)
            if progress is not None:
                progress(done, len(partitions))

    return write_exports(parts(), out, format=format, force=force)
