"""The model-assisted audit of a dataset read in chunks is the audit of the corpus read whole.

The property: for random corpora (repeated texts, so the model's probabilities tie; aliases,
retired, unknown, repeated and missing tags) and chunk sizes down to one row, ``audit_dataset``
with a judge gives ``run_audit``'s findings (same rows, same order: suspects worst first,
confusable pairs with the same quoted examples), summary, health and exit status, when the
judge is an existing model (``ModelJudge``: predictions chunk by chunk, texts let go) and
when it is the corpus's own folds (``CrossValidation``: fitted after the last chunk).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_audit_stream import assert_same, write
from test_suspects import swapped_rows

from classifier.audit import run_audit
from classifier.audit.fix import ChunkedFix, write_fixed
from classifier.audit.health import HealthSettings, confusable_examples, quote_candidates
from classifier.audit.judges import CrossValidation, ModelJudge
from classifier.audit.stream import StreamedAudit, audit_dataset
from classifier.audit.suspects import cross_validate, fitted_predictions
from classifier.corpus import load_corpus
from classifier.dataset import iter_chunks
from classifier.errors import CorpusError, UsageError
from classifier.model.store import load_model, read_meta
from classifier.model.training import DataHash, corpus_labels, data_sha256

PROPERTY = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Every pair confusable from one confusion on: the findings quote examples, ties and all.
LOOSE = HealthSettings(rare_below=3, confusable_share=0.0, confusable_ratio=0.0, confusable_min=1)
TEXTS = [row["text"] for row in tiny_corpus(8, seed=1)] + [
    "the API is broken",
    "the website is great, thanks",
    "",
]
TAGS = [
    "Web; Bug report",
    "API; Praise",
    "API; Pricing question",
    "Web; Praise",
    "Team: Web; Topic: Bug",
    "Legacy; Pricing question",
    "Web; Bug report; bug",
    "Web; API; Praise",
    "API",
    "Bug reprot; Web",
    "",
    "Web; Escalation",
    '["API", "Billing question"]',
]
ROW = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["1", "2", "3", "4", "5", "6", ""]),
        "conversation_id": st.sampled_from(["c1", "c2", ""]),
        "agent": st.sampled_from(["ann", "bob", ""]),
        "text": st.sampled_from(TEXTS),
        "tags": st.sampled_from(TAGS),
    }
)
CHECKS = st.none() | st.sets(
    st.sampled_from(["suspect-tag", "confusable-tags", "duplicate-message", "alias-tag"]),
    min_size=1,
)


@pytest.fixture(scope="module")
def model(tiny_model, taxonomy):
    return load_model(tiny_model, taxonomy), read_meta(tiny_model), str(tiny_model)


@PROPERTY
@given(
    rows=st.lists(ROW, min_size=1, max_size=30),
    chunk_rows=st.integers(1, 12),
    memory_rows=st.sampled_from([0, 1_000_000]),  # 0: the keys and findings spill to disk
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]),
    checks=CHECKS,
)
def test_audit_with_a_model_streamed_is_the_whole_audit(
    tmp_path, taxonomy, model, rows, chunk_rows, memory_rows, suffix, checks
):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    path = write(rows, folder / f"corpus{suffix}")
    corpus = load_corpus(path, taxonomy)
    whole = run_audit(corpus, checks, fitted_predictions(corpus, *model), LOOSE)
    judge = ModelJudge(*model)
    streamed = audit_dataset(
        str(path), taxonomy, None, checks, settings=LOOSE, judge=judge,
        chunk_rows=chunk_rows, memory_rows=memory_rows,
    )  # fmt: skip
    assert "".join(streamed.json_chunks()) == json.dumps(
        whole.to_dict(), indent=2, ensure_ascii=False
    )
    assert streamed.to_markdown(3) == whole.to_markdown(3)
    assert_same(streamed, whole)
    assert judge.skipped == fitted_predictions(corpus, *model).skipped


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(ROW, min_size=22, max_size=40),
    chunk_rows=st.integers(1, 12),
    checks=CHECKS,
)
def test_audit_cross_validated_streamed_is_the_whole_audit(
    tmp_path, taxonomy, rows, chunk_rows, checks
):
    path = write(rows, Path(tempfile.mkdtemp(dir=tmp_path)) / "corpus.csv")
    corpus = load_corpus(path, taxonomy)
    judge = CrossValidation(folds=2, n_jobs=1)
    try:
        predictions = cross_validate(corpus, folds=2, n_jobs=1)
    except CorpusError as error:  # too few tags to cross-validate: the same error, streamed
        with pytest.raises(CorpusError, match="too few tagged messages") as raised:
            audit_dataset(str(path), taxonomy, judge=judge, chunk_rows=chunk_rows)
        assert str(raised.value) == str(error)
        return
    whole = run_audit(corpus, checks, predictions, LOOSE)
    streamed = audit_dataset(
        str(path), taxonomy, None, checks, settings=LOOSE, judge=judge, chunk_rows=chunk_rows
    )
    assert streamed.summary.model == "cross-validation (2 folds)"
    assert_same(streamed, whole)
    assert streamed.to_dict() == whole.to_dict()


def test_a_model_judge_keeps_the_view_not_the_texts(tmp_path, taxonomy, model, monkeypatch):
    """Chunk by chunk (and a chunk's texts predicted a few at a time), the judge keeps ids
    and a few texts to quote; its predictions are those of the corpus read whole."""
    from classifier.audit import judges

    monkeypatch.setattr(judges, "PREDICT_ROWS", 3)
    rows, _ = swapped_rows()  # tags the tiny model disagrees with
    path = write(rows, tmp_path / "corpus.csv")
    judge = ModelJudge(*model)
    for chunk in iter_chunks(str(path), taxonomy, chunk_rows=7):
        judge.add(chunk)
    predictions, kept = judge.judge()
    assert not judge.trained_on_this_corpus
    whole = fitted_predictions(load_corpus(path, taxonomy), *model)
    assert predictions.axes.keys() == whole.axes.keys() == {"team", "topic"}
    for axis, oof in whole.axes.items():
        got = predictions.axes[axis]
        np.testing.assert_array_equal(got.rows, oof.rows)
        np.testing.assert_array_equal(got.labels, oof.labels)
        np.testing.assert_array_equal(got.proba, oof.proba)
    pairs = sum(oof.classes.size * (oof.classes.size - 1) for oof in whole.axes.values())
    assert 0 < len(kept.quoted) <= 2 * pairs < len(rows)
    assert kept.ids(np.array([0, 199])).tolist() == ["m0", "m199"]
    assert kept.numbers(np.array([0, 199])).tolist() == [1, 200]
    assert kept.signatures("topic", np.array([2])).tolist() == [rows[2]["topic"]]


def test_a_model_knows_its_training_corpus_read_in_chunks(tmp_path, taxonomy, model):
    path = write(tiny_corpus(160), tmp_path / "corpus.csv")  # the tiny model's own
    judge = ModelJudge(*model)
    report = audit_dataset(str(path), taxonomy, judge=judge, chunk_rows=9)
    assert judge.trained_on_this_corpus and report.summary.model.startswith("model ")


def test_one_tag_on_an_axis_has_no_suspects_rather_than_an_error(tmp_path, taxonomy, model):
    """cleanlab needs two classes of given tags (the in-memory audit raised ValueError)."""
    rows = [{"id": str(i), "text": TEXTS[i % 8], "tags": "Web; Bug report"} for i in range(12)]
    path = write(rows, tmp_path / "corpus.csv")
    report = audit_dataset(str(path), taxonomy, judge=ModelJudge(*model), chunk_rows=5)
    assert "suspect-tag" not in report.summary.by_check
    assert report.summary.health["team"].suspects == 0


def test_confusable_examples_are_the_surest_each_way_earlier_row_on_a_tie():
    labels = np.array([0, 0, 0, 1, 0, 1])
    proba = np.array(
        [[0.2, 0.8], [0.1, 0.9], [0.1, 0.9], [0.7, 0.3], [0.1, 0.9], [0.6, 0.4]]
    )  # rows 1, 2 and 4 tie: tagged 0, put on 1 with 0.9
    assert confusable_examples(labels, proba, 0, 1) == [1, 3]
    one_way = np.zeros(6, dtype=np.int64)  # nothing tagged 1 is put on 0 ...
    assert confusable_examples(one_way, proba, 0, 1) == [1, 2]  # ... a second from side 0
    assert quote_candidates(labels, proba).tolist() == [1, 2, 3, 5]


def test_data_hash_of_chunks_is_the_hash_of_the_whole(tmp_path, taxonomy):
    path = write(tiny_corpus(30), tmp_path / "corpus.csv")
    texts, labels, _ = corpus_labels(load_corpus(path, taxonomy))
    digest = DataHash()
    for chunk in iter_chunks(str(path), taxonomy, chunk_rows=4):
        digest.update(*corpus_labels(chunk)[:2])
    assert digest.hexdigest() == data_sha256(texts, labels)


def test_a_model_check_named_without_a_judge_is_refused_before_reading(tmp_path, taxonomy):
    missing = str(tmp_path / "nowhere.csv")
    with pytest.raises(UsageError, match="needs a model"):
        StreamedAudit(missing, taxonomy, ["suspect-tag"])
    with pytest.raises(UsageError, match="unknown check 'suspects'"):
        audit_dataset(missing, taxonomy, checks=["suspects"], judge=CrossValidation())


def test_fix_with_a_model_writes_the_whole_fix(tmp_path, taxonomy, model):
    rows = [
        {"id": str(i), "text": TEXTS[i % len(TEXTS)], "tags": TAGS[i % len(TAGS)]}
        for i in range(40)
    ]
    path = write(rows, tmp_path / "corpus.csv")
    expected = write_fixed(load_corpus(path, taxonomy), tmp_path / "whole.csv")
    with ChunkedFix(str(path), tmp_path / "chunked.csv") as fixer:
        audit_dataset(str(path), taxonomy, judge=ModelJudge(*model), chunk_rows=3, fix=fixer)
        got = fixer.commit()
    assert got.path.read_bytes() == expected.path.read_bytes()
    assert got.cells_changed == expected.cells_changed > 0


def test_a_failed_cross_validation_leaves_no_temporary_files(tmp_path, taxonomy, monkeypatch):
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setenv("TMPDIR", str(spill))
    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read once, then cached
    path = write([{"id": "1", "text": "hi", "tags": "Web; Praise"}] * 5, tmp_path / "c.csv")
    with pytest.raises(CorpusError, match="too few tagged messages to cross-validate"):
        audit_dataset(str(path), taxonomy, judge=CrossValidation(), memory_rows=0)
    assert list(spill.iterdir()) == []


def test_report_dataset_is_the_stats_and_the_audit_of_one_read(tmp_path, taxonomy, model):
    from classifier.stats import stats_of_chunks
    from classifier.stats.report import report_dataset

    rows = tiny_corpus(50, seed=2)
    monday = pd.Timestamp("2026-01-05T09:00:00Z")
    for i, row in enumerate(rows):
        row["created_at"] = (monday + pd.Timedelta(hours=5 * i)).isoformat()
    path = write(rows, tmp_path / "corpus.csv")
    stats, audited = report_dataset(str(path), taxonomy, judge=ModelJudge(*model), chunk_rows=6)
    expected = stats_of_chunks(iter_chunks(str(path), taxonomy, chunk_rows=50))
    assert stats.to_dict() == expected.to_dict()
    corpus = load_corpus(path, taxonomy)
    whole = run_audit(corpus, None, fitted_predictions(corpus, *model))
    assert_same(audited, whole)
    untagged = write([{k: v for k, v in r.items() if k not in ("team", "topic")} for r in rows],
                     tmp_path / "untagged.csv")  # fmt: skip
    stats, audited = report_dataset(str(untagged), taxonomy, judge=ModelJudge(*model))
    assert audited is None and stats.messages == 50
