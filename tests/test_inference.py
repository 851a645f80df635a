"""A loaded model predicts exactly what the fitted model it was saved from did, without
scikit-learn, spaCy or pandas."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import TEAM_WORDS, TOPIC_WORDS, tiny_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.model.estimator import TagClassifier
from classifier.model.inference import char_wb_ngrams, word_ngrams
from classifier.model.store import load_model, never_suggest, save_model

SETTINGS = {
    "spacy-svc": {},
    "regex-svc+lr-weighted": {"tokenizer": "regex", "head": "svc+lr", "char_weight": 0.5},
    "word-trigrams-no-masks": {
        "word_ngrams": (1, 3),
        "char_ngrams": (2, 4),
        "sublinear_tf": False,
        "mask_numbers": False,
        "mask_urls": False,
    },
}


def varied_texts(n: int = 300, seed: int = 1) -> list[str]:
    """Messages like the training ones and unlike them: unicode, empty, URLs, numbers, long."""
    rng = random.Random(seed)
    words = [w for ws in (*TEAM_WORDS.values(), *TOPIC_WORDS.values()) for w in ws]
    odd = [
        "",
        " ",
        "\n\t  ",
        "?!...",
        "naïve café façade",
        "日本語のテキスト",
        "😀🙈 emoji only",
        "Straße GROSS ǅ",
        "can't won't y'all ain't",
        "https://example.com/a?b=1&c=2 www.foo.org/x",
        "mail bob.smith+tag@example.co.uk now",
        "order 12,345.67 on 2024-05-01 at 10:30",
        "3rd 1st 10am $5 50% #1 @home",
        "U.S.A. e.g. i.e. a.m. :) :-( <3",
        "\u00a0non\u00a0breaking\u2028line\u0085next",
        "(brackets) [square] {curly} \"quotes\" 'single'",
        "co-op re-enter e-mail rock'n'roll",
        "x" * 3000,
        " ".join(["the website is broken"] * 400),
    ]
    texts = list(odd)
    while len(texts) < n:
        pieces = [rng.choice(words) for _ in range(rng.randint(1, 6))]
        pieces += [rng.choice(odd[:17]) for _ in range(rng.randint(0, 2))]
        rng.shuffle(pieces)
        texts.append(" ".join(pieces))
    return texts


TEXTS = varied_texts()
# Words the training texts also carry, so the vocabularies hold n-grams with accents, emoji,
# other scripts, one-letter words and case that lowercasing changes.
UNICODE_WORDS = [
    *"aIxé😀日",
    "ok",
    "naïve",
    "café",
    "Straße",
    "ǅemal",
    "İstanbul",
    "ΣΑΣ",
    "über",
    "🙈🙉",
    "日本語",
    "don't",
    "e-mail",
    "a.m.",
    ":)",
]
# Separators: whitespace runs of every kind, and none (words run together).
SEPARATORS = [" ", "  ", "\t", "\n\n", "\xa0", " \u3000 ", "\r\n", "\u2028", ""]


def unicode_corpus() -> pd.DataFrame:
    corpus = pd.DataFrame(tiny_corpus())
    rng = random.Random(2)
    extra = [" ".join(rng.choices(UNICODE_WORDS, k=3)) for _ in range(len(corpus))]
    corpus["text"] = corpus["text"] + " " + pd.Series(extra)
    return corpus


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def pair(request, taxonomy, tmp_path_factory):
    corpus = unicode_corpus()
    options = SETTINGS[request.param]
    fitted = TagClassifier(folds=3, never_suggest=never_suggest(taxonomy), **options)
    fitted.fit(corpus["text"], corpus[["team", "topic"]])
    directory = tmp_path_factory.mktemp("inference") / request.param
    save_model(fitted, directory, taxonomy)
    return fitted, load_model(directory, taxonomy)


def test_batch_predictions_are_the_fitted_ones(pair):
    fitted, loaded = pair
    expected, got = fitted.predict_axes(TEXTS, top=4), loaded.predict_axes(TEXTS, top=4)
    assert set(got) == set(expected) == {"team", "topic"}
    for axis, e in expected.items():
        g = got[axis]
        assert list(g.tags) == list(e.tags)
        np.testing.assert_allclose(g.confidence, e.confidence, rtol=0, atol=1e-6)
        assert list(g.auto) == list(e.auto)
        np.testing.assert_array_equal(g.threshold, e.threshold)
        assert g.top_tags.tolist() == e.top_tags.tolist()
        np.testing.assert_allclose(g.top_confidence, e.top_confidence, rtol=0, atol=1e-6)
    loaded_proba = loaded.predict_proba(TEXTS)
    for axis, proba in fitted.predict_proba(TEXTS).items():
        np.testing.assert_allclose(loaded_proba[axis], proba, rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(loaded.suggest_table(TEXTS), fitted.suggest_table(TEXTS))


def test_single_suggestions_are_the_fitted_ones(pair):
    fitted, loaded = pair
    for text in TEXTS:
        expected, got = fitted.suggest_one(text), loaded.suggest_one(text)
        assert got.status == expected.status
        for axis, e in expected.axes.items():
            g = got[axis]
            assert (g.tag, g.status, g.threshold) == (e.tag, e.status, e.threshold)
            assert g.confidence == pytest.approx(e.confidence, abs=1e-6)
            assert [a.tag for a in g.alternatives] == [a.tag for a in e.alternatives]


def test_feature_rows_are_the_fitted_ones(pair):
    fitted, loaded = pair
    assert loaded.features_.n_features_out_ == fitted.features_.n_features_out_
    assert_same_rows(loaded.features_.transform(TEXTS), fitted.features_.transform(TEXTS))


def assert_same_rows(got, expected):
    """The same sparse float32 rows, bit for bit: columns, their order and values."""
    assert got.dtype == expected.dtype == np.float32
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)


WORD = st.one_of(
    st.sampled_from(UNICODE_WORDS + [w for ws in TEAM_WORDS.values() for w in ws]),
    st.text(alphabet="aé😀 ", max_size=3),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
)
UNICODE_TEXT = st.lists(st.tuples(WORD, st.sampled_from(SEPARATORS)), max_size=10).map(
    lambda parts: "".join(word + separator for word, separator in parts)
)


@settings(max_examples=150, deadline=None)
@given(st.lists(UNICODE_TEXT, min_size=1, max_size=6))
def test_random_unicode_features_are_scikit_learns(pair, texts):
    # The batch path (per-word cache, one sparse product) against TfidfVectorizer itself,
    # and the one-text path against the fitted estimator's and against its batch row.
    fitted, loaded = pair
    got = loaded.features_.transform(texts)
    assert_same_rows(got, fitted.features_.transform(texts))
    for i, text in enumerate(texts):
        columns, values = loaded.features_.sparse_row(text)
        expected_columns, expected_values = fitted.features_.sparse_row(text)
        order = np.argsort(expected_columns)
        np.testing.assert_array_equal(columns, expected_columns[order])
        np.testing.assert_allclose(values, expected_values[order], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(columns, got[i].indices)
        # float64 here, float32 step by step there (as in scikit-learn): the last bit may differ
        np.testing.assert_allclose(values, got[i].data, rtol=1e-6, atol=0)


def test_features_hold_when_the_word_cache_starts_afresh(pair, monkeypatch):
    fitted, loaded = pair
    monkeypatch.setattr("classifier.model.inference.CACHE_SIZE", 3)
    for block in loaded.features_.blocks:
        block._known.clear()  # else the words of TEXTS are all known from the tests before
    assert_same_rows(loaded.features_.transform(TEXTS), fitted.features_.transform(TEXTS))
    assert all(len(block._known) <= 3 for block in loaded.features_.blocks)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_any_text_gets_the_fitted_suggestion(pair, text):
    fitted, loaded = pair
    expected, got = fitted.suggest_one(text, top=2), loaded.suggest_one(text, top=2)
    for axis, e in expected.axes.items():
        assert got[axis].tag == e.tag
        assert got[axis].confidence == pytest.approx(e.confidence, abs=1e-6)


def test_ngram_analysers_follow_scikit_learn():
    # by hand: unigrams then bigrams; padded words, a short word counted once per length
    assert word_ngrams(["a", "b", "c"], (1, 2)) == ["a", "b", "c", "a b", "b c"]
    assert word_ngrams(["a", "b"], (2, 3)) == ["a b"]
    assert char_wb_ngrams("ab", (2, 3)) == [" a", "ab", "b ", " ab", "ab "]
    assert char_wb_ngrams("c", (2, 4)) == [" c", "c ", " c "]


def test_loading_and_suggesting_imports_no_heavy_library(tmp_path, taxonomy_file, taxonomy):
    corpus = pd.DataFrame(tiny_corpus(60))
    fitted = TagClassifier(folds=2).fit(corpus["text"], corpus[["team", "topic"]])
    save_model(fitted, tmp_path / "m", taxonomy)
    code = (
        "import sys\n"
        "from classifier.model.store import load_model\n"
        "from classifier.taxonomy import load_taxonomy\n"
        f"model = load_model({str(tmp_path / 'm')!r}, load_taxonomy({str(taxonomy_file)!r}))\n"
        "print(model.suggest_one('the website is broken')['team'].tag)\n"
        "heavy = ('sklearn', 'spacy', 'pandas', 'scipy', 'joblib', 'thinc')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["web", "[]"]
