"""A dataset as partitions for the workers, and a result as a directory of Parquet parts.

One partition per file of the dataset (``classifier.dataset.dataset_files``: a directory,
Hive-style partitions included, or a glob). The workers survey the files first (rows from
Parquet metadata, columns from the schema; other formats are counted by reading them), so
every partition knows the dataset row number of its first row and a distributed finding
carries the row number the single-machine path gives it. A worker reads its file in chunks
of ``chunk_rows`` with the same reader, and resolves each chunk with ``corpus_from_frame``.

The workers must be able to open the dataset's paths (a shared mount, or the same copy on
each). Results come back to this machine, which writes them: a new directory, filled under
a temporary name beside it and renamed at the end, so it is whole or absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.dataset import CHUNK_ROWS, dataset_files
from classifier.errors import CorpusError, OutputError, UsageError

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from classifier.corpus import Columns, Corpus
    from classifier.taxonomy import Taxonomy


@dataclass(frozen=True)
class Partition:
    """One file of the dataset ``dataset``: ``rows`` rows from dataset row ``first_row``."""

    index: int
    dataset: str
    file: str
    format: str
    first_row: int
    rows: int
    columns: tuple[str, ...]


def survey(file: str) -> tuple[str, int, tuple[str, ...]]:
    """A file's format, rows and columns (as its reader gives them), read cheaply."""
    from classifier.readers import format_of, iter_file_frames

    fmt = format_of(file)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(file)
            first = next(parquet.iter_batches(batch_size=1), None)
        except FileNotFoundError:
            raise CorpusError(f"{file}: no such file (is the dataset on every worker?)") from None
        except (pa.ArrowException, OSError) as err:
            detail = " ".join(str(err).split())[:200]
            raise CorpusError(f"{file}: not a readable Parquet file ({detail})") from None
        names = parquet.schema_arrow.names if first is None else first.to_pandas().columns
        return fmt, parquet.metadata.num_rows, tuple(map(str, names))
    rows, columns = 0, ()
    for frame in iter_file_frames(file, fmt, CHUNK_ROWS):
        rows += len(frame)
        columns = columns or tuple(map(str, frame.columns))
    return fmt, rows, columns


def plan(client: Client, name: str) -> list[Partition]:
    """The dataset's partitions, in reading order, each with its first row number.

    Raises
    ------
    CorpusError
        For an unreadable file, a file whose columns differ from the first's, or no rows.
    UsageError
        For standard input, which the workers cannot read.
    """
    from classifier.dataset import conform_columns

    if name == "-":
        raise UsageError("--engine dask reads files the workers can open, not standard input")
    files = dataset_files(name)
    surveyed = client.gather(client.map(survey, files, pure=False))
    partitions, first_row, schema = [], 1, None
    for index, (file, (fmt, rows, columns)) in enumerate(zip(files, surveyed, strict=True)):
        if rows and schema is None:
            schema = (file, list(columns))
        elif rows and set(columns) != set(schema[1]):
            import pandas as pd

            conform_columns(file, pd.DataFrame(columns=list(columns)), *schema)
        partitions.append(Partition(index, name, file, fmt, first_row, rows, columns))
        first_row += rows
    if schema is None:
        where = "in the file" if len(files) == 1 else f"in any of its {len(files)} files"
        raise CorpusError(f"{name}: no messages {where} (only a header, or nothing)")
    order = tuple(schema[1])
    return [replace(p, columns=order) for p in partitions if p.rows]


def partition_corpora(
    partition: Partition,
    taxonomy: Taxonomy,
    columns: Columns | None,
    *,
    require_tags: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Corpus]:
    """The partition's chunks resolved, as ``classifier.dataset.iter_chunks`` resolves them."""
    from classifier.corpus import corpus_from_frame
    from classifier.readers import iter_file_frames

    first_row, file_row = partition.first_row, 1
    for frame in iter_file_frames(partition.file, partition.format, chunk_rows):
        if tuple(frame.columns) != partition.columns:
            frame = frame[list(partition.columns)]
        corpus = corpus_from_frame(
            frame,
            taxonomy,
            columns,
            name=partition.file,
            fmt=partition.format,
            require_tags=require_tags,
            first_row=first_row,
            file_row=file_row,
        )
        yield replace(corpus, path=partition.dataset)
        first_row += len(frame)
        file_row += len(frame)


def detect_columns(
    partition: Partition, taxonomy: Taxonomy, columns: Columns | None, require_tags: bool
) -> Columns:
    """The columns found on the dataset's first chunk (as the local path detects them)."""
    first = next(partition_corpora(partition, taxonomy, columns, require_tags=require_tags))
    return first.columns


def plan_columns(
    client: Client, name: str, taxonomy: Taxonomy, columns: Columns | None, require_tags: bool
) -> tuple[list[Partition], Columns]:
    """``plan`` of the dataset, and its columns as found on its first chunk by a worker."""
    partitions = plan(client, name)
    found = client.submit(detect_columns, partitions[0], taxonomy, columns, require_tags)
    return partitions, found.result()


def check_target(target: Path) -> None:
    """Refuse, before any work, a result directory that exists and holds anything."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputError(
            f"{target}: already exists; the result is a new directory of Parquet parts: "
            "remove it or name another"
        )


@contextmanager
def result_directory(target: Path) -> Iterator[Path]:
    """A temporary directory beside ``target`` to fill, renamed to ``target`` at the end of
    the block (removed if the block fails)."""
    target = Path(target)
    check_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as err:
        raise OutputError(f"{target}: cannot write here ({err.strerror})") from None
    try:
        mask = os.umask(0)
        os.umask(mask)
        temp.chmod(0o777 & ~mask)  # mkdtemp makes 0700; a result gets normal permissions
        yield temp
        if target.is_dir():
            target.rmdir()  # empty (check_target): replaced by the result
        temp.rename(target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def write_part(directory: Path, index: int, frame: pd.DataFrame) -> Path:
    """``frame`` as ``part-NNNNN.parquet`` in ``directory`` (sorted names = result order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = directory / f"part-{index:05d}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path
