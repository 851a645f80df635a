from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()

ROWS = [
    {"id": "1", "text": "The page is broken", "tags": "Web; Bug report"},
    {"id": "2", "text": "Love the API", "tags": "API; Praise"},
]


def corpus_file(tmp_path, rows=ROWS, name="c.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def audit(taxonomy_file, *args):
    return runner.invoke(app, ["audit", "--taxonomy", str(taxonomy_file), *map(str, args)])


def test_clean_corpus_exits_0(tmp_path, taxonomy_file):
    result = audit(taxonomy_file, corpus_file(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["summary"]["complete"] == 2


def test_findings_at_or_above_fail_on_exit_1(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, [*ROWS, {"id": "3", "text": "x", "tags": "Team: Web; Praise"}])
    assert audit(taxonomy_file, path, "-f", "json").exit_code == 0  # alias is only a warning
    assert audit(taxonomy_file, path, "-f", "json", "--fail-on", "warning").exit_code == 1
    missing = corpus_file(tmp_path, [*ROWS, {"id": "3", "text": "x", "tags": "Praise"}], "m.csv")
    assert audit(taxonomy_file, missing, "-f", "json").exit_code == 1
    assert audit(taxonomy_file, missing, "-f", "json", "--fail-on", "never").exit_code == 0


def test_table_output_groups_findings_by_check(tmp_path, taxonomy_file):
    rows = [*ROWS] + [{"id": str(i), "text": f"t{i}", "tags": "Praise"} for i in range(3, 8)]
    result = audit(taxonomy_file, corpus_file(tmp_path, rows), "--limit", "2")
    assert result.exit_code == 1
    assert "missing-tag (5)" in result.stdout
    assert "... and 3 more" in result.stdout
    assert "7 messages" in result.stdout


def test_csv_findings_neutralise_spreadsheet_formulas(tmp_path, taxonomy_file):
    rows = [*ROWS, {"id": "=HYPERLINK(1)", "text": "x", "tags": "Web; +cmd|calc"}]
    result = audit(taxonomy_file, corpus_file(tmp_path, rows), "--format", "csv")
    assert result.exit_code == 1
    found = list(csv.DictReader(io.StringIO(result.stdout)))
    assert found[0]["id"] == "'=HYPERLINK(1)"
    assert {f["tags"] for f in found} >= {"'+cmd"}
    assert all(not value.startswith(("=", "+", "-", "@")) for f in found for value in f.values())


def test_output_file_and_fix(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, [*ROWS, {"id": "3", "text": "x", "tags": "Legacy; Praise"}])
    before = path.read_bytes()
    result = audit(
        taxonomy_file, path, "-f", "markdown", "-o", tmp_path / "r.md", "--fix", tmp_path / "f.csv"
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "## deprecated-tag (1)" in (tmp_path / "r.md").read_text()
    assert pd.read_csv(tmp_path / "f.csv")["tags"].tolist()[2] == "Web; Praise"
    assert "fixed 1 tag cells in 1 messages" in result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"id,subject\n1,hi\n", "no text column; columns are: id, subject"),
        (b"id,text,tags\n1,caf\xe9,Web\n", ":2: not UTF-8 (byte 0xe9"),
        (b"", "the file is empty"),
        (b'id,text,tags\n1,hi,"[""Web"""\n', "row 1, column 'tags': broken tag list"),
        (b"id,text\n1,hi\n", "no tags column; columns are: id, text"),
    ],
)
def test_bad_corpus_is_one_line_on_stderr_and_exit_2(tmp_path, taxonomy_file, content, expected):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = audit(taxonomy_file, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {path}")
    assert expected in result.stderr
    assert path.read_bytes() == content


def test_bad_parquet_and_output_with_table_format(tmp_path, taxonomy_file):
    path = tmp_path / "c.parquet"
    path.write_text("not parquet")
    result = audit(taxonomy_file, path)
    assert (result.exit_code, result.stderr.count("\n")) == (2, 1)
    assert "not a readable Parquet file" in result.stderr
    result = audit(taxonomy_file, corpus_file(tmp_path), "-o", tmp_path / "x.txt")
    assert result.exit_code == 2
    assert result.stderr == "error: --output needs --format json, csv or markdown\n"


def test_stdin_is_read_as_csv(tmp_path, taxonomy_file):
    data = pd.DataFrame(ROWS).to_csv(index=False)
    result = runner.invoke(
        app, ["audit", "-", "--taxonomy", str(taxonomy_file), "-f", "json"], input=data
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["messages"] == 2
