"""Inference from plain data: TF-IDF features and linear heads without scikit-learn or spaCy.

A model directory stores vocabularies, idf, weights, temperatures and thresholds as arrays and
JSON (``classifier.model.store``); this module turns them back into a model that suggests
exactly what the fitted ``TagClassifier`` did. ``Features`` reproduces what
``TextFeatures.transform`` computes with scikit-learn's ``TfidfVectorizer``: the same masks,
the word analyser (spaCy's tokenizer through ``classifier.model.tokenizer``, or the
``\\b\\w\\w+\\b`` expression) with its n-grams, the ``char_wb`` analyser, counts, sublinear tf,
idf, L2 norm per block and the block weight. The heads are ``classifier.model.heads.Head``
themselves. Nothing here imports scikit-learn or spaCy, so ``feedtag suggest`` starts fast.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from classifier.model.heads import Head
from classifier.model.predictor import Predictor
from classifier.model.text import normalise

if TYPE_CHECKING:
    import scipy.sparse as sp

# scikit-learn's CountVectorizer collapses runs of whitespace before char n-grams.
WHITE_SPACES = re.compile(r"\s\s+")


@dataclass
class Block:
    """One TF-IDF block: an analyser, its vocabulary (n-gram -> column) and idf."""

    analyzer: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    lowercase: bool
    weight: float
    vocabulary: dict[str, int]
    idf: np.ndarray
    words: Callable[[str], list[str]] | None = None  # the word tokenizer of a "word" block

    def analyse(self, text: str) -> list[str]:
        """The n-grams ``TfidfVectorizer.build_analyzer()`` yields for ``text``."""
        if self.lowercase:
            text = text.lower()
        if self.analyzer == "char_wb":
            return char_wb_ngrams(text, self.ngram_range)
        assert self.words is not None
        return word_ngrams(self.words(text), self.ngram_range)


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    """``CountVectorizer._word_ngrams`` without stop words."""
    min_n, max_n = ngram_range
    if max_n == 1:
        return tokens
    original = tokens
    if min_n == 1:
        tokens = list(original)
        min_n += 1
    else:
        tokens = []
    n_original = len(original)
    for n in range(min_n, min(max_n + 1, n_original + 1)):
        for i in range(n_original - n + 1):
            tokens.append(" ".join(original[i : i + n]))
    return tokens


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """``CountVectorizer._char_wb_ngrams``: character n-grams inside space-padded words."""
    text = WHITE_SPACES.sub(" ", text)
    min_n, max_n = ngram_range
    ngrams = []
    for w in text.split():
        w = " " + w + " "
        w_len = len(w)
        for n in range(min_n, max_n + 1):
            offset = 0
            ngrams.append(w[offset : offset + n])
            while offset + n < w_len:
                offset += 1
                ngrams.append(w[offset : offset + n])
            if offset == 0:  # a short word (w_len < n) counts once
                break
    return ngrams


@dataclass
class Features:
    """``TextFeatures`` rebuilt from saved data: ``transform`` and ``sparse_row`` alike."""

    blocks: list[Block]
    sublinear_tf: bool
    mask_urls: bool
    mask_emails: bool
    mask_numbers: bool
    n_features_out_: int = field(init=False)

    def __post_init__(self) -> None:
        self.n_features_out_ = sum(len(b.vocabulary) for b in self.blocks)

    def _clean(self, texts: Sequence[Any]) -> list[str]:
        return normalise(
            texts, urls=self.mask_urls, emails=self.mask_emails, numbers=self.mask_numbers
        )

    def vocabularies(self) -> list[dict[str, int]]:
        """Per block, its n-gram -> column map, as ``TextFeatures.vocabularies``."""
        return [block.vocabulary for block in self.blocks]

    def sparse_row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's non-zero feature columns and values, as ``TextFeatures.sparse_row``.

        Float64, as the fitted estimator's fast path for one message computes them.
        """
        (clean,) = self._clean([text])
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        offset = 0
        for block in self.blocks:
            cols, tf = self._counts(block, clean)
            if cols.size:
                if self.sublinear_tf:
                    tf = np.log(tf) + 1.0
                vals = tf * block.idf[cols]
                vals *= block.weight / np.sqrt(vals @ vals)
                columns.append(cols + offset)
                values.append(vals)
            offset += len(block.vocabulary)
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return np.concatenate(columns), np.concatenate(values)

    def transform(self, texts: Sequence[Any]) -> sp.csr_matrix:
        """Feature rows for ``texts``: a float32 CSR matrix, as ``TextFeatures.transform``.

        The arithmetic follows ``TfidfVectorizer`` step by step in float32 (columns sorted
        within a row, the L2 norm summed in float64 in column order), so scores match the
        fitted model's to the last bit. scipy is imported only here: one message goes
        through ``sparse_row`` instead.
        """
        import scipy.sparse as sp

        cleaned = self._clean(texts)
        n = len(cleaned)
        parts = []
        for block in self.blocks:
            vocabulary = block.vocabulary
            rows: list[int] = []
            cols: list[int] = []
            counts: list[int] = []
            for i, clean in enumerate(cleaned):
                found = Counter(g for g in block.analyse(clean) if g in vocabulary)
                rows.extend([i] * len(found))
                cols.extend(vocabulary[g] for g in found)
                counts.extend(found.values())
            row = np.asarray(rows, dtype=np.int64)
            col = np.asarray(cols, dtype=np.int64)
            order = np.lexsort((col, row))
            row, col = row[order], col[order]
            vals = np.asarray(counts, dtype=np.float32)[order]
            if self.sublinear_tf:
                np.log(vals, out=vals)
                vals += 1
            vals *= block.idf[col]
            squares = np.bincount(row, weights=np.square(vals).astype(np.float64), minlength=n)
            vals = (vals / np.sqrt(squares)[row]).astype(np.float32)
            if block.weight != 1.0:
                vals = vals * block.weight
            indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))])
            shape = (n, len(vocabulary))
            parts.append(sp.csr_matrix((vals, col, indptr), shape=shape))
        return sp.hstack(parts, format="csr")

    @staticmethod
    def _counts(block: Block, clean: str) -> tuple[np.ndarray, np.ndarray]:
        """Columns of the known n-grams of ``clean`` and how often each occurs."""
        vocabulary = block.vocabulary
        counts = Counter(g for g in block.analyse(clean) if g in vocabulary)
        cols = np.fromiter((vocabulary[g] for g in counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return cols, tf


class LoadedModel(Predictor):
    """A model read from a directory: suggests like ``TagClassifier``, fits nothing.

    Attributes mirror the fitted estimator's: ``features_``, ``axes_``, ``heads_``,
    ``thresholds_``, ``cv_report_``, ``n_rows_``, ``target_precision`` and ``never_suggest``
    (set from the current taxonomy by ``classifier.model.store.load_model``).
    """

    def __init__(
        self,
        *,
        features: Features,
        heads: Mapping[str, Head],
        thresholds: Mapping[str, Mapping[str, float | None]],
        never_suggest: Mapping[str, Sequence[str]] | None = None,
        target_precision: float | None = None,
        cv_report: Mapping[str, Any] | None = None,
        n_rows: Mapping[str, int] | None = None,
    ):
        self.features_ = features
        self.axes_ = list(heads)
        self.heads_ = dict(heads)
        self.thresholds_ = {axis: dict(t) for axis, t in thresholds.items()}
        self.never_suggest = never_suggest
        self.target_precision = target_precision
        self.cv_report_ = dict(cv_report or {})
        self.n_rows_ = dict(n_rows or {})

    def __repr__(self) -> str:
        return f"LoadedModel(axes={self.axes_}, features={self.features_.n_features_out_})"
