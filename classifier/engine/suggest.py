"""Suggestions for a dataset on a Dask cluster: a map over its files, the model sent once.

Each worker runs ``classifier.model.suggest.suggest_corpus`` (what ``feedtag suggest --input``
runs) on every chunk of its file; this machine writes each file's table as one Parquet part as
soon as it arrives. Concatenated in part order, the parts are the single-machine table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    import pandas as pd
    from distributed import Client

    from classifier.corpus import Columns
    from classifier.model.predictor import Predictor
    from classifier.taxonomy import Taxonomy


@dataclass(frozen=True)
class SuggestedParts:
    """What ``distributed_suggest`` wrote: ``parts`` Parquet files holding ``messages`` rows."""

    path: Path
    messages: int
    parts: int


def suggest_partition(
    partition: Partition,
    model: Predictor,
    taxonomy: Taxonomy,
    columns: Columns | None,
    top: int,
    chunk_rows: int,
) -> pd.DataFrame:
    """On a worker: the suggestions table of one file, chunk by chunk."""
    import pandas as pd

    from classifier.model.suggest import suggest_corpus

    tables = [
        suggest_corpus(model, corpus, top=top).table
        for corpus in partition_corpora(partition, taxonomy, columns, chunk_rows=chunk_rows)
    ]
    return pd.concat(tables, ignore_index=True)


def distributed_suggest(
    client: Client,
    name: str,
    model: Predictor,
    taxonomy: Taxonomy,
    columns: Columns | None,
    out: Path,
    *,
    top: int = 3,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> SuggestedParts:
    """Suggest for every message of the dataset ``name``; write the table to ``out``.

    ``out`` becomes a directory of ``part-NNNNN.parquet`` files, one per input file, with the
    columns of ``feedtag suggest --output x.csv`` (``id``, then per axis the tag, confidence
    and status, then ``status``); ``taxonomy`` resolves the rows as ``load_corpus`` does.
    ``progress(files_done, files)`` ticks as parts are written.

    Raises
    ------
    CorpusError
        As the single-machine path, naming the file and row.
    OutputError
        When ``out`` exists and is not empty, or cannot be written.
    """
    from distributed import as_completed

    with result_directory(out) as temp:
        partitions, found = plan_columns(client, name, taxonomy, columns, False)
        shipped_model, shipped_taxonomy = broadcast(client, model), broadcast(client, taxonomy)
        futures = [
            client.submit(
                suggest_partition,
                partition,
                shipped_model,
                shipped_taxonomy,
                found,
                top,
                chunk_rows,
                key=f"suggest-{partition.index}-{id(temp)}",
            )
            for partition in partitions
        ]
        index = {future.key: p.index for future, p in zip(futures, partitions, strict=True)}
        messages = 0
        for done, (future, table) in enumerate(as_completed(futures, with_results=True), 1):
            write_part(temp, index[future.key], table)
            messages += len(table)
            future.release()
            if progress is not None:
                progress(done, len(partitions))
    return SuggestedParts(Path(out), messages, len(partitions))
