"""feedtag issues and feedtag followups end to end: exit codes, streams, files."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from cli import app
from tests.tracker_fixtures import day, write_corpus, write_taxonomy

runner = CliRunner()


def rows():
    return [
        {"created_at": day(offset), "issue": "https://github.com/acme/web/issues/1"}
        for offset in (0, 1, 2, 3)
    ] + [
        {"created_at": day(2), "issue": "BAD [red]x[/red]", "tags": "API; Bug report"},
        {"created_at": day(2), "text": "[bold]unlinked[/bold] crash", "tags": "API; Bug report"},
    ]


def invoke(tmp_path, command, *args, corpus_rows=None):
    taxonomy = write_taxonomy(tmp_path)
    corpus = write_corpus(tmp_path / "c.csv", corpus_rows or rows())
    argv = [command, str(corpus), "--taxonomy", str(taxonomy), *map(str, args)]
    return runner.invoke(app, argv), corpus


def test_issues_json(tmp_path):
    result, _ = invoke(tmp_path, "issues", "--link-column", "issue", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(i["issue"], i["frequency"], i["team"]) for i in report["issues"]] == [
        ("acme/web#1", "daily", "web")
    ]
    assert report["unreadable"] == [{"row": 5, "id": "m5", "value": "BAD [red]x[/red]"}]
    assert [u["row"] for u in report["unlinked"]] == [6]
    assert "1 issue from 4 reports, 0 findings, 1 unlinked bug report in 1 group" in result.stderr
    assert "warning: 1 row with a link that is not an issue reference: row 5" in result.stderr


def test_issues_gh_stream_and_labels_out(tmp_path):
    labels = tmp_path / "labels.jsonl"
    result, _ = invoke(tmp_path, "issues", "--format", "gh", "--labels-out", labels)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "# feedtag issues: label changes for GitHub issues; review, then run with sh\n"
        "gh issue edit 1 --repo acme/web --add-label team:web --add-label frequency:daily "
        "--remove-label frequency:weekly\n"
    )
    assert [json.loads(line) for line in labels.read_text().splitlines()] == [
        {
            "issue": "acme/web#1",
            "tracker": "github",
            "project": "acme/web",
            "number": 1,
            "pull": False,
            "add": ["team:web", "frequency:daily"],
            "remove": ["frequency:weekly"],
        }
    ]


def test_issues_options_change_the_labels(tmp_path):
    result, _ = invoke(tmp_path, "issues", "-f", "csv", "--daily-days", "5", "--weekly-weeks", "1")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["issue"], r["frequency"], r["days_last_7"]) for r in table] == [
        ("acme/web#1", "weekly", "4")
    ]


def test_issues_table_prints_user_text_literally(tmp_path):
    result, _ = invoke(tmp_path, "issues")
    assert result.exit_code == 0, result.output
    assert "BAD [red]x[/red]" in result.stdout
    assert "[bold]unlinked[/bold] crash" in result.stdout


def test_issues_usage_errors_exit_2(tmp_path):
    result, corpus = invoke(tmp_path, "issues", "--link-column", "nope")
    assert result.exit_code == 2 and "no column 'nope' (--link-column)" in result.stderr
    result, corpus = invoke(tmp_path, "issues", "--daily-days", "8")
    assert result.exit_code == 2 and "--daily-days 8" in result.stderr
    result, corpus = invoke(tmp_path, "issues", "--as-of", "yesterday")
    assert result.exit_code == 2 and "--as-of 'yesterday': not an ISO date" in result.stderr
    before = corpus.read_bytes()
    result, corpus = invoke(tmp_path, "issues", "-f", "json", "--output", tmp_path / "c.csv")
    assert result.exit_code == 2 and "inputs are never overwritten" in result.stderr
    assert corpus.read_bytes() == before
    result, _ = invoke(tmp_path, "issues", "--bug-topic", "bug")
    assert result.exit_code == 2 and "--bug-topic 'bug': not a topic id" in result.stderr


def test_followups_csv_oldest_first(tmp_path):
    closed = tmp_path / "closed.csv"
    closed.write_text(f"issue,closed_at\nacme/web#1,{day(1, hour=13)}\n", encoding="utf-8")
    result, _ = invoke(tmp_path, "followups", "--closed", closed, "--format", "csv")
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    # Reports on days 3, 2 and 1 (noon) came before the close on day 1 at 13:00; day 0 after.
    assert [(r["conversation_id"], r["last_message"]) for r in table] == [
        ("c4", day(3)),
        ("c3", day(2)),
        ("c2", day(1)),
    ]
    assert "3 conversations to get back to, of 4 linked to 1 closed issue" in result.stderr


def test_followups_refuses_to_overwrite_the_closed_file(tmp_path):
    closed = tmp_path / "closed.csv"
    closed.write_text(f"issue,closed_at\nacme/web#1,{day(1)}\n", encoding="utf-8")
    result, _ = invoke(tmp_path, "followups", "--closed", closed, "-f", "csv", "-o", closed)
    assert result.exit_code == 2 and "--output" in result.stderr
    assert closed.read_text() == f"issue,closed_at\nacme/web#1,{day(1)}\n"
