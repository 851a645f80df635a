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


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def pair(request, taxonomy, tmp_path_factory):
    corpus = pd.DataFrame(tiny_corpus())
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
    np.testing.assert_allclose(
        loaded.features_.transform(TEXTS).toarray(),
        fitted.features_.transform(TEXTS).toarray(),
        rtol=0,
        atol=1e-7,
    )


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
