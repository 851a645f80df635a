"""What one ``feedtag serve`` worker holds: the model, its taxonomy, the decisions store.

Loaded once per worker (``load_service``) and shared by every request. The decisions store sits
behind one thread that owns its SQLite connection: a decision is answered only once its own
transaction is committed.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from classifier.review.decisions import DecisionStore, Recorded
from classifier.serve import schemas
from classifier.serve.config import ServeConfig
from classifier.serve.metrics import Metrics

if TYPE_CHECKING:
    from classifier.model.estimator import TagClassifier
    from classifier.taxonomy import Taxonomy


class ApiError(Exception):
    """An answer other than 2xx, with the field it is about."""

    def __init__(
        self,
        status: int,
        error: str,
        field: str | None = None,
        problems: list[schemas.Problem] | None = None,
    ):
        super().__init__(error)
        self.status, self.error, self.field = status, error, field
        self.problems = (
            problems if problems is not None else [schemas.Problem(field=field, message=error)]
        )

    def response(self) -> JSONResponse:
        body = schemas.ErrorOut(error=self.error, field=self.field, problems=self.problems)
        return JSONResponse(body.model_dump(mode="json"), status_code=self.status)


class DecisionWriter:
    """The decisions store behind one thread: SQLite connections stay in the thread that made
    them, and one writer per process is what SQLite's locking wants anyway."""

    def __init__(self, path: Path):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="feedtag-decisions")
        self._store: DecisionStore | None = self._pool.submit(DecisionStore, path).result()

    async def record(self, decision, key: str | None) -> Recorded:
        store = self._store
        if store is None:
            raise ApiError(503, "the server is shutting down; retry with the same key")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, store.record_once, decision, key)

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            self._pool.submit(store.close).result()
            self._pool.shutdown()


@dataclass
class Service:
    """What one worker holds: the model, its taxonomy and metadata, the store, the metrics."""

    config: ServeConfig
    taxonomy: Taxonomy
    model: TagClassifier
    meta: dict[str, Any]
    version: str
    token: str | None
    writer: DecisionWriter
    metrics: Metrics

    def close(self) -> None:
        self.writer.close()


def load_service(config: ServeConfig) -> Service:
    """Load the taxonomy and the model and open the decisions store (raises ``FeedtagError``)."""
    from classifier.model.store import load_model, read_meta
    from classifier.taxonomy import load_taxonomy

    token = config.token()
    taxonomy = load_taxonomy(config.taxonomy)
    model = load_model(config.model, taxonomy)
    meta = read_meta(config.model)
    version = f"{Path(config.model).name}@{str(meta['model_sha256'])[:12]}"  # as review records
    writer = DecisionWriter(config.db)
    return Service(config, taxonomy, model, meta, version, token, writer, Metrics())
