"""A fitted model as plain files, and back: arrays in ``arrays.npz``, everything else JSON.

``model_files`` takes a fitted ``TagClassifier`` apart (it needs scikit-learn's fitted
vectorizers, so only training calls it); ``model_from_files`` builds a
``classifier.model.inference.LoadedModel`` from the bytes of those files, which ``store`` has
already checked against their sha256. Nothing read here can run code: JSON is data, and the
arrays are read with ``allow_pickle=False``.

Files (see ``classifier.model.schema`` for the JSON fields):

- ``model.json``: feature parameters and blocks (analyser, n-gram range, lower-casing,
  weight, tokenizer), the axes, and per axis its tag ids and linear members (kind, temperature).
- ``vocabulary.json``: per block, its n-grams as a list in column order.
- ``arrays.npz``: ``idf_B`` per block ``B``; ``weights_H_M`` (features x tags, float32) and
  ``bias_H_M`` per axis ``H`` (index into ``axes``) and member ``M``. Written with fixed
  timestamps, so the same model gives the same bytes and the same sha256.
- ``tokenizer.json``: spaCy's tokenizer rules, when a block uses the spaCy tokenizer.

A model with a sentence encoder (``classifier.model.embedding``) adds ``encoder`` to
``model.json`` (name, package, version, sha256, dim, weight); its weights have ``dim`` more rows
after the TF-IDF columns. A model without one has no ``encoder`` field, as before.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from classifier.errors import ModelError
from classifier.model.schema import Meta, ModelSpec, TokenizerRules, parse

if TYPE_CHECKING:
    from classifier.model.estimator import TagClassifier
    from classifier.model.inference import LoadedModel

MODEL_FILE = "model.json"
VOCABULARY_FILE = "vocabulary.json"
ARRAYS_FILE = "arrays.npz"
TOKENIZER_FILE = "tokenizer.json"


def model_files(model: TagClassifier) -> dict[str, bytes]:
    """The files of a fitted model, name -> bytes."""
    from classifier.model.embedding import JoinedFeatures, record
    from classifier.model.text import spacy_tokens

    features, encoder = model.features_, None
    if isinstance(features, JoinedFeatures):
        features, encoder = features.text, record(features.encoder, features.weight)
    blocks, vocabularies, arrays = [], [], {}
    uses_spacy = False
    for b, (vectorizer, weight) in enumerate(features.blocks_):
        _check_supported(vectorizer)
        block: dict[str, Any] = {
            "analyzer": vectorizer.analyzer,
            "ngram_range": list(vectorizer.ngram_range),
            "lowercase": bool(vectorizer.lowercase),
            "weight": float(weight),
        }
        if vectorizer.analyzer == "word":
            if vectorizer.tokenizer is spacy_tokens:
                block["tokenizer"] = "spacy"
                uses_spacy = True
            elif vectorizer.tokenizer is None:
                block["tokenizer"] = "regex"
                block["token_pattern"] = vectorizer.token_pattern
            else:
                raise ModelError(f"block {b}: a custom word tokenizer cannot be saved")
        blocks.append(block)
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        vocabularies.append(terms)
        arrays[f"idf_{b}"] = np.asarray(vectorizer.idf_)
    heads = {}
    for h, axis in enumerate(model.axes_):
        head = model.heads_[axis]
        for m, member in enumerate(head.members):
            arrays[f"weights_{h}_{m}"] = np.ascontiguousarray(member.weights)
            arrays[f"bias_{h}_{m}"] = np.asarray(member.bias, dtype=np.float64)
        heads[axis] = {
            "classes": [str(c) for c in head.classes],
            "members": [
                {"kind": m.kind, "temperature": float(m.temperature)} for m in head.members
            ],
        }
    spec = {
        "features": {
            "sublinear_tf": bool(features.sublinear_tf),
            "mask_urls": bool(features.mask_urls),
            "mask_emails": bool(features.mask_emails),
            "mask_numbers": bool(features.mask_numbers),
            "blocks": blocks,
        },
        "axes": list(model.axes_),
        "heads": heads,
    }
    if encoder is not None:
        spec["encoder"] = encoder
    files = {
        MODEL_FILE: (json.dumps(spec, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        # ASCII escapes: an n-gram may hold half of a surrogate pair, which UTF-8 cannot.
        VOCABULARY_FILE: json.dumps(vocabularies, separators=(",", ":")).encode("ascii"),
        ARRAYS_FILE: npz_bytes(arrays),
    }
    if uses_spacy:
        from classifier.model.tokenizer import export_rules

        rules = json.dumps(export_rules(), indent=1, ensure_ascii=True) + "\n"
        files[TOKENIZER_FILE] = rules.encode("ascii")
    return files


def _check_supported(vectorizer: Any) -> None:
    """Refuse vectorizer settings ``inference.Features`` does not reproduce."""
    expected = {
        "input": "content",
        "strip_accents": None,
        "preprocessor": None,
        "stop_words": None,
        "binary": False,
        "norm": "l2",
        "use_idf": True,
    }
    for name, value in expected.items():
        if getattr(vectorizer, name) != value:
            raise ModelError(f"vectorizer {name}={getattr(vectorizer, name)!r} cannot be saved")
    if vectorizer.analyzer not in ("word", "char_wb"):
        raise ModelError(f"analyzer {vectorizer.analyzer!r} cannot be saved")


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez_compressed`` output with fixed timestamps (deterministic bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as file:
                np.lib.format.write_array(file, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def model_from_files(
    payloads: dict[str, bytes], meta: Meta, directory: Path, never_suggest: Any
) -> LoadedModel:
    """A ``LoadedModel`` from verified file contents, every shape and type checked."""
    from classifier.model.heads import Head, Member
    from classifier.model.inference import Block, Features, LoadedModel

    spec = parse(ModelSpec, payloads[MODEL_FILE], directory / MODEL_FILE)
    vocabularies = _vocabularies(payloads[VOCABULARY_FILE], directory / VOCABULARY_FILE, spec)
    arrays = _Arrays(payloads[ARRAYS_FILE], directory / ARRAYS_FILE)
    words = None
    if any(b.tokenizer == "spacy" for b in spec.features.blocks):
        words = _spacy_words(payloads, directory)
    blocks = []
    for b, (block, terms) in enumerate(zip(spec.features.blocks, vocabularies, strict=True)):
        idf = arrays.get(f"idf_{b}", (len(terms),))
        tokens = None
        if block.analyzer == "word":
            if block.tokenizer == "spacy":
                tokens = words
            elif block.tokenizer == "regex" and block.token_pattern is not None:
                tokens = _regex_words(block.token_pattern, directory / MODEL_FILE, b)
            else:
                raise ModelError(
                    f"{directory / MODEL_FILE}: field 'features.blocks.{b}': a word block "
                    "needs tokenizer 'spacy', or 'regex' with a token_pattern"
                )
        vocabulary = {term: column for column, term in enumerate(terms)}
        blocks.append(
            Block(
                analyzer=block.analyzer,
                ngram_range=block.ngram_range,
                lowercase=block.lowercase,
                weight=block.weight,
                vocabulary=vocabulary,
                idf=idf.astype(np.float64),
                words=tokens,
            )
        )
    features: Any = Features(
        blocks=blocks,
        sublinear_tf=spec.features.sublinear_tf,
        mask_urls=spec.features.mask_urls,
        mask_emails=spec.features.mask_emails,
        mask_numbers=spec.features.mask_numbers,
    )
    if spec.encoder is not None:
        from classifier.model.embedding import JoinedFeatures, open_recorded

        encoder = open_recorded(spec.encoder, directory)
        features = JoinedFeatures(features, encoder, spec.encoder.weight)
    heads = {}
    for h, axis in enumerate(spec.axes):
        head = spec.heads.get(axis)
        if head is None:
            raise ModelError(f"{directory / MODEL_FILE}: field 'heads.{axis}' is missing")
        recorded = meta.taxonomy.tags.get(axis)
        if recorded != head.classes:
            raise ModelError(
                f"{directory}: meta.json 'taxonomy.tags.{axis}' and model.json "
                f"'heads.{axis}.classes' differ; the directory was edited by hand: retrain"
            )
        if axis not in meta.thresholds:
            raise ModelError(f"{directory / 'meta.json'}: field 'thresholds.{axis}' is missing")
        k = len(head.classes)
        members = [
            Member(
                kind=m.kind,
                weights=arrays.get(f"weights_{h}_{j}", (features.n_features_out_, k)),
                bias=arrays.get(f"bias_{h}_{j}", (k,)).astype(np.float64),
                temperature=m.temperature,
            )
            for j, m in enumerate(head.members)
        ]
        heads[axis] = Head(np.array(head.classes, dtype=object), members)
    return LoadedModel(
        features=features,
        heads=heads,
        thresholds=meta.thresholds,
        never_suggest=never_suggest,
        target_precision=meta.target_precision,
        cv_report=meta.metrics.cross_validated,
        n_rows=meta.training.rows_per_axis,
    )


def _vocabularies(payload: bytes, path: Path, spec: ModelSpec) -> list[list[str]]:
    try:
        vocabularies = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
    n = len(spec.features.blocks)
    if not isinstance(vocabularies, list) or len(vocabularies) != n:
        raise ModelError(f"{path}: expected a list of {n} vocabularies (one per block)")
    for b, terms in enumerate(vocabularies):
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise ModelError(f"{path}: vocabulary {b}: expected a list of strings")
        if len(set(terms)) != len(terms):
            raise ModelError(f"{path}: vocabulary {b}: an n-gram appears twice")
    return vocabularies


class _Arrays:
    """The arrays of ``arrays.npz``, each checked for its shape and a float type."""

    def __init__(self, payload: bytes, path: Path):
        self.path = path
        try:
            self.archive = np.load(io.BytesIO(payload), allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise ModelError(f"{path}: not a numpy .npz archive ({error})") from None
        if not hasattr(self.archive, "files"):
            raise ModelError(f"{path}: holds one array, not a .npz archive")

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in self.archive.files:
            raise ModelError(f"{self.path}: array '{name}' is missing")
        try:
            array = self.archive[name]
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            raise ModelError(f"{self.path}: array '{name}' cannot be read ({error})") from None
        if array.dtype.kind != "f" or array.shape != shape:
            raise ModelError(
                f"{self.path}: array '{name}' is {array.dtype} {array.shape}, "
                f"expected floats of shape {shape}"
            )
        return array


def _spacy_words(payloads: dict[str, bytes], directory: Path) -> Any:
    from classifier.model.tokenizer import RuleTokenizer

    path = directory / TOKENIZER_FILE
    if TOKENIZER_FILE not in payloads:
        raise ModelError(f"{path}: missing (model.json uses the spaCy tokenizer)")
    rules = parse(TokenizerRules, payloads[TOKENIZER_FILE], path)
    try:
        return RuleTokenizer(rules.model_dump()).words
    except re.error as error:
        raise ModelError(f"{path}: a pattern does not compile ({error})") from None


def _regex_words(pattern: str, path: Path, b: int) -> Any:
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ModelError(f"{path}: field 'features.blocks.{b}.token_pattern': {error}") from None
    if compiled.groups > 1:
        raise ModelError(f"{path}: field 'features.blocks.{b}.token_pattern': several groups")
    return compiled.findall
