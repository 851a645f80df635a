"""Every CSV feedtag writes is safe to open in a spreadsheet: no cell starts a formula.

Each OWASP CSV-injection start (and its full-width form) goes into every column of every CSV
output; the files are read back with Python's csv module, as a spreadsheet would split them,
and no cell may start with a live formula character.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.output import FORMULA_STARTS, csv_bytes, csv_text
from cli import app

runner = CliRunner()
STARTS = ["=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠"]


def cells(data: bytes | str) -> list[list[str]]:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return list(csv.reader(io.StringIO(text, newline="")))


def live(rows: list[list[str]]) -> list[str]:
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def test_the_starts_are_the_owasp_list_and_their_full_width_forms():
    assert set(FORMULA_STARTS) == set(STARTS)


@pytest.mark.parametrize("start", STARTS)
def test_csv_bytes_neutralises_every_start_in_every_column_and_the_header(start):
    hostile = f"{start}1+1"
    frame = pd.DataFrame({"a": [hostile, "ok"], hostile: ["x", hostile], "n": [1, 2]})
    rows = cells(csv_bytes(frame))
    assert live(rows) == []
    assert rows == [
        ["a", "'" + hostile, "n"],
        ["'" + hostile, "x", "1"],
        ["ok", "'" + hostile, "2"],
    ]


def test_a_line_break_inside_a_cell_never_starts_a_row():
    """The bypass: ``x\\r=1+1`` unquoted is two rows in a spreadsheet, the second a formula."""
    frame = pd.DataFrame({"a": ["x\r=1+1", "y\n@SUM(1)"], "b": ["1", "2"]})
    assert cells(csv_text(frame)) == [["a", "b"], ["x\r=1+1", "1"], ["y\n@SUM(1)", "2"]]


@given(st.lists(st.text(max_size=12), min_size=1, max_size=6))
def test_any_text_reads_back_as_written_or_with_one_quote_in_front(values):
    rows = cells(csv_bytes(pd.DataFrame({"v": values}, dtype=object)))
    assert len(rows) == len(values) + 1
    for value, (cell,) in zip(values, rows[1:], strict=True):
        assert cell == ("'" + value if value.startswith(FORMULA_STARTS) else value)
    assert live(rows) == []


# --- every CSV output of the CLI ---------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A corpus with a hostile start in every column, one row per start; per-axis tags."""
    from conftest import FIXTURE_TAXONOMY

    root = tmp_path_factory.mktemp("hostile-csv")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(FIXTURE_TAXONOMY, encoding="utf-8")
    rows = []
    for i, start in enumerate(STARTS):
        bad = f"{start}cmd|' /C calc'!A{i}"
        rows.append(
            {
                "id": bad,
                "text": f"{start}the api endpoint throws an error {i}",
                "team": ["Team: Web", bad][i % 2],  # an alias: --fix has work to do
                "topic": ["Bug report", f"{start}bug"][i % 2],
                "agent": bad,
                "created_at": bad,
                "conversation_id": bad,
                "user_id": bad,
                f"{start}extra{i}": bad,
            }
        )
    corpus = root / "corpus.csv"
    corpus.write_bytes(csv_bytes(pd.DataFrame(rows).fillna(""), neutralised=True))
    return taxonomy, corpus


def invoke(*args) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 1), result.output


def test_audit_csv_report_and_fix(hostile, tmp_path):
    taxonomy, corpus = hostile
    invoke("audit", corpus, "--taxonomy", taxonomy, "-f", "csv", "-o", tmp_path / "r.csv")
    rows = cells((tmp_path / "r.csv").read_bytes())
    assert len(rows) > len(STARTS) and live(rows) == []
    invoke("audit", corpus, "--taxonomy", taxonomy, "--fix", tmp_path / "f.csv")
    rows = cells((tmp_path / "f.csv").read_bytes())
    assert len(rows) == len(STARTS) + 1 and live(rows) == []
    assert [row[2] for row in rows[1::2]] == ["Web"] * 6  # fixed, and still one row each


def test_suggest_csv(hostile, tmp_path, tiny_model):
    taxonomy, corpus = hostile
    out = tmp_path / "s.csv"
    invoke("suggest", "-i", corpus, "-o", out, "--taxonomy", taxonomy, "--model", tiny_model)
    rows = cells(out.read_bytes())
    assert len(rows) == len(STARTS) + 1 and live(rows) == []


def test_export_csv_every_file(hostile, tmp_path):
    taxonomy, corpus = hostile
    out = tmp_path / "export"
    invoke("export", corpus, "--by", "team", "--out", out, "--taxonomy", taxonomy)
    files = sorted(out.glob("*.csv"))
    assert len(files) >= 3
    total = 0
    for path in files:
        rows = cells(path.read_bytes())
        assert live(rows) == [], path.name
        total += len(rows) - 1 if path.name != "index.csv" else 0
    assert total == len(STARTS)


def test_review_apply_csv(hostile, tmp_path):
    from classifier.review.decisions import Decision, DecisionStore

    taxonomy, corpus = hostile
    db = tmp_path / "d.sqlite"
    with DecisionStore(db) as store:
        ids = pd.read_csv(corpus, dtype=str, keep_default_na=False)["id"]
        store.record([Decision(i, "team", "overridden", "api", suggested="web") for i in ids])
    out = tmp_path / "applied.csv"
    invoke("review", corpus, "--taxonomy", taxonomy, "--db", db, "--apply", "--out", out)
    rows = cells(out.read_bytes())
    assert len(rows) == len(STARTS) + 1 and live(rows) == []


def test_the_hostile_corpus_itself_is_hostile(hostile):
    """The fixture holds what it claims: every start, live, in the id column."""
    _, corpus = hostile
    assert {row[0][0] for row in cells(corpus.read_bytes())[1:]} == set(STARTS)
