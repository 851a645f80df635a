"""An audit's findings in report order: in memory, or on disk and read a batch at a time.

Report order: row findings (the row checks, then the cross-row checks) by row, then
``ORDER``; then ``suspect-tag`` findings, worst score first; then the taxonomy's, by ``ORDER``.
A dataset read in chunks gives its row findings chunk by chunk, already by row, and its
cross-row findings at the end, by row. ``FindingsWriter`` keeps the chunks' findings (past
``memory_rows`` messages in Arrow files in a temporary directory) and puts each one together
with the cross-row findings of its rows when read: the report's findings come out in
report order a chunk at a time, and their memory does not grow with the corpus. The summary's
counts are taken as findings arrive (``FindingCounts``).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.audit.checks import COLUMNS, ROW_CHECKS
from classifier.audit.duplicates import CROSS_ROW_CHECKS, cross_row_order
from classifier.errors import OutputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from classifier.audit.tally import Tally

ROW_ORDER = (*ROW_CHECKS, *CROSS_ROW_CHECKS)  # the checks whose findings have a row
ORDER = (*ROW_ORDER, "suspect-tag", "rare-tag", "unused-tag", "confusable-tags", "catch-all")
TEXT_COLUMNS = ("check", "severity", "axis", "tags", "message", "fix")
COUNTED = ["row", "check", "severity", "axis"]  # what ``FindingCounts`` reads


class FindingCounts:
    """What the summary counts of the findings: per check, severity, agent (errors and
    warnings, by the tally's agent code) and, for suspects, axis."""

    def __init__(self) -> None:
        self.checks: Counter[str] = Counter()
        self.severities: Counter[str] = Counter()
        self.suspects: Counter[str] = Counter()
        self.agent_errors: Counter[int] = Counter()
        self.agent_warnings: Counter[int] = Counter()

    def add(self, found: pd.DataFrame, tally: Tally) -> None:
        """Count ``found``, findings of rows ``tally`` has counted."""
        import numpy as np

        if found.empty:
            return
        check = found["check"].to_numpy(dtype=object)
        severity = found["severity"].to_numpy(dtype=object)
        self.checks.update(Counter(check.tolist()))
        self.severities.update(Counter(severity.tolist()))
        suspect = check == "suspect-tag"
        if suspect.any():
            self.suspects.update(found["axis"].to_numpy(dtype=object)[suspect].tolist())
        if tally.agents is None:
            return
        agent = tally.agent_of(_floats(found["row"], "Int64"))
        for counts, level in ((self.agent_errors, "error"), (self.agent_warnings, "warning")):
            codes = agent[(agent >= 0) & (severity == level)]
            counts.update(dict(zip(*np.unique(codes, return_counts=True), strict=True)))

    def by_check(self) -> dict[str, int]:
        """Findings per check, most first (ties in ``ORDER``)."""
        rank = {name: i for i, name in enumerate(ORDER)}
        order = sorted(self.checks, key=lambda c: (-self.checks[c], rank.get(c, len(rank))))
        return {name: int(self.checks[name]) for name in order}


class Findings:
    """Findings in report order, read whole (``frame``) or a batch at a time (``batches``).

    ``pieces`` make the batches, in order; files they read are removed with the object (or
    by ``close``).
    """

    def __init__(
        self,
        pieces: list[Callable[[], pd.DataFrame]],
        counts: FindingCounts,
        directory: Path | None = None,
    ) -> None:
        self._pieces = pieces
        self.counts = counts
        self._cleanup = (
            weakref.finalize(self, shutil.rmtree, directory, True) if directory else None
        )

    @classmethod
    def of(cls, parts: list[pd.DataFrame], tally: Tally) -> Findings:
        """The findings of every check (parts in any order), ordered at once in memory."""
        counts = FindingCounts()
        for part in parts:
            counts.add(part, tally)
        frame = order_findings(parts)
        return cls([lambda: frame], counts)

    def __len__(self) -> int:
        return sum(self.counts.checks.values())

    def batches(self) -> Iterator[pd.DataFrame]:
        """The findings in report order, a frame at a time (``COLUMNS``; no empty frames)."""
        for piece in self._pieces:
            frame = piece()
            if len(frame):
                yield frame

    def frame(self) -> pd.DataFrame:
        """Every finding in one frame."""
        import pandas as pd

        batches = list(self.batches())
        if len(batches) == 1:
            return batches[0]
        return pd.concat(batches, ignore_index=True) if batches else order_findings([])

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()


class FindingsWriter:
    """The findings of a dataset read in chunks: each chunk's row findings (``add``, by row),
    then the cross-row and taxonomy findings (``findings``). Up to ``memory_rows`` messages
    they are held compactly in memory; past that, each chunk's go to an Arrow file in a
    temporary directory (``TMPDIR`` decides where). Use as a context manager: the files go
    with the ``Findings`` made, or when the audit fails."""

    def __init__(self, tally: Tally, *, memory_rows: int, directory: str | Path | None = None):
        self.tally = tally
        self.memory_rows = memory_rows
        self.directory = directory
        self.counts = FindingCounts()
        self._chunks: list[tuple[pd.DataFrame | Path, int]] = []  # with its last row
        self._spill: Path | None = None

    def add(self, found: pd.DataFrame) -> None:
        """One chunk's row findings (``compact_findings``), ordered by row, after the
        previous chunk's; the tally has counted the chunk."""
        if found.empty:
            return
        self.counts.add(found, self.tally)
        self._chunks.append((found, int(found["row"].iat[-1])))
        if self._spill is None and self.tally.messages > self.memory_rows:
            self._spill = _temporary(self.directory)
            self._chunks = [(self._write(c, i), last) for i, (c, last) in enumerate(self._chunks)]
        elif self._spill is not None:
            self._chunks[-1] = (self._write(found, len(self._chunks) - 1), self._chunks[-1][1])

    def findings(self, cross: pa.Table | pd.DataFrame | None, tail: list[pd.DataFrame]) -> Findings:
        """The report's findings: the chunks', the cross-row ones (``combine_cross_row``, in
        any order) each read with the chunk of its rows, then ``tail`` (suspects and
        taxonomy)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        order, rows = None, np.zeros(0, np.int64)
        if cross is not None:
            cross = findings_table(cross)  # held as Arrow: a few bytes a message
            for start in range(0, cross.num_rows, 100_000):  # a slice at a time: no peak
                self.counts.add(_counted(cross.slice(start, 100_000)), self.tally)
            ranks = pc.index_in(cross["check"], value_set=pa.array(CROSS_ROW_CHECKS))
            rows = cross["row"].to_numpy()
            order = cross_row_order(rows, ranks.to_numpy())
            rows = rows[order]
        for part in tail:
            self.counts.add(part, self.tally)
        pieces: list[Callable[[], pd.DataFrame]] = []
        start = 0
        for chunk, last in self._chunks:
            stop = int(np.searchsorted(rows, last, side="right"))
            pieces.append(_merged(chunk, cross, order, start, stop))
            start = stop
        if cross is not None and start < len(cross):
            pieces.append(_merged(None, cross, order, start, len(cross)))
        pieces.append(lambda: order_findings(list(tail)))
        made = Findings(pieces, self.counts, self._spill)
        self._chunks, self._spill = [], None  # the files are the Findings' now
        return made

    def close(self) -> None:
        self._chunks = []
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None

    def __enter__(self) -> FindingsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, found: pd.DataFrame, index: int) -> Path:
        import pyarrow as pa

        assert self._spill is not None
        path = self._spill / f"findings-{index:06d}.arrow"
        table = pa.Table.from_pandas(found, preserve_index=False)
        try:
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
                out.write_table(table)
        except OSError as error:
            raise OutputError(
                f"{self._spill}: cannot write the audit's findings ({error}): set TMPDIR to a "
                "folder with room (about 60 bytes a finding)"
            ) from None
        return path


def _temporary(directory: str | Path | None) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix="feedtag-findings-", dir=directory))
    except OSError as error:
        raise OutputError(
            f"cannot make a temporary directory for the audit's findings ({error.strerror}): "
            "set TMPDIR to a folder with room"
        ) from None


def _read(chunk: pd.DataFrame | Path) -> pd.DataFrame:
    import pyarrow as pa

    if not isinstance(chunk, Path):
        return chunk
    with pa.OSFile(str(chunk), "rb") as source:
        return pa.ipc.open_file(source).read_all().to_pandas()


def _merged(
    chunk: pd.DataFrame | Path | None,
    cross: pa.Table | None,
    order: np.ndarray | None,
    start: int,
    stop: int,
) -> Callable[[], pd.DataFrame]:
    """A piece: the chunk's findings and the cross-row findings ``order[start:stop]`` (those
    of its rows), in report order."""

    def piece() -> pd.DataFrame:
        import pyarrow as pa

        parts = [] if chunk is None else [_read(chunk)]
        if cross is not None and order is not None and stop > start:
            parts.append(cross.take(pa.array(order[start:stop])).to_pandas())
        return order_findings(parts)

    return piece


def _counted(found: pa.Table) -> pd.DataFrame:
    """What ``FindingCounts`` reads of ``found``, text as categoricals (a few strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa.table(
        {c: found[c] if c == "row" else pc.dictionary_encode(found[c]) for c in COUNTED}
    ).to_pandas()


def findings_table(found: pa.Table | pd.DataFrame) -> pa.Table:
    """Findings (``COLUMNS``) as an Arrow table: text in Arrow buffers, not Python strings."""
    import pyarrow as pa

    if isinstance(found, pa.Table):
        return found
    return pa.Table.from_pandas(found[COLUMNS], schema=_schema(), preserve_index=False)


def _schema() -> pa.Schema:
    import pyarrow as pa

    text = [(column, pa.string()) for column in ("id", *TEXT_COLUMNS)]
    return pa.schema([("row", pa.int64()), *text, ("score", pa.float64())])


def compact_findings(found: pd.DataFrame) -> pd.DataFrame:
    """Findings held between chunks: repeated strings as categoricals, ids as Arrow text."""
    import pandas as pd
    import pyarrow as pa

    if found.empty:
        return found
    compact = {column: found[column].astype("category") for column in TEXT_COLUMNS}
    compact["id"] = found["id"].astype(pd.ArrowDtype(pa.string()))
    return found.assign(**compact)


def order_findings(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Findings of all checks in report order: row findings by row then ``ORDER``, then
    suspects by score, then taxonomy findings by ``ORDER``; ties keep their parts' order.

    Consumes ``parts`` (plain or ``compact_findings`` frames): the result is built one column
    at a time and each part's column dropped once copied, so a large audit's findings are
    never held twice. Text columns come out as ``object``, ``row`` as ``Int64``.
    """
    import numpy as np
    import pandas as pd

    kept = [part.copy(deep=False) for part in parts if len(part)]
    parts.clear()
    text = {column: object for column in COLUMNS if column not in ("row", "score")}
    if not kept:
        empty = pd.DataFrame(columns=COLUMNS)
        return empty.astype({"row": "Int64", "score": "float64", **text})
    check = np.concatenate([part["check"].to_numpy(dtype=object) for part in kept])
    rows = np.concatenate([_floats(part["row"], "Int64") for part in kept])
    score = np.concatenate([_floats(part["score"], "Float64") for part in kept])
    group = np.where(check == "suspect-tag", 1, np.where(np.isin(check, ROW_ORDER), 0, 2))
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
