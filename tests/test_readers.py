"""Readers on hostile and odd files: a result or one line naming the problem, nothing else.

Hypothesis feeds every reader random bytes and random valid-but-odd files (ragged, nested,
typed, huge cells, Unicode line separators); each must return messages or raise a one-line
``FeedtagError``. The examples below pin what the line says.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.corpus import load_corpus
from classifier.errors import CorpusError, FeedtagError
from classifier.readers import jsonl_lines, read_frame

SUFFIXES = [".csv", ".tsv", ".jsonl", ".json", ".parquet"]
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def outcome(path: Path, taxonomy) -> str:
    """``ok`` or the error line; anything but a one-line FeedtagError fails the test."""
    try:
        load_corpus(path, taxonomy)
    except FeedtagError as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        assert message.startswith(str(path)), message
        return message
    return "ok"


# --- fuzz ------------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_give_messages_or_one_line(tmp_path, taxonomy, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    outcome(path, taxonomy)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_after_a_parquet_magic_are_one_line(tmp_path, taxonomy, data):
    path = tmp_path / "random.parquet"
    path.write_bytes(b"PAR1" + data + b"PAR1")
    outcome(path, taxonomy)


cells = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", '"', "\r\n", "\u2028", "\x85", "=1+1", "Web; Bug report", "\ufeff"]),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10)
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)
names = st.sampled_from(["id", "text", "tags", "team", "topic", "agent", "ID", "Text", "x", ""])


@FUZZ
@given(
    header=st.lists(names, min_size=1, max_size=5),
    rows=st.lists(st.lists(cells, max_size=6), max_size=5),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_odd_but_valid_delimited_files(tmp_path, taxonomy, header, rows, delimiter):
    suffix = ".tsv" if delimiter == "\t" else ".csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerows([header, *rows])
    path = tmp_path / f"odd{suffix}"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    outcome(path, taxonomy)


@FUZZ
@given(records=st.lists(st.dictionaries(names, values, max_size=5), max_size=5))
def test_odd_but_valid_json_files(tmp_path, taxonomy, records):
    lines = tmp_path / "odd.jsonl"
    lines.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    outcome(lines, taxonomy)
    array = tmp_path / "odd.json"
    array.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    outcome(array, taxonomy)


@FUZZ
@given(
    columns=st.dictionaries(
        names.filter(bool),
        st.one_of(
            st.lists(st.text(max_size=8) | st.none(), min_size=3, max_size=3),
            st.lists(st.integers(-5, 5), min_size=3, max_size=3),
            st.lists(st.lists(st.text(max_size=5), max_size=2), min_size=3, max_size=3),
            st.lists(st.floats(allow_nan=True), min_size=3, max_size=3),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_odd_but_valid_parquet_files(tmp_path, taxonomy, columns):
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table(columns), path)
    outcome(path, taxonomy)


# --- what the line says ----------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_an_unterminated_quote_names_its_line(tmp_path, taxonomy):
    path = write(tmp_path, "q.csv", 'id,text,tags\n1,fine,Web\n2,"never closed,Web\n3,x,Web\n')
    assert outcome(path, taxonomy) == (
        f"{path}:3: malformed CSV: a quoted field starting on this line is never closed"
    )


def test_a_ragged_row_names_its_line_and_row(tmp_path, taxonomy):
    path = write(tmp_path, "r.csv", 'id,text,tags\n1,fine,Web\n2,"two\nlines",Web,extra\n')
    assert outcome(path, taxonomy) == (
        f"{path}:3: malformed CSV: row 2 has 4 fields, the header has 3"
    )
    short = write(tmp_path, "s.tsv", "id\ttext\ttags\n1\tfine\n")
    assert outcome(short, taxonomy) == (
        f"{short}:2: malformed TSV: row 1 has 2 fields, the header has 3"
    )


def test_a_large_cell_is_read(tmp_path, taxonomy):
    big = "word " * 600_000 + "\nsecond line"  # 3 MB, with a line break inside the cell
    frame = pd.DataFrame({"id": ["1", "2"], "text": [big, "short"], "tags": ["Web; Praise"] * 2})
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    corpus = load_corpus(path, taxonomy)
    assert corpus.messages["text"].tolist() == [big, "short"]


def test_json_lines_split_on_newline_only(tmp_path, taxonomy):
    texts = ["one\u2028two", "three\x85four", "five\rsix", "seven\u2029eight\x0bnine\x0c"]
    records = [{"id": str(i), "text": t, "tags": "Web; Praise"} for i, t in enumerate(texts)]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path = write(tmp_path, "u.jsonl", body.replace("\n", "\r\n", 1))  # one CRLF line end too
    assert load_corpus(path, taxonomy).messages["text"].tolist() == texts
    assert jsonl_lines("a\r\nb\n\nc") == ["a", "b", "", "c"]


def test_feedtags_own_jsonl_export_reads_back(tmp_path, taxonomy):
    from classifier.export.teams import export_corpus, select

    rows = [
        {"id": "1", "text": 'line\u2028sep\x85and "quotes" \\ back', "tags": "Web; Praise"},
        {"id": "2", "text": "plain", "tags": "API; Bug report"},
    ]
    source = write(tmp_path, "c.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    export_corpus(load_corpus(source, taxonomy), select(taxonomy, "team"), tmp_path / "out",
                  format="jsonl")  # fmt: skip
    again = load_corpus(tmp_path / "out" / "web.jsonl", taxonomy)
    assert again.messages["text"].tolist() == [rows[0]["text"]]
    assert again.labels("team").tolist() == ["web"]


def test_corrupt_parquet_is_one_line(tmp_path, taxonomy):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": ["1"], "text": ["x"], "tags": ["Web"]}), good)
    data = good.read_bytes()
    broken = write(tmp_path, "broken.parquet", data[:8] + b"\0" * 40 + data[48:])
    message = outcome(broken, taxonomy)
    assert message.startswith(f"{broken}: not a readable Parquet file (")
    truncated = write(tmp_path, "short.parquet", data[: len(data) // 2])
    assert outcome(truncated, taxonomy).startswith(f"{truncated}: not a readable Parquet file (")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_directory_is_one_line(tmp_path, taxonomy, suffix):
    path = tmp_path / f"dir{suffix}"
    path.mkdir()
    with pytest.raises(CorpusError, match="is a directory"):
        read_frame(str(path), suffix.strip("."))
