"""The audit of a dataset read in chunks is the audit of the corpus read whole.

The property: for random corpora full of every defect the checks find (repeated ids, texts
equal after folding, conversations, users within a day, aliases, retired, repeated, unknown
tags) and chunk sizes down to one row, ``audit_dataset`` gives ``run_audit``'s findings (same
rows, same order), summary and exit status, and ``--fix`` writes the same bytes. The
cross-row checks give the same findings on keys shuffled by text and by id hash, as a
distributed audit runs them.
"""

from __future__ import annotations

import gc
import json
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.audit import run_audit
from classifier.audit.duplicates import (
    combine_cross_row,
    cross_row_findings,
    cross_row_keys,
    signature_names,
)
from classifier.audit.fix import ChunkedFix, write_fixed
from classifier.audit.health import HealthSettings
from classifier.audit.stream import audit_dataset
from classifier.corpus import load_corpus
from classifier.errors import CorpusError
from classifier.output import csv_text

PROPERTY = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TAGS = [
    "Web; Bug report",
    "API; Praise",
    "Team: Web; Topic: Bug",
    "Legacy; Pricing question",
    "Web; Bug report; bug",
    "Web; Bug report; Praise",
    "API",
    "Bug reprot",
    "",
    "Web; Escalation",
    '["API", "Billing question"]',
]
TEXTS = ["The page is broken", "the PAGE is broken!", "Love the API", "  ", "", "ça coûte?"]
TEXT = st.text(  # a lone \r is a line break to a CSV reader: test_dataset leaves it out too
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=8,
)
ROW = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["1", "2", "3", "4", ""]),
        "conversation_id": st.sampled_from(["c1", "c2", ""]),
        "created_at": st.sampled_from(
            ["2026-01-01T09:00:00Z", "2026-01-01T20:00:00Z", "2026-01-03T09:00:00", "soon", ""]
        ),
        "agent": st.sampled_from(["ann", "bob", ""]),
        "user_id": st.sampled_from(["u1", "u2", ""]),
        "text": st.sampled_from(TEXTS) | TEXT,
        "tags": st.sampled_from(TAGS),
    }
)
ROWS = st.lists(ROW, min_size=1, max_size=30)


def write(rows: list[dict], path):
    frame = pd.DataFrame(rows)
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    elif path.suffix == ".jsonl":
        lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in frame.to_dict("records"))
        path.write_text("".join(lines), encoding="utf-8")
    else:
        frame.to_csv(path, index=False)
    return path


def assert_same(streamed, whole):
    pd.testing.assert_frame_equal(streamed.findings, whole.findings)
    assert streamed.summary.model_dump() == whole.summary.model_dump()
    for level in ("error", "warning", "info"):
        assert streamed.fails(level) == whole.fails(level)


@PROPERTY
@given(
    rows=ROWS,
    chunk_rows=st.integers(1, 12),
    memory_rows=st.sampled_from([0, 5, 1_000_000]),  # 0 and 5: the keys spill to disk
    suffix=st.sampled_from([".csv", ".jsonl", ".parquet"]),
    checks=st.none()
    | st.sets(
        st.sampled_from(
            ["duplicate-message", "conflicting-duplicates", "alias-tag", "missing-tag", "rare-tag"]
        ),
        min_size=1,
    ),
)
def test_streamed_audit_is_the_whole_audit(
    tmp_path, taxonomy, rows, chunk_rows, memory_rows, suffix, checks
):
    path = write(rows, tmp_path / f"corpus{suffix}")
    settings_ = HealthSettings(rare_below=3)
    whole = run_audit(load_corpus(path, taxonomy), checks, None, settings_)
    streamed = audit_dataset(
        str(path),
        taxonomy,
        None,
        checks,
        settings=settings_,
        chunk_rows=chunk_rows,
        memory_rows=memory_rows,
    )
    # read batch by batch (before .findings holds them all): every output the whole one's
    out = Path(tempfile.mkdtemp(dir=tmp_path)) / "findings.csv"
    streamed.write_csv(out, rows=chunk_rows)
    assert out.read_bytes() == csv_text(whole.findings).encode()
    assert "".join(streamed.csv_chunks()) == csv_text(whole.findings)
    assert "".join(streamed.json_chunks()) == json.dumps(
        whole.to_dict(), indent=2, ensure_ascii=False
    )
    heads = [(check, group.head(2).reset_index(drop=True)) for check, group in whole.by_check()]
    for (check, group), (expected, head) in zip(streamed.by_check(2), heads, strict=True):
        assert check == expected
        pd.testing.assert_frame_equal(group, head)
    assert streamed.to_markdown(2) == whole.to_markdown(2)
    assert_same(streamed, whole)
    assert streamed.to_dict() == whole.to_dict()


@PROPERTY
@given(rows=ROWS, chunk_rows=st.integers(1, 12), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_chunked_fix_writes_the_same_bytes(tmp_path, taxonomy, rows, chunk_rows, suffix):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    path = write(rows, tmp_path / f"corpus{suffix}")
    expected = write_fixed(load_corpus(path, taxonomy), tmp_path / f"whole{suffix}")
    with ChunkedFix(str(path), tmp_path / f"chunked{suffix}") as fixer:
        audit_dataset(str(path), taxonomy, chunk_rows=chunk_rows, fix=fixer)
        got = fixer.commit()
    assert got.path.read_bytes() == expected.path.read_bytes()
    assert (got.messages_changed, got.cells_changed) == (
        expected.messages_changed,
        expected.cells_changed,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, f"whole{suffix}", f"chunked{suffix}"]
    )  # no temp file left


def test_a_failed_audit_leaves_no_fixed_copy(tmp_path, taxonomy):
    path = tmp_path / "corpus.csv"
    path.write_text('id,text,tags\n1,a,Web\n2,b,"[broken"\n', encoding="utf-8")
    out = tmp_path / "fixed.csv"
    with pytest.raises(CorpusError, match="broken tag list"), ChunkedFix(str(path), out) as fix:
        audit_dataset(str(path), taxonomy, chunk_rows=1, fix=fix)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.csv"]


@PROPERTY
@given(rows=ROWS, split=st.integers(1, 29), chunk_rows=st.integers(1, 12))
def test_a_directory_of_files_audits_as_their_rows_in_one(
    tmp_path, taxonomy, rows, split, chunk_rows
):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # one folder per example
    write(rows[:split], folder / "part-0.csv")
    if rows[split:]:
        write(rows[split:], folder / "part-1.parquet")
    whole = run_audit(load_corpus(folder, taxonomy))
    assert_same(audit_dataset(str(folder), taxonomy, chunk_rows=chunk_rows), whole)


@PROPERTY
@given(rows=ROWS, partitions=st.integers(1, 4))
def test_cross_row_findings_hold_on_keys_shuffled_by_hash(tmp_path, taxonomy, rows, partitions):
    corpus = load_corpus(write(rows, tmp_path / "corpus.csv"), taxonomy)
    keys, names = cross_row_keys(corpus), signature_names(corpus)
    whole = cross_row_findings(keys, names)

    def shuffled(column, by):
        parts = [
            cross_row_findings(part, names, by=by)
            for _, part in keys.groupby(keys[column] % partitions)
        ]
        return pd.concat(parts, ignore_index=True)

    got = combine_cross_row(shuffled("id", ["id"]), shuffled("text", ["text"]))
    pd.testing.assert_frame_equal(got, whole)


def test_keys_are_compact_integers(taxonomy, tmp_path):
    rows = [{"id": "1", "text": "Hi", "tags": "Web", "user_id": "u", "created_at": "2026-01-01"}]
    corpus = load_corpus(write(rows, tmp_path / "c.csv"), taxonomy)
    keys = cross_row_keys(corpus)
    assert list(keys.columns) == [
        "row",
        "id",
        "text",
        "conversation",
        "user",
        "seconds",
        "sig:team",
        "sig:topic",
    ]
    assert all(dtype.kind in "iu" and dtype.itemsize == 8 for dtype in keys.dtypes)


def test_spilled_keys_and_findings_find_the_same_and_leave_nothing_behind(
    tmp_path, taxonomy, monkeypatch
):
    rows = [
        {"id": str(i % 7), "conversation_id": f"c{i % 3}", "text": TEXTS[i % len(TEXTS)],
         "tags": TAGS[i % len(TAGS)]}
        for i in range(60)
    ]  # fmt: skip
    path = write(rows, tmp_path / "corpus.csv")
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setenv("TMPDIR", str(spill))
    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read once, then cached
    whole = audit_dataset(str(path), taxonomy, chunk_rows=8)
    spilled = audit_dataset(str(path), taxonomy, chunk_rows=8, memory_rows=10)
    (held,) = spill.iterdir()  # the keys are gone; the findings wait with the report
    assert held.name.startswith("feedtag-findings-")
    assert len(list(held.glob("findings-*.arrow"))) == 8  # a file for each chunk of 8 rows
    batches = [len(batch) for batch in spilled.batches()]  # read back chunk by chunk
    assert len(batches) > 1 and sum(batches) == len(whole.findings) == len(spilled.found)
    assert_same(spilled, whole)
    assert (whole.findings["check"] == "duplicate-message").sum() > 10
    del spilled
    gc.collect()
    assert list(spill.iterdir()) == []


def test_keys_past_memory_rows_wait_on_disk_in_buckets(tmp_path, taxonomy):
    from classifier.audit.duplicates import cross_row_keys
    from classifier.audit.spill import CrossRowKeys

    rows = [
        {"id": str(i), "conversation_id": "c1", "text": f"text {i % 4}", "tags": TAGS[1]}
        for i in range(30)
    ]
    corpus = load_corpus(write(rows, tmp_path / "corpus.csv"), taxonomy)
    with CrossRowKeys(memory_rows=20, buckets=4, directory=tmp_path) as keys:
        keys.add(cross_row_keys(corpus), corpus.messages["id"])
        assert keys.spilled
        (spill,) = tmp_path.glob("feedtag-keys-*")
        assert {p.name for p in spill.iterdir()} <= {
            f"{by}-{b:04d}.arrow" for by in ("id", "text") for b in range(4)
        }
        found = keys.findings({}, ["duplicate-message"]).sort_by("row")  # off disk: any order
    assert not spill.exists()
    assert found["row"].to_pylist() == list(range(5, 31))  # rows 1-4: the first of each text
    assert found["id"].to_pylist() == [str(i) for i in range(4, 30)]


def test_unicode_texts_streamed_find_what_the_whole_audit_finds(tmp_path, taxonomy):
    """Twenty rows Hypothesis found when an Arrow text fold (ascii_lower) garbled a chunk's
    non-ASCII texts and the streamed audit lost findings the whole one had."""
    rows = json.loads((Path(__file__).parent / "data" / "unicode-audit-rows.json").read_text())
    path = write(rows, tmp_path / "corpus.csv")
    checks = {"missing-tag", "conflicting-duplicates", "alias-tag"}
    settings_ = HealthSettings(rare_below=3)
    whole = run_audit(load_corpus(path, taxonomy), checks, None, settings_)
    assert (whole.findings["check"] == "conflicting-duplicates").sum() >= 1
    for memory_rows in (0, 1_000_000):
        streamed = audit_dataset(
            str(path), taxonomy, None, checks, settings=settings_, chunk_rows=2,
            memory_rows=memory_rows,
        )  # fmt: skip
        assert_same(streamed, whole)


def test_no_room_for_the_keys_is_a_clear_error_naming_tmpdir(tmp_path, taxonomy):
    from classifier.audit.duplicates import cross_row_keys
    from classifier.audit.spill import CrossRowKeys
    from classifier.errors import OutputError

    rows = [{"id": str(i), "text": f"text {i}", "tags": TAGS[1]} for i in range(3)]
    corpus = load_corpus(write(rows, tmp_path / "corpus.csv"), taxonomy)
    missing = tmp_path / "no" / "such" / "folder"
    keys = CrossRowKeys(memory_rows=1, directory=missing)
    with pytest.raises(OutputError, match="set TMPDIR to a folder with room"):
        keys.add(cross_row_keys(corpus), corpus.messages["id"])
    keys.close()
