"""Datasets: a corpus given as one file, a directory of files, or a glob, read in chunks.

A large export does not fit in memory, and a data lake keeps it as a partitioned dataset
(``part-0000.parquet``, ``year=2026/month=11/...``). Every corpus command reads its input
through ``iter_chunks``: frames of at most ``chunk_rows`` rows, in file order then row order,
each resolved as a ``Corpus`` whose ``messages.row`` numbers the rows of the whole dataset
from 1. Commands keep only compact state across chunks, so memory follows the chunk size.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.errors import CorpusError
from classifier.readers import FORMATS, format_of, iter_file_frames

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Columns, Corpus
    from classifier.taxonomy import Taxonomy

CHUNK_ROWS = 200_000
GLOB_CHARACTERS = frozenset("*?[")


def dataset_files(name: str) -> list[str]:
    """The corpus files ``name`` stands for, in reading order.

    ``-`` (standard input) and a file stand for themselves. A directory stands for every
    corpus file under it (recursively, as Hive-style partitions nest), and a pattern with
    ``*``, ``?`` or ``[`` for the files it matches; both sorted by path, skipping names that
    start with ``.`` or ``_`` (``_SUCCESS``, ``.part-0.crc``), which engines write beside data.
    """
    if name == "-":
        return [name]
    path = Path(name)
    if path.is_dir():
        found = sorted(
            str(file)
            for file in path.rglob("*")
            if file.is_file()
            and file.suffix.lower() in FORMATS
            and not any(part.startswith((".", "_")) for part in file.relative_to(path).parts)
        )
        if not found and path.suffix.lower() in FORMATS:  # meant as a file
            raise CorpusError(f"{name}: is a directory, not a corpus file")
        if not found:
            known = ", ".join(sorted(FORMATS))
            raise CorpusError(f"{name}: a directory with no corpus files ({known}) in it")
        return found
    if GLOB_CHARACTERS & set(name) and not path.exists():
        found = sorted(
            file
            for file in glob.glob(name, recursive=True)
            if Path(file).is_file() and not Path(file).name.startswith((".", "_"))
        )
        if not found:  # a file whose name has brackets, say: the readers say it is missing
            return [name]
        for file in found:
            format_of(file)
        return found
    return [name]


def is_dataset(name: str) -> bool:
    """Whether ``name`` names more than a single file (a directory or a pattern)."""
    return name != "-" and (Path(name).is_dir() or dataset_files(name) != [name])


@dataclass(frozen=True)
class Chunk:
    """Rows of one file of a dataset: ``frame`` as read, its first row's number in its file
    and in the whole dataset (both from 1)."""

    file: str
    format: str
    frame: pd.DataFrame
    file_row: int
    first_row: int


def iter_frames(name: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """The dataset's rows, in chunks of at most ``chunk_rows``.

    Every file must have the columns of the first (the order may differ); a file with other
    columns is refused, naming both files.

    Raises
    ------
    CorpusError
        Naming the file, and the line or row where it can; also when no file has a row.
    """
    files = dataset_files(name)
    first_row = 1
    schema: tuple[str, list[str]] | None = None
    for file in files:
        fmt = format_of(file)
        file_row = 1
        for frame in iter_file_frames(file, fmt, chunk_rows):
            if schema is None:
                schema = (file, list(frame.columns))
            elif list(frame.columns) != schema[1]:
                frame = conform_columns(file, frame, *schema)
            yield Chunk(file, fmt, frame, file_row, first_row)
            file_row += len(frame)
            first_row += len(frame)
    if schema is None:
        where = "in the file" if len(files) == 1 else f"in any of its {len(files)} files"
        raise CorpusError(f"{name}: no messages {where} (only a header, or nothing)")


def conform_columns(file: str, frame: pd.DataFrame, first: str, columns: list[str]) -> pd.DataFrame:
    """``frame`` of ``file`` with ``columns`` (those of the dataset's ``first`` file) in their
    order; a clear error when the two files' columns differ."""
    if set(frame.columns) != set(columns):
        extra = sorted(set(map(str, frame.columns)) - set(map(str, columns)))
        lacking = sorted(set(map(str, columns)) - set(map(str, frame.columns)))
        detail = "; ".join(
            part
            for part in (
                f"it also has {', '.join(extra)}" if extra else "",
                f"it lacks {', '.join(lacking)}" if lacking else "",
            )
            if part
        )
        raise CorpusError(
            f"{file}: its columns differ from those of {first} ({detail}); "
            "every file of a dataset needs the same columns"
        )
    return frame[columns]


def iter_chunks(
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    *,
    require_tags: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Corpus]:
    """The dataset as a sequence of corpora, one per chunk, resolved as ``load_corpus`` would.

    Columns are detected on the first chunk and reused for the rest; each corpus's ``path``
    is ``name`` and its ``messages.row`` counts from the dataset's first row.
    """
    from classifier.corpus import corpus_from_frame

    found = columns
    for chunk in iter_frames(name, chunk_rows):
        corpus = corpus_from_frame(
            chunk.frame,
            taxonomy,
            found,
            name=chunk.file,
            fmt=chunk.format,
            require_tags=require_tags,
            first_row=chunk.first_row,
            file_row=chunk.file_row,
        )
        found = corpus.columns
        yield replace(corpus, path=name) if chunk.file != name else corpus


def read_dataset(name: str) -> tuple[pd.DataFrame, str]:
    """The whole dataset in one frame, and its format (that of its first file)."""
    import pandas as pd

    from classifier.readers import read_frame

    files = dataset_files(name)
    if len(files) == 1:
        fmt = format_of(files[0])
        return read_frame(files[0], fmt), fmt
    chunks = list(iter_frames(name, chunk_rows=2**31 - 1))
    return pd.concat([c.frame for c in chunks], ignore_index=True), chunks[0].format


def read_compact(
    name: str,
    taxonomy: Taxonomy,
    columns: Columns | None = None,
    *,
    roles: tuple[str, ...] = ("id", "text"),
    require_tags: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> Corpus:
    """The whole dataset as one ``Corpus`` holding only what a command keeps of every row.

    For commands that need all rows at once but few of their columns (``train`` fits on every
    text): read in chunks, each reduced to ``messages``' ``row`` and ``roles`` (those the
    dataset has) and the tags the taxonomy knows, so memory is those, not every column of
    the file. ``frame`` is empty (the columns, no rows): nothing may copy the input from it.
    """
    compact = CompactCorpus(roles)
    for corpus in iter_chunks(
        name, taxonomy, columns, require_tags=require_tags, chunk_rows=chunk_rows
    ):
        compact.add(corpus)
    return compact.corpus()


class CompactCorpus:
    """``read_compact`` fed chunk by chunk (``add``), for a command that reads the chunks
    for more than this (``audit --cross-validate`` runs its rule checks on the same read)."""

    def __init__(self, roles: tuple[str, ...] = ("id", "text")) -> None:
        self.roles = roles
        self.messages = 0
        self._messages: list[pd.DataFrame] = []
        self._tags: list[pd.DataFrame] = []
        self._first: Corpus | None = None

    def add(self, chunk: Corpus) -> None:
        """Keep ``chunk``'s rows (chunks in row order): ``row``, the roles, the known tags."""
        self._first = self._first or chunk
        roles = [role for role in self.roles if role in chunk.messages]
        self._messages.append(chunk.messages[["row", *roles]])
        known = chunk.tags[chunk.tags["axis"].notna()]
        self._tags.append(known.assign(message=known["message"].to_numpy() + self.messages))
        self.messages += len(chunk)

    def corpus(self) -> Corpus:
        """Every row added, as one ``Corpus`` (the parts are let go)."""
        import pandas as pd

        from classifier.corpus import Corpus

        first = self._first
        assert first is not None, "a compact corpus of no chunk"  # iter_frames refuses those
        messages, tags = self._messages, self._tags
        self._messages, self._tags = [], []
        kinds = ("column", "raw", "axis", "tag", "how")
        joined = pd.concat(tags, ignore_index=True) if len(tags) > 1 else tags[0]
        joined = joined.astype({kind: "category" for kind in kinds})
        return Corpus(
            first.path,
            first.format,
            first.frame.iloc[:0],
            first.columns,
            pd.concat(messages, ignore_index=True) if len(messages) > 1 else messages[0],
            joined.reset_index(drop=True),
            first.taxonomy,
        )
