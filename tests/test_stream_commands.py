"""Commands that read their input in chunks give what one read of the whole gives.

The property, for export, suggest and stats: on random corpora and chunk sizes down to one
row, the streamed result (``export_chunks``, ``write_suggestions``, ``stats_of_chunks`` over
``iter_chunks``) is byte for byte (or field for field) the in-memory one, which is the same
library function over the corpus as one chunk. A directory of Parquet files works for each
command, through the CLI.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.corpus import load_corpus
from classifier.dataset import iter_chunks
from classifier.export.teams import export_chunks, export_corpus, select
from classifier.stats import StatsOptions, compute_stats, stats_of_chunks
from cli import app

PROPERTY = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SPELLINGS = ["web", "Team: Web", "API", "legacy", "bug", "Topic: Bug", "Praise", "pricing", "zzz"]
TIMES = ["", "2024-05-01", "2024-05-09T10:00:00", "2024-05-20T23:30:00+02:00", "soon"]
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=12,
)
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["a", "b", "c", "", "=1", "d"]),
            "text": st.sampled_from(["love the api", "web crashes", "", "=cmd", "price?"]) | TEXT,
            "tags": st.lists(st.sampled_from(SPELLINGS), max_size=3).map("; ".join),
            "created_at": st.sampled_from(TIMES),
            "user_id": st.sampled_from(["u1", "u2", " u3 ", ""]),
        }
    ),
    min_size=1,
    max_size=20,
)
runner = CliRunner()


def write_csv(records: list[dict], path: Path) -> Path:
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def write_parquet_dir(records: list[dict], path: Path, parts: int = 3) -> Path:
    """The records as a partitioned dataset: ``parts`` Parquet files under nested folders."""
    frame = pd.DataFrame(records)
    size = -(-len(frame) // parts)
    for i in range(parts):
        piece = frame.iloc[i * size : (i + 1) * size]
        if len(piece):
            folder = path / f"part={i}"
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pandas(piece, preserve_index=False), folder / "a.parquet")
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def fake_suggester(texts):
    """Suggests by keyword, a function of each text alone (as a model is)."""
    team = [("api" if "api" in t else "web", 0.5 + 0.5 * ("e" in t)) for t in texts]
    topic = [("praise" if "love" in t else "bug", 0.9) for t in texts]
    return {"team": team, "topic": topic}


# --- export -----------------------------------------------------------------------------------


@PROPERTY
@given(
    records=MESSAGES,
    chunk_rows=st.integers(1, 8),
    by=st.sampled_from(["team", "topic"]),
    format=st.sampled_from(["csv", "jsonl", "markdown"]),
    suggest=st.booleans(),
    since=st.sampled_from([None, "2024-05-02"]),
)
def test_export_in_chunks_writes_the_same_files(
    taxonomy, records, chunk_rows, by, format, suggest, since
):
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        path = write_csv(records, work / "corpus.csv")
        selection = select(taxonomy, by, since=since)
        suggester = fake_suggester if suggest else None
        whole = export_corpus(
            load_corpus(path, taxonomy), selection, work / "whole", format=format, suggest=suggester
        )
        chunks = iter_chunks(str(path), taxonomy, chunk_rows=chunk_rows)
        parts = export_chunks(chunks, selection, work / "parts", format=format, suggest=suggester)
        assert tree(work / "parts") == tree(work / "whole")
        assert parts.counts == whole.counts and parts.files == whole.files
        assert parts.sizes() == whole.sizes()


def test_a_duplicate_id_in_a_later_chunk_names_the_first_row(tmp_path, taxonomy):
    records = [
        {"id": "a", "text": "one", "tags": "web; bug"},
        {"id": "b", "text": "two", "tags": "api; bug"},
        {"id": "a", "text": "three", "tags": "web"},
    ]
    path = write_csv(records, tmp_path / "corpus.csv")
    chunks = iter_chunks(str(path), taxonomy, chunk_rows=1)
    done = export_chunks(chunks, select(taxonomy, "team"), tmp_path / "out")
    review = (tmp_path / "out" / "_needs-review.csv").read_text(encoding="utf-8")
    assert "no topic tag; duplicate id (first at row 1)" in review
    assert done.counts.exported == 2 and done.counts.needs_review == 1


# --- suggest ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tiny_model, taxonomy):
    from classifier.model.store import load_model

    return load_model(tiny_model, taxonomy)


@PROPERTY
@given(records=MESSAGES, chunk_rows=st.integers(1, 8), format=st.sampled_from(["csv", "jsonl"]))
def test_suggest_in_chunks_writes_the_same_bytes(taxonomy, model, records, chunk_rows, format):
    from classifier.model.suggest import suggest_corpus, write_suggestions

    with tempfile.TemporaryDirectory() as work:
        path = write_csv(records, Path(work) / "corpus.csv")
        whole = suggest_corpus(model, load_corpus(path, taxonomy), top=2)
        expected = whole.to_csv() if format == "csv" else whole.to_jsonl()
        sink = io.BytesIO()
        chunks = iter_chunks(str(path), taxonomy, chunk_rows=chunk_rows)
        done = write_suggestions(model, chunks, sink.write, format=format, top=2)
    assert done == len(records)
    assert sink.getvalue().decode("utf-8") == expected


# --- stats ------------------------------------------------------------------------------------

STATS_ROWS = st.lists(
    st.tuples(
        st.integers(0, 60 * 24 * 3600),  # seconds after the first Monday
        st.sampled_from(["c1", "c2", "c3", "", " c1"]),
        st.sampled_from(["u1", "u2", "u3", ""]),
        st.sampled_from(["web; bug", "api; praise", "web; api", "zzz", "", "pricing"]),
        st.sampled_from(["", "60", "3600", "86400"]),
    ),
    min_size=1,
    max_size=25,
)


@PROPERTY
@given(
    rows=STATS_ROWS,
    chunk_rows=st.integers(1, 8),
    since=st.sampled_from([None, "2024-01-10"]),
    zone=st.sampled_from(["UTC", "Europe/Berlin"]),
)
def test_stats_in_chunks_are_the_same_figures(taxonomy, rows, chunk_rows, since, zone):
    from classifier.stats.users import read_users

    start = pd.Timestamp("2024-01-01T00:00:00Z")
    records = [
        {
            "id": f"m{i}",
            "created_at": (start + pd.Timedelta(seconds=s)).isoformat(),
            "conversation_id": conversation,
            "user_id": user,
            "text": "hello",
            "tags": tags,
            "first_response_seconds": response,
        }
        for i, (s, conversation, user, tags, response) in enumerate(rows)
    ]
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        path = write_csv(records, work / "history.csv")
        (work / "users.csv").write_text(
            "user_id,signed_up_at\nu1,2023-12-28\nu2,2024-01-20\n", encoding="utf-8"
        )
        users = read_users(str(work / "users.csv"))
        options = StatsOptions(timezone=zone, since=since, spike=StatsOptions().spike)
        try:
            expected = compute_stats(load_corpus(path, taxonomy), options, users).to_dict()
        except Exception as error:  # the same error, from the chunks
            with pytest.raises(type(error), match=str(error).split(":")[-1].strip()[:20]):
                stats_of_chunks(iter_chunks(str(path), taxonomy, chunk_rows=chunk_rows), options)
            return
        chunks = iter_chunks(str(path), taxonomy, chunk_rows=chunk_rows)
        assert stats_of_chunks(chunks, options, users).to_dict() == expected


def test_stats_name_a_bad_created_at_before_a_bad_response_in_an_earlier_chunk(tmp_path, taxonomy):
    from classifier.errors import CorpusError

    text = (
        "id,created_at,text,first_response_seconds\n"
        "1,2024-01-01T10:00:00,a,oops\n"
        "2,2024-01-01T11:00:00,b,60\n"
        "3,never,c,60\n"
    )
    (tmp_path / "h.csv").write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"row 3, column 'created_at': 'never'"):
        stats_of_chunks(iter_chunks(str(tmp_path / "h.csv"), taxonomy, chunk_rows=1))


# --- a directory of Parquet files, through the CLI ---------------------------------------------

HISTORY = [
    {
        "id": f"m{i}",
        "created_at": f"2024-05-{1 + i % 20:02d}T{i % 24:02d}:00:00",
        "conversation_id": f"c{i // 2}",
        "user_id": f"u{i % 4}",
        "text": ["the web page is broken", "love the api", "price?"][i % 3],
        "tags": ["web; bug", "api; praise", "pricing"][i % 3],
    }
    for i in range(30)
]


def test_commands_read_a_directory_of_parquet_files(tmp_path, taxonomy, taxonomy_file, tiny_model):
    dataset = write_parquet_dir(HISTORY, tmp_path / "lake")
    whole = load_corpus(dataset, taxonomy)
    flags = ["--taxonomy", str(taxonomy_file)]

    done = runner.invoke(
        app, ["export", str(dataset), "--by", "team", "--out", str(tmp_path / "e"), *flags]
    )
    assert done.exit_code == 0, done.output
    export_corpus(whole, select(taxonomy, "team"), tmp_path / "expected")
    assert tree(tmp_path / "e") == tree(tmp_path / "expected")

    out = tmp_path / "s.csv"
    command = ["suggest", "--input", str(dataset), "--output", str(out), "--model", str(tiny_model)]
    done = runner.invoke(app, [*command, *flags])
    assert done.exit_code == 0, done.output
    from classifier.model.store import load_model
    from classifier.model.suggest import suggest_corpus

    expected = suggest_corpus(load_model(tiny_model, taxonomy), whole).to_csv()
    assert out.read_text(encoding="utf-8") == expected

    done = runner.invoke(app, ["stats", str(dataset), "--format", "json", *flags])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == compute_stats(whole).to_dict()


# --- train ------------------------------------------------------------------------------------


@PROPERTY
@given(records=MESSAGES, chunk_rows=st.integers(1, 8))
def test_train_reads_the_same_texts_labels_and_sources_in_chunks(taxonomy, records, chunk_rows):
    from classifier.dataset import read_compact
    from classifier.model.training import corpus_groups, corpus_labels

    records = [{**r, "source": r["user_id"]} for r in records]
    with tempfile.TemporaryDirectory() as work:
        path = write_csv(records, Path(work) / "corpus.csv")
        whole = load_corpus(path, taxonomy, require_tags=True)
        compact = read_compact(
            str(path), taxonomy, roles=("id", "text", "group"), chunk_rows=chunk_rows
        )
    texts, labels, left_out = corpus_labels(compact)
    expected = corpus_labels(whole)
    assert texts == expected[0] and left_out == expected[2]
    pd.testing.assert_frame_equal(labels, expected[1])
    assert corpus_groups(compact) == corpus_groups(whole)
    assert list(compact.frame.columns) == list(whole.frame.columns) and compact.frame.empty
