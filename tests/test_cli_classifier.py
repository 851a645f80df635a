"""``feedtag train``, ``evaluate`` and ``suggest`` end to end through Typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
CSV_HEADER = [
    "id",
    "team",
    "team_confidence",
    "team_status",
    "topic",
    "topic_confidence",
    "topic_status",
    "status",
]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A taxonomy file, a corpus (two rows without a team), and a model trained by the CLI."""
    from conftest import FIXTURE_TAXONOMY

    root = tmp_path_factory.mktemp("cli")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(FIXTURE_TAXONOMY)
    rows = pd.DataFrame(tiny_corpus())
    rows.loc[:1, "team"] = ""
    corpus = root / "corpus.csv"
    rows.to_csv(corpus, index=False)
    model = root / "model"
    result = runner.invoke(
        app,
        ["train", str(corpus), "--out", str(model), "--taxonomy", str(taxonomy), "--folds", "3"],
    )
    return taxonomy, corpus, model, result


def run(trained, *args, **kwargs):
    taxonomy, _, model, _ = trained
    return runner.invoke(
        app, [*map(str, args), "--model", str(model), "--taxonomy", str(taxonomy)], **kwargs
    )


def test_train_writes_the_model_directory_and_reports(trained):
    _, _, model, result = trained
    assert result.exit_code == 0, result.output
    names = {p.name for p in model.iterdir()}
    assert names == {"model.json", "vocabulary.json", "arrays.npz", "tokenizer.json"} | {
        "meta.json",
        "card.md",
    }
    assert "out-of-fold report" in result.stdout
    team_line = next(line for line in result.stdout.splitlines() if "│ team" in line)
    cells = [cell.strip() for cell in team_line.split("│")]
    assert cells[3:6] == ["158", "2", "0"]  # rows, missing, multiple
    assert "wrote" in result.stderr


def test_suggest_text_json_has_one_tag_per_axis(trained):
    result = run(trained, "suggest", "the API endpoint throws an error", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["axes"]) == {"team", "topic"}
    assert data["axes"]["team"]["tag"] == "api"
    assert data["axes"]["topic"]["tag"] == "bug"
    assert len(data["axes"]["topic"]["alternatives"]) == 2
    assert data["status"] in ("auto", "review")


def test_suggest_text_table(trained):
    result = run(trained, "suggest", "the landing page is great, thanks", "--top", "2")
    assert result.exit_code == 0, result.output
    assert "praise" in result.stdout and "web" in result.stdout


def test_suggest_file_csv_columns_and_status(trained, tmp_path):
    _, corpus, _, _ = trained
    out = tmp_path / "s.csv"
    result = run(trained, "suggest", "--input", corpus, "--output", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == CSV_HEADER
    assert len(rows) == 160
    for row in rows:
        both = row["team_status"] == "auto" and row["topic_status"] == "auto"
        assert row["status"] == ("auto" if both else "review")
        assert row["topic"] != "escalation" and row["team"] != "legacy"


def test_suggest_stdin_jsonl_adds_alternatives(trained):
    text = "id,text\nx1,the website crashes\nx2,the webhook needs a discount\n"
    result = run(trained, "suggest", "--input", "-", "--format", "jsonl", "--top", "2", input=text)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["x1", "x2"]
    assert len(lines[0]["team"]["alternatives"]) == 1
    assert lines[1]["topic"]["tag"] == "pricing"


def test_suggest_usage_errors_exit_2(trained):
    _, corpus, _, _ = trained
    assert run(trained, "suggest").exit_code == 2
    assert run(trained, "suggest", "hi", "--input", corpus).exit_code == 2
    bad = run(trained, "suggest", "--input", corpus, "--format", "table")
    assert bad.exit_code == 2 and "csv or jsonl" in bad.stderr


def test_evaluate_json_shape(trained):
    _, corpus, _, _ = trained
    result = run(trained, "evaluate", corpus, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"] == 160
    team = data["axes"]["team"]
    assert team["rows"] == 158
    for key in ("accuracy", "macro_f1", "coverage", "accuracy_at_threshold", "per_tag", "sweep"):
        assert key in team
    assert [row["threshold"] for row in team["sweep"]][:2] == [0.5, 0.55]


def test_evaluate_table(trained):
    _, corpus, _, _ = trained
    result = run(trained, "evaluate", corpus)
    assert result.exit_code == 0, result.output
    assert "team: by threshold" in result.stdout
    assert "│      0.95 │" in result.stdout  # the sweep reaches 0.95
    assert "team: per tag" in result.stdout


def test_tampered_model_is_refused_with_one_error_line(trained, tmp_path):
    taxonomy, _, model, _ = trained
    copy = tmp_path / "m"
    copy.mkdir()
    for path in model.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / "arrays.npz").write_bytes(b"not a model")
    result = runner.invoke(
        app, ["suggest", "hi", "--model", str(copy), "--taxonomy", str(taxonomy)]
    )
    assert result.exit_code == 2
    assert "does not match meta.json" in result.stderr
