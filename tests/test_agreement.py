"""feedtag agreement: kappa arithmetic, the join, breakdowns, several taggers, the CLI."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.corpus import load_corpus
from classifier.errors import UsageError
from classifier.quality.agreement import compare, tagging, taggings_by
from classifier.quality.kappa import (
    agreement_from_counts,
    bootstrap_counts,
    confusion,
    kappa_from_counts,
)
from cli import app

runner = CliRunner()
ORIGINAL = ["Bug report"] * 4 + ["Praise"] * 3 + ["Pricing question"] * 2 + ["Bug report"]
RETAGGED = ["bug", "bug", "bug", "praise", "praise", "praise", "bug", "pricing", "bug", "bug"]
# Confusion (original rows, re-tag columns; bug, praise, pricing): [[4,1,0],[1,2,0],[1,0,1]].
# p_o = 7/10; margins 5,3,2 and 6,3,1 give p_e = 41/100; kappa = 0.29 / 0.59.
KAPPA = 0.29 / 0.59


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path):
    original = [
        {"id": f"m{i}", "text": f"text {i}", "agent": "ana" if i < 5 else "bo", "tags": f"Web; {t}"}
        for i, t in enumerate(ORIGINAL)
    ] + [{"id": "m10", "text": "only here", "agent": "bo", "tags": "Web; Praise"}]
    retagged = [
        {"id": f"m{i}", "text": f"text {i}", "team": "web", "topic": t}
        for i, t in enumerate(RETAGGED)
    ] + [{"id": "r1", "text": "only in the re-tag", "team": "api", "topic": "bug"}]
    return write(tmp_path / "original.csv", original), write(tmp_path / "retag.csv", retagged)


def report(files, taxonomy, **options):
    original, retagged = (load_corpus(str(p), taxonomy) for p in files)
    return compare(tagging(original), [tagging(retagged)], **options)


def test_kappa_by_hand():
    counts = np.array([[4, 1, 0], [1, 2, 0], [1, 0, 1]])
    assert kappa_from_counts(counts) == pytest.approx(KAPPA, abs=1e-12)
    assert agreement_from_counts(counts) == pytest.approx(0.7)
    assert kappa_from_counts(np.array([[5, 0], [0, 0]])) == 1.0  # one tag only: 0/0 read as 1


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=200),
)
def test_kappa_matches_scikit_learn(pairs):
    from sklearn.metrics import cohen_kappa_score

    first, second = (np.array(side) for side in zip(*pairs, strict=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cohen_kappa_score(first, second)
    if np.isnan(expected):
        return  # sklearn's 0/0 (one tag everywhere): ours is 1, tested above
    assert kappa_from_counts(confusion(first, second, 5)) == pytest.approx(expected, abs=1e-9)


def test_bootstrap_keeps_the_sample_size_and_is_seeded():
    counts = np.array([[4, 1], [2, 3]])
    drawn = bootstrap_counts(counts, 500, np.random.default_rng(0))
    assert drawn.shape == (500, 2, 2) and (drawn.sum(axis=(1, 2)) == 10).all()
    again = bootstrap_counts(counts, 500, np.random.default_rng(0))
    assert (drawn == again).all()
    # cells never observed are never drawn
    assert (
        bootstrap_counts(np.array([[3, 0], [0, 2]]), 50, np.random.default_rng(1))[:, 0, 1] == 0
    ).all()


def test_pair_report_by_hand(files, taxonomy):
    result = report(files, taxonomy, resamples=500, seed=1).pairs[0]
    assert result.matched == 10
    assert result.only_original == ["m10"] and result.only_retagged == ["r1"]
    topic = result.axes["topic"]
    assert topic.overall.compared == 10
    assert topic.overall.kappa.value == pytest.approx(KAPPA)
    assert topic.overall.agreement.value == pytest.approx(0.7)
    assert topic.overall.kappa.low <= KAPPA <= topic.overall.kappa.high
    by_tag = {t.tag: (t.original, t.retagged, t.both, t.precision, t.recall) for t in topic.by_tag}
    assert by_tag == {
        "bug": (5, 6, 4, 0.8, pytest.approx(4 / 6)),
        "praise": (3, 3, 2, pytest.approx(2 / 3), pytest.approx(2 / 3)),
        "pricing": (2, 1, 1, 0.5, 1.0),
    }
    assert [(d.original, d.retagged, d.count) for d in topic.disagreements] == [
        ("bug", "praise", 1),
        ("praise", "bug", 1),
        ("pricing", "bug", 1),
    ]
    assert topic.disagreements[0].examples == (("m3", "text 3"),)
    # ana: [[3,1],[0,1]] over bug, praise: p_o 0.8, p_e 14/25, kappa 0.24 / 0.44
    assert topic.by_agent["ana"].kappa.value == pytest.approx(0.24 / 0.44)
    assert topic.by_agent["ana"].compared == 5
    team = result.axes["team"]
    assert team.overall.kappa.value == 1.0 and team.overall.agreement.value == 1.0


def test_messages_without_one_tag_are_counted_not_compared(tmp_path, taxonomy):
    original = write(
        tmp_path / "o.csv",
        [
            {"id": "a", "text": "x", "tags": "Web; Bug report"},
            {"id": "b", "text": "y", "tags": "Web; Bug report; Praise"},
            {"id": "c", "text": "z", "tags": "Bug report"},
        ],
    )
    retag = write(
        tmp_path / "r.csv",
        [
            {"id": "a", "text": "x", "team": "web", "topic": ""},
            {"id": "b", "text": "y", "team": "web", "topic": "bug"},
            {"id": "c", "text": "z", "team": "web", "topic": "bug"},
        ],
    )
    result = report((original, retag), taxonomy, resamples=100).pairs[0]
    assert result.axes["topic"].overall.compared == 1
    assert result.axes["topic"].not_compared == {
        "original: no tag": 0,
        "original: several tags": 1,
        "re-tag: no tag": 1,
        "re-tag: several tags": 0,
    }
    assert result.axes["team"].not_compared["original: no tag"] == 1


def test_retired_tags_count_as_their_successor(tmp_path, taxonomy):
    original = write(tmp_path / "o.csv", [{"id": "a", "text": "x", "tags": "Legacy; Praise"}])
    retag = write(tmp_path / "r.csv", [{"id": "a", "text": "x", "team": "Web", "topic": "Praise"}])
    result = report((original, retag), taxonomy, resamples=100).pairs[0]
    assert result.axes["team"].disagreements == []
    assert result.axes["team"].overall.agreement.value == 1.0


def test_no_shared_id_is_a_usage_error(tmp_path, taxonomy):
    original = write(tmp_path / "o.csv", [{"id": "a", "text": "x", "tags": "Web; Praise"}])
    retag = write(tmp_path / "r.csv", [{"id": "b", "text": "x", "tags": "Web; Praise"}])
    with pytest.raises(UsageError, match="share no message id"):
        report((original, retag), taxonomy)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Web", "API", ""]), st.sampled_from(["Bug report", "Praise"])),
        min_size=1,
        max_size=30,
    )
)
def test_kappa_of_a_file_with_itself_is_one(tmp_path_factory, taxonomy, tags):
    rows = [
        {"id": f"m{i}", "text": "t", "tags": "; ".join(t for t in pair if t)}
        for i, pair in enumerate(tags)
    ]
    path = write(tmp_path_factory.mktemp("self") / "c.csv", rows)
    data = tagging(load_corpus(str(path), taxonomy))
    result = compare(data, [data], resamples=100).pairs[0]
    assert result.only_original == [] and result.only_retagged == []
    for axis in result.axes.values():
        if axis.overall.compared:
            assert axis.overall.kappa.value == 1.0
            assert axis.overall.kappa.low == 1.0 and axis.overall.agreement.value == 1.0
            assert axis.disagreements == []


def long_file(tmp_path: Path) -> Path:
    # Fleiss by hand: per message counts [3,0], [2,1], [0,3], [1,2] of (bug, praise), three
    # taggers: P_i 1, 1/3, 1, 1/3 (mean 2/3); p_j 1/2, 1/2 (P_e 1/2); kappa (2/3 - 1/2) / (1/2).
    second = ["Bug report", "Bug report", "Praise", "Praise"]
    third = ["Bug report", "Praise", "Praise", "Praise"]
    rows = []
    for name, topics in (("lead-a", second), ("lead-b", third)):
        for i, topic in enumerate(topics):
            rows.append({"id": f"m{i}", "text": "t", "tagger": name, "tags": f"Web; {topic}"})
    return write(tmp_path / "long.csv", rows)


def test_fleiss_kappa_over_three_taggers(tmp_path, taxonomy):
    first = write(
        tmp_path / "o.csv",
        [
            {"id": f"m{i}", "text": "t", "tags": f"Web; {t}"}
            for i, t in enumerate(["Bug report", "Bug report", "Praise", "Bug report"])
        ],
    )
    original = tagging(load_corpus(str(first), taxonomy))
    others = taggings_by(load_corpus(str(long_file(tmp_path)), taxonomy), "tagger")
    assert [t.name.rsplit(" ", 1)[-1] for t in others] == ["[lead-a]", "[lead-b]"]
    result = compare(original, others, resamples=200)
    assert len(result.pairs) == 2
    topic = result.many["topic"]
    assert (topic.taggers, topic.compared, topic.left_out) == (3, 4, 0)
    assert topic.kappa.value == pytest.approx(1 / 3)
    assert result.many["team"].kappa.value == 1.0


def test_cli_agreement_json(files, taxonomy_file):
    original, retagged = files
    result = runner.invoke(
        app,
        ["agreement", str(original), str(retagged), "--format", "json", "--resamples", "200"]
        + ["--taxonomy", str(taxonomy_file)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    pair = data["pairs"][0]
    assert pair["only_in_original"] == {"count": 1, "ids": ["m10"]}
    assert pair["only_in_retagged"] == {"count": 1, "ids": ["r1"]}
    assert pair["axes"]["topic"]["overall"]["kappa"]["value"] == pytest.approx(KAPPA)
    assert data["resamples"] == 200 and data["fleiss"] == {}


def test_cli_agreement_table_names_the_ids_in_one_file_only(files, taxonomy_file):
    original, retagged = files
    result = runner.invoke(
        app,
        [
            "agreement",
            str(original),
            str(retagged),
            "--by",
            "tag",
            "--taxonomy",
            str(taxonomy_file),
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "10 messages in both files; 1 only in the original, 1 only in the re-tag."
    assert "only in the original: m10" in lines
    assert "only in the re-tag: r1" in lines
    assert "kappa per agent" not in result.stdout  # --by tag only
    assert "│ pricing │        2 │      1 │    1 │     0.500 │  1.000 │" in result.stdout


def test_cli_agreement_markdown_and_csv(files, taxonomy_file, tmp_path):
    original, retagged = files
    base = ["agreement", str(original), str(retagged), "--taxonomy", str(taxonomy_file)]
    markdown = runner.invoke(app, [*base, "--format", "markdown"])
    assert markdown.exit_code == 0
    assert f"| topic | 10 | {KAPPA:.3f} \\[" in markdown.stdout
    out = tmp_path / "a.csv"
    result = runner.invoke(app, [*base, "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0 and result.stderr == f"wrote {out}\n"
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    scopes = [(r["axis"], r["scope"], r["group"]) for r in rows if r["axis"] == "topic"]
    assert scopes[:3] == [
        ("topic", "axis", ""),
        ("topic", "agent", "ana"),
        ("topic", "agent", "bo"),
    ]
    assert ("topic", "tag", "pricing") in scopes


def test_cli_agreement_long_file_with_tagger_column(tmp_path, taxonomy_file):
    first = write(
        tmp_path / "o.csv",
        [{"id": f"m{i}", "text": "t", "tags": "Web; Bug report"} for i in range(4)],
    )
    result = runner.invoke(
        app,
        ["agreement", str(first), str(long_file(tmp_path)), "--tagger-column", "tagger"]
        + ["--format", "json", "--resamples", "100", "--taxonomy", str(taxonomy_file)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["retagged"] for p in data["pairs"]] == [
        f"{tmp_path / 'long.csv'} [lead-a]",
        f"{tmp_path / 'long.csv'} [lead-b]",
    ]
    assert data["fleiss"]["topic"]["taggers"] == 3


def test_cli_agreement_usage_errors(files, taxonomy_file):
    original, retagged = files
    base = ["agreement", str(original), str(retagged), "--taxonomy", str(taxonomy_file)]
    result = runner.invoke(app, [*base, "--output", str(original), "--format", "json"])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: {original}: --output is the input ORIGINAL; inputs are never overwritten: "
        "write somewhere else\n"
    )
    result = runner.invoke(app, [*base, "--tagger-column", "nope"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {retagged}: no tagger column 'nope'; columns are: id")


def test_a_repeated_id_keeps_its_first_row_and_is_reported(tmp_path, taxonomy):
    from classifier.quality.agreement_report import summary_line

    original = write(
        tmp_path / "o.csv",
        [
            {"id": "a", "text": "x", "tags": "Web; Praise"},
            {"id": "a", "text": "x", "tags": "Web; Bug report"},
        ],
    )
    retag = write(tmp_path / "r.csv", [{"id": "a", "text": "x", "team": "web", "topic": "praise"}])
    pair = report((original, retag), taxonomy, resamples=100).pairs[0]
    assert pair.axes["topic"].overall.agreement.value == 1.0  # the first row, Praise
    assert summary_line(pair) == (
        "1 message in both files; 0 only in the original, 0 only in the re-tag. "
        f"Repeated ids left out (first row kept): 1 in {original}."
    )
