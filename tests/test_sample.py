"""feedtag sample: the allocation rule, the draw, --blind and its key file, the CLI."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.corpus import load_corpus
from classifier.errors import UsageError
from classifier.quality.sample import allocate, draw_sample, key_path, write_sample
from cli import app

runner = CliRunner()


def write_corpus(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def corpus_rows() -> list[dict[str, str]]:
    """60 messages: topics bug 40, praise 15, pricing 4, none 1; teams alternate web/api."""
    topics = ["Bug report"] * 40 + ["Praise"] * 15 + ["Pricing question"] * 4 + [""]
    rows = []
    for i, topic in enumerate(topics):
        team = "Web" if i % 2 == 0 else "API"
        tags = "; ".join(t for t in (team, topic) if t)
        agent = "ana" if i % 3 else "bo"
        rows.append({"id": f"m{i}", "text": f"message {i}", "agent": agent, "tags": tags})
    return rows


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, taxonomy):
    """Read once: a Corpus is not modified by sampling (Hypothesis reuses it across inputs)."""
    path = tmp_path_factory.mktemp("sample") / "c.csv"
    return load_corpus(str(write_corpus(path, corpus_rows())), taxonomy)


def test_allocate_one_each_then_largest_remainder():
    # rest 4 shared by left [0, 2, 5, 9] of 16: quotas 0, 0.5, 1.25, 2.25; the one extra
    # goes to the largest remainder (0.5).
    assert allocate([1, 3, 6, 10], 8).tolist() == [1, 2, 2, 3]


def test_allocate_breaks_a_tie_by_the_larger_stratum():
    # rest 2 shared by left [1, 3] of 4: quotas 0.5 and 1.5, equal remainders; the extra
    # goes to the larger stratum.
    assert allocate([2, 4], 4).tolist() == [1, 3]
    assert allocate([3, 3], 3).tolist() == [2, 1]  # same size: the first


def test_allocate_takes_everything_when_n_covers_the_corpus():
    assert allocate([2, 5], 100).tolist() == [2, 5]


def test_allocate_refuses_fewer_than_the_strata():
    with pytest.raises(UsageError, match="--n 2 is fewer than the 3 strata"):
        allocate([5, 5, 5], 2)


@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=12),
    st.integers(1, 400),
)
def test_allocation_represents_every_stratum_and_never_overdraws(sizes, n):
    if n < len(sizes):
        return
    take = allocate(sizes, n)
    assert take.sum() == min(n, sum(sizes))
    assert (take >= 1).all() and (take <= np.array(sizes)).all()


def test_sample_keeps_the_rare_topics_and_is_proportional_otherwise(corpus):
    sample = draw_sample(corpus, 12, stratify=["topic"], seed=1)
    got = {s.values: (s.messages, s.sampled) for s in sample.strata}
    # One each (4), then 8 shared by left 39, 14, 3, 0 of 56: 5.57, 2, 0.43, 0 -> 5+1, 2, 0.
    assert got == {
        ("(none)",): (1, 1),
        ("bug",): (40, 7),
        ("praise",): (15, 3),
        ("pricing",): (4, 1),
    }
    topics = Counter(corpus.labels("topic").fillna("(none)")[sample.positions])
    assert topics == {"bug": 7, "praise": 3, "pricing": 1, "(none)": 1}


def test_sample_strata_combine_columns(corpus):
    sample = draw_sample(corpus, 20, stratify=["agent", "team"], seed=0)
    assert [s.values for s in sample.strata] == [
        ("ana", "api"),
        ("ana", "web"),
        ("bo", "api"),
        ("bo", "web"),
    ]
    assert sum(s.sampled for s in sample.strata) == 20


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(4, 60))
def test_the_same_seed_draws_the_same_sample(corpus, seed, n):
    first = draw_sample(corpus, n, stratify=["topic"], seed=seed)
    again = draw_sample(corpus, n, stratify=["topic"], seed=seed)
    assert first.positions.tolist() == again.positions.tolist()
    assert len(set(first.positions.tolist())) == min(n, len(corpus))


def test_another_seed_draws_another_sample(corpus):
    one = draw_sample(corpus, 10, stratify=["topic"], seed=1).positions.tolist()
    two = draw_sample(corpus, 10, stratify=["topic"], seed=2).positions.tolist()
    assert one != two


def test_a_repeated_id_is_drawn_once(tmp_path, taxonomy):
    rows = corpus_rows()[:6] + [dict(corpus_rows()[0])]
    data = load_corpus(str(write_corpus(tmp_path / "c.csv", rows)), taxonomy)
    sample = draw_sample(data, 50, stratify=["team"])
    assert sample.population == 6 and sample.repeated_ids == 1
    assert sorted(sample.rows["id"]) == sorted(f"m{i}" for i in range(6))


def test_unknown_stratify_column_is_a_usage_error(corpus):
    with pytest.raises(UsageError, match="--stratify 'colour': not a column to stratify by; use "
                       "agent, team, topic"):  # fmt: skip
        draw_sample(corpus, 10, stratify=["colour"])


def test_blind_sample_has_no_tags_and_a_key_beside_it(tmp_path, corpus, taxonomy):
    sample = draw_sample(corpus, 10, stratify=["topic"], seed=3, blind=True)
    files = write_sample(sample, tmp_path / "out" / "s.csv")
    assert files.key == tmp_path / "out" / "s.key.csv"
    blind = load_corpus(str(files.sample), taxonomy)
    assert list(blind.frame.columns) == ["id", "text", "team", "topic"]
    assert (blind.tag_counts("team") == 0).all() and (blind.tag_counts("topic") == 0).all()
    key = load_corpus(str(files.key), taxonomy)
    assert key.messages["id"].tolist() == blind.messages["id"].tolist()
    original = dict(zip(corpus.messages["id"], corpus.frame["tags"], strict=True))
    assert key.frame["tags"].tolist() == [original[i] for i in key.messages["id"]]
    assert set(key.frame["agent"]) <= {"ana", "bo"}


def test_sample_refuses_to_overwrite_its_input(tmp_path, corpus):
    sample = draw_sample(corpus, 5, stratify=["topic"], blind=True)
    with pytest.raises(UsageError, match="would overwrite an input"):
        write_sample(sample, corpus.path)
    # the key of 'x.csv' is 'x.key.csv': refused where that is the corpus
    keyed = tmp_path / "x.key.csv"
    keyed.write_bytes(Path(corpus.path).read_bytes())
    data = load_corpus(str(keyed), corpus.taxonomy)
    with pytest.raises(UsageError, match=r"x\.key\.csv: would overwrite"):
        write_sample(draw_sample(data, 5, stratify=["topic"], blind=True), tmp_path / "x.csv")
    assert key_path("a/s.csv") == Path("a/s.key.csv")


def test_cli_sample_writes_the_files_and_says_so(tmp_path, taxonomy_file):
    source = write_corpus(tmp_path / "c.csv", corpus_rows())
    out = tmp_path / "s.csv"
    args = ["sample", str(source), "--n", "12", "--stratify", "topic", "--seed", "1"]
    result = runner.invoke(
        app, [*args, "--blind", "--out", str(out), "--taxonomy", str(taxonomy_file)]
    )
    assert result.exit_code == 0, result.output
    key = tmp_path / "s.key.csv"
    assert (
        result.stderr == f"drew 12 of 60 messages from 4 strata, seed 1: wrote {out}; key: {key}\n"
    )
    assert "│ pricing │        4 │       1 │" in result.stdout
    with out.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["id", "text", "team", "topic"]
    again = runner.invoke(
        app, [*args, "--out", str(tmp_path / "t.csv"), "--taxonomy", str(taxonomy_file)]
    )
    ids = [line.split(",")[0] for line in out.read_text().splitlines()]
    assert ids == [line.split(",")[0] for line in (tmp_path / "t.csv").read_text().splitlines()]
    assert again.exit_code == 0 and not (tmp_path / "t.key.csv").exists()


def test_cli_sample_usage_errors_exit_2(tmp_path, taxonomy_file):
    source = write_corpus(tmp_path / "c.csv", corpus_rows())
    base = ["sample", str(source), "--taxonomy", str(taxonomy_file)]
    result = runner.invoke(app, [*base, "--n", "2", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --n 2 is fewer than the 7 strata")
    result = runner.invoke(app, [*base, "--out", str(source), "--blind"])
    assert result.exit_code == 2 and "inputs are never overwritten" in result.stderr
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "s.xlsx")])
    wanted = "sample writes CSV (for a spreadsheet); name the file .csv"
    assert result.stderr == f"error: {tmp_path / 's.xlsx'}: {wanted}\n"


def test_sample_help_states_the_rule():
    result = runner.invoke(app, ["sample", "--help"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    assert "Every stratum gets one message first" in text
    assert "by largest remainder" in text


def test_a_tag_written_twice_is_one_tag_and_two_tags_are_several(tmp_path, taxonomy):
    rows = [
        {"id": "a", "text": "x", "agent": "ana", "tags": "Web; Bug report; Topic: Bug"},
        {"id": "b", "text": "y", "agent": "ana", "tags": "Web; API; Praise"},
        {"id": "c", "text": "z", "agent": "", "tags": "Praise; Misc"},
    ]
    data = load_corpus(str(write_corpus(tmp_path / "c.csv", rows)), taxonomy)
    sample = draw_sample(data, 3, stratify=["agent", "team", "topic"])
    assert sorted(s.values for s in sample.strata) == [
        ("(none)", "(none)", "praise"),
        ("ana", "(several)", "praise"),
        ("ana", "web", "bug"),
    ]
