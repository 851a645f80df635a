"""Taxonomy health: rare, unused, catch-all and confusable tags; findings without a row."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus

from classifier.audit import run_audit
from classifier.audit.health import (
    HealthSettings,
    catch_all,
    confusable_tags,
    rare_tag,
    unused_tag,
)
from classifier.audit.suspects import Predictions, cross_validate
from classifier.corpus import load_corpus
from classifier.model.estimator import OutOfFold


def corpus_of(tmp_path, taxonomy, rows, name="c.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return load_corpus(str(path), taxonomy)


def balanced(n_per_topic: int = 30) -> list[dict]:
    """Every current team and topic on n_per_topic messages or more."""
    rows = []
    topics = ["bug", "praise", "pricing", "escalation"]
    for i in range(n_per_topic * len(topics)):
        rows.append(
            {
                "id": f"m{i}",
                "text": f"message {i}",
                "team": ["web", "api"][i % 2],
                "topic": topics[i % len(topics)],
            }
        )
    return rows


def test_balanced_corpus_has_no_health_findings(tmp_path, taxonomy):
    corpus = corpus_of(tmp_path, taxonomy, balanced())
    for check in (rare_tag, unused_tag, catch_all):
        assert check(corpus).empty, check.__name__


def test_rare_tag_fires_below_the_threshold_only(tmp_path, taxonomy):
    rows = balanced()
    rows = [r for r in rows if r["topic"] != "praise"] + [
        r for r in rows if r["topic"] == "praise"
    ][:7]
    corpus = corpus_of(tmp_path, taxonomy, rows)
    found = rare_tag(corpus)
    assert list(found["tags"]) == ["praise"]
    assert found["row"].isna().all() and found["id"].eq("").all()
    assert "only 7 messages" in found["message"].iloc[0]
    assert found["severity"].iloc[0] == "info"
    assert rare_tag(corpus, HealthSettings(rare_below=7)).empty
    assert set(rare_tag(corpus, HealthSettings(rare_below=31))["tags"]) >= {"praise", "bug"}


def test_unused_tag_fires_for_a_current_tag_and_not_a_retired_one(tmp_path, taxonomy):
    rows = [r for r in balanced() if r["topic"] != "pricing"]
    found = unused_tag(corpus_of(tmp_path, taxonomy, rows))
    # 'legacy' is retired (deprecated-tag covers it): never reported unused
    assert list(zip(found["axis"], found["tags"], strict=True)) == [("topic", "pricing")]


def test_catch_all_fires_when_one_tag_holds_an_outsized_share(tmp_path, taxonomy):
    rows = balanced()
    for row in rows[: len(rows) * 3 // 5]:
        row["topic"] = "bug"
    found = catch_all(corpus_of(tmp_path, taxonomy, rows))
    assert list(found["tags"]) == ["bug"]
    assert found["severity"].iloc[0] == "warning"
    assert "%" in found["message"].iloc[0]
    # the same share on a two-tag axis is an even split, not a catch-all
    team = catch_all(corpus_of(tmp_path, taxonomy, balanced(), "b.csv"))
    assert team.empty


def predictions_for(corpus, axis: str, proba_by_row: dict[int, dict[str, float]]) -> Predictions:
    """Hand-made probabilities: each row's own tag at 0.9 unless overridden."""
    labels = corpus.labels(axis)
    classes = np.array(sorted(labels.dropna().unique()), dtype=object)
    index = {tag: i for i, tag in enumerate(classes)}
    rows = np.flatnonzero(labels.notna().to_numpy())
    codes = np.array([index[labels.iloc[r]] for r in rows])
    proba = np.full((rows.size, classes.size), 0.1 / (classes.size - 1))
    proba[np.arange(rows.size), codes] = 0.9
    for row, overrides in proba_by_row.items():
        proba[row] = [overrides.get(tag, 0.0) for tag in classes]
    return Predictions(
        "cross-validation", "5 folds", {axis: OutOfFold(axis, rows, classes, codes, proba)}
    )


def test_confusable_tags_fire_on_a_confused_pair_with_counts_and_two_examples(tmp_path, taxonomy):
    corpus = corpus_of(tmp_path, taxonomy, balanced())
    topics = corpus.labels("topic")
    bugs = [i for i in range(len(corpus)) if topics.iloc[i] == "bug"][:6]
    praise = [i for i in range(len(corpus)) if topics.iloc[i] == "praise"][:2]
    swapped = {i: {"pricing": 0.8, "bug": 0.2} for i in bugs}
    swapped |= {i: {"bug": 0.7, "praise": 0.3} for i in praise}
    predictions = predictions_for(corpus, "topic", swapped)
    found = confusable_tags(corpus, predictions)
    assert list(found["tags"]) == ["bug; pricing"]  # bug/praise: 2 of 60, under the bar
    message = found["message"].iloc[0]
    assert "confused in 6 of 60 messages" in message
    assert "6 'Bug report' read as 'Pricing question', 0 the other way" in message
    assert message.count("row ") == 2 and f"row {bugs[0] + 1} " in message
    assert found["row"].isna().all()
    higher = confusable_tags(corpus, predictions, HealthSettings(confusable_min=7))
    assert higher.empty


def test_confusable_tags_silent_when_the_model_agrees(tmp_path, taxonomy):
    corpus = corpus_of(tmp_path, taxonomy, balanced())
    assert confusable_tags(corpus, predictions_for(corpus, "topic", {})).empty


def test_indistinguishable_tags_are_found_confusable_end_to_end(tmp_path, taxonomy):
    """Praise and pricing messages written with the same words: the folds cannot tell them."""
    rows = tiny_corpus(200, seed=4)
    for i, row in enumerate(rows):
        if row["topic"] in ("praise", "pricing"):
            row["text"] = f"the {['page', 'API'][i % 2]} needs a word about it {i % 7}"
    corpus = corpus_of(tmp_path, taxonomy, rows)
    report = run_audit(corpus, predictions=cross_validate(corpus, n_jobs=1))
    confusable = report.findings[report.findings["check"] == "confusable-tags"]
    assert list(confusable["tags"]) == ["praise; pricing"]
    pairs = report.summary.health["topic"].confusable
    assert [p.tags for p in pairs] == [("praise", "pricing")]
    assert pairs[0].confused == pairs[0].first_as_second + pairs[0].second_as_first >= 5


def test_health_findings_have_no_row_in_every_output(tmp_path, taxonomy):
    from classifier.output import csv_text

    rows = [r for r in balanced() if r["topic"] != "pricing"]
    corpus = corpus_of(tmp_path, taxonomy, rows)
    report = run_audit(corpus, ["unused-tag", "rare-tag"])
    assert str(report.findings["row"].dtype) == "Int64"
    records = report.to_dict()["findings"]
    assert records and all(r["row"] is None and r["score"] is None for r in records)
    json.dumps(report.to_dict())  # serialisable
    header, *lines = csv.reader(io.StringIO(csv_text(report.findings)))
    assert header[-1] == "score"
    assert lines and all(line[:3] == ["", "", "unused-tag"] for line in lines)
    assert "| fix | score |" in report.to_markdown()
    assert report.summary.health["topic"].unused == ["pricing"]


def test_rows_sort_before_taxonomy_findings(tmp_path, taxonomy):
    rows = [r for r in balanced() if r["topic"] != "pricing"]
    rows[4]["topic"] = ""
    corpus = corpus_of(tmp_path, taxonomy, rows, "d.csv")
    report = run_audit(corpus, ["missing-tag", "unused-tag"])
    assert list(report.findings["check"]) == ["missing-tag", "unused-tag"]
    assert report.findings["row"].iloc[0] == 5  # 1-based data row


@pytest.mark.parametrize("name", ["suspect-tag", "confusable-tags"])
def test_model_checks_named_without_a_model_are_refused(tmp_path, taxonomy, name):
    from classifier.errors import UsageError

    with pytest.raises(UsageError, match="--cross-validate"):
        run_audit(corpus_of(tmp_path, taxonomy, balanced()), [name])


def test_disagreements_spread_evenly_over_all_pairs_are_not_confusable(tmp_path, taxonomy):
    """6 of 60 messages per pair is 10%, but an axis that errs 30% everywhere gives that."""
    corpus = corpus_of(tmp_path, taxonomy, balanced())
    topics = corpus.labels("topic")
    tags = ["bug", "escalation", "praise", "pricing"]
    overrides = {}
    for tag in tags:
        mine = [i for i in range(len(corpus)) if topics.iloc[i] == tag]
        others = [t for t in tags if t != tag]
        for j, i in enumerate(mine[:9]):
            overrides[i] = {others[j % 3]: 0.8, tag: 0.2}
    predictions = predictions_for(corpus, "topic", overrides)
    assert confusable_tags(corpus, predictions).empty
    evenly = HealthSettings(confusable_ratio=0.0)
    assert len(confusable_tags(corpus, predictions, evenly)) == 6
