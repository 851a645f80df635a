"""``feedtag train`` with sources and ``feedtag calibrate`` end to end through Typer's CliRunner."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from typer.testing import CliRunner

from classifier.review.decisions import Decision, DecisionStore
from cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import FIXTURE_TAXONOMY

    root = tmp_path_factory.mktemp("calibrate")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(FIXTURE_TAXONOMY)
    rows = pd.DataFrame(tiny_corpus(240))
    rows["source"] = [("desk", "store", "forum")[i % 3] for i in range(len(rows))]
    corpus = root / "corpus.csv"
    rows.to_csv(corpus, index=False)
    model = root / "model"
    result = runner.invoke(
        app, ["train", str(corpus), "--out", str(model), "--taxonomy", str(taxonomy)]
    )
    assert result.exit_code == 0, result.output
    sample = pd.DataFrame(tiny_corpus(120, seed=9))
    sample["id"] = "s" + sample["id"]
    sample_file = root / "sample.csv"
    sample[["id", "text", "topic"]].to_csv(sample_file, index=False)
    return root, taxonomy, model, result, sample_file


def calibrate(trained, *args):
    _, taxonomy, model, _, _ = trained
    return runner.invoke(
        app, ["calibrate", *map(str, args), "--model", str(model), "--taxonomy", str(taxonomy)]
    )


def test_train_reports_source_held_out_and_random_folds_and_each_source(trained):
    *_, result, _ = trained
    topic_lines = [line for line in result.stdout.splitlines() if "│ topic" in line]
    assert any("│ sources" in line for line in topic_lines)
    assert any("random" in line for line in topic_lines)
    assert "each source held out in turn" in result.stdout
    assert sum(" forum " in line for line in topic_lines) == 1


def test_calibrate_a_csv_writes_a_model_that_says_so(trained):
    root, taxonomy, _model, _, sample = trained
    out = root / "ours"
    result = calibrate(trained, sample, "--out", out, "--folds", "4")
    assert result.exit_code == 0, result.output
    assert "before" in result.stdout and "after" in result.stdout
    assert "4-fold cross-validated" in result.stdout
    assert f"wrote {out}" in result.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["calibration"]["topic"]["kind"] == "team"
    assert meta["calibration"]["topic"]["source"] == "sample.csv"
    assert meta["calibration"]["team"]["kind"] == "training"  # the sample has no team column
    assert meta["team_calibration"]["topic"]["messages"] == 120
    assert (
        "calibrated on the team's own data: 120 labelled messages" in (out / "card.md").read_text()
    )
    said = runner.invoke(
        app,
        ["suggest", "the API throws an error", "--model", str(out), "--taxonomy", str(taxonomy)],
    )
    assert said.exit_code == 0, said.output
    assert "calibration: team: training data, held out by source (3 sources); " in said.stderr
    assert "topic: the team's own data (120 messages of sample.csv, " in said.stderr


def test_calibrate_on_review_decisions(trained):
    root, _, _, _, _ = trained
    texts = pd.DataFrame(tiny_corpus(80, seed=4))
    corpus = root / "unlabelled.csv"
    texts[["id", "text"]].to_csv(corpus, index=False)
    db = root / "unlabelled.decisions.sqlite"
    with DecisionStore(db) as store:
        for row in texts.itertuples():
            store.record([Decision(row.id, "topic", "overridden", row.topic, agent="ana")])
    out = root / "from-decisions"
    result = calibrate(trained, corpus, "--decisions", db, "--out", out)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["calibration"]["topic"]["source"] == "unlabelled.decisions.sqlite"
    assert meta["team_calibration"]["topic"]["messages"] == 80


@pytest.mark.parametrize(
    ("rows", "columns", "message"),
    [
        (40, ["id", "text", "topic"], "40 labelled messages; calibrating needs at least 50"),
        (120, ["id", "text"], "no tags column"),
    ],
)
def test_calibrate_refuses_bad_samples_in_one_line(trained, rows, columns, message):
    root, *_ = trained
    sample = pd.DataFrame(tiny_corpus(rows, seed=2))
    path = root / f"bad-{rows}-{len(columns)}.csv"
    sample[columns].to_csv(path, index=False)
    result = calibrate(trained, path, "--out", root / "never")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (root / "never").exists()


def test_calibrate_refuses_tags_the_model_lacks(trained, tmp_path):
    _root, taxonomy, _, _, _ = trained
    rows = pd.DataFrame(tiny_corpus(240))
    rows = rows[rows["topic"] != "praise"]
    corpus, model = tmp_path / "c.csv", tmp_path / "no-praise"
    rows.to_csv(corpus, index=False)
    trained_without = runner.invoke(
        app, ["train", str(corpus), "--out", str(model), "--taxonomy", str(taxonomy)]
    )
    assert trained_without.exit_code == 0, trained_without.output
    sample = pd.DataFrame(tiny_corpus(120, seed=9))
    path = tmp_path / "s.csv"
    sample.to_csv(path, index=False)
    result = runner.invoke(
        app,
        ["calibrate", str(path), "--model", str(model), "--taxonomy", str(taxonomy)]
        + ["--out", str(tmp_path / "x")],
    )
    assert result.exit_code == 2
    assert "the model does not know praise" in result.stderr


def test_calibrate_refuses_to_write_over_the_model(trained):
    _, _, model, _, sample = trained
    before = (model / "meta.json").read_bytes()
    result = calibrate(trained, sample, "--out", model)
    assert result.exit_code == 2 and "--out is the input --model" in result.stderr
    assert (model / "meta.json").read_bytes() == before
