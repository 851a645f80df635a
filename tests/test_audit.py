"""Each check fires on a corpus made to trigger it and stays silent on a clean one."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.audit import CHECKS, run_audit
from classifier.audit.fix import write_fixed
from classifier.corpus import format_tags, load_corpus
from classifier.errors import OutputError, UsageError

CLEAN = [
    {
        "id": "1",
        "conversation_id": "c1",
        "created_at": "2026-01-01T09:00:00Z",
        "agent": "ann",
        "user_id": "u1",
        "text": "The page is broken",
        "tags": "Web; Bug report",
    },
    {
        "id": "2",
        "conversation_id": "c2",
        "created_at": "2026-01-01T10:00:00Z",
        "agent": "bob",
        "user_id": "u2",
        "text": "Love the API",
        "tags": "API; Praise",
    },
    {
        "id": "3",
        "conversation_id": "c3",
        "created_at": "2026-01-02T10:00:00Z",
        "agent": "ann",
        "user_id": "u1",
        "text": "How much is the API?",
        "tags": "API; Pricing question",
    },
]


def audit(tmp_path, taxonomy, rows, checks=None):
    path = tmp_path / "corpus.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return run_audit(load_corpus(path, taxonomy), checks).findings


def with_row(**changes):
    rows = [dict(row) for row in CLEAN]
    rows.append(
        {
            **CLEAN[0],
            "id": "9",
            "conversation_id": "c9",
            "user_id": "u9",
            "text": "Something else entirely",
            **changes,
        }
    )
    return rows


def test_a_clean_corpus_has_no_findings(tmp_path, taxonomy):
    assert audit(tmp_path, taxonomy, CLEAN).empty


CASES = {
    "missing-tag": (with_row(tags="Web"), {"axis": "topic", "message": "no topic tag"}),
    "multiple-tags": (
        with_row(tags="Web; Bug report; Praise"),
        {"axis": "topic", "tags": "bug; praise"},
    ),
    "unknown-tag": (
        with_row(tags="Web; Bug reprot"),
        {"tags": "Bug reprot", "fix": "Bug report"},
    ),
    "empty-text": (with_row(text="   "), {"message": "the message has no text"}),
    "repeated-tag": (
        with_row(tags="Web; Bug report; bug_report"),
        {"axis": "topic", "fix": "Bug report"},
    ),
    "alias-tag": (with_row(tags="Team: Web; Bug report"), {"tags": "Team: Web", "fix": "Web"}),
    "deprecated-tag": (with_row(tags="Legacy; Bug report"), {"tags": "Legacy", "fix": "Web"}),
    "duplicate-message": (
        with_row(id="1"),
        {"message": "id also at row 1"},
    ),
    "conflicting-duplicates": (
        with_row(text="the PAGE is broken!", tags="API; Bug report"),
        {"axis": "team", "tags": "api", "message": "same text tagged 'web' at row 1"},
    ),
}


def test_every_check_has_a_case():
    assert set(CASES) == set(CHECKS)


@pytest.mark.parametrize("check", list(CASES))
def test_check_fires_on_its_defect_only(tmp_path, taxonomy, check):
    rows, expected = CASES[check]
    found = audit(tmp_path, taxonomy, rows, [check])
    assert len(found) >= 1
    first = found.iloc[-1] if check == "conflicting-duplicates" else found.iloc[0]
    assert first["check"] == check
    assert first["row"] == 4
    for column, value in expected.items():
        assert first[column] == value
    assert audit(tmp_path, taxonomy, CLEAN, [check]).empty


def test_same_text_same_conversation_is_a_duplicate(tmp_path, taxonomy):
    rows = with_row(conversation_id="c1", text="the page is BROKEN.")
    found = audit(tmp_path, taxonomy, rows, ["duplicate-message"])
    assert found["message"].tolist() == ["same text in the same conversation as row 1"]


def test_same_user_same_text_only_within_a_day(tmp_path, taxonomy):
    near = with_row(user_id="u1", text="The page is broken", created_at="2026-01-01T20:00:00Z")
    far = with_row(user_id="u1", text="The page is broken", created_at="2026-01-03T20:00:00Z")
    assert audit(tmp_path, taxonomy, near, ["duplicate-message"])["row"].tolist() == [4]
    assert audit(tmp_path, taxonomy, far, ["duplicate-message"]).empty


def test_summary_counts_complete_messages_agents_and_tags(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    pd.DataFrame(with_row(tags="Web")).to_csv(path, index=False)
    report = run_audit(load_corpus(path, taxonomy))
    summary = report.summary
    assert (summary.messages, summary.complete) == (4, 3)
    assert summary.by_severity == {"error": 1, "warning": 0, "info": 0}
    assert summary.tags["topic"]["(none)"] == 1
    assert summary.tags["team"]["web"] == 2
    ann = next(agent for agent in summary.agents if agent.agent == "ann")
    assert (ann.messages, ann.errors, ann.complete_share) == (3, 1, pytest.approx(2 / 3))
    assert report.fails("error") and report.fails("warning") and not report.fails("never")


def test_unknown_check_names_are_refused(tmp_path, taxonomy):
    with pytest.raises(UsageError, match="unknown check 'typo'"):
        audit(tmp_path, taxonomy, CLEAN, ["typo"])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "parquet"])
def test_fix_round_trip_changes_only_fixable_tag_cells(tmp_path, taxonomy, fmt):
    rows = [dict(row) for row in CLEAN]
    rows[0]["tags"] = "Team: Web | Bug report | bug-report"
    rows[1]["tags"] = "Legacy, Praise"
    rows[2]["tags"] = "API; Frobnicate"
    source = tmp_path / f"in.{fmt}"
    frame = pd.DataFrame(rows)
    {
        "csv": lambda: frame.to_csv(source, index=False),
        "jsonl": lambda: frame.to_json(source, orient="records", lines=True),
        "json": lambda: frame.to_json(source, orient="records"),
        "parquet": lambda: frame.to_parquet(source),
    }[fmt]()
    before = source.read_bytes()
    corpus = load_corpus(source, taxonomy)
    result = write_fixed(corpus, tmp_path / f"out.{fmt}")
    assert source.read_bytes() == before
    assert (result.messages_changed, result.cells_changed) == (2, 2)
    fixed = load_corpus(result.path, taxonomy)
    checks = set(run_audit(fixed).findings["check"])
    assert not checks & {"alias-tag", "deprecated-tag", "repeated-tag"}
    assert "unknown-tag" in checks  # not fixable: stays in the report
    assert fixed.frame.loc[0, "tags"] == "Web | Bug report"
    assert fixed.frame.loc[1, "tags"] == "Web, Praise"
    untouched = [c for c in frame.columns if c != "tags"]
    assert fixed.frame[untouched].astype(str).equals(corpus.frame[untouched].astype(str))
    assert fixed.frame.loc[2, "tags"] == corpus.frame.loc[2, "tags"]


def test_fix_refuses_to_overwrite_the_input(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    pd.DataFrame(CLEAN).to_csv(path, index=False)
    with pytest.raises(OutputError, match="--fix is the input CORPUS; inputs are never"):
        write_fixed(load_corpus(path, taxonomy), path)


spellings = st.sampled_from(
    [
        "Web",
        "web",
        "Team: Web",
        "website",
        "API",
        "Team: API",
        "Legacy",
        "Bug report",
        "bug_report",
        "Topic: Bug",
        "Praise",
        "Pricing question",
    ]
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(spellings, max_size=4), min_size=1, max_size=8))
def test_fixed_corpus_never_has_fixable_findings(tmp_path_factory, taxonomy, cells):
    folder = tmp_path_factory.mktemp("prop")
    rows = [
        {"id": str(i), "text": f"message {i}", "tags": format_tags(tags)}
        for i, tags in enumerate(cells)
    ]
    source = folder / "in.csv"
    pd.DataFrame(rows).to_csv(source, index=False)
    corpus = load_corpus(source, taxonomy)
    fixed = load_corpus(write_fixed(corpus, folder / "out.csv").path, taxonomy)
    found = set(run_audit(fixed).findings["check"])
    assert not found & {"alias-tag", "deprecated-tag", "repeated-tag"}
    for axis in taxonomy.axes:
        before = [{taxonomy.successor(axis, t) for t in ts} for ts in corpus.axis_tags(axis)]
        assert fixed.axis_tags(axis).map(set).tolist() == before


def test_fix_keeps_a_semicolon_csv_semicolon_separated(tmp_path, taxonomy):
    source = tmp_path / "in.csv"
    source.write_text('id;text;tags\n1;"Hi, there";Team: Web, Praise\n', encoding="utf-8")
    out = write_fixed(load_corpus(source, taxonomy), tmp_path / "out.csv").path
    expected = '"id";"text";"tags"\n"1";"Hi, there";"Web, Praise"\n'  # every text cell quoted
    assert out.read_text(encoding="utf-8") == expected
