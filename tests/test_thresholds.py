"""Per-tag thresholds: the most coverage that still reaches the target precision."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.model.thresholds import choose_thresholds


def test_threshold_is_the_lowest_confidence_keeping_the_target_precision():
    # tag 0 predicted 10 times; the two least confident are wrong
    conf = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.5, 0.4])
    truth = np.array([0] * 8 + [1, 1])
    predicted = np.zeros(10, dtype=int)
    got = choose_thresholds(np.array(["a", "b"]), truth, predicted, conf, 0.9, min_support=3)
    # precision is 8/8 down to 0.92; including 0.5 it would be 8/9 < 0.9
    assert got == {"a": 0.92, "b": None}


def test_tag_that_never_reaches_the_target_has_no_threshold():
    truth = np.array([1, 1, 0, 1, 1, 1])
    predicted = np.zeros(6, dtype=int)
    conf = np.linspace(0.9, 0.4, 6)
    got = choose_thresholds(np.array(["a", "b"]), truth, predicted, conf, 0.9, min_support=1)
    assert got["a"] is None and got["b"] is None


def test_too_few_suggestions_give_no_threshold():
    got = choose_thresholds(
        np.array(["a"]), np.zeros(3, int), np.zeros(3, int), np.array([0.9, 0.8, 0.7]), 0.9, 5
    )
    assert got == {"a": None}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 1.0), st.booleans()), min_size=1, max_size=60),
    st.sampled_from([0.5, 0.8, 0.9, 1.0]),
)
def test_auto_accepted_suggestions_reach_the_target(pairs, target):
    conf = np.array([c for c, _ in pairs])
    truth = np.array([0 if ok else 1 for _, ok in pairs])
    predicted = np.zeros(len(pairs), dtype=int)
    threshold = choose_thresholds(np.array(["a", "b"]), truth, predicted, conf, target, 1)["a"]
    if threshold is not None:
        kept = conf >= threshold
        assert (truth[kept] == 0).mean() >= target
        # no lower threshold among the observed confidences keeps the target with more coverage
        for lower in conf[conf < threshold]:
            assert (truth[conf >= lower] == 0).mean() < target
    else:
        for c in conf:
            assert (truth[conf >= c] == 0).mean() < target
