"""The JSON files of a model directory, as validated objects.

``meta.json`` (what the model is: versions, taxonomy, training data, metrics, thresholds and the
sha256 of every file), ``model.json`` (how to compute features and scores) and
``tokenizer.json`` (spaCy's tokenizer rules) are parsed strictly: a string where a number
belongs, a list where an object belongs or a missing field is one ``ModelError`` line naming
the file and the field. Unknown fields of ``meta.json`` are kept (newer writers may add some);
``model.json`` and ``tokenizer.json`` allow none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from classifier.errors import ModelError

T = TypeVar("T", bound=BaseModel)
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class _Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class TaxonomyRecord(_Open):
    """The taxonomy a model was trained with."""

    name: str
    sha256: str
    tags: dict[str, list[str]]


class Training(_Open):
    """What trained the model; ``rows_per_axis`` is what loading reads."""

    rows_per_axis: dict[str, int] = Field(default_factory=dict)


class Metrics(_Open):
    """Out-of-fold metrics per axis (``classifier.model.metrics.axis_report``)."""

    cross_validated: dict[str, dict[str, Any]]


class Meta(_Open):
    """``meta.json`` of a format-2 model directory."""

    format_version: int
    versions: dict[str, str]
    taxonomy: TaxonomyRecord
    training: Training = Field(default_factory=Training)
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: Metrics
    thresholds: dict[str, dict[str, float | None]]
    target_precision: float | None = None
    files: dict[str, Sha256]
    model_sha256: Sha256


class BlockSpec(_Closed):
    """One TF-IDF block of ``TextFeatures``."""

    analyzer: Literal["word", "char_wb"]
    ngram_range: tuple[int, int]
    lowercase: bool
    weight: float
    tokenizer: Literal["spacy", "regex"] | None = None
    token_pattern: str | None = None


class FeaturesSpec(_Closed):
    """Masks, sublinear tf and the blocks, in column order."""

    sublinear_tf: bool
    mask_urls: bool
    mask_emails: bool
    mask_numbers: bool
    blocks: list[BlockSpec] = Field(min_length=1)


class MemberSpec(_Closed):
    """One linear member of a head; its weights and bias are in ``arrays.npz``."""

    kind: Literal["svc", "lr"]
    temperature: float


class HeadSpec(_Closed):
    """The tag ids of an axis (column order of its weights) and its members."""

    classes: list[str] = Field(min_length=1)
    members: list[MemberSpec]


class EncoderBlockSpec(_Closed):
    """The sentence encoder whose embedding follows the TF-IDF columns, and its weight."""

    name: str
    package: str
    version: str
    sha256: Sha256
    dim: int = Field(gt=0)
    weight: float = Field(gt=0)


class ModelSpec(_Closed):
    """``model.json``: everything but the arrays and the vocabularies."""

    features: FeaturesSpec
    axes: list[str] = Field(min_length=1)
    heads: dict[str, HeadSpec]
    encoder: EncoderBlockSpec | None = None  # absent: TF-IDF only


class Pattern(_Closed):
    """A compiled regular expression: its source and ``re`` flags."""

    pattern: str
    flags: int


class TokenizerRules(_Closed):
    """``tokenizer.json``: spaCy's English tokenizer rules (``classifier.model.tokenizer``)."""

    rules_version: Literal[1]
    spacy: str
    prefix: Pattern | None
    suffix: Pattern | None
    infix: Pattern | None
    token_match: Pattern | None
    url_match: Pattern | None
    faster_heuristics: bool
    special_cases: dict[str, list[str]]


def parse(schema: type[T], payload: bytes | str, path: Path) -> T:
    """``payload`` validated as ``schema``; the first problem as one line naming the field."""
    try:
        return schema.model_validate_json(payload)
    except ValidationError as error:
        raise ModelError(f"{path}: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """The first problem of a validation error: field path, what was wrong, what was found."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        return f"not valid JSON ({first['msg']})"
    found = first.get("input")
    if isinstance(found, dict | list):
        shown = f" (found {'an object' if isinstance(found, dict) else 'a list'})"
    else:
        shown = f" (found {repr(found)[:60]})"
    if first["type"] == "missing":
        return f"field '{where}' is missing"
    more = len(error.errors()) - 1
    tail = f"; and {more} more problem{'s' if more > 1 else ''}" if more else ""
    return f"field '{where}': {first['msg'][0].lower()}{first['msg'][1:]}{shown}{tail}"
