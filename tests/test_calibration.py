"""Source-held-out folds in training, and calibration on a team's own labelled messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.errors import CorpusError
from classifier.model.calibration import calibrate
from classifier.model.card import describe, model_card
from classifier.model.estimator import TagClassifier
from classifier.model.heads import group_splits

SOURCES = ("desk", "store", "forum")


def corpus(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rows = pd.DataFrame(tiny_corpus(n, seed=seed))
    rows["source"] = [SOURCES[i % 3] for i in range(n)]
    return rows


@pytest.fixture(scope="module")
def grouped():
    rows = corpus()
    model = TagClassifier(folds=3, min_support=3)
    model.fit(rows["text"].tolist(), rows[["team", "topic"]], groups=rows["source"].tolist())
    return rows, model


@settings(deadline=None)
@given(st.lists(st.sampled_from("abcdefg"), min_size=3, max_size=60), st.integers(2, 5))
def test_group_folds_never_put_one_group_on_both_sides(groups, folds):
    groups = np.array(groups, dtype=object)
    splits = group_splits(groups, folds) if len(set(groups)) >= 2 else []
    tested = np.zeros(groups.size, dtype=int)
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        tested[test] += 1
    if splits:
        assert (tested == 1).all()  # every message is scored out of fold exactly once


def test_many_groups_are_held_out_in_balanced_folds_not_one_each():
    groups = np.array([f"g{i % 30}" for i in range(300)], dtype=object)
    assert len(group_splits(groups, 5)) == 5
    ten = np.array([f"g{i % 10}" for i in range(100)], dtype=object)
    assert len(group_splits(ten, 5)) == 10  # ten groups: leave one out each


def test_fit_with_three_sources_calibrates_on_held_out_sources(grouped):
    _rows, model = grouped
    for axis in ("team", "topic"):
        about = model.calibration_[axis]
        assert about == {"kind": "training", "folds": "groups", "groups": sorted(SOURCES)}
        report = model.cv_report_[axis]
        assert report["folds"] == "groups"
        assert set(report["by_group"]) == set(SOURCES)
        assert sum(g["rows"] for g in report["by_group"].values()) == report["rows"]
        assert report["random_folds"]["rows"] == report["rows"]


def test_a_tag_only_one_source_has_is_never_right_when_that_source_is_held_out():
    rows = corpus()
    only_forum = rows["topic"] == "pricing"
    rows.loc[only_forum, "source"] = "forum"
    rows.loc[~only_forum & (rows["source"] == "forum"), "source"] = "desk"
    model = TagClassifier(folds=3, min_support=3)
    model.fit(rows["text"].tolist(), rows[["topic"]], groups=rows["source"].tolist())
    report = model.cv_report_["topic"]
    # Held out, the forum's pricing messages meet heads that never saw a pricing message...
    assert report["by_group"]["forum"]["accuracy"] == 0.0
    # ...while random folds, which mix sources, learn pricing from the other forum rows.
    assert report["random_folds"]["accuracy"] > 0.9


def test_fewer_than_three_sources_fall_back_to_random_folds():
    rows = corpus()
    rows["source"] = np.where(rows.index % 2 == 0, "a", "b")
    model = TagClassifier(folds=3).fit(
        rows["text"].tolist(), rows[["topic"]], groups=rows["source"].tolist()
    )
    assert model.calibration_["topic"]["folds"] == "random"
    assert "by_group" not in model.cv_report_["topic"]


def test_calibrate_refits_thresholds_and_temperature_but_not_weights(grouped):
    _, model = grouped
    sample = corpus(200, seed=7)
    weights = [m.weights.copy() for m in model.heads_["topic"].members]
    temperatures = [m.temperature for m in model.heads_["topic"].members]
    team_thresholds = dict(model.thresholds_["team"])
    # Only the topic is labelled: the team axis must keep its calibration.
    result = calibrate(
        model, sample["text"].tolist(), sample[["topic"]], folds=4, source="sample.csv"
    )
    fitted = result.model
    for before, member in zip(weights, fitted.heads_["topic"].members, strict=True):
        np.testing.assert_array_equal(before, member.weights)
    assert [m.temperature for m in fitted.heads_["topic"].members] != temperatures
    assert fitted.thresholds_["topic"] == result.report["topic"]["thresholds"]
    assert fitted.thresholds_["team"] == team_thresholds
    assert fitted.calibration_["team"] == model.calibration_["team"]
    assert fitted.calibration_["topic"]["kind"] == "team"
    assert fitted.calibration_["topic"]["messages"] == 200
    assert fitted.features_ is not model.features_ or fitted is not model
    # The loaded model is untouched: the calibration is a copy.
    assert [m.temperature for m in model.heads_["topic"].members] == temperatures
    assert set(result.report) == {"topic"}
    report = result.report["topic"]
    assert report["messages"] == 200 and report["after"]["folds"] == 4
    for when in ("before", "after"):
        assert 0.0 <= report[when]["auto_share"] <= 1.0


def test_calibrated_figures_are_cross_validated_not_in_sample(grouped):
    """Three messages per tag are enough for in-sample thresholds (min_support 3) but not for
    any fold's: the figures shown must come from folds, so nothing is auto there."""
    _, model = grouped
    sample = corpus(120, seed=3).groupby("topic").head(3).reset_index(drop=True)
    texts, labels = sample["text"].tolist(), sample[["topic"]]
    result = calibrate(model, texts, labels, folds=3, min_messages=10)
    predicted = result.model.predict_axes(texts)["topic"]
    right = predicted.tags.astype(str) == labels["topic"].to_numpy(dtype=str)
    assert predicted.auto.sum() > 0 and right[predicted.auto].mean() >= 0.9  # in sample
    assert result.report["topic"]["after"]["auto"] == 0


def test_calibrate_refuses_too_few_unknown_or_no_labels(grouped):
    _, model = grouped
    sample = corpus(200, seed=7)
    with pytest.raises(CorpusError, match="49 labelled messages; calibrating needs at least 50"):
        calibrate(model, sample["text"].tolist()[:49], sample[["topic"]][:49])
    odd = sample[["topic"]].copy()
    odd.loc[0, "topic"] = "refund"
    with pytest.raises(CorpusError, match="the model does not know refund"):
        calibrate(model, sample["text"].tolist(), odd)
    with pytest.raises(CorpusError, match="no labelled message on any axis"):
        calibrate(model, sample["text"].tolist(), {"topic": [None] * len(sample)})


def test_describe_and_card_say_which_calibration_a_model_carries(grouped):
    _, model = grouped
    said = describe(model.calibration_)
    assert said == (
        "team: training data, held out by source (3 sources); "
        "topic: training data, held out by source (3 sources)"
    )
    sample = corpus(200, seed=7)
    result = calibrate(model, sample["text"].tolist(), sample[["topic"]], source="ours.csv")
    said = describe(result.model.calibration_)
    assert said.startswith("team: training data, held out by source (3 sources); ")
    assert "topic: the team's own data (200 messages of ours.csv, " in said
    meta = {
        "taxonomy": {"name": "fixture", "sha256": "x"},
        "versions": {"feedtag": "0"},
        "format_version": 2,
        "model_sha256": "y",
        "params": model.get_params(),
        "target_precision": 0.9,
        "metrics": {"cross_validated": model.cv_report_},
        "thresholds": result.model.thresholds_,
        "calibration": result.model.calibration_,
        "team_calibration": result.report,
    }
    card = model_card(meta)
    assert "folds that each hold out a whole source (desk, forum, store)" in card
    assert "calibrated on the team's own data: 200 labelled messages of ours.csv" in card
    assert "| team | forum |" in card  # each source held out in turn
    assert describe(None).startswith("calibration not recorded")
