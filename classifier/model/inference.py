"""Inference from plain data: TF-IDF features and linear heads without scikit-learn or spaCy.

A model directory stores vocabularies, idf, weights, temperatures and thresholds as arrays and
JSON (``classifier.model.store``); this module turns them back into a model that suggests
exactly what the fitted ``TagClassifier`` did. ``Features`` reproduces what
``TextFeatures.transform`` computes with scikit-learn's ``TfidfVectorizer``: the same masks,
the word analyser (spaCy's tokenizer through ``classifier.model.tokenizer``, or the
``\\b\\w\\w+\\b`` expression) with its n-grams, the ``char_wb`` analyser, counts, sublinear tf,
idf, L2 norm per block and the block weight. The heads are ``classifier.model.heads.Head``
themselves. Nothing here imports scikit-learn or spaCy, so ``feedtag suggest`` starts fast.

Speed: ``char_wb`` n-grams never cross a whitespace-separated word, and words recur, so each
block keeps the columns of every word's known n-grams (``Block.word_columns``); a batch's
counts are then one sparse product, texts x words times words x n-grams, in scipy's C++.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from classifier.model.heads import Head
from classifier.model.predictor import Predictor
from classifier.model.text import normalise

if TYPE_CHECKING:
    import scipy.sparse as sp

# Words whose char_wb columns a block remembers before it starts afresh (about 15 MiB; the
# words of Banking77, HWU64, Bitext and the training data together are some 23,000).
CACHE_SIZE = 50_000


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
    _known: dict[str, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def split(self, text: str) -> list[str]:
        """Tokens (a word block) or whitespace-separated words (``char_wb``) of ``text``.

        ``TfidfVectorizer`` lowercases the whole text first, then splits it; its collapsing
        of whitespace runs before ``char_wb`` n-grams changes nothing ``str.split`` returns.
        """
        if self.lowercase:
            text = text.lower()
        if self.analyzer == "char_wb":
            return text.split()
        assert self.words is not None
        return self.words(text)

    def word_columns(self, word: str) -> tuple[int, ...]:
        """Columns of the known ``char_wb`` n-grams of one word, repeats included (cached)."""
        found = self._known.get(word)
        if found is None:
            if len(self._known) >= CACHE_SIZE:
                self._known.clear()
            vocabulary = self.vocabulary
            grams = char_wb_ngrams(word, self.ngram_range)
            found = tuple(vocabulary[g] for g in grams if g in vocabulary)
            self._known[word] = found
        return found

    def columns(self, text: str) -> list[int]:
        """Columns of the known n-grams ``build_analyzer()`` yields for ``text``, with repeats."""
        parts = self.split(text)
        if self.analyzer == "char_wb":
            return list(chain.from_iterable(map(self.word_columns, parts)))
        get = self.vocabulary.get
        return [c for c in map(get, word_ngrams(parts, self.ngram_range)) if c is not None]

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """How often each known n-gram occurs in each text: integer counts, columns sorted."""
        n_columns = len(self.vocabulary)
        if self.analyzer == "char_wb":
            words = [self.split(t) for t in texts]
            distinct = dict.fromkeys(chain.from_iterable(words))
            index = {w: i for i, w in enumerate(distinct)}.__getitem__
            per_text = _ones([list(map(index, ws)) for ws in words], len(distinct))
            matrix = per_text @ _ones(map(self.word_columns, distinct), n_columns)
        else:
            matrix = _ones(map(self.columns, texts), n_columns)
        matrix.sum_duplicates()  # sorts each row's columns, as CountVectorizer does
        return matrix


def _ones(rows: Iterable[Sequence[int]], n_columns: int) -> sp.csr_matrix:
    """A CSR matrix with a 1 at each listed column of each row (repeats not yet summed)."""
    import scipy.sparse as sp

    rows = list(rows)
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), out=indptr[1:])
    indices = np.fromiter(chain.from_iterable(rows), dtype=np.int32, count=int(indptr[-1]))
    data = np.ones(len(indices), dtype=np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_columns))


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    """``CountVectorizer._word_ngrams`` without stop words."""
    min_n, max_n = ngram_range
    if max_n == 1:
        return tokens
    grams = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), max_n + 1):
        grams += map(" ".join, zip(*(tokens[k:] for k in range(n)), strict=False))  # shifted
    return grams


def char_wb_ngrams(word: str, ngram_range: tuple[int, int]) -> list[str]:
    """``CountVectorizer._char_wb_ngrams`` of one whitespace-free word, padded with spaces."""
    min_n, max_n = ngram_range
    w = " " + word + " "
    w_len = len(w)
    ngrams = []
    for n in range(min_n, max_n + 1):
        offset = 0
        ngrams.append(w[offset : offset + n])
        while offset + n < w_len:
            offset += 1
            ngrams.append(w[offset : offset + n])
        if offset == 0:  # a short word (w_len <= n) counts once
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

        Float64, as the fitted estimator's fast path for one message computes them; numpy
        only, no scipy.
        """
        (clean,) = self._clean([text])
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        offset = 0
        for block in self.blocks:
            found = np.asarray(block.columns(clean), dtype=np.int64)
            cols, tf = np.unique(found, return_counts=True)
            if cols.size:
                tf = tf.astype(np.float64)
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
            counts = block.counts(cleaned)
            col = counts.indices
            row = np.repeat(np.arange(n), np.diff(counts.indptr))
            vals = counts.data.astype(np.float32)
            if self.sublinear_tf:
                np.log(vals, out=vals)
                vals += 1
            vals *= block.idf[col]
            squares = np.bincount(row, weights=np.square(vals).astype(np.float64), minlength=n)
            vals = (vals / np.sqrt(squares)[row]).astype(np.float32)
            if block.weight != 1.0:
                vals = vals * block.weight
            parts.append(sp.csr_matrix((vals, col, counts.indptr), shape=counts.shape))
        return sp.hstack(parts, format="csr")


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
