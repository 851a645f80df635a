from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.corpus import Columns, format_tags, load_corpus, split_tags
from classifier.errors import CorpusError

ROWS = [
    {"id": "m1", "text": "The page is broken", "tags": "Team: Web; Bug report"},
    {"id": "m2", "text": "Love it", "tags": "api|Praise|praise"},
    {"id": "m3", "text": "How much?", "tags": ""},
    {"id": "m4", "text": "Old", "tags": "Legacy, Frobnicate"},
]


def write_as(tmp_path, fmt: str, rows=ROWS):
    frame = pd.DataFrame(rows)
    path = tmp_path / f"corpus.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif fmt == "json":
        frame.to_json(path, orient="records")
    elif fmt == "parquet":
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_every_format_reads_to_the_same_resolved_tags(tmp_path, taxonomy, fmt):
    corpus = load_corpus(write_as(tmp_path, fmt), taxonomy)
    assert corpus.messages["row"].tolist() == [1, 2, 3, 4]
    assert corpus.messages["id"].tolist() == ["m1", "m2", "m3", "m4"]
    assert corpus.axis_tags("team").tolist() == [("web",), ("api",), (), ("legacy",)]
    assert corpus.axis_tags("topic").tolist() == [("bug",), ("praise",), (), ()]
    hows = corpus.tags.groupby("message")["how"].agg(list).to_dict()
    assert hows == {
        0: ["alias", "exact"],
        1: ["exact", "exact", "exact"],
        3: ["deprecated", "unknown"],
    }


def test_json_list_cells_and_list_values(tmp_path, taxonomy):
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"id": 1, "text": "a", "tags": ["Web", "Praise"]})
        + "\n"
        + json.dumps({"id": 2, "text": "b", "tags": '["API", "Bug report"]'})
        + "\n",
        encoding="utf-8",
    )
    corpus = load_corpus(path, taxonomy)
    assert corpus.labels("team").tolist() == ["web", "api"]
    assert corpus.labels("topic").tolist() == ["praise", "bug"]
    assert corpus.messages["id"].tolist() == ["1", "2"]


def test_per_axis_columns_resolve_within_their_axis(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    path.write_text("Text,Team,Topic\nhello,Web,Praise\nbye,Praise,Web\n", encoding="utf-8")
    corpus = load_corpus(path, taxonomy)
    assert corpus.columns.axes == {"team": "Team", "topic": "Topic"}
    assert corpus.labels("team").tolist()[0] == "web"
    assert corpus.tags["how"].tolist() == ["exact", "exact", "unknown", "unknown"]
    assert corpus.messages["id"].tolist() == ["1", "2"]


def test_column_overrides(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    path.write_text("key,body2,labels2\nk1,hi,Web\n", encoding="utf-8")
    corpus = load_corpus(path, taxonomy, Columns(id="key", text="body2", tags="labels2"))
    assert corpus.messages.loc[0, "id"] == "k1"
    assert corpus.labels("team").tolist() == ["web"]


def test_bom_is_accepted(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    path.write_bytes("\ufeffid,text,tags\n1,hi,Web\n".encode())
    assert load_corpus(path, taxonomy).labels("team").tolist() == ["web"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("c.csv", b"", r"c\.csv: the file is empty"),
        ("c.csv", b"id,text,tags\n", r"c\.csv: no messages"),
        ("c.csv", b"id,subject\n1,hi\n", r"c\.csv: no text column; columns are: id, subject"),
        ("c.csv", b"id,text\n1,ok\n2,caf\xe9\n", r"c\.csv:3: not UTF-8 \(byte 0xe9"),
        ("c.parquet", b"id,text\n1,hi\n", r"c\.parquet: not a readable Parquet file"),
        (
            "c.csv",
            b'id,text,tags\n1,hi,"[""Web"", "\n',
            r"c\.csv: row 1, column 'tags': broken tag list",
        ),
        ("c.jsonl", b'{"text": "a"}\n{"text": \n', r"c\.jsonl:2: invalid JSON"),
        ("c.txt", b"hello\n", r"unknown file type '\.txt'"),
    ],
)
def test_bad_input_names_the_file_and_place(tmp_path, taxonomy, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=expected):
        load_corpus(path, taxonomy)


def test_missing_file_and_required_tags(tmp_path, taxonomy):
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(tmp_path / "none.csv", taxonomy)
    path = tmp_path / "c.csv"
    path.write_text("text\nhi\n", encoding="utf-8")
    assert not load_corpus(path, taxonomy).has_tags
    with pytest.raises(CorpusError, match="no tags column; columns are: text"):
        load_corpus(path, taxonomy, require_tags=True)


def test_input_file_is_not_modified(tmp_path, taxonomy):
    path = write_as(tmp_path, "csv")
    before = path.read_bytes()
    load_corpus(path, taxonomy)
    assert path.read_bytes() == before


tag_names = st.text(min_size=1, max_size=30).map(str.strip).filter(bool)


@given(st.lists(tag_names, max_size=6))
def test_format_then_split_round_trips(tags):
    assert split_tags(format_tags(tags)) == tags


@given(st.lists(tag_names.filter(lambda t: not set(t) & set(';|,"[')), min_size=1, max_size=6))
def test_plain_tags_are_written_as_an_export_would(tags):
    assert format_tags(tags) == "; ".join(tags)


def test_atomic_write_replaces_whole_file_with_normal_permissions(tmp_path):
    import os

    from classifier.output import write_atomic

    target = tmp_path / "out" / "report.csv"
    write_atomic(target, "a,b\n")
    write_atomic(target, "c,d\n")
    assert target.read_text() == "c,d\n"
    assert list(target.parent.iterdir()) == [target]  # no temp file left behind
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_semicolon_csv_as_european_spreadsheets_write_it(tmp_path, taxonomy):
    path = tmp_path / "c.csv"
    path.write_text('id;text;tags\n1;"Hello, world";Web, Praise\n', encoding="utf-8")
    corpus = load_corpus(path, taxonomy)
    assert corpus.messages["text"].tolist() == ["Hello, world"]
    assert corpus.labels("team").tolist() == ["web"]
    assert corpus.labels("topic").tolist() == ["praise"]


def test_a_frame_in_memory_resolves_as_the_same_file_would(tmp_path, taxonomy):
    from classifier.corpus import corpus_from_frame

    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"id": "a", "text": "hi", "tags": ["Team: Web", "Praise"]}\n'
        '{"id": "b", "text": "yo", "tags": "API; nope"}\n',
        encoding="utf-8",
    )
    frame = pd.DataFrame(
        {"id": ["a", "b"], "text": ["hi", "yo"], "tags": [["Team: Web", "Praise"], "API; nope"]}
    )
    from_file = load_corpus(path, taxonomy)
    in_memory = corpus_from_frame(frame, taxonomy, name="request")
    assert in_memory.path == "request"
    assert in_memory.messages.equals(from_file.messages)
    resolved = in_memory.tags[["message", "raw", "axis", "tag", "how"]].astype(object)
    assert resolved.fillna("-").values.tolist() == [
        [0, "Team: Web", "team", "web", "alias"],
        [0, "Praise", "topic", "praise", "exact"],
        [1, "API", "team", "api", "exact"],
        [1, "nope", "-", "-", "unknown"],
    ]
    assert in_memory.tags.equals(from_file.tags)
