"""Text features: TF-IDF over word n-grams and character n-grams, shared by every axis.

Word 1-2 grams catch the phrases that name a topic ("refund", "not arrived"); character 1-5
grams inside word boundaries catch misspellings, inflections and product names. Both use
sublinear term frequency: the measured strong baseline for short support messages. Words come
from spaCy's rule-based tokenizer and characters span 1-5: each a small gain in 5-fold
cross-validation on the Banking77 and HWU64 training splits (BENCHMARKS.md). Each block is
L2-normalised on its own, as a ``FeatureUnion`` would.

``TextFeatures.sparse_row`` computes one message's features without scipy or the vectorizer's
per-call checks, so a single suggestion costs tens of microseconds instead of milliseconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from classifier.model.text import normalise, spacy_tokens

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp


class TextFeatures(TransformerMixin, BaseEstimator):
    """TF-IDF word and character n-grams of normalised text.

    Parameters
    ----------
    word_ngrams : tuple of int or None
        Range of word n-grams; ``None`` leaves the word block out.
    char_ngrams : tuple of int or None
        Range of character n-grams within word boundaries (``char_wb``); ``None`` leaves it out.
    sublinear_tf : bool
        Use ``1 + log(tf)``: a word said three times is not three times the evidence.
    min_df : int
        Ignore n-grams seen in fewer messages (1 keeps all: best on 10k-message sets).
    char_weight : float
        Scale of the character block relative to the word block.
    tokenizer : {"regex", "spacy"}
        Word tokenizer: spaCy's rule-based English one (splits contractions, keeps one-letter
        words) or scikit-learn's ``\\b\\w\\w+\\b`` (faster, 0.1-0.2 points less accurate).
    mask_urls, mask_emails, mask_numbers : bool
        Replace each URL, e-mail address or number by one placeholder word first.
    """

    def __init__(
        self,
        *,
        word_ngrams: tuple[int, int] | None = (1, 2),
        char_ngrams: tuple[int, int] | None = (1, 5),
        sublinear_tf: bool = True,
        min_df: int = 1,
        char_weight: float = 1.0,
        tokenizer: str = "spacy",
        mask_urls: bool = True,
        mask_emails: bool = True,
        mask_numbers: bool = True,
    ):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.char_weight = char_weight
        self.tokenizer = tokenizer
        self.mask_urls = mask_urls
        self.mask_emails = mask_emails
        self.mask_numbers = mask_numbers

    def _normalise(self, texts: Iterable[Any]) -> list[str]:
        return normalise(
            texts, urls=self.mask_urls, emails=self.mask_emails, numbers=self.mask_numbers
        )

    def _vectorizers(self) -> list[tuple[Any, float]]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.tokenizer not in ("regex", "spacy"):
            raise ValueError(f"tokenizer must be 'regex' or 'spacy', not {self.tokenizer!r}")
        blocks = []
        if self.word_ngrams is not None:
            extra: dict[str, Any] = {}
            if self.tokenizer == "spacy":
                extra = {"tokenizer": spacy_tokens, "token_pattern": None, "lowercase": False}
            blocks.append(
                (
                    TfidfVectorizer(
                        ngram_range=tuple(self.word_ngrams),
                        sublinear_tf=self.sublinear_tf,
                        min_df=self.min_df,
                        dtype=_float(),
                        **extra,
                    ),
                    1.0,
                )
            )
        if self.char_ngrams is not None:
            blocks.append(
                (
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=tuple(self.char_ngrams),
                        sublinear_tf=self.sublinear_tf,
                        min_df=self.min_df,
                        dtype=_float(),
                    ),
                    float(self.char_weight),
                )
            )
        if not blocks:
            raise ValueError("TextFeatures needs word_ngrams or char_ngrams")
        return blocks

    def fit(self, X: Sequence[str], y: Any = None) -> TextFeatures:
        """Learn vocabularies and inverse document frequencies from the texts ``X``."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X: Sequence[str], y: Any = None, **fit_params: Any) -> sp.csr_matrix:
        import scipy.sparse as sp

        texts = self._normalise(X)
        blocks, parts = [], []
        for vectorizer, weight in self._vectorizers():
            try:
                part = vectorizer.fit_transform(texts)
            except ValueError as error:  # every text empty, or only stop words
                raise ValueError(f"no features in the training texts: {error}") from None
            blocks.append((vectorizer, weight))
            parts.append(part * weight if weight != 1.0 else part)
        self.blocks_ = blocks
        self.n_features_out_ = sum(len(v.vocabulary_) for v, _ in blocks)
        return sp.hstack(parts, format="csr")

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        """Feature rows for the texts ``X`` (a scipy CSR matrix, float32)."""
        import scipy.sparse as sp

        check_is_fitted(self, "blocks_")
        texts = self._normalise(X)
        parts = []
        for vectorizer, weight in self.blocks_:
            part = vectorizer.transform(texts)
            parts.append(part * weight if weight != 1.0 else part)
        return sp.hstack(parts, format="csr")

    def vocabularies(self) -> list[dict[str, int]]:
        """Per block, its n-gram -> column map (columns offset by the blocks before it)."""
        check_is_fitted(self, "blocks_")
        return [vectorizer.vocabulary_ for vectorizer, _ in self.blocks_]

    def sparse_row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's non-zero feature columns and values, equal to ``transform([text])``.

        The fast path for a single message: no scipy matrix, no per-call validation.
        """
        import numpy as np

        check_is_fitted(self, "blocks_")
        (clean,) = self._normalise([text])
        columns: list[int] = []
        values: list[float] = []
        offset = 0
        for (vectorizer, weight), analyse in zip(self.blocks_, self._analysers(), strict=True):
            vocabulary, idf = vectorizer.vocabulary_, vectorizer.idf_
            counts = Counter(g for g in analyse(clean) if g in vocabulary)
            if counts:
                cols = np.fromiter((vocabulary[g] for g in counts), dtype=np.int64)
                tf = np.fromiter(counts.values(), dtype=np.float64)
                if self.sublinear_tf:
                    tf = np.log(tf) + 1.0
                vals = tf * idf[cols]
                vals *= weight / np.sqrt(vals @ vals)
                columns.extend((cols + offset).tolist())
                values.extend(vals.tolist())
            offset += len(vocabulary)
        return np.asarray(columns, dtype=np.int64), np.asarray(values, dtype=np.float64)

    def _analysers(self) -> list[Any]:
        # Built once per process; not pickled (see __getstate__).
        cached = self.__dict__.get("_analyser_cache")
        if cached is None:
            cached = [vectorizer.build_analyzer() for vectorizer, _ in self.blocks_]
            self.__dict__["_analyser_cache"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_analyser_cache", None)
        return state


def _float() -> Any:
    import numpy as np

    return np.float32
