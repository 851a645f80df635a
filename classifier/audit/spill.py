"""Cross-row keys of a large corpus, kept on disk in hash buckets so memory stays flat.

``audit_dataset`` collects ``cross_row_keys`` (about 70 bytes a message) and the ids of every
chunk. Up to ``memory_rows`` messages they stay in memory and ``cross_row_findings`` runs on all
of them at once. Past that, every chunk's keys go to disk split by text hash and by id hash
(``split_by_hash``, the Dask engine's shuffle), as Arrow IPC streams in a temporary directory
(``TMPDIR`` decides where; it is removed afterwards). The findings are then worked out one
bucket at a time, each complete for what it checks, and joined by ``combine_cross_row``: the
same rule, so the same findings, as the in-memory path.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.audit.duplicates import combine_cross_row, cross_row_findings, split_by_hash
from classifier.errors import OutputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

MEMORY_ROWS = 1_000_000
BUCKETS = 64
ID_TEXT = "id_text"  # the column of the ids themselves, to name the rows a finding flags


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
        self._schemas: dict[str, pa.Schema] = {}

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

    def findings(self, names: Mapping[int, str], checks: Iterable[str]) -> pd.DataFrame:
        """``cross_row_findings`` of every key added, with the ``id`` of each flagged row."""
        import pandas as pd

        checks = list(checks)
        if self._spill is None:
            if not self._held:
                return combine_cross_row()
            every = pd.concat(self._held, ignore_index=True)
            self._held = []
            return _named(every, names, checks, ("id", "text"))
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        parts = []
        for by in ("id", "text"):  # same-id duplicates first, as combine_cross_row asks
            for bucket in range(self.buckets):
                keys = self._read(by, bucket)
                if keys is not None:
                    parts.append(_named(keys, names, checks, (by,)))
        return combine_cross_row(*parts)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        self._held = []
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None

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
        import pyarrow as pa

        by_text, by_id = split_by_hash(keys, self.buckets, keep=[ID_TEXT])
        for by, pieces in (("text", by_text), ("id", by_id)):
            for bucket, piece in enumerate(pieces):
                if piece.empty:
                    continue
                schema = self._schemas.get(by) or self._schemas.setdefault(by, _schema(piece))
                table = pa.Table.from_pandas(piece, schema=schema, preserve_index=False)
                writer = self._writers.get((by, bucket))
                if writer is None:
                    writer = self._writers[by, bucket] = _stream(self._path(by, bucket), schema)
                try:
                    writer.write_table(table)
                except OSError as error:
                    raise OutputError(
                        f"{self._spill}: cannot write the audit's keys ({error}): set TMPDIR "
                        "to a folder with room (about 110 bytes a message)"
                    ) from None

    def _read(self, by: str, bucket: int) -> pd.DataFrame | None:
        import pyarrow as pa

        path = self._path(by, bucket)
        if not path.exists():
            return None
        with pa.OSFile(str(path), "rb") as source:
            table = pa.ipc.open_stream(source).read_all()
        path.unlink()
        return table.to_pandas()

    def _path(self, by: str, bucket: int) -> Path:
        assert self._spill is not None
        return self._spill / f"{by}-{bucket:04d}.arrow"


def _stream(path: Path, schema: pa.Schema) -> Any:
    import pyarrow as pa

    return pa.ipc.new_stream(pa.OSFile(str(path), "wb"), schema)


def _schema(piece: pd.DataFrame) -> pa.Schema:
    """The bucket files' schema: the keys' integer types, the ids as text."""
    import pyarrow as pa

    return pa.schema(
        [(c, pa.string() if c == ID_TEXT else pa.from_numpy_dtype(piece[c].dtype)) for c in piece]
    )


def _named(
    keys: pd.DataFrame, names: Mapping[int, str], checks: list[str], by: tuple[str, ...]
) -> pd.DataFrame:
    """``cross_row_findings`` of ``keys`` (complete for ``by``), ids filled from its rows."""
    import numpy as np
    import pandas as pd

    found = cross_row_findings(keys, names, checks=checks, by=by)
    if found.empty:
        return found
    ids = pd.Series(keys[ID_TEXT].to_numpy(dtype=object), index=keys["row"].to_numpy(np.int64))
    return found.assign(id=ids.loc[found["row"].to_numpy(np.int64)].to_numpy(dtype=object))
