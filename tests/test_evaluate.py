"""Evaluation metrics and the JSON shape of ``feedtag evaluate``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus

from classifier.model.estimator import TagClassifier
from classifier.model.evaluate import evaluate
from classifier.model.metrics import (
    SWEEP,
    accuracy_at_coverage,
    axis_report,
    expected_calibration_error,
)


def test_axis_report_on_known_arrays():
    truth = np.array(["a", "a", "b", "b"], dtype=object)
    predicted = np.array(["a", "b", "b", "b"], dtype=object)
    confidence = np.array([0.9, 0.6, 0.8, 0.55])
    auto = np.array([True, False, True, False])
    report = axis_report(truth, predicted, confidence, auto)
    assert report["rows"] == 4
    assert report["accuracy"] == 0.75
    assert report["coverage"] == 0.5
    assert report["accuracy_at_threshold"] == 1.0
    assert report["per_tag"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert report["per_tag"]["b"]["precision"] == 0.6667
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-4)
    assert report["confused"] == [{"true": "a", "predicted": "b", "count": 1}]
    assert [row["threshold"] for row in report["sweep"]] == list(SWEEP)
    assert SWEEP[0] == 0.5 and SWEEP[-1] == 0.95 and len(SWEEP) == 10
    at_07 = next(row for row in report["sweep"] if row["threshold"] == 0.7)
    assert at_07 == {"threshold": 0.7, "coverage": 0.5, "accuracy": 1.0}
    at_095 = report["sweep"][-1]
    assert at_095["coverage"] == 0.0 and at_095["accuracy"] is None


def test_nothing_auto_means_no_accuracy_at_threshold():
    report = axis_report(np.array(["a"]), np.array(["a"]), np.array([0.3]), np.array([False]))
    assert report["coverage"] == 0.0 and report["accuracy_at_threshold"] is None


def test_calibration_error():
    confidence = np.full(100, 0.8)
    assert expected_calibration_error(confidence, np.arange(100) < 80) == pytest.approx(0.0)
    assert expected_calibration_error(confidence, np.arange(100) < 50) == pytest.approx(0.3)


def test_accuracy_at_coverage_keeps_the_most_confident():
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, True, True, False])
    assert accuracy_at_coverage(confidence, correct, 0.8) == 1.0
    assert accuracy_at_coverage(confidence, correct, 1.0) == 0.8


def test_evaluate_json_shape_and_missing_labels():
    train = pd.DataFrame(tiny_corpus())
    model = TagClassifier(folds=3).fit(train["text"], train[["team", "topic"]])
    test = pd.DataFrame(tiny_corpus(40, seed=3))
    labels = test[["team", "topic"]].astype(object).copy()
    labels.loc[:9, "topic"] = None
    result = evaluate(model, test["text"], labels).to_dict()
    assert result["rows"] == 40
    assert set(result["axes"]) == {"team", "topic"}
    topic = result["axes"]["topic"]
    for key in ("accuracy", "macro_f1", "coverage", "accuracy_at_threshold", "per_tag", "sweep"):
        assert key in topic
    assert topic["rows"] == 30
    assert sum(t["support"] for t in topic["per_tag"].values()) == 30
    assert result["axes"]["team"]["accuracy"] > 0.9
