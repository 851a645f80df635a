"""Datasets read in chunks hold exactly what one read of the whole holds.

The property: for random corpora in every format, and chunk sizes down to one row, the chunks'
messages and tags, put end to end, equal ``load_corpus``'s. Directories and globs read their
files in order; mismatched files and empty datasets are refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.corpus import load_corpus
from classifier.dataset import dataset_files, iter_chunks, iter_frames
from classifier.errors import CorpusError

PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TAGS = ["messenger", "Bug report", "billing; Pricing question", "bug", "nonsense", "", "inbox"]
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=30,
)
ROWS = st.lists(
    st.tuples(TEXT, st.sampled_from(TAGS), st.sampled_from(["u1", "u2", ""])),
    min_size=1,
    max_size=25,
)


def write(rows, path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(len(rows))],
            "text": [r[0] for r in rows],
            "tags": [r[1] for r in rows],
            "user_id": [r[2] for r in rows],
        }
    )
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in frame.to_dict("records")),
            encoding="utf-8",
        )
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def joined(chunks):
    """Messages and tags of a sequence of chunk corpora, as one corpus would hold them."""
    messages, tags, offset = [], [], 0
    for corpus in chunks:
        messages.append(corpus.messages)
        part = corpus.tags.astype({k: object for k in ("column", "raw", "axis", "tag", "how")})
        tags.append(part.assign(message=part["message"] + offset))
        offset += len(corpus)
    return (
        pd.concat(messages, ignore_index=True),
        pd.concat(tags, ignore_index=True),
    )


@PROPERTY
@given(
    rows=ROWS, chunk_rows=st.integers(1, 30), suffix=st.sampled_from([".csv", ".jsonl", ".parquet"])
)
def test_chunks_hold_what_one_read_holds(tmp_path, taxonomy, rows, chunk_rows, suffix):
    path = write(rows, tmp_path / f"corpus{suffix}")
    whole = load_corpus(path, taxonomy)
    chunks = list(iter_chunks(str(path), taxonomy, chunk_rows=chunk_rows))
    assert all(len(c) <= chunk_rows for c in chunks)
    assert len(chunks) == -(-len(rows) // chunk_rows)
    messages, tags = joined(chunks)
    pd.testing.assert_frame_equal(messages, whole.messages, check_dtype=False)
    expected = whole.tags.astype({k: object for k in ("column", "raw", "axis", "tag", "how")})
    pd.testing.assert_frame_equal(tags, expected, check_dtype=False)


def test_a_directory_is_its_files_in_order(tmp_path, taxonomy):
    parts = tmp_path / "export"
    (parts / "year=2026").mkdir(parents=True)
    write([("first", "bug", "u1"), ("second", "inbox", "u2")], parts / "year=2026" / "a.parquet")
    write([("third", "messenger", "u1")], parts / "year=2026" / "b.parquet")
    (parts / "_SUCCESS").write_text("")
    (parts / "year=2026" / ".a.parquet.crc").write_text("x")
    corpus = load_corpus(parts, taxonomy)
    assert corpus.messages["text"].tolist() == ["first", "second", "third"]
    assert corpus.messages["row"].tolist() == [1, 2, 3]
    chunks = list(iter_frames(str(parts), chunk_rows=1))
    assert [(c.file_row, c.first_row) for c in chunks] == [(1, 1), (2, 2), (1, 3)]


def test_a_glob_names_files_and_a_pattern_matching_none_is_a_missing_file(tmp_path, taxonomy):
    write([("one", "bug", "u1")], tmp_path / "a.csv")
    write([("two", "bug", "u1")], tmp_path / "b.csv")
    assert dataset_files(str(tmp_path / "*.csv")) == [
        str(tmp_path / "a.csv"),
        str(tmp_path / "b.csv"),
    ]
    corpus = load_corpus(str(tmp_path / "*.csv"), taxonomy)
    assert corpus.messages["text"].tolist() == ["one", "two"]
    with pytest.raises(CorpusError, match=r"\*\.tsv: no such file"):
        load_corpus(str(tmp_path / "*.tsv"), taxonomy)


def test_files_with_other_columns_are_refused_naming_both(tmp_path, taxonomy):
    write([("one", "bug", "u1")], tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("id,body\n1,two\n", encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        list(iter_chunks(str(tmp_path), taxonomy))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "b.csv"))
    assert "a.csv" in message and "body" in message and "\n" not in message


def test_an_empty_directory_and_a_dataset_without_rows_are_refused(tmp_path, taxonomy):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no corpus files"):
        list(iter_frames(str(tmp_path / "empty")))
    (tmp_path / "headers").mkdir()
    for name in ("a.csv", "b.csv"):
        (tmp_path / "headers" / name).write_text("id,text,tags\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no messages in any of its 2 files"):
        list(iter_frames(str(tmp_path / "headers")))


def test_errors_in_a_later_chunk_name_the_line_of_the_file(tmp_path, taxonomy):
    path = tmp_path / "broken.jsonl"
    lines = [json.dumps({"text": f"m{i}", "tags": "bug"}) for i in range(5)] + ["{oops"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"broken\.jsonl:6: invalid JSON"):
        list(iter_chunks(str(path), taxonomy, chunk_rows=2))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        b"id,text,tags\n" + b"".join(b"%d,ok,bug\n" % i for i in range(5)) + b"9,\xff,bug\n"
    )
    with pytest.raises(CorpusError, match=r"bad\.csv:7: not UTF-8"):
        list(iter_chunks(str(bad), taxonomy, chunk_rows=2))


def test_a_cell_longer_than_a_block_is_read_whole(tmp_path, taxonomy):
    path = tmp_path / "long.csv"
    long = "word " * 600_000  # 3 MB: more than the reader's first block size
    write([("short", "bug", "u1"), (long, "bug", "u1"), ("after", "inbox", "u2")], path)
    texts = [t for c in iter_chunks(str(path), taxonomy, chunk_rows=1) for t in c.messages["text"]]
    assert texts == ["short", long, "after"]
