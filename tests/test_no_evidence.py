"""A message that gives the model nothing to go on is never ``auto`` (issue 12, class 6).

Empty text, blanks, punctuation only, or characters the model never saw: the classifier can
only repeat its prior, whatever confidence that has. Thresholds are set to 0 here so that
every other suggestion is ``auto``: only the rule under test can make these ``review``.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
NOTHING = ["", "   ", "\n\t", "!!! ???", "ЖЖЖ ЮЮЮ"]
SOMETHING = "the API endpoint throws an error"


@pytest.fixture(scope="module")
def eager(tiny_model, taxonomy, tmp_path_factory):
    """The tiny model with every threshold at 0, saved as a model directory of its own."""
    from classifier.model.store import load_model, save_calibrated

    model = load_model(tiny_model, taxonomy)
    model.thresholds_ = {axis: dict.fromkeys(t, 0.0) for axis, t in model.thresholds_.items()}
    directory = tmp_path_factory.mktemp("eager") / "model"
    save_calibrated(model, tiny_model, directory, team_calibration={})
    return model, directory


def test_single_messages_without_evidence_are_review(eager):
    model, _ = eager
    assert model.suggest_one(SOMETHING).status == "auto"
    for text in NOTHING:
        suggestion = model.suggest_one(text)
        assert suggestion.status == "review", repr(text)
        assert all(not s.evidence and s.status == "review" for s in suggestion.axes.values())


def test_files_without_evidence_are_review(eager):
    model, _ = eager
    predicted = model.predict_axes([SOMETHING, *NOTHING])
    for p in predicted.values():
        assert p.auto.tolist() == [True] + [False] * len(NOTHING)
        assert p.evidence.tolist() == [True] + [False] * len(NOTHING)
    batch = model.suggest([SOMETHING, *NOTHING])
    assert [s.status for s in batch] == ["auto"] + ["review"] * len(NOTHING)
    assert model.suggest_table([SOMETHING, ""])["status"].tolist() == ["auto", "review"]


def test_an_axis_suggestion_cannot_be_auto_without_evidence():
    from classifier.model.suggestion import AxisSuggestion

    AxisSuggestion("team", "web", 0.99, "review", threshold=0.5, evidence=False)
    with pytest.raises(ValueError, match="contradicts"):
        AxisSuggestion("team", "web", 0.99, "auto", threshold=0.5, evidence=False)


def test_cli_suggest_empty_text_and_blank_rows(eager, taxonomy_file, tmp_path):
    _, directory = eager
    common = ["--model", str(directory), "--taxonomy", str(taxonomy_file)]
    result = runner.invoke(app, ["suggest", "", "--format", "json", *common])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "review"
    corpus = tmp_path / "m.jsonl"
    rows = [{"id": "1", "text": SOMETHING}] + [
        {"id": str(i), "text": t} for i, t in enumerate(NOTHING, 2)
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["suggest", "-i", str(corpus), "-f", "jsonl", *common])
    assert result.exit_code == 0, result.output
    statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
    assert statuses == ["auto"] + ["review"] * len(NOTHING)


def test_export_never_fills_a_tag_from_nothing(eager, taxonomy):
    from classifier.export.teams import model_suggester

    model, _ = eager
    answers = model_suggester(model)([SOMETHING, "!!! ???", "ЖЖЖ ЮЮЮ"])
    for pairs in answers.values():
        assert pairs[0][1] > 0 and [score for _, score in pairs[1:]] == [0.0, 0.0]
