"""Request and response bodies of the HTTP API, as pydantic models.

Requests are validated strictly (no string-to-number guessing, no unknown fields: a misspelt
field is an error, not silently dropped), and every failure is reported with the path of the
field, e.g. ``messages[3].text``. The response models are what ``/openapi.json`` publishes;
the tests check real responses against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from classifier.review.decisions import Decision

MAX_TEXT = 50_000  # characters in one message
MAX_TOP = 10
ACTION_VERBS = {"accept": "accepted", "override": "overridden", "skip": "skipped"}


def _as_text(value: Any) -> Any:
    """Help desks number their messages: an integer id is taken as its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


MessageId = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# --- suggest ------------------------------------------------------------------------------------


class Message(Strict):
    """A message to tag; ``id`` is echoed back.

    A blank text is refused: the model still answers for one, sometimes with ``auto``
    confidence (its priors), and an integration must not auto-tag a message nobody wrote.
    """

    id: MessageId | None = None
    text: Annotated[str, Field(max_length=MAX_TEXT)]

    @field_validator("text")
    @classmethod
    def _written(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("blank; there is nothing to suggest tags from")
        return text


class SuggestOne(Message):
    """``POST /v1/suggest`` with one message."""

    top: Annotated[int, Field(ge=1, le=MAX_TOP)] = 3


class SuggestBatch(Strict):
    """``POST /v1/suggest`` with a batch: ``{"messages": [...]}``."""

    messages: Annotated[list[Message], Field(min_length=1)]
    top: Annotated[int, Field(ge=1, le=MAX_TOP)] = 3

    @field_validator("messages")
    @classmethod
    def _at_most(cls, messages: list[Message], info: ValidationInfo) -> list[Message]:
        return _bounded(messages, info)


class Alternative(BaseModel):
    tag: str
    confidence: float


class AxisSuggestion(BaseModel):
    tag: str
    confidence: float
    status: Literal["auto", "review"]
    threshold: float | None = Field(description="null: the tag is never auto-accepted")
    alternatives: list[Alternative]


class SuggestionOut(BaseModel):
    """The fields of ``feedtag suggest --format json``, with the message's ``id``."""

    id: str | None
    axes: dict[str, AxisSuggestion]
    status: Literal["auto", "review"] = Field(description="auto only when every axis is auto")


class SuggestionsOut(BaseModel):
    suggestions: list[SuggestionOut]


# --- decisions ----------------------------------------------------------------------------------


class DecisionIn(Strict):
    """An agent's decision on one axis of one suggestion.

    ``action`` is ``accepted``, ``overridden`` or ``skipped`` (``accept``, ``override`` and
    ``skip`` are taken too). An accept may leave out ``final`` (it is the suggested tag); a
    skip has none. Tags are tag ids of the server's taxonomy.
    """

    message_id: MessageId
    axis: Name
    suggested: Name | None = None
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    final: Name | None = None
    action: Annotated[
        Literal["accepted", "overridden", "skipped"],
        BeforeValidator(lambda v: ACTION_VERBS.get(v, v) if isinstance(v, str) else v),
    ]
    agent: Name
    idempotency_key: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        None, description="or the Idempotency-Key header: a retry with it is stored once"
    )

    @field_validator("axis")
    @classmethod
    def _known_axis(cls, axis: str, info: ValidationInfo) -> str:
        taxonomy = (info.context or {}).get("taxonomy")
        if taxonomy is not None and axis not in taxonomy.axes:
            raise ValueError(f"unknown axis; the taxonomy has: {', '.join(taxonomy.axes)}")
        return axis

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> DecisionIn:
        taxonomy = (info.context or {}).get("taxonomy")
        final = self.final
        if self.action == "accepted" and final is None:
            final = self.suggested
        if self.action == "skipped" and final is not None:
            raise _field_error("final", "a skipped decision has no final tag")
        if self.action != "skipped" and final is None:
            raise _field_error("final", f"an {self.action} decision needs the final tag")
        if self.action == "accepted" and final != self.suggested:
            raise _field_error("final", "an accepted decision keeps the suggested tag")
        if self.action == "overridden" and final == self.suggested:
            raise _field_error("final", "an override picks a tag other than the suggested one")
        if taxonomy is not None and self.axis in taxonomy.axes:
            ids = taxonomy.axes[self.axis].ids
            for name in ("suggested", "final"):
                tag = final if name == "final" else self.suggested
                if tag is not None and tag not in ids:
                    raise _field_error(name, f"'{tag}' is not a tag id of axis '{self.axis}'")
        return self.model_copy(update={"final": final})

    def decision(self, model_version: str | None) -> Decision:
        return Decision(
            message_id=self.message_id,
            axis=self.axis,
            action=self.action,
            final=self.final,
            suggested=self.suggested,
            confidence=self.confidence,
            agent=self.agent,
            model_version=model_version,
        )


class DecisionOut(BaseModel):
    """The decision as stored; ``replayed`` when an earlier request with its key stored it."""

    seq: int
    step: int
    replayed: bool
    message_id: str
    axis: str
    suggested: str | None
    confidence: float | None
    final: str | None
    action: Literal["accepted", "overridden", "skipped"]
    agent: str
    model_version: str | None
    decided_at: str


# --- audit --------------------------------------------------------------------------------------

Tags = str | list[str]


class AuditMessage(Strict):
    """A tagged message: ``tags`` as a help desk exports them (a list, or ``"a; b"``), and/or
    ``axes`` with one tag (or list) per axis. Tags are matched by id, name or alias."""

    id: MessageId | None = None
    text: Annotated[str, Field(max_length=MAX_TEXT)]
    tags: Tags | None = None
    axes: dict[str, Tags] | None = None
    agent: str | None = None
    conversation_id: str | None = None
    created_at: str | None = None
    user_id: str | None = None

    @field_validator("axes")
    @classmethod
    def _known_axes(cls, axes: dict[str, Tags] | None, info: ValidationInfo):
        taxonomy = (info.context or {}).get("taxonomy")
        if axes and taxonomy is not None:
            unknown = [axis for axis in axes if axis not in taxonomy.axes]
            if unknown:
                raise ValueError(
                    f"unknown axis '{unknown[0]}'; the taxonomy has: {', '.join(taxonomy.axes)}"
                )
        return axes


class AuditRequest(Strict):
    """``POST /v1/audit``: tagged messages, the checks to run (default all), and whether the
    server's model judges the tags too (``suspect-tag``, ``confusable-tags`` and taxonomy
    health, as ``audit --model DIR``)."""

    messages: Annotated[list[AuditMessage], Field(min_length=1)]
    checks: list[str] | None = None
    model: bool = False

    @field_validator("messages")
    @classmethod
    def _at_most(cls, messages: list[AuditMessage], info: ValidationInfo):
        return _bounded(messages, info)

    @model_validator(mode="after")
    def _consistent(self) -> AuditRequest:
        from classifier.audit.report import MODEL_CHECKS, ORDER

        for name in self.checks or []:
            if name not in ORDER:
                raise _field_error(
                    "checks", f"unknown check '{name}'; choose from: {', '.join(ORDER)}"
                )
            if name in MODEL_CHECKS and not self.model:
                raise _field_error("checks", f"check '{name}' needs the model: add \"model\": true")
        if all(m.tags is None and not m.axes for m in self.messages):
            raise _field_error("messages", "no message has tags or axes: nothing to audit")
        return self


class Finding(BaseModel):
    row: int | None
    id: str | None
    check: str
    severity: Literal["error", "warning", "info"]
    axis: str | None
    tags: str | None
    message: str
    fix: str | None
    score: float | None


class AuditOut(BaseModel):
    """What ``feedtag audit --format json`` gives for the same messages."""

    summary: dict[str, Any]
    findings: list[Finding]


# --- errors -------------------------------------------------------------------------------------


class Problem(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    """Every 4xx and 5xx answer: one line, the field it is about, and every problem found."""

    error: str
    field: str | None = None
    problems: list[Problem] = []


class _FieldError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def _field_error(field: str, message: str) -> ValueError:
    """A model-level check that names one field (pydantic would name the whole object)."""
    return _FieldError(field, message)


def _bounded(items: list, info: ValidationInfo) -> list:
    limit = (info.context or {}).get("max_batch")
    if limit is not None and len(items) > limit:
        raise ValueError(f"{len(items)} messages; this server takes at most {limit} a request")
    return items


def problems(error: ValidationError) -> list[Problem]:
    """Pydantic's errors as (field path, message), e.g. ``messages[3].text``."""
    found = []
    for item in error.errors(include_url=False):
        path = [part for part in item["loc"] if not _is_type_tag(part)]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldError):
            path.append(cause.field)
            message = str(cause)
        else:
            message = item["msg"].removeprefix("Value error, ")
        found.append(Problem(field=field_path(path) or None, message=message))
    return found


def field_path(parts: list) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _is_type_tag(part: Any) -> bool:
    """Union members and wrappers pydantic puts in a location (``str``, ``function-after``)."""
    return isinstance(part, str) and (
        part in ("str", "int", "float", "list[str]", "none", "dict[str,union[str,list[str]]]")
        or "[" in part
        or part.startswith("function-")
    )
