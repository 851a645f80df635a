"""The optional sentence-encoder block: embeddings joined to the TF-IDF features.

A model trained with ``TagClassifier(encoder=...)`` scores ``[tfidf | w * embedding]`` with the
same linear heads: the embedding (L2-normalised, ``dim`` dense columns) is appended to the sparse
TF-IDF block, scaled by the encoder weight ``w``, so each head learns one weight vector over
both and nothing downstream (temperatures, thresholds, ``Head.proba``/``proba_row``) changes.
The weight is tuned by cross-validation on the training data (``ENCODER_WEIGHTS``).

Embedding is the expensive step, so a fit embeds each distinct text once
(:class:`EmbeddingCache`), shortest first so batches pad little, and every fold, weight and the
final fit reuse those rows. The encoder itself comes from ``classifier.model.encoder`` (the
``feedtag[encoder]`` extra); a model directory records its name, package, version, sha256 and
dim, and :func:`open_recorded` refuses, in one line, an encoder that is missing or differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from classifier.errors import EncoderError

if TYPE_CHECKING:
    import scipy.sparse as sp

    from classifier.model.encoder import EncoderSpec

Progress = Callable[[int, int], None]

ENCODER_WEIGHTS = (0.5, 1.0, 2.0, 4.0)  # the TF-IDF word block has norm 1
BATCH_SIZE = 64
INSTALL = "pip install 'feedtag[encoder]'"


class Encoder(Protocol):
    """What the classifier needs of a sentence encoder (``classifier.model.encoder``)."""

    spec: EncoderSpec

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def open_encoder(encoder: str | EncoderSpec | Encoder) -> Encoder:
    """The encoder a ``TagClassifier(encoder=...)`` parameter names.

    A name (``default``: the recommended one) or an ``EncoderSpec`` is loaded from the
    ``feedtag[encoder]`` extra; an object with ``spec`` and ``encode`` is used as it is (how
    tests inject a small one).

    Raises
    ------
    EncoderError
        The extra is not installed, or the name is unknown.
    """
    from classifier.model import encoder as registry

    if hasattr(encoder, "encode") and hasattr(encoder, "spec"):
        return encoder  # type: ignore[return-value]
    name = getattr(encoder, "name", encoder)
    if not registry.available():
        raise EncoderError(f"sentence encoder '{name}' needs the encoder extra: {INSTALL}")
    if isinstance(encoder, str):
        return registry.load_encoder(registry.resolve_name(encoder))
    return registry.load_encoder(encoder)  # type: ignore[arg-type]


def record(encoder: Encoder, weight: float) -> dict[str, Any]:
    """What a model directory records of its encoder block (``model.json`` ``encoder``)."""
    spec = asdict(encoder.spec)
    return {
        "name": str(spec["name"]),
        "package": str(spec["package"]),
        "version": str(spec["version"]),
        "sha256": str(spec["sha256"]),
        "dim": int(spec["dim"]),
        "weight": float(weight),
    }


def check_installed(saved: Any, directory: Path) -> Any:
    """The registered spec of the encoder a saved model needs, checked without loading it.

    ``saved`` has ``name``, ``package``, ``version`` and ``sha256`` (``model.json``'s
    ``encoder``, or ``meta.json``'s through ``types.SimpleNamespace``).

    Raises
    ------
    EncoderError
        Naming the model directory and what to install: the extra is missing, this feedtag
        does not know the encoder, or the installed one has another version or sha256.
    """
    from classifier.model import encoder as registry

    if not registry.available():
        raise EncoderError(
            f"{_needs(saved, directory)}; the encoder extra is not installed: {INSTALL}"
        )
    known = registry.ENCODERS.get(saved.name)
    if known is None:
        raise EncoderError(
            f"{_needs(saved, directory)}, which this feedtag does not know: {_retrain(saved)}"
        )
    if (known.version, known.sha256) != (saved.version, saved.sha256):
        raise EncoderError(
            f"{_needs(saved, directory)}; installed is {known.version} "
            f"(sha256 {known.sha256[:12]}...): {_retrain(saved)}"
        )
    return known


def open_recorded(saved: Any, directory: Path) -> Encoder:
    """The installed encoder a saved model needs (``saved``: its ``model.json`` ``encoder``),
    checked by :func:`check_installed`, then loaded and checked again for sha256 and dim."""
    from classifier.model import encoder as registry

    known = check_installed(saved, directory)
    try:
        loaded = registry.load_encoder(known)
    except EncoderError as error:
        raise EncoderError(f"{directory}: {error}") from None
    if (loaded.spec.sha256, int(loaded.spec.dim)) != (saved.sha256, saved.dim):
        raise EncoderError(
            f"{_needs(saved, directory)}; the installed weights have sha256 "
            f"{loaded.spec.sha256[:12]}... and {loaded.spec.dim} dimensions: {_retrain(saved)}"
        )
    return loaded


def _needs(saved: Any, directory: Path) -> str:
    return (
        f"{directory}: the model needs sentence encoder '{saved.name}' ({saved.package} "
        f"{saved.version}, sha256 {saved.sha256[:12]}...)"
    )


def _retrain(saved: Any) -> str:
    return f"install {saved.package}=={saved.version} or retrain without --encoder"


class EmbeddingCache:
    """Embeddings of texts by text: each distinct text is encoded once, shortest first."""

    def __init__(self, encoder: Encoder, batch_size: int = BATCH_SIZE):
        self.encoder = encoder
        self.batch_size = batch_size
        self.rows: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[Any], *, keep: bool = True) -> np.ndarray:
        """``(len(texts), dim)`` float32 rows; with ``keep`` the new ones stay cached."""
        dim = int(self.encoder.spec.dim)
        texts = [t if isinstance(t, str) else "" for t in texts]
        missing = sorted({t for t in texts if t not in self.rows}, key=len)
        new: dict[str, np.ndarray] = {}
        if missing:
            vectors = np.asarray(self.encoder.encode(missing, batch_size=self.batch_size))
            if vectors.shape != (len(missing), dim):
                raise EncoderError(
                    f"sentence encoder '{self.encoder.spec.name}' returned shape "
                    f"{vectors.shape} for {len(missing)} texts, expected ({len(missing)}, {dim})"
                )
            new = dict(zip(missing, vectors.astype(np.float32, copy=False), strict=True))
            if keep:
                self.rows.update(new)
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([new[t] if t in new else self.rows[t] for t in texts])


def joined(tfidf: sp.csr_matrix, embedded: np.ndarray, weight: float) -> sp.csr_matrix:
    """``[tfidf | weight * embedded]`` as one float32 CSR matrix."""
    import scipy.sparse as sp

    dense = sp.csr_matrix(embedded * np.float32(weight))
    return sp.hstack([tfidf, dense], format="csr", dtype=np.float32)


class JoinedFeatures:
    """TF-IDF features (fitted ``TextFeatures`` or loaded ``inference.Features``) followed by
    the weighted embedding columns; ``features_`` of a model with an encoder.

    ``cache`` holds the training texts' embeddings after a fit; predictions read it and do not
    grow it, so a long-running server keeps no per-message state.
    """

    def __init__(
        self, text: Any, encoder: Encoder, weight: float, cache: EmbeddingCache | None = None
    ):
        self.text = text
        self.encoder = encoder
        self.weight = float(weight)
        self.cache = cache if cache is not None else EmbeddingCache(encoder)
        self.dim = int(encoder.spec.dim)
        self.n_features_out_ = int(text.n_features_out_) + self.dim

    def transform(self, texts: Sequence[Any]) -> sp.csr_matrix:
        texts = list(texts)
        return joined(self.text.transform(texts), self.cache.embed(texts, keep=False), self.weight)

    def sparse_row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        columns, values = self.text.sparse_row(text)
        vector = self.cache.embed([text], keep=False)[0] * np.float32(self.weight)
        offset = int(self.text.n_features_out_)
        return (
            np.concatenate([columns, np.arange(offset, offset + self.dim, dtype=np.int64)]),
            np.concatenate([values, vector.astype(np.float64)]),
        )

    def vocabularies(self) -> list[dict[str, int]]:
        """The TF-IDF blocks' vocabularies; the embedding columns stand for no n-gram."""
        return self.text.vocabularies()

    def __repr__(self) -> str:
        return f"JoinedFeatures({self.encoder.spec.name!r}, weight={self.weight})"


def fit_joined(
    encoder: Any,
    weight: float | None,
    text_features: Any,
    texts: list[str],
    frame: Any,
    options: dict[str, Any],
    *,
    final: bool,
    progress: Progress | None,
    groups: np.ndarray | None = None,
) -> tuple[JoinedFeatures, sp.csr_matrix, dict[str, Any], tuple[float, dict[float, float]]]:
    """``TagClassifier``'s fit with an encoder: features, matrix, heads, (weight, tuning).

    The texts are embedded once and the heads fitted (``heads.fit_axis_heads``, same folds
    each time) on ``[tfidf | w * embedding]`` for each ``w`` of ``ENCODER_WEIGHTS``, or the
    given ``weight`` only; the best out-of-fold accuracy (then log-loss) wins, with its fit.
    The tuning is the out-of-fold accuracy of each weight tried.
    """
    from classifier.model.heads import fit_axis_heads

    opened = open_encoder(encoder)  # before the TF-IDF fit: a missing extra fails fast
    tfidf = text_features.fit_transform(texts)
    cache = EmbeddingCache(opened)
    embedded = cache.embed(texts)
    weights = ENCODER_WEIGHTS if weight is None else (float(weight),)
    best: tuple[Any, ...] | None = None
    scores: dict[float, tuple[float, float]] = {}
    for step, w in enumerate(weights):
        matrix = joined(tfidf, embedded, w)
        tick = None if progress is None else _share(progress, step, len(weights))
        fitted = fit_axis_heads(matrix, frame, options, final=final, progress=tick, groups=groups)
        scores[w] = out_of_fold_score(fitted)
        if best is None or scores[w] > scores[best[0]]:
            best = (w, matrix, fitted)
    assert best is not None
    chosen, matrix, fitted = best
    features = JoinedFeatures(text_features, opened, chosen, cache)
    return features, matrix, fitted, (chosen, {w: s[0] for w, s in scores.items()})


def _share(progress: Progress, step: int, steps: int) -> Progress:
    """``progress`` of one of ``steps`` equal passes, as a share of all of them."""
    return lambda done, total: progress(step * total + done, steps * total)


def out_of_fold_score(fitted: dict[str, Any]) -> tuple[float, float]:
    """Mean over axes of the out-of-fold accuracy and of minus the log-loss (higher is better)."""
    accuracy, log_loss = [], []
    for result in fitted.values():
        proba = result.oof_proba
        picked = proba[np.arange(result.codes.size), result.codes]
        accuracy.append(float(np.mean(proba.argmax(axis=1) == result.codes)))
        log_loss.append(float(-np.mean(np.log(np.clip(picked, 1e-12, None)))))
    return float(np.mean(accuracy)), -float(np.mean(log_loss))
