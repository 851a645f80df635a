"""The classifier: exclusive suggestions, thresholds, masking of tags never to suggest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from classifier.model.estimator import TagClassifier, out_of_fold_proba
from classifier.model.store import never_suggest
from classifier.model.suggestion import AxisSuggestion

TEXTS = [
    "the website is broken",
    "the API endpoint throws an error",
    "the landing page is great, thanks",
    "webhook costs too much per seat",
    "I want your manager now about the browser",
    "",
    "completely unrelated words xyz",
]


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    return pd.DataFrame(tiny_corpus())


@pytest.fixture(scope="session")
def model(corpus, taxonomy) -> TagClassifier:
    return TagClassifier(folds=3, never_suggest=never_suggest(taxonomy)).fit(
        corpus["text"], corpus[["team", "topic"]]
    )


def test_every_suggestion_has_exactly_one_suggestable_tag_per_axis(model, taxonomy):
    for suggestion in model.suggest(TEXTS, top=3):
        assert set(suggestion.axes) == set(taxonomy.axes)
        for axis, s in suggestion.axes.items():
            assert s.tag in taxonomy.suggestable(axis)
            assert all(a.tag in taxonomy.suggestable(axis) for a in s.alternatives)
            assert s.tag not in {a.tag for a in s.alternatives}


def test_human_only_tag_is_masked_even_when_it_is_the_most_probable(model):
    text = "our lawyer will contact you about the API"
    raw = model.predict_proba([text])["topic"][0]
    classes = list(model.heads_["topic"].classes)
    assert classes[int(raw.argmax())] == "escalation"  # the model learned it...
    suggestion = model.suggest_one(text)["topic"]
    assert suggestion.tag != "escalation"  # ...but never suggests it
    # renormalised over the suggestable tags: they sum to one
    shown = suggestion.confidence + sum(a.confidence for a in suggestion.alternatives)
    assert shown == pytest.approx(1.0)


def test_probabilities_are_distributions(model):
    for axis, proba in model.predict_proba(TEXTS).items():
        assert proba.shape == (len(TEXTS), len(model.heads_[axis].classes))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert (proba >= 0).all()


def test_status_is_auto_exactly_when_confidence_reaches_the_tag_threshold(model):
    checked = 0
    for suggestion in model.suggest(TEXTS + list(pd.DataFrame(tiny_corpus(40, 1))["text"])):
        for axis, s in suggestion.axes.items():
            threshold = model.thresholds_[axis][s.tag]
            assert s.threshold == threshold
            cleared = threshold is not None and s.confidence >= threshold
            assert (s.status == "auto") == (cleared and s.evidence)
            checked += s.status == "auto"
        assert suggestion.status == (
            "auto" if all(s.status == "auto" for s in suggestion.axes.values()) else "review"
        )
    assert checked > 0  # the fixture is easy: some suggestions clear their thresholds


def test_auto_status_cannot_contradict_the_threshold():
    with pytest.raises(ValueError, match="contradicts"):
        AxisSuggestion("team", "web", 0.5, "auto", threshold=0.9)
    with pytest.raises(ValueError, match="contradicts"):
        AxisSuggestion("team", "web", 0.99, "review", threshold=0.9)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        AxisSuggestion("team", "web", 1.5, "review")


def test_single_message_fast_path_matches_the_batch_path(model):
    batch = model.suggest(TEXTS, top=3)
    for text, expected in zip(TEXTS, batch, strict=True):
        one = model.suggest_one(text, top=3)
        for axis in model.axes_:
            assert one[axis].tag == expected[axis].tag
            assert one[axis].confidence == pytest.approx(expected[axis].confidence, abs=1e-5)
            assert [a.tag for a in one[axis].alternatives] == [
                a.tag for a in expected[axis].alternatives
            ]


def test_sparse_row_equals_transform(model):
    for text in TEXTS:
        columns, values = model.features_.sparse_row(text)
        dense = np.zeros(model.features_.n_features_out_)
        dense[columns] = values
        np.testing.assert_allclose(dense, model.features_.transform([text]).toarray()[0], atol=1e-6)


def test_learns_the_fixture(model, corpus):
    fresh = pd.DataFrame(tiny_corpus(60, seed=7))
    fresh = fresh[fresh["topic"] != "escalation"]  # never suggested, so never right
    assert model.score(fresh["text"], fresh[["team", "topic"]]) > 0.9
    assert model.cv_report_["team"]["accuracy"] > 0.9


def test_rows_without_exactly_one_tag_are_left_out_of_that_axis_only(corpus):
    labels = corpus[["team", "topic"]].astype(object).copy()
    labels.loc[:9, "team"] = None
    labels.loc[10:14, "topic"] = [("bug", "praise")] * 5  # several tags: not usable
    fitted = TagClassifier(folds=3).fit(corpus["text"], labels)
    assert fitted.n_rows_ == {"team": len(corpus) - 10, "topic": len(corpus) - 5}


def test_deprecated_and_human_only_tags_of_the_taxonomy_are_masked(taxonomy):
    assert never_suggest(taxonomy) == {"team": ["legacy"], "topic": ["escalation"]}


def test_an_axis_with_one_class_always_suggests_it(corpus):
    labels = corpus[["team", "topic"]].copy()
    labels["team"] = "web"
    fitted = TagClassifier(folds=3).fit(corpus["text"], labels)
    assert set(fitted.predict(TEXTS)["team"]) == {"web"}
    assert fitted.suggest_one("anything")["team"].confidence == 1.0


def test_binary_axis_and_both_heads(corpus):
    for head in ("lr", "svc+lr"):
        fitted = TagClassifier(folds=3, head=head).fit(corpus["text"], corpus["team"])
        assert fitted.axes_ == ["label"]
        assert fitted.score(corpus["text"], corpus["team"]) > 0.9


def test_sklearn_conventions(model):
    params = model.get_params()
    copy = clone(model)
    assert copy.get_params() == params
    with pytest.raises(NotFittedError):
        copy.predict(["hello"])
    with pytest.raises(ValueError, match="head"):
        TagClassifier(head="forest").fit(["a b", "c d"], ["x", "y"])


def test_out_of_fold_probabilities(corpus):
    labels = corpus[["team", "topic"]].astype(object).copy()
    labels.loc[:4, "topic"] = None
    ticks = []
    oof = out_of_fold_proba(
        corpus["text"], labels, folds=3, progress=lambda done, total: ticks.append((done, total))
    )
    assert set(oof) == {"team", "topic"}
    topic = oof["topic"]
    assert topic.proba.shape == (len(corpus) - 5, len(topic.classes))
    assert list(topic.rows) == list(range(5, len(corpus)))
    np.testing.assert_allclose(topic.proba.sum(axis=1), 1.0)
    assert (topic.proba.argmax(axis=1) == topic.labels).mean() > 0.8
    assert ticks[-1] == (3 * 2, 3 * 2) and len(ticks) == 6  # 3 folds x 2 axes, no final fit
