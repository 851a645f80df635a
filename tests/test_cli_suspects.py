"""``feedtag audit --cross-validate`` and ``--model`` end to end through Typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from test_suspects import swapped_rows
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    """Taxonomy, a corpus with swapped tags, its clean twin, and a model trained on the twin."""
    from conftest import FIXTURE_TAXONOMY

    root = tmp_path_factory.mktemp("cli_suspects")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(FIXTURE_TAXONOMY)
    rows, truth = swapped_rows()
    swapped = root / "swapped.csv"
    pd.DataFrame(rows).to_csv(swapped, index=False)
    clean = root / "clean.csv"
    pd.DataFrame(tiny_corpus(200, seed=3)).to_csv(clean, index=False)
    model = root / "model"
    trained = runner.invoke(
        app, ["train", str(clean), "--out", str(model), "--taxonomy", str(taxonomy), "--folds", "3"]
    )
    assert trained.exit_code == 0, trained.output
    return taxonomy, swapped, clean, model, truth


def audit(files, corpus, *args):
    return runner.invoke(app, ["audit", str(corpus), "--taxonomy", str(files[0]), *args])


def test_cross_validate_json_carries_suspects_score_and_health(files):
    _, swapped, _, _, truth = files
    result = audit(files, swapped, "--cross-validate", "-f", "json", "--rare-below", "60")
    assert result.exit_code == 0, result.output  # warnings and info only
    report = json.loads(result.stdout)
    suspects = [f for f in report["findings"] if f["check"] == "suspect-tag"]
    assert {(f["row"] - 1, f["axis"]) for f in suspects} >= {(p, a) for p, (a, _) in truth.items()}
    assert all(0 <= f["score"] <= 1 for f in suspects)
    rare = [f for f in report["findings"] if f["check"] == "rare-tag"]
    assert rare and all(f["row"] is None and f["score"] is None for f in rare)
    summary = report["summary"]
    assert summary["model"] == "cross-validation (5 folds)"
    assert summary["health"]["topic"]["suspects"] >= 3
    assert audit(files, swapped, "--cross-validate", "--fail-on", "warning").exit_code == 1


def test_cross_validate_csv_has_a_score_column(files):
    _, swapped, *_ = files
    result = audit(files, swapped, "--cross-validate", "--folds", "3", "-f", "csv")
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(records[0]) == [
        "row", "id", "check", "severity", "axis", "tags", "message", "fix", "score",
    ]  # fmt: skip
    scores = [float(r["score"]) for r in records if r["check"] == "suspect-tag"]
    assert scores == sorted(scores) and scores


def test_table_shows_scores_health_and_rowless_findings(files):
    _, swapped, *_ = files
    result = audit(files, swapped, "--cross-validate", "--rare-below", "60")
    assert result.exit_code == 0, result.output
    assert "suspect-tag (" in result.stdout and "score" in result.stdout
    assert "taxonomy health" in result.stdout
    assert "rare-tag (" in result.stdout
    assert "tags judged by cross-validation (5 folds)" in result.stdout


def test_markdown_has_score_and_health(files):
    _, swapped, *_ = files
    result = audit(files, swapped, "--cross-validate", "-f", "markdown")
    assert result.exit_code == 0, result.output
    assert "| fix | score |" in result.stdout
    assert "## Taxonomy health" in result.stdout
    assert "## suspect-tag (" in result.stdout


def test_model_trained_on_this_corpus_warns_on_stderr(files):
    _, swapped, clean, model, _ = files
    same = audit(files, clean, "--model", str(model), "-f", "json")
    assert same.exit_code == 0, same.output
    assert "trained on this very corpus" in same.stderr
    assert json.loads(same.stdout)["summary"]["model"] == f"model {model}"
    other = audit(files, swapped, "--model", str(model), "-f", "json")
    assert other.exit_code == 0
    assert "trained on this very corpus" not in other.stderr
    checks = {f["check"] for f in json.loads(other.stdout)["findings"]}
    assert "suspect-tag" in checks


def test_usage_errors_exit_2(files):
    _, swapped, _, model, _ = files
    both = audit(files, swapped, "--cross-validate", "--model", str(model))
    assert both.exit_code == 2 and "not both" in both.stderr
    named = audit(files, swapped, "--checks", "suspect-tag")
    assert named.exit_code == 2 and "--cross-validate" in named.stderr
    assert "Traceback" not in named.output
