"""The OpenAPI 3.1 description of the API, built from the pydantic models that validate it.

Request schemas are the very models the routes validate with, so the document cannot drift
from what the server accepts; response schemas are checked against real answers in the tests.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from classifier import __version__
from classifier.serve import schemas

REF = "#/components/schemas/{model}"
MODELS: list[type[BaseModel]] = [
    schemas.SuggestOne,
    schemas.SuggestBatch,
    schemas.SuggestionOut,
    schemas.SuggestionsOut,
    schemas.DecisionIn,
    schemas.DecisionOut,
    schemas.AuditRequest,
    schemas.AuditOut,
    schemas.ErrorOut,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    why = {
        400: "The body is not JSON, or not a JSON object",
        401: "No bearer token, or the wrong one (when the server has one)",
        409: "The idempotency key was used for another decision",
        413: "The body is larger than the server takes (--max-body)",
        422: "A field is missing, of the wrong type or out of range (named in `field`)",
    }
    return {str(code): _json(_ref(schemas.ErrorOut), why[code]) for code in codes}


def _post(summary: str, body: dict[str, Any], answers: dict[str, Any], *codes: int) -> dict:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {**answers, **_errors(400, 401, 413, 422, *codes)},
        }
    }


def _get(summary: str, description: str, *, auth: bool = True, text: bool = False) -> dict:
    content = "text/plain" if text else "application/json"
    answer = {"description": description, "content": {content: {"schema": {"type": "string"}}}}
    if not text:
        answer["content"][content]["schema"] = {"type": "object"}
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": answer}}
    if auth:
        operation["responses"].update(_errors(401))
    else:
        operation["security"] = []
    return {"get": operation}


def document() -> dict[str, Any]:
    """The whole OpenAPI document served at ``/openapi.json``."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in MODELS], ref_template=REF
    )
    one_or_batch = {"oneOf": [_ref(schemas.SuggestOne), _ref(schemas.SuggestBatch)]}
    paths = {
        "/v1/suggest": _post(
            "Suggest one tag per axis for one message, or for a batch",
            one_or_batch,
            {
                "200": {
                    "description": "One suggestion (for one message) or `suggestions` "
                    "(for a batch, in order)",
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    _ref(schemas.SuggestionOut),
                                    _ref(schemas.SuggestionsOut),
                                ]
                            }
                        }
                    },
                }
            },
        ),
        "/v1/decisions": _post(
            "Record an agent's accept, override or skip, durably, before answering",
            _ref(schemas.DecisionIn),
            {
                "201": _json(_ref(schemas.DecisionOut), "Stored"),
                "200": _json(_ref(schemas.DecisionOut), "Already stored under this key"),
            },
            409,
        ),
        "/v1/audit": _post(
            "Audit a batch of tagged messages as `feedtag audit --format json` would",
            _ref(schemas.AuditRequest),
            {"200": _json(_ref(schemas.AuditOut), "Summary and findings")},
        ),
        "/v1/taxonomy": _get("The taxonomy the server checks tags against", "The taxonomy"),
        "/v1/model": _get(
            "The model: version, calibration, thresholds, cross-validated metrics", "The model"
        ),
        "/healthz": _get("Liveness: answers without a token", '`{"status": "ok"}`', auth=False),
        "/metrics": _get("Prometheus metrics", "Text exposition format", text=True),
        "/openapi.json": _get("This document", "OpenAPI 3.1"),
    }
    paths["/v1/decisions"]["post"]["parameters"] = [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 255},
            "description": "A retry with the same key is stored once (or the "
            "`idempotency_key` field)",
        }
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "feedtag",
            "version": __version__,
            "description": "Tag suggestions, agents' decisions and audits for help-desk "
            "integrations. Send `Authorization: Bearer TOKEN` when the server has a token.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
