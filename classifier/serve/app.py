"""The HTTP API of ``feedtag serve``: a Starlette app over one loaded model and the decisions store.

Every answer is JSON (``/metrics`` aside), errors included: a malformed body, a missing field
or a wrong type is a 4xx naming the field, never a 500 or a traceback. A single suggestion runs
on the event loop (a millisecond or two, less than a hop to a thread and back would add);
batches and audits run in a worker thread so one big request does not stall the small ones.
Decisions go through the service's writer thread and are answered once committed.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from classifier.errors import FeedtagError, IdempotencyConflict
from classifier.serve import schemas
from classifier.serve.config import CONFIG_ENV, ServeConfig
from classifier.serve.metrics import CONTENT_TYPE, Metrics
from classifier.serve.service import ApiError, Service, load_service

if TYPE_CHECKING:
    from classifier.model.suggestion import Suggestion
    from classifier.taxonomy import Taxonomy

log = logging.getLogger("feedtag.serve")
OPEN = frozenset({"/healthz"})  # answers without a token
M = TypeVar("M", bound=BaseModel)


# --- reading requests ---------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def read_json(request: Request, limit: int) -> Any:
    """The body parsed as JSON, refused past ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body has {declared} bytes; this server takes at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is over {limit} bytes, the most this server takes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise ApiError(400, "the body is empty; send a JSON object")
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, f"the body is not valid JSON ({error})") from None


def validate(model: type[M], body: Any, context: dict[str, Any]) -> M:
    if not isinstance(body, dict):
        raise ApiError(422, f"the body must be a JSON object, not {type(body).__name__}")
    try:
        return model.model_validate(body, context=context)
    except ValidationError as error:
        found = schemas.problems(error)
        first = found[0]
        line = f"{first.field}: {first.message}" if first.field else first.message
        raise ApiError(422, line, first.field, found) from None


def _service(request: Request) -> Service:
    return request.app.state.service


# --- routes -------------------------------------------------------------------------------------


def _suggestion(message_id: str | None, suggestion: Suggestion, metrics: Metrics) -> dict:
    for axis, item in suggestion.axes.items():
        metrics.suggestions.labels(axis, item.status).inc()
    return {"id": message_id, **suggestion.to_dict()}


async def suggest(request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, service.config.max_body)
    context = {"max_batch": service.config.max_batch}
    if isinstance(body, dict) and "messages" in body:
        batch = validate(schemas.SuggestBatch, body, context)
        texts = [message.text for message in batch.messages]
        made = await run_in_threadpool(service.model.suggest, texts, batch.top)
        items = [
            _suggestion(m.id, s, service.metrics) for m, s in zip(batch.messages, made, strict=True)
        ]
        return JSONResponse({"suggestions": items})
    one = validate(schemas.SuggestOne, body, context)
    made = service.model.suggest_one(one.text, top=one.top)
    return JSONResponse(_suggestion(one.id, made, service.metrics))


async def decisions(request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, service.config.max_body)
    given = validate(schemas.DecisionIn, body, {"taxonomy": service.taxonomy})
    header = request.headers.get("idempotency-key")
    if header is not None and not 0 < len(header) <= 255:
        raise ApiError(422, "Idempotency-Key: give 1 to 255 characters", "Idempotency-Key")
    if header is not None and given.idempotency_key not in (None, header):
        raise ApiError(
            422,
            "idempotency_key: differs from the Idempotency-Key header; send one of them",
            "idempotency_key",
        )
    key = header or given.idempotency_key
    try:
        stored = await service.writer.record(given.decision(service.version), key)
    except IdempotencyConflict as error:
        raise ApiError(409, str(error), "idempotency_key") from None
    decision = stored.decision
    service.metrics.decisions.labels(decision.action, str(stored.replayed).lower()).inc()
    answer = schemas.DecisionOut(
        seq=stored.seq,
        step=decision.step or 0,
        replayed=stored.replayed,
        message_id=decision.message_id,
        axis=decision.axis,
        suggested=decision.suggested,
        confidence=decision.confidence,
        final=decision.final,
        action=decision.action,
        agent=decision.agent,
        model_version=decision.model_version,
        decided_at=decision.decided_at,
    )
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if stored.replayed else 201)


def audit_frame(messages: list[schemas.AuditMessage], taxonomy: Taxonomy):
    """The request's messages as a corpus table, and which column holds what."""
    import pandas as pd

    from classifier.corpus import OPTIONAL, Columns

    table: dict[str, list] = {
        "id": [m.id if m.id is not None else str(i) for i, m in enumerate(messages, 1)],
        "text": [m.text for m in messages],
    }
    tags = None
    if any(m.tags is not None for m in messages):
        tags = "tags"
        table[tags] = [m.tags for m in messages]
    axes = {}
    for axis in taxonomy.axes:
        if any(m.axes and axis in m.axes for m in messages):
            axes[axis] = f"axes.{axis}"
            table[axes[axis]] = [(m.axes or {}).get(axis) for m in messages]
    optional = {}
    for role in OPTIONAL:
        if any(getattr(m, role, None) is not None for m in messages):
            optional[role] = role
            table[role] = [getattr(m, role, None) for m in messages]
    columns = Columns(id="id", text="text", tags=tags, axes=axes, **optional)
    return pd.DataFrame(table), columns


async def audit(request: Request) -> Response:
    from classifier.audit import run_audit
    from classifier.corpus import corpus_from_frame

    service = _service(request)
    body = await read_json(request, service.config.max_body)
    given = validate(
        schemas.AuditRequest,
        body,
        {"taxonomy": service.taxonomy, "max_batch": service.config.max_batch},
    )

    def work() -> dict:
        frame, columns = audit_frame(given.messages, service.taxonomy)
        corpus = corpus_from_frame(frame, service.taxonomy, columns, name="request")
        predictions = None
        if given.model:
            from classifier.audit.suspects import fitted_predictions

            predictions = fitted_predictions(corpus, service.model, service.meta, service.version)
        return run_audit(corpus, given.checks, predictions).to_dict()

    try:
        report = await run_in_threadpool(work)
    except FeedtagError as error:
        raise ApiError(422, str(error)) from None
    return JSONResponse(report)


async def taxonomy(request: Request) -> Response:
    return JSONResponse(_service(request).taxonomy.model_dump(mode="json"))


async def model(request: Request) -> Response:
    service = _service(request)
    return JSONResponse(model_info(service.meta, service.config.model, service.version))


def model_info(meta: dict[str, Any], directory: Path, version: str) -> dict[str, Any]:
    """What an integration shows about the model: which one, how it was calibrated, thresholds."""
    cross = meta.get("metrics", {}).get("cross_validated", {})
    keep = ("rows", "accuracy", "macro_f1", "coverage", "accuracy_at_threshold", "ece")
    metrics = {axis: {k: report.get(k) for k in keep} for axis, report in cross.items()}
    training = meta.get("training", {})
    from classifier.model.card import describe

    calibration = {
        "method": "temperature scaling and per-tag thresholds, per axis",
        "description": describe(meta.get("calibration")),
        "axes": meta.get("calibration") or {},
        "ece": {axis: report.get("ece") for axis, report in cross.items()},
    }
    return {
        "version": version,
        "name": Path(directory).name,
        "taxonomy": {k: meta["taxonomy"].get(k) for k in ("name", "sha256")},
        "calibration": calibration,
        "target_precision": meta.get("target_precision"),
        "thresholds": meta.get("thresholds", {}),
        "metrics": metrics,
        "training": {k: training.get(k) for k in ("rows", "source", "data_sha256")},
        "versions": meta.get("versions", {}),
    }


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(_service(request).metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


ROUTES = [
    Route("/v1/suggest", suggest, methods=["POST"]),
    Route("/v1/decisions", decisions, methods=["POST"]),
    Route("/v1/audit", audit, methods=["POST"]),
    Route("/v1/taxonomy", taxonomy, methods=["GET"]),
    Route("/v1/model", model, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
PATHS = frozenset(route.path for route in ROUTES)


# --- the guard: token, metrics and errors around every request ----------------------------------


class Guard:
    """Pure ASGI middleware: refuses requests without the token (401) and times every answer."""

    def __init__(self, app: Callable, service: Service):
        self.app, self.service = app, service
        self.token = None if service.token is None else service.token.encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        route = path if path in PATHS else "other"
        status = [500]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self.token is not None and path not in OPEN and not self._authorised(scope):
                response = ApiError(
                    401, "missing or wrong bearer token: send 'Authorization: Bearer TOKEN'"
                ).response()
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            metrics = self.service.metrics
            metrics.requests.labels(scope["method"], route, str(status[0])).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)

    def _authorised(self, scope: dict) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    given.strip(), self.token
                )
        return False


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error.response()


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    path = request.url.path
    text = {404: f"no route {path}", 405: f"{request.method} is not allowed on {path}"}
    answer = ApiError(error.status_code, text.get(error.status_code, str(error.detail))).response()
    if error.headers:
        answer.headers.update(error.headers)
    return answer


async def _unexpected(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return ApiError(500, f"internal error ({type(error).__name__}); see the server log").response()


def create_app(service: Service) -> Starlette:
    """The ASGI app over a loaded service; the store is closed when the server shuts down."""
    from starlette.middleware import Middleware

    from classifier.serve.openapi import document

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        service.close()

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(Guard, service=service)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.openapi = document()
    return app


def from_environment() -> Starlette:
    """The app a ``--workers`` process builds: configuration from ``FEEDTAG_SERVE_CONFIG``."""
    return create_app(load_service(ServeConfig.from_json(os.environ[CONFIG_ENV])))
