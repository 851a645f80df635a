"""No user text is ever read as Rich markup: ``[/x]`` and ``[bold]`` print as written.

Tag names, aliases, agents, messages, file paths and error lines all carry markup-like text
here; every command must print it literally (a closing tag without an opening one made Rich
raise, and ``[bold]`` vanished into styling).
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from conftest import FIXTURE_TAXONOMY

    from classifier.review.decisions import Decision, DecisionStore

    root = tmp_path_factory.mktemp("markup") / "[bold]in["  # files in it: ".../[bold]in[/x]..."
    root.mkdir()
    taxonomy = root / "x]tax.yaml"
    taxonomy.write_text(
        FIXTURE_TAXONOMY.replace("name: fixture", "name: '[bold]fixture[/x]'")
        .replace("name: Web", "name: '[/x]Web'")
        .replace('"website"', '"[bold]site[/bold]"'),
        encoding="utf-8",
    )
    rows = [
        {"id": "[/x]1", "text": "[bold]the page[/x] is broken",
         "tags": "Bug report; [bold]site[/bold]", "agent": "[/x]ann"},
        {"id": "2", "text": "the API [/x] throws", "tags": "API; [/x]nope", "agent": "[bold]bob"},
        {"id": "3", "text": "", "tags": "", "agent": "[/x]ann"},
    ]  # fmt: skip
    corpus = root / "x]c.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)
    db = root / "x]d.sqlite"
    with DecisionStore(db) as store:
        store.record([Decision("2", "team", "overridden", "web", suggested="api", agent="[/x]ann")])
    return root, taxonomy, corpus, db


def test_the_paths_hold_markup(hostile):
    _root, taxonomy, corpus, db = hostile
    assert all("[bold]in[/x]" in str(path) for path in (taxonomy, corpus, db))


def run(*args):
    result = runner.invoke(app, [str(a) for a in args], env=WIDE)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_taxonomy_check_and_show(hostile):
    _, taxonomy, _, _ = hostile
    check = run("taxonomy", "check", taxonomy)
    assert check.exit_code == 0, check.output
    assert "[/x]Web" in check.stdout and "[bold]site[/bold]" in check.stdout
    assert f"valid: {taxonomy}: '[bold]fixture[/x]'" in check.stderr
    show = run("taxonomy", "show", taxonomy)
    assert show.exit_code == 0 and "[/x]Web" in show.stdout


def test_audit_table(hostile):
    _, taxonomy, corpus, _ = hostile
    result = run("audit", corpus, "--taxonomy", taxonomy)
    assert result.exit_code == 1, result.output
    for text in (f"audit of {corpus}", "[/x]ann", "[bold]bob", "[/x]1", "[/x]nope"):
        assert text in result.stdout, text


def test_export_and_review_stats(hostile, tmp_path):
    _, taxonomy, corpus, db = hostile
    out = tmp_path / "[bold]out[" / "x]"
    assert "[bold]out[/x]" in str(out)
    result = run("export", corpus, "--by", "team", "--out", out, "--taxonomy", taxonomy)
    assert result.exit_code == 0, result.output
    assert f"team files in {out}; " in result.stderr
    stats = run("review", corpus, "--stats", "--db", db)
    assert stats.exit_code == 0, stats.output
    assert "[/x]ann" in stats.stdout and f"decided in {db}" in stats.stdout


def test_suggest_table_with_markup_in_the_tag_names(hostile, tiny_model):
    _, taxonomy, _, _ = hostile
    result = run("suggest", "[/x] the [bold]page", "--model", tiny_model, "--taxonomy", taxonomy)
    assert result.exit_code == 0, result.output
    assert "suggestion:" in result.stdout


def test_error_lines_print_paths_and_values_as_written(hostile):
    root, taxonomy, _, _ = hostile
    missing = root / "x]missing[bold].csv"
    result = run("audit", missing, "--taxonomy", taxonomy)
    assert result.exit_code == 2
    assert result.stderr == f"error: {missing}: no such file\n"
    bad = run("audit", missing, "--format", "[/x]")
    assert bad.exit_code == 2 and "'[/x]' is not one of" in bad.stderr
    assert bad.stderr.count("\n") == 1
