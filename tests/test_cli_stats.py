"""`feedtag stats` and `feedtag report` end to end: exit codes, streams, JSON keys, bad input."""

from __future__ import annotations

import csv
import io
import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def row(i, created, tags="Web; Bug report", **extra):
    return {"id": str(i), "text": f"message {i}", "created_at": created, "tags": tags, **extra}


def weekly(counts, tags="Web; Bug report"):
    monday = pd.Timestamp("2026-01-05T10:00:00Z")
    rows = []
    for week, n in enumerate(counts):
        for k in range(n):
            rows.append(
                row(len(rows), (monday + pd.Timedelta(days=7 * week, minutes=k)).isoformat(), tags)
            )
    return rows


def corpus_file(tmp_path, rows, name="c.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def stats(taxonomy_file, *args):
    return runner.invoke(app, ["stats", "--taxonomy", str(taxonomy_file), *map(str, args)])


def one_error_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def test_json_has_the_keys_the_issue_lists(tmp_path, taxonomy_file):
    result = stats(taxonomy_file, corpus_file(tmp_path, weekly([2, 3])), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(w["week"], w["start"], w["contacts"], w["messages"]) for w in data["weeks"]] == [
        ("2026-W02", "2026-01-05", 2, 2),
        ("2026-W03", "2026-01-12", 3, 3),
    ]
    assert data["weeks"][0]["active_users"] is None
    assert data["weeks"][0]["contacts_per_active_user"] is None
    assert data["weeks"][0]["first_response_median_s"] is None
    assert data["first_week"] is None and data["repeat_contacts"] is None
    assert len(data["hour_weekday"]) == 7 and data["hour_weekday"][0][10] == 5
    assert {(t["axis"], t["tag"]) for t in data["trends"]} == {("team", "web"), ("topic", "bug")}


def test_table_lists_spikes_first_and_fail_on_spike_exits_1(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, weekly([5, 5, 5, 5, 25]))
    result = stats(taxonomy_file, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.index("spikes (2)") < result.stdout.index("contacts per week")
    assert re.search(r"topic\s*│\s*bug\s*│\s*2026-W06\s*│\s*25\s*│\s*5\.0", result.stdout)
    assert "25*" in result.stdout
    assert stats(taxonomy_file, path, "--fail-on-spike").exit_code == 1
    earlier = corpus_file(tmp_path, weekly([5, 5, 5, 5, 25, 20]), "e.csv")  # not the last week
    assert stats(taxonomy_file, earlier, "--fail-on-spike").exit_code == 0
    flat = corpus_file(tmp_path, weekly([5] * 6), "f.csv")
    result = stats(taxonomy_file, flat, "--fail-on-spike")
    assert result.exit_code == 0 and "no spikes" in result.stdout


def test_csv_is_the_weekly_table_and_markdown_has_every_section(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, weekly([1, 2]))
    result = stats(taxonomy_file, path, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    change = [float(r["contacts_change"]) if r["contacts_change"] else None for r in rows]
    assert [(r["week"], r["contacts"]) for r in rows] == [("2026-W02", "1"), ("2026-W03", "2")]
    assert change == [None, 1.0]
    out = tmp_path / "stats.md"
    result = stats(taxonomy_file, path, "--format", "markdown", "--output", out)
    assert result.exit_code == 0 and result.stdout == ""
    text = out.read_text(encoding="utf-8")
    for heading in (
        "## Spikes (0)",
        "## Contacts per week",
        "## Contacts per hour",
        "## topic trend",
    ):
        assert heading in text


def test_output_refuses_an_input_and_table_to_a_file(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, weekly([1]))
    assert "inputs are never overwritten" in one_error_line(
        stats(taxonomy_file, path, "-f", "json", "-o", path)
    )
    assert "--output needs" in one_error_line(stats(taxonomy_file, path, "-o", tmp_path / "x.txt"))


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([{"id": "1", "text": "x", "tags": "Web"}], [], "no created_at column"),
        (
            [row(1, "2026-01-05"), row(2, "not a date")],
            [],
            "row 2, column 'created_at': 'not a date'",
        ),
        ([row(1, "2026-01-05")], ["--timezone", "Europe/Atlantis"], "--timezone 'Europe/Atlantis'"),
        (
            [row(1, "2026-01-05")],
            ["--since", "05/01/2026"],
            "--since '05/01/2026': not an ISO date",
        ),
        ([row(1, "2026-01-05")], ["--by", "colour"], "--by 'colour': no such axis"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, taxonomy_file, rows, args, message):
    assert message in one_error_line(stats(taxonomy_file, corpus_file(tmp_path, rows), *args))


def test_users_file_without_signed_up_at_is_one_line(tmp_path, taxonomy_file):
    users = tmp_path / "users.csv"
    users.write_text("user_id,plan\nu1,pro\n", encoding="utf-8")
    path = corpus_file(tmp_path, [row(1, "2026-01-05", user_id="u1")])
    line = one_error_line(stats(taxonomy_file, path, "--users", users))
    assert line == (
        f"error: {users}: no signed_up_at column (when they signed up); columns are: user_id, plan"
    )


def test_skip_bad_dates_reports_what_it_skipped(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, [row(1, "2026-01-05"), row(2, "soon"), row(3, "2026-01-06")])
    result = stats(taxonomy_file, path, "--skip-bad-dates", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"]["created_at"] == 1
    assert json.loads(result.stdout)["contacts"] == 2
    assert result.stderr == "skipped (--skip-bad-dates): 1 rows without a readable created_at\n"


def test_help_says_never_per_agent_and_explains_spikes():
    result = runner.invoke(app, ["stats", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    assert "never per agent" in text
    assert "Poisson count with the mean of the previous 4 weeks" in text


def test_report_writes_one_offline_page_with_escaped_corpus_text(tmp_path, taxonomy_file):
    evil = "</script><img src=x onerror=alert(1)>"
    rows = weekly([3, 3, 3, 3, 12]) + [row(99, "2026-01-06T10:00:00Z", agent=evil, user_id=evil)]
    path = corpus_file(tmp_path, rows, "c<b>.csv")
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", "--taxonomy", str(taxonomy_file), str(path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<img" not in page and "c<b>.csv" not in page and "c&lt;b&gt;.csv" in page
    assert page.count("</script>") == 1  # only the data block's own end tag
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # the agent table
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert page.count('<figure class="chart"') == 4  # weekly, hours, team and topic trends
    assert "spike: bug" in page
    assert re.fullmatch(r"wrote \S+ \(\d+ KiB\): 25 contacts in 5 weeks, 2 spikes\n", result.stderr)
    data = re.search(r'id="feedtag-data">(.*?)</script>', page, re.DOTALL).group(1)
    agents = [a["agent"] for a in json.loads(data)["audit"]["agents"]]
    assert agents == ["(none)", evil]  # escaped for the page, not mangled


def test_report_refuses_to_overwrite_its_input(tmp_path, taxonomy_file):
    path = corpus_file(tmp_path, weekly([1]))
    result = runner.invoke(
        app, ["report", "--taxonomy", str(taxonomy_file), str(path), "--out", str(path)]
    )
    assert "--out" in one_error_line(result) and "inputs are never overwritten" in result.stderr


def test_report_with_cross_validate_shows_taxonomy_health_and_suspects(tmp_path, taxonomy_file):
    from classifier_fixtures import tiny_corpus

    rows = tiny_corpus(60, seed=4)
    monday = pd.Timestamp("2026-01-05T09:00:00Z")
    for i, r in enumerate(rows):
        r["created_at"] = (monday + pd.Timedelta(hours=7 * i)).isoformat()
    path = corpus_file(tmp_path, rows)
    out = tmp_path / "report.html"
    args = ["report", "--taxonomy", str(taxonomy_file), str(path), "--out", str(out)]
    result = runner.invoke(app, [*args, "--cross-validate", "--folds", "3"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<h2>Taxonomy health</h2><p>Tags judged by cross-validation (3 folds)" in page
    assert re.search(r"<td>topic</td><td>\d+ of \d+ tags used[^<]*</td><td>\d+</td>", page)
    both = runner.invoke(app, [*args, "--cross-validate", "--model", str(tmp_path / "elsewhere")])
    assert "use --cross-validate or --model, not both" in one_error_line(both)
