"""Cross-row keys of a large corpus, kept on disk in hash buckets so they take no memory.

``audit_dataset`` collects ``cross_row_keys`` (about 70 bytes a message) and the ids of every
chunk. Up to ``memory_rows`` messages they stay in memory and ``cross_row_findings`` runs on all
of them at once. Past that, every chunk's keys go to disk split by text hash and by id hash
(``hash_buckets``, the rule of the Dask engine's shuffle), as Arrow IPC streams in a temporary
directory (``TMPDIR`` decides where; it is removed afterwards). The findings are then worked
out on runs of buckets of up to ``RUN_ROWS`` messages, each complete for what it checks, and
joined by ``combine_cross_row``: the same rule, so the same findings, as the in-memory path.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.audit.duplicates import (
    BY,
    DUPLICATE,
    combine_cross_row,
    cross_row_findings,
    first_reasons,
    hash_buckets,
)
from classifier.audit.findings import findings_table
from classifier.errors import OutputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

MEMORY_ROWS = 1_000_000
# Messages whose keys are checked at once past MEMORY_ROWS: at 10M messages, runs of 1M took
# the audit's peak from 0.5 to 0.8 GiB, runs of 400k to 0.64 GiB, and were no faster.
RUN_ROWS = 400_000
BUCKETS = 64
ID_TEXT = "id_text"  # the column of the ids themselves, to name the rows a finding flags
BY_ID = ["row", "id", ID_TEXT]


class CrossRowKeys:
    """The cross-row keys and ids of a corpus read chunk by chunk; use as a context manager."""

    def __init__(
        self,
        *,
        memory_rows: int = MEMORY_ROWS,
        buckets: int = BUCKETS,
        directory: str | Path | None = None,
    ):
        self.memory_rows = memory_rows
        self.buckets = buckets
        self.directory = directory
        self.rows = 0
        self._held: list[pd.DataFrame] = []
        self._spill: Path | None = None
        self._writers: dict[tuple[str, int], Any] = {}
        self._schema: pa.Schema | None = None
        self._rows: dict[tuple[str, int], int] = {}  # messages written per bucket file

    @property
    def spilled(self) -> bool:
        return self._spill is not None

    def add(self, keys: pd.DataFrame, ids: Iterable[Any]) -> None:
        """One chunk's ``cross_row_keys`` and its ids, in the same order."""
        import numpy as np

        keys = keys.assign(**{ID_TEXT: np.asarray(ids, dtype=object)})
        self.rows += len(keys)
        if self._spill is None:
            self._held.append(keys)
            if self.rows <= self.memory_rows:
                return
            self._open()
            held, self._held = self._held, []
            for part in held:
                self._write(part)
        else:
            self._write(keys)

    def findings(self, names: Mapping[int, str], checks: Iterable[str]) -> pa.Table:
        """``cross_row_findings`` of every key added, with the ``id`` of each flagged row
        (``findings.findings_table``: a few bytes a message, not Python strings), the
        disk's in no order (``FindingsWriter`` orders them)."""
        import pandas as pd
        import pyarrow as pa

        checks = list(checks)
        if self._spill is None:
            if not self._held:
                return findings_table(combine_cross_row())
            every = pd.concat(self._held, ignore_index=True)
            self._held = []
            ids = pa.array(every.pop(ID_TEXT).to_numpy(dtype=object), pa.string())
            return findings_table(_named(every, names, checks, BY, ids))
        self._close_writers()
        parts = []
        for by in ("id", "text"):  # same-id duplicates first, as combine_cross_row asks
            for group in self._groups(by):  # any union of buckets is complete too
                keys = pa.concat_tables([self._read(by, bucket) for bucket in group])
                ids = keys[ID_TEXT]
                keys = keys.drop_columns([ID_TEXT]).to_pandas()
                parts.append(findings_table(_named(keys, names, checks, (by,), ids)))
        return _combined(parts)

    def _groups(self, by: str) -> list[list[int]]:
        """The buckets written, in runs of up to ``RUN_ROWS`` (or ``memory_rows``) messages,
        each checked at once: as few passes as memory allows, not one per bucket."""
        groups: list[list[int]] = [[]]
        held = 0
        for bucket in range(self.buckets):
            rows = self._rows.get((by, bucket), 0)
            if not rows:
                continue
            if groups[-1] and held + rows > max(min(self.memory_rows, RUN_ROWS), 1):
                groups.append([])
                held = 0
            groups[-1].append(bucket)
            held += rows
        return [group for group in groups if group]

    def close(self) -> None:
        self._close_writers()
        self._held = []
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None

    def _close_writers(self) -> None:
        for writer, sink in self._writers.values():
            writer.close()
            sink.close()
        self._writers.clear()

    def __enter__(self) -> CrossRowKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        try:
            self._spill = Path(tempfile.mkdtemp(prefix="feedtag-keys-", dir=self.directory))
        except OSError as error:
            raise OutputError(
                f"cannot make a temporary directory for the audit's keys ({error.strerror}): "
                "set TMPDIR to a folder with room (about 110 bytes a message)"
            ) from None

    def _write(self, keys: pd.DataFrame) -> None:
        """One chunk's keys into the bucket files: one Arrow table, sorted by bucket once per
        hash, then a zero-copy slice per bucket (the rule of ``split_by_hash``)."""
        import numpy as np
        import pyarrow as pa

        self._schema = self._schema or _schema(keys)
        table = pa.Table.from_pandas(keys, schema=self._schema, preserve_index=False)
        for by in ("text", "id"):
            bucket = hash_buckets(keys[by].to_numpy(), self.buckets)
            order = np.argsort(bucket, kind="stable")
            columns = [c for c in keys.columns if c != "id"] if by == "text" else BY_ID
            part = table.select(columns).take(pa.array(order))
            bounds = np.searchsorted(bucket[order], np.arange(self.buckets + 1))
            for b in np.flatnonzero(np.diff(bounds)).tolist():
                start, stop = int(bounds[b]), int(bounds[b + 1])
                try:
                    if (by, b) not in self._writers:
                        sink = pa.OSFile(str(self._path(by, b)), "wb")
                        self._writers[by, b] = (pa.ipc.new_stream(sink, part.schema), sink)
                    self._writers[by, b][0].write_table(part.slice(start, stop - start))
                except OSError as error:
                    raise OutputError(
                        f"{self._spill}: cannot write the audit's keys ({error}): set TMPDIR "
                        "to a folder with room (about 110 bytes a message)"
                    ) from None
                self._rows[by, b] = self._rows.get((by, b), 0) + stop - start

    def _read(self, by: str, bucket: int) -> pa.Table:
        import pyarrow as pa

        path = self._path(by, bucket)
        with pa.OSFile(str(path), "rb") as source:
            table = pa.ipc.open_stream(source).read_all()
        path.unlink()
        return table

    def _path(self, by: str, bucket: int) -> Path:
        assert self._spill is not None
        return self._spill / f"{by}-{bucket:04d}.arrow"


def _schema(piece: pd.DataFrame) -> pa.Schema:
    """The bucket files' schema: the keys' integer types, the ids as text."""
    import pyarrow as pa

    return pa.schema(
        [(c, pa.string() if c == ID_TEXT else pa.from_numpy_dtype(piece[c].dtype)) for c in piece]
    )


def _named(
    keys: pd.DataFrame,
    names: Mapping[int, str],
    checks: list[str],
    by: tuple[str, ...],
    ids: pa.Array | pa.ChunkedArray,
) -> pd.DataFrame:
    """``cross_row_findings`` of ``keys`` (complete for ``by``), the ``id`` of each flagged
    row taken from ``ids`` (in the keys' order; only those become Python strings)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    found = cross_row_findings(keys, names, checks=checks, by=by)
    if found.empty:
        return found
    rows = keys["row"].to_numpy(np.int64)
    at = pd.Series(np.arange(len(rows)), index=rows).loc[found["row"].to_numpy(np.int64)]
    return found.assign(id=ids.take(pa.array(at.to_numpy())).to_numpy(zero_copy_only=False))


def _combined(parts: list[pa.Table]) -> pa.Table:
    """``combine_cross_row`` of parts held as Arrow tables, left unordered (the findings'
    reader orders them: a sorted copy of them all would double their memory)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not parts:
        return findings_table(combine_cross_row())
    columns = [
        (part["row"].to_numpy(), pc.equal(part["check"], DUPLICATE).to_numpy()) for part in parts
    ]
    kept = [p.filter(pa.array(k)) for p, k in zip(parts, first_reasons(columns), strict=True)]
    return pa.concat_tables(kept)
