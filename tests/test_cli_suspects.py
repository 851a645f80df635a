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


def in_memory(files, corpus, cross_validate=False, folds=5):
    """The report the model-assisted audit gave when it read the corpus whole."""
    from classifier.audit import run_audit
    from classifier.audit.suspects import cross_validate as fold
    from classifier.audit.suspects import model_predictions
    from classifier.corpus import load_corpus
    from classifier.taxonomy import load_taxonomy

    data = load_corpus(corpus, load_taxonomy(files[0]), require_tags=True)
    judged = fold(data, folds=folds) if cross_validate else model_predictions(data, files[3])
    return data, run_audit(data, None, judged)


def test_model_audit_prints_what_the_whole_corpus_audit_printed(files, tmp_path):
    """Streamed (texts let go chunk by chunk), every format is the in-memory report's."""
    from classifier.audit.fix import write_fixed
    from classifier.output import csv_text

    rows, _ = swapped_rows()
    for i in range(0, 200, 9):
        rows[i]["team"] = {"web": "Team: Web", "api": "Team: API"}[rows[i]["team"]]  # aliases
    corpus = tmp_path / "export.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    data, whole = in_memory(files, corpus)
    assert {"suspect-tag", "alias-tag"} <= set(whole.summary.by_check)
    model = ["--model", str(files[3])]
    as_json = audit(files, corpus, *model, "-f", "json", "--fix", str(tmp_path / "fixed.csv"))
    assert as_json.exit_code == 0, as_json.output
    assert as_json.stdout == json.dumps(whole.to_dict(), indent=2, ensure_ascii=False) + "\n"
    expected = write_fixed(data, tmp_path / "whole-fixed.csv")
    assert (tmp_path / "fixed.csv").read_bytes() == expected.path.read_bytes()
    assert f"fixed {expected.cells_changed} tag cells" in as_json.stderr
    assert audit(files, corpus, *model, "-f", "csv").stdout == csv_text(whole.findings)
    markdown = audit(files, corpus, *model, "-f", "markdown", "--limit", "4")
    assert markdown.stdout == whole.to_markdown(4)
    piped = runner.invoke(
        app,
        ["audit", "-", "--taxonomy", str(files[0]), *model, "-f", "json"],
        input=corpus.read_text(encoding="utf-8"),
    )
    assert json.loads(piped.stdout)["findings"] == whole.to_dict()["findings"]


def test_cross_validated_audit_prints_what_the_whole_corpus_audit_printed(files):
    _, swapped, *_ = files
    _, whole = in_memory(files, swapped, cross_validate=True, folds=3)
    result = audit(files, swapped, "--cross-validate", "--folds", "3", "-f", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout == json.dumps(whole.to_dict(), indent=2, ensure_ascii=False) + "\n"


def test_report_with_a_model_is_the_page_of_the_whole_corpus(files, tmp_path):
    from classifier.stats import compute_stats
    from classifier.stats.report import render_report

    rows, _ = swapped_rows()
    monday = pd.Timestamp("2026-01-05T09:00:00Z")
    for i, row in enumerate(rows):
        row["created_at"] = (monday + pd.Timedelta(hours=3 * i)).isoformat()
    corpus = tmp_path / "history.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    data, whole = in_memory(files, corpus)
    out = tmp_path / "report.html"
    args = ["report", str(corpus), "--taxonomy", str(files[0]), "--out", str(out)]
    result = runner.invoke(app, [*args, "--model", str(files[3])])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page == render_report(compute_stats(data), whole)
    assert f"Tags judged by model {files[3]}" in page
    piped = runner.invoke(
        app,
        ["report", "-", "--taxonomy", str(files[0]), "--out", str(tmp_path / "piped.html")],
        input=corpus.read_text(encoding="utf-8"),
    )  # standard input is read once, for the stats and the audit
    assert piped.exit_code == 0, piped.output
    assert "<h2>Tagging audit</h2><p><b>100.0%</b> of 200 messages" in (
        tmp_path / "piped.html"
    ).read_text(encoding="utf-8")
