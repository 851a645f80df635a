"""feedtag issues and followups in the library: links, frequency edges, teams, follow-ups."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.corpus import Columns, load_corpus
from classifier.errors import CorpusError, UsageError
from classifier.export.duplicates import near_duplicates
from classifier.export.followups import build_followups, read_closed
from classifier.export.labels import gh_commands, label_changes, labels_jsonl
from classifier.export.links import link_table, parse_cell, parse_ref
from classifier.export.tracker import build_issues, issue_settings
from classifier.export.tracker_markdown import issues_markdown
from classifier.output import csv_text
from classifier.taxonomy import load_taxonomy
from tests.tracker_fixtures import day, write_corpus, write_taxonomy


@pytest.fixture
def taxonomy(tmp_path: Path):
    return load_taxonomy(write_taxonomy(tmp_path))


def report_of(tmp_path, taxonomy, rows, **options):
    corpus = load_corpus(write_corpus(tmp_path / "corpus.csv", rows), taxonomy)
    return build_issues(corpus, issue_settings(corpus, **options))


def issue_row(report, key):
    rows = report.issues[report.issues["issue"] == key]
    assert len(rows) == 1, report.issues
    return rows.iloc[0]


# --- link spellings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "key", "tracker", "pull"),
    [
        ("https://github.com/acme/web/issues/12", "acme/web#12", "github", False),
        ("http://www.github.com/Acme/Web/issues/12/", "acme/web#12", "github", False),
        ("github.com/acme/web/issues/12", "acme/web#12", "github", False),
        ("https://github.com/acme/web/issues/12#issuecomment-99", "acme/web#12", "github", False),
        ("https://github.com/acme/web/issues/12?x=1", "acme/web#12", "github", False),
        ("https://github.com/acme/web/pull/12", "acme/web#12", "github", True),
        ("https://github.com/acme/web/pull/12/files", "acme/web#12", "github", True),
        ("ACME/Web#12", "acme/web#12", "github", False),
        ("acme/web.js#007", "acme/web.js#7", "github", False),
        (
            "https://gitlab.com/group/sub/proj/-/issues/12",
            "gitlab.com/group/sub/proj#12",
            "gitlab",
            False,
        ),
        ("https://GitLab.com/Group/Proj/-/issues/3/", "gitlab.com/group/proj#3", "gitlab", False),
        ("https://gitlab.com/group/proj/issues/3", "gitlab.com/group/proj#3", "gitlab", False),
        ("https://git.acme.io/team/app/-/issues/5", "git.acme.io/team/app#5", "gitlab", False),
        ("https://git.acme.io/team/app/-/work_items/5", "git.acme.io/team/app#5", "gitlab", False),
        (
            "https://git.acme.io/team/app/-/merge_requests/5",
            "git.acme.io/team/app!5",
            "gitlab",
            True,
        ),
        ("https://acme.atlassian.net/browse/ABC-123", "ABC-123", "jira", False),
        ("https://jira.acme.io/browse/abc-123", "ABC-123", "jira", False),
        ("https://jira.acme.io/projects/ABC/issues/ABC-123", "ABC-123", "jira", False),
        (
            "https://acme.atlassian.net/jira/software/c/projects/ABC/boards/1?selectedIssue=ABC-123",
            "ABC-123",
            "jira",
            False,
        ),
        ("ABC-123", "ABC-123", "jira", False),
        ("abc-0123", "ABC-123", "jira", False),
        ("<https://github.com/acme/web/issues/12>", "acme/web#12", "github", False),
    ],
)
def test_each_spelling_gives_one_key(spelling, key, tracker, pull):
    ref = parse_ref(spelling)
    assert ref is not None
    assert (ref.key, ref.tracker, ref.pull) == (key, tracker, pull)


@pytest.mark.parametrize(
    "spelling",
    [
        "#12",
        "see slack",
        "https://example.com/acme/web/issues/12",  # not GitHub, not GitLab's /-/ path
        "https://github.com/acme/web",
        "https://github.com/acme/web/issues/x",
        "ftp://github.com/acme/web/issues/1",
        "A-1",  # a Jira project key has at least two characters
        "https://acme.atlassian.net/browse/",
    ],
)
def test_unreadable_spellings(spelling):
    assert parse_ref(spelling) is None


@pytest.mark.parametrize(
    "cell",
    [
        "acme/web#1 ABC-2",
        "acme/web#1,ABC-2",
        "acme/web#1; ABC-2",
        "acme/web#1 | ABC-2",
        '["acme/web#1", "ABC-2"]',
        "acme/web#1\nABC-2, acme/web#1",
        "https://github.com/acme/web/issues/1 https://acme.atlassian.net/browse/abc-2",
    ],
)
def test_several_links_per_cell(cell):
    parsed = parse_cell(cell)
    assert [ref.key for ref in parsed.refs] == ["acme/web#1", "ABC-2"]
    assert parsed.unreadable == ()


def test_broken_json_list_is_unreadable():
    parsed = parse_cell('["acme/web#1", ')
    assert parsed.refs == () and parsed.unreadable == ('["acme/web#1",',)


def test_link_table_parses_each_distinct_cell_once_and_reports_rows():
    cells = pd.Series(["acme/web#1", "", "nope acme/web#2", None, "acme/web#1", "ABC-1|abc-1"])
    links = link_table(cells)
    keys = [links.refs[i].key for i in links.pairs["issue"]]
    assert list(links.pairs["message"]) == [0, 2, 4, 5]
    assert keys == ["acme/web#1", "acme/web#2", "acme/web#1", "ABC-1"]
    assert links.unreadable.to_dict("records") == [{"row": 3, "value": "nope"}]
    assert list(links.linked) == [True, False, True, False, True, True]


def test_list_cells_from_json_lines(tmp_path, taxonomy):
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"id": "1", "text": "a", "tags": ["Web", "Bug report"], "issue": ["acme/web#1", "XY-2"]},
        {"id": "2", "text": "b", "tags": ["Web", "Bug report"], "issue": []},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    corpus = load_corpus(path, taxonomy)
    assert corpus.columns.links == "issue"
    links = link_table(corpus.frame["issue"])
    assert [ref.key for ref in links.refs] == ["acme/web#1", "XY-2"]


OWNER = st.text("abcXYZ019-_.", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


@given(owner=OWNER, repo=OWNER, number=st.integers(1, 10**6), form=st.integers(0, 3))
def test_github_spellings_meet_in_one_key(owner, repo, number, form):
    spellings = [
        f"https://github.com/{owner}/{repo}/issues/{number}",
        f"https://github.com/{owner.upper()}/{repo}/pull/{number}",
        f"{owner}/{repo.swapcase()}#{number}",
        f"github.com/{owner}/{repo}/issues/{number}/#top",
    ]
    ref = parse_ref(spellings[form])
    assert ref is not None and ref.key == f"{owner.lower()}/{repo.lower()}#{number}"


@given(
    keys=st.lists(
        st.tuples(st.sampled_from(["ABC", "Web", "q_1"]), st.integers(1, 99)), max_size=5
    ),
    separators=st.lists(
        st.sampled_from([" ", ",", ";", "|", ", ", " ; ", "\t"]), min_size=5, max_size=5
    ),
)
def test_a_cell_reads_as_its_parts(keys, separators):
    tokens = [f"{project}-{number}" for project, number in keys]
    cell = "".join(token + separator for token, separator in zip(tokens, separators, strict=False))
    expected = list(dict.fromkeys(parse_ref(token).key for token in tokens))
    assert [ref.key for ref in parse_cell(cell).refs] == expected


# --- the link column ------------------------------------------------------------------------


def test_link_column_option_and_detection(tmp_path, taxonomy):
    path = write_corpus(tmp_path / "c.csv", [{"issue": "acme/web#1"}])
    assert load_corpus(path, taxonomy).columns.links == "issue"
    assert load_corpus(path, taxonomy, Columns(links="ISSUE")).columns.links == "issue"
    with pytest.raises(CorpusError, match="no column 'jira' \\(--link-column\\)"):
        load_corpus(path, taxonomy, Columns(links="jira"))


def test_no_link_column_is_a_usage_error(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    path.write_text("id,text,tags\n1,a,Web; Bug report\n", encoding="utf-8")
    with pytest.raises(UsageError, match="--link-column"):
        issue_settings(load_corpus(path, taxonomy))


# --- frequency ------------------------------------------------------------------------------


def reported_on(offsets, **options):
    """Rows: one conversation per offset (days before 2026-11-30) linked to acme/web#1."""
    rows = [{"created_at": day(offset), "issue": "acme/web#1"} for offset in offsets]
    rows.append({"created_at": day(0, hour=18), "tags": "Web; Question"})  # the newest message
    return rows


@pytest.mark.parametrize(
    ("offsets", "frequency", "days"),
    [
        ([0, 1, 2, 6], "daily", 4),  # exactly N=4 distinct days of the last 7
        ([0, 1, 2], "", 3),  # N-1 days, all in week 0: not weekly either
        ([0, 0, 0, 1, 1, 2], "", 3),  # many reports on N-1 days is still N-1 days
        ([0, 1, 2, 7], "", 3),  # day 7 is the eighth day back
        ([0, 7, 14, 21], "weekly", 1),  # once in each of the last M=4 weeks
        ([6, 13, 20, 27], "weekly", 1),  # the last day of each week
        ([0, 7, 21, 28], "", 1),  # a gap week (days 14-20)
        ([0, 7, 14], "", 1),  # only three weeks
    ],
)
def test_frequency_rule_at_its_edges(tmp_path, taxonomy, offsets, frequency, days):
    report = report_of(tmp_path, taxonomy, reported_on(offsets))
    row = issue_row(report, "acme/web#1")
    assert (row["frequency"], row["days_last_7"]) == (frequency, days)
    assert report.as_of == pd.Timestamp(day(0, hour=18))


def test_frequency_options_and_as_of(tmp_path, taxonomy):
    rows = reported_on([0, 1, 2, 6])
    assert (
        issue_row(report_of(tmp_path, taxonomy, rows, daily_days=5), "acme/web#1")["frequency"]
        == ""
    )
    # As of 2026-11-28 (a whole day): days 0 and 1 are in the future, day 2 is day 0.
    report = report_of(tmp_path, taxonomy, rows, as_of="2026-11-28")
    assert (issue_row(report, "acme/web#1")["days_last_7"], report.messages) == (2, 2)
    weekly = reported_on([0, 7])
    assert (
        issue_row(report_of(tmp_path, taxonomy, weekly, weekly_weeks=2), "acme/web#1")["frequency"]
        == "weekly"
    )


def test_one_conversation_is_one_report(tmp_path, taxonomy):
    rows = [
        {
            "conversation_id": "c1",
            "created_at": day(3),
            "issue": "acme/web#1",
            "tags": "API; Bug report",
        },
        {
            "conversation_id": "c1",
            "created_at": day(2),
            "issue": "acme/web#1",
            "tags": "Web; Bug report",
        },
        {
            "conversation_id": "c1",
            "created_at": day(1),
            "issue": "https://github.com/acme/web/issues/1",
        },
    ]
    row = issue_row(report_of(tmp_path, taxonomy, rows), "acme/web#1")
    assert (row["conversations"], row["days_last_7"], row["team"]) == (1, 1, "api")
    assert (row["first_report"], row["last_report"]) == (day(3), day(3))


# --- team and topic -------------------------------------------------------------------------


def teams(*tags, issue="acme/web#1"):
    return [{"created_at": day(1), "issue": issue, "tags": tag} for tag in tags]


def test_majority_team_with_its_share_and_a_mismatch(tmp_path, taxonomy):
    report = report_of(
        tmp_path,
        taxonomy,
        teams("Web; Bug report", "Web; Bug report", "Web; Bug report", "API; Bug report"),
    )
    row = issue_row(report, "acme/web#1")
    assert (row["team"], row["team_share"]) == ("web", 0.75)
    assert report.findings[["check"]].to_dict("records") == [{"check": "team-mismatch"}]
    assert "web 3, api 1" in report.findings["message"].iloc[0]
    assert label_changes(report)[0].add == ("team:web",)


def test_tie_is_a_finding_without_a_team_label(tmp_path, taxonomy):
    report = report_of(
        tmp_path,
        taxonomy,
        teams(
            "Web; Bug report",
            "API; Bug report",
            "Mobile; Bug report",
            "Mobile; Bug report",
            "Web; Bug report",
        ),
    )
    assert list(report.findings["check"]) == ["team-tie"]
    assert "mobile 2, web 2" in report.findings["message"].iloc[0]
    change = label_changes(report)[0]
    assert change.add == () and change.remove == ("frequency:daily", "frequency:weekly")


def test_one_team_no_finding_and_untagged_reports_do_not_vote(tmp_path, taxonomy):
    report = report_of(
        tmp_path, taxonomy, teams("Web; Bug report", "Bug report", "Web; API; Bug report")
    )
    row = issue_row(report, "acme/web#1")
    assert (row["team"], row["team_share"], row["conversations"]) == ("web", 1.0, 3)
    assert report.findings.empty
    nobody = report_of(tmp_path, taxonomy, teams("Bug report"))
    assert list(nobody.findings["check"]) == ["no-team"]


def test_mostly_feature_requests_is_probably_not_a_bug(tmp_path, taxonomy):
    report = report_of(
        tmp_path,
        taxonomy,
        teams("Web; Feature request", "Web; Feature request", "Web; Bug report")
        + teams("Web; Feature request", "Web; Bug report", issue="acme/web#2"),
    )
    assert report.findings.to_dict("records") == [
        {
            "issue": "acme/web#1",
            "check": "not-a-bug",
            "message": "2 of 3 reports are feature-request: probably not a bug",
        }
    ]
    assert issue_row(report, "acme/web#1")["topics"] == "feature-request 2, bug-report 1"


# --- unlinked bug reports -------------------------------------------------------------------


def test_unlinked_bug_reports_by_team_with_near_duplicates(tmp_path, taxonomy):
    rows = [
        {
            "text": "The export button on the reports page does nothing at all",
            "tags": "Web; Bug report",
        },
        {"text": "Export button on reports page does nothing!!", "tags": "Web; Bug report"},
        {"text": "The export button on the reports page does nothing", "tags": "API; Bug report"},
        {"text": "Login fails with a 500 error since this morning", "tags": "Web; Bug report"},
        {"text": "Please add dark mode", "tags": "Web; Feature request"},
        {"conversation_id": "c9", "text": "Search is broken", "tags": "Web; Bug report"},
        {
            "conversation_id": "c9",
            "text": "here is the link",
            "tags": "Web; Question",
            "issue": "acme/web#3",
        },
        {"text": "Charts are empty", "tags": "Web; Bug report", "issue": "see jira"},
    ]
    unlinked = report_of(tmp_path, taxonomy, rows).unlinked
    assert list(unlinked["team"]) == ["api", "web", "web", "web"]
    assert list(unlinked["row"]) == [3, 1, 2, 4]
    assert list(unlinked["group_size"]) == [1, 2, 2, 1]
    assert list(unlinked["group"]) == [1, 2, 2, 3]


def test_near_duplicates_threshold_and_exact_copies():
    texts = ["Invoice PDF is blank", "invoice pdf is BLANK!", "Totally different words here", ""]
    groups = near_duplicates(texts, ["a", "a", "a", "a"], 0.99)
    assert groups[0] == groups[1] and len(set(groups)) == 3
    apart = near_duplicates(texts[:2], ["a", "b"], 0.5)
    assert apart[0] != apart[1]


# --- label changes, gh commands and hostile values ------------------------------------------


def test_gh_commands_github_only_and_every_value_quoted(tmp_path, taxonomy):
    rows = [
        {
            "created_at": day(offset),
            "issue": "https://github.com/acme/web/pull/7",
            "tags": "Web; Bug report",
        }
        for offset in (0, 1, 2, 3)
    ] + [
        {
            "created_at": day(1),
            "issue": "ABC-1; https://gitlab.com/g/p/-/issues/2",
            "tags": "API; Bug report",
        },
        {
            "created_at": day(1),
            "issue": "acme/web#8;rm -rf ~ $(reboot) `id`",
            "tags": "API; Bug report",
        },
    ]
    report = report_of(tmp_path, taxonomy, rows)
    script = gh_commands(label_changes(report))
    commands = [shlex.split(line) for line in script.splitlines() if not line.startswith("#")]
    assert commands == [
        [
            "gh",
            "pr",
            "edit",
            "7",
            "--repo",
            "acme/web",
            "--add-label",
            "team:web",
            "--add-label",
            "frequency:daily",
            "--remove-label",
            "frequency:weekly",
        ],
        [
            "gh",
            "issue",
            "edit",
            "8",
            "--repo",
            "acme/web",
            "--add-label",
            "team:api",
            "--remove-label",
            "frequency:daily",
            "--remove-label",
            "frequency:weekly",
        ],
    ]
    assert "# 1 gitlab issue skipped" in script and "# 1 jira issue skipped" in script
    assert report.unreadable.to_dict("records") == [
        {"row": 6, "id": "m6", "value": "rm -rf ~ $(reboot) `id`"}
    ]
    lines = [json.loads(line) for line in labels_jsonl(label_changes(report)).splitlines()]
    assert {line["issue"]: line["add"] for line in lines} == {
        "acme/web#7": ["team:web", "frequency:daily"],
        "ABC-1": ["team:api"],
        "gitlab.com/g/p#2": ["team:api"],
        "acme/web#8": ["team:api"],
    }


def test_markdown_and_csv_neutralise_hostile_text(tmp_path, taxonomy):
    rows = [
        {
            "text": "a | b | <script>x</script> **bold**",
            "tags": "Web; Bug report",
            "user_id": "=cmd|' /C calc'!A0",
        },
        {"text": "linked", "issue": "acme/web#1", "created_at": day(1)},
    ]
    report = report_of(tmp_path, taxonomy, rows)
    markdown = issues_markdown(report, 10)
    unlinked_line = next(line for line in markdown.splitlines() if "script" in line)
    assert "a \\| b \\| &lt;script&gt;x&lt;/script&gt; \\*\\*bold\\*\\*" in unlinked_line
    assert len(re.split(r"(?<!\\)\|", unlinked_line)) == 9  # 7 cells: the text's pipes escaped
    assert "'=cmd" in csv_text(report.unlinked)


# --- follow-ups -----------------------------------------------------------------------------


def test_followups_must_and_must_not(tmp_path, taxonomy):
    rows = [
        # c1: linked, last message on day 5, the issue closed on day 2: get back to them.
        {"conversation_id": "c1", "created_at": day(6), "issue": "acme/web#1", "user_id": "ann"},
        {"conversation_id": "c1", "created_at": day(5), "tags": "Web; Question", "user_id": "ann"},
        # c2: linked, but wrote again on day 1, after the close on day 2: not.
        {"conversation_id": "c2", "created_at": day(4), "issue": "acme/web#1", "user_id": "bob"},
        {"conversation_id": "c2", "created_at": day(1), "tags": "Web; Question", "user_id": "bob"},
        # c3: linked to an issue that is still open: not.
        {"conversation_id": "c3", "created_at": day(9), "issue": "acme/web#2", "user_id": "cat"},
        # c4: linked through the Jira URL, older than c1: first in the list.
        {
            "conversation_id": "c4",
            "created_at": day(8),
            "issue": "abc-9",
            "user_id": "dan",
            "tags": "API; Bug report",
        },
    ]
    corpus = load_corpus(write_corpus(tmp_path / "c.csv", rows), taxonomy)
    closed = tmp_path / "closed.json"
    closed.write_text(
        json.dumps(
            [
                {"url": "https://github.com/Acme/Web/issues/1", "closedAt": day(2)},
                {"url": "https://acme.atlassian.net/browse/ABC-9", "closedAt": day(7)},
                {"url": "not a link", "closedAt": day(7)},
            ]
        ),
        encoding="utf-8",
    )
    shut = read_closed(str(closed))
    found = build_followups(corpus, shut)
    assert found.rows[["conversation_id", "user_id", "team", "issue"]].to_dict("records") == [
        {"conversation_id": "c4", "user_id": "dan", "team": "api", "issue": "ABC-9"},
        {"conversation_id": "c1", "user_id": "ann", "team": "web", "issue": "acme/web#1"},
    ]
    assert list(found.rows["last_message"]) == [day(8), day(5)]
    assert shut.unreadable.to_dict("records") == [
        {"row": 3, "value": "not a link", "reason": "not an issue reference"}
    ]


def test_closed_file_columns(tmp_path):
    path = tmp_path / "closed.csv"
    path.write_text(
        "Issue key,Resolved\nABC-1,2026-11-02 10:00\nABC-1,2026-11-05\n", encoding="utf-8"
    )
    assert read_closed(str(path)).closed == {"ABC-1": pd.Timestamp("2026-11-05", tz="UTC")}
    path.write_text("what,when\nABC-1,2026-11-02\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no issue or close-time column found"):
        read_closed(str(path))
    assert read_closed(str(path), "what", "when").closed == {
        "ABC-1": pd.Timestamp("2026-11-02", tz="UTC")
    }


def test_near_duplicates_do_not_chain():
    # a ~ b and b ~ c, but a and c share no word: c must not join a's group through b.
    texts = ["alpha beta gamma delta", "gamma delta epsilon zeta", "epsilon zeta theta iota"]
    groups = near_duplicates(texts, ["t", "t", "t"], 0.3)
    assert groups[0] == groups[1] and groups[2] != groups[0]


def test_a_corpus_without_links_or_dates(tmp_path, taxonomy):
    report = report_of(tmp_path, taxonomy, [{"text": "crash on save"}, {"text": "crash on save!"}])
    assert report.issues.empty and report.as_of is None
    assert list(report.unlinked["group_size"]) == [2, 2]
    assert gh_commands(label_changes(report)).count("\n") == 1  # the header comment only
    undated = [{"issue": "acme/web#1"}, {"issue": "ABC-2"}]
    row = issue_row(report_of(tmp_path, taxonomy, undated), "acme/web#1")
    assert (row["first_report"], row["frequency"], row["days_last_7"]) == (None, "", 0)
    corpus = load_corpus(write_corpus(tmp_path / "u.csv", undated), taxonomy)
    closed = tmp_path / "closed.csv"
    closed.write_text("issue,closed_at\nacme/web#1,2026-11-01\n", encoding="utf-8")
    found = build_followups(corpus, read_closed(str(closed)))
    assert found.rows.empty and found.undated == 1


def test_since_leaves_older_reports_out(tmp_path, taxonomy):
    rows = [{"created_at": day(offset), "issue": "acme/web#1"} for offset in (1, 9, 20)]
    row = issue_row(report_of(tmp_path, taxonomy, rows, since=day(10)[:10]), "acme/web#1")
    assert (row["conversations"], row["first_report"]) == (2, day(9))


def test_a_retired_team_labels_as_its_successor(tmp_path):
    path = write_taxonomy(tmp_path)
    text = path.read_text().replace(
        "          - id: mobile\n            name: Mobile\n",
        "          - id: mobile\n            name: Mobile\n"
        "          - id: apps\n            name: Apps\n            deprecated: true\n"
        "            replaced_by: mobile\n",
    )
    path.write_text(text, encoding="utf-8")
    rows = teams("Apps; Bug report", "Mobile; Bug report")
    report = report_of(tmp_path, load_taxonomy(path), rows)
    assert issue_row(report, "acme/web#1")["team"] == "mobile"
    assert report.findings.empty
