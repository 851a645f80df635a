"""The decisions file: durable steps, undo, stats, --apply and training labels."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.corpus import load_corpus
from classifier.errors import DecisionsError, OutputError, UsageError
from classifier.review.decisions import (
    Decision,
    DecisionStore,
    apply_decisions,
    decision_labels,
    decision_stats,
    default_db_path,
)
from cli import app

runner = CliRunner()
FLAT = (
    "id,text,tags\n"
    "1,the api has a bug,\n"
    "2,web praise for you,Team: Web\n"
    "3,pricing of the api,API; Pricing question\n"
    "4,nothing to match,wat; Praise\n"
)


def accept(message_id, axis, tag, agent="ann", **extra):
    return Decision(message_id, axis, "accepted", tag, suggested=tag, agent=agent, **extra)


def override(message_id, axis, suggested, tag, agent="ann"):
    return Decision(message_id, axis, "overridden", tag, suggested=suggested, agent=agent)


def skip(message_id, axis, suggested=None, agent="ann"):
    return Decision(message_id, axis, "skipped", None, suggested=suggested, agent=agent)


def values(series) -> list:
    """A labels series as a list, missing as None (pandas may hold them as NaN)."""
    return [None if value is None or value != value else value for value in series]


def write(tmp_path: Path, text: str = FLAT, name: str = "corpus.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def record(db: Path, *steps: list[Decision]) -> None:
    with DecisionStore(db) as store:
        for step in steps:
            store.record(step)


# --- the store ----------------------------------------------------------------------------------


def test_each_step_is_kept_in_a_durable_wal_file(tmp_path):
    db = tmp_path / "d.sqlite"
    with DecisionStore(db) as store:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        first = store.record([accept("1", "team", "api"), accept("1", "topic", "bug")])
        second = store.record([skip("2", "team")])
    assert (first, second) == (1, 2)
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = raw.execute("SELECT step, message_id, axis, action, final FROM decisions").fetchall()
    assert rows == [
        (1, "1", "team", "accepted", "api"),
        (1, "1", "topic", "accepted", "bug"),
        (2, "2", "team", "skipped", None),
    ]


def test_undo_takes_back_the_agents_last_step_and_keeps_it_in_the_history(tmp_path):
    db = tmp_path / "d.sqlite"
    with DecisionStore(db) as store:
        store.record([accept("1", "team", "api")])
        store.record([override("1", "team", "api", "web"), accept("1", "topic", "bug")])
        store.record([accept("9", "team", "web", agent="bob")])
        undone = store.undo("ann")
        assert [(d.message_id, d.axis, d.final) for d in undone] == [
            ("1", "team", "web"),
            ("1", "topic", "bug"),
        ]
        standing = store.effective()
        assert standing[("1", "team")].final == "api"  # the earlier decision stands again
        assert ("1", "topic") not in standing
        assert standing[("9", "team")].agent == "bob"  # another agent's step is not touched
        assert len(store.history()) == 4 and store.undone() == 2
        assert [d.final for d in store.undo("ann")] == ["api"]
        assert store.undo("ann") == []


def test_the_newest_decision_stands_and_counts_once(tmp_path):
    db = tmp_path / "d.sqlite"
    record(db, [accept("1", "team", "api")], [override("1", "team", "api", "web")])
    with DecisionStore(db) as store:
        assert store.effective()[("1", "team")].action == "overridden"
        assert store.acceptance() == (0, 1)


def test_a_decision_is_checked_when_made():
    with pytest.raises(ValueError, match="skipped"):
        Decision("1", "team", "skipped", "web")
    with pytest.raises(ValueError, match="final"):
        Decision("1", "team", "accepted", None)
    with pytest.raises(ValueError, match="action"):
        Decision("1", "team", "maybe", "web")  # type: ignore[arg-type]


def test_reading_needs_an_existing_decisions_file(tmp_path):
    with pytest.raises(DecisionsError, match="run 'feedtag review CORPUS' first"):
        DecisionStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not a database at all, just some text " * 100)
    with pytest.raises(DecisionsError, match="not a decisions file"):
        DecisionStore(bogus)


def test_default_db_sits_beside_the_corpus(tmp_path):
    assert default_db_path(tmp_path / "x.csv") == tmp_path / "x.csv.decisions.sqlite"


# --- stats -------------------------------------------------------------------------------------


def test_stats_count_acceptance_per_axis_tag_agent_and_rank_overrides(tmp_path):
    db = tmp_path / "d.sqlite"
    record(
        db,
        [accept("1", "team", "api"), override("1", "topic", "bug", "praise")],
        [override("2", "team", "web", "api", agent="bob"), accept("2", "topic", "bug", "bob")],
        [override("3", "topic", "bug", "praise"), skip("3", "team", "web")],
        [override("4", "topic", "pricing", "bug")],
    )
    with DecisionStore(db) as store:
        store.undo("ann")  # message 4's override is taken back
    stats = decision_stats(db)
    assert stats.messages == 3 and stats.undone == 1
    overall = stats.overall
    assert (overall.accepted, overall.overridden, overall.skipped) == (2, 3, 1)
    assert overall.rate == pytest.approx(2 / 5)
    by_axis = {item.group["axis"]: (item.accepted, item.overridden) for item in stats.by_axis}
    assert by_axis == {"team": (1, 1), "topic": (1, 2)}
    by_agent = {item.group["agent"]: item.rate for item in stats.by_agent}
    assert by_agent == {"ann": pytest.approx(1 / 3), "bob": pytest.approx(1 / 2)}
    bug = next(i for i in stats.by_tag if i.group == {"axis": "topic", "suggested": "bug"})
    assert (bug.accepted, bug.overridden) == (1, 2)
    top = stats.overrides[0]
    assert (top.axis, top.suggested, top.chosen, top.count) == ("topic", "bug", "praise", 2)
    assert [(o.suggested, o.chosen) for o in stats.overrides[1:]] == [("web", "api")]
    assert json.loads(json.dumps(stats.to_dict()))["overall"]["acceptance"] == pytest.approx(0.4)


# --- apply and labels ---------------------------------------------------------------------------


def test_apply_writes_decisions_into_a_flat_tags_column_in_place(tmp_path, taxonomy):
    path = write(tmp_path)
    before = path.read_bytes()
    db = tmp_path / "d.sqlite"
    record(
        db,
        [accept("1", "team", "api"), accept("1", "topic", "bug")],
        [override("2", "team", "web", "api"), skip("2", "topic")],
        [override("4", "team", "web", "web"), accept("4", "topic", "praise")],
        [accept("77", "team", "web")],
    )
    done = apply_decisions(load_corpus(path, taxonomy), db, tmp_path / "out.csv")
    assert path.read_bytes() == before
    assert (done.messages_changed, done.unmatched) == (3, 1)
    frame = load_corpus(done.path, taxonomy).frame
    assert frame["tags"].tolist() == [
        "API; Bug report",
        "API",  # the team tag replaced where it was written
        "API; Pricing question",  # no decision: as it was
        "wat; Praise; Web",  # unknown tag kept; the axis without a tag gains one at the end
    ]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_apply_round_trips_every_format_and_leaves_other_cells(tmp_path, taxonomy, fmt):
    import pandas as pd

    source = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text": ["one", "two", "three"],
            "team": ["Web", "", "API"],
            "note": ["x", "y", "z"],
        }
    )
    path = tmp_path / f"in.{fmt}"
    if fmt in ("csv", "tsv"):
        source.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        source.to_json(path, orient="records", lines=True)
    elif fmt == "json":
        source.to_json(path, orient="records")
    else:
        source.to_parquet(path)
    db = tmp_path / "d.sqlite"
    record(db, [override("a", "team", "web", "api"), accept("b", "team", "web")])
    record(db, [accept("b", "topic", "praise")])
    out = apply_decisions(load_corpus(path, taxonomy), db, tmp_path / f"out.{fmt}").path
    applied = load_corpus(out, taxonomy)
    assert values(applied.labels("team")) == ["api", "web", "api"]
    assert values(applied.labels("topic")) == [None, "praise", None]  # a new column
    assert applied.frame["note"].tolist() == ["x", "y", "z"]


def test_apply_refuses_to_overwrite_the_input_or_change_its_format(tmp_path, taxonomy):
    path = write(tmp_path)
    db = tmp_path / "d.sqlite"
    record(db, [accept("1", "team", "api")])
    corpus = load_corpus(path, taxonomy)
    with pytest.raises(OutputError, match="is the input CORPUS"):
        apply_decisions(corpus, db, path)
    with pytest.raises(UsageError, match="input's format"):
        apply_decisions(corpus, db, tmp_path / "out.jsonl")


def test_decision_labels_override_and_add_to_the_corpus_labels(tmp_path, taxonomy):
    path = write(tmp_path)
    db = tmp_path / "d.sqlite"
    record(
        db,
        [accept("1", "team", "api"), skip("1", "topic")],
        [override("3", "topic", "pricing", "bug"), accept("2", "topic", "legacy-free")],
    )
    corpus = load_corpus(path, taxonomy)
    with pytest.raises(DecisionsError, match="topic:legacy-free"):
        decision_labels(db, corpus)
    record(db, [accept("2", "team", "legacy")])  # a retired tag: trained as its successor
    with DecisionStore(db) as store:
        store.undo("ann")
        store.undo("ann")
    record(db, [override("3", "topic", "pricing", "bug")], [accept("2", "team", "legacy")])
    labels = decision_labels(db, corpus)
    assert values(labels["team"]) == ["api", "web", "api", None]
    assert values(labels["topic"]) == [None, None, "bug", "praise"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    choices=st.lists(
        st.tuples(st.sampled_from(["1", "2", "3", "4"]), st.sampled_from(["team", "topic"])),
        max_size=8,
    ),
    data=st.data(),
)
def test_applied_corpus_carries_exactly_the_decided_labels(
    tmp_path_factory, taxonomy, choices, data
):
    folder = tmp_path_factory.mktemp("apply")
    path = write(folder)
    db = folder / "d.sqlite"
    expected = {}
    with DecisionStore(db) as store:
        for message_id, axis in choices:
            tag = data.draw(st.sampled_from(taxonomy.suggestable(axis)))
            store.record([override(message_id, axis, "x", tag)])
            expected[(message_id, axis)] = tag
    corpus = load_corpus(path, taxonomy)
    applied = load_corpus(apply_decisions(corpus, db, folder / "out.csv").path, taxonomy)
    for axis in taxonomy.axes:
        for position, message_id in enumerate(corpus.messages["id"]):
            want = expected.get((message_id, axis), values(corpus.labels(axis))[position])
            assert values(applied.labels(axis))[position] == want
            if (message_id, axis) not in expected:  # undecided axes keep every tag they had
                assert applied.axis_tags(axis)[position] == corpus.axis_tags(axis)[position]


# --- the command line ---------------------------------------------------------------------------


def test_cli_stats_as_json_and_table(tmp_path, taxonomy_file):
    path = write(tmp_path)
    record(
        default_db_path(path),
        [accept("1", "team", "api"), override("1", "topic", "bug", "praise")],
    )
    result = runner.invoke(app, ["review", str(path), "--stats", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"]["acceptance"] == 0.5
    assert data["overrides"] == [
        {"axis": "topic", "suggested": "bug", "chosen": "praise", "count": 1}
    ]
    table = runner.invoke(app, ["review", str(path), "--stats"])
    assert table.exit_code == 0
    assert "1 message decided" in table.stdout and "most frequent overrides" in table.stdout


def test_cli_apply_writes_out_and_reports(tmp_path, taxonomy_file):
    path = write(tmp_path)
    db = tmp_path / "mine.sqlite"
    record(db, [accept("1", "team", "api"), accept("1", "topic", "bug")])
    out = tmp_path / "out.csv"
    args = ["review", str(path), "--taxonomy", str(taxonomy_file), "--db", str(db)]
    result = runner.invoke(app, [*args, "--apply", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "applied 2 decisions to 1 messages" in result.stderr
    assert out.read_text().splitlines()[1] == '"1","the api has a bug","API; Bug report"'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--apply"], "--apply needs --out"),
        (["--out", "x.csv"], "--out goes with --apply"),
        (["--apply", "--stats"], "run them separately"),
        (["--format", "json"], "--format goes with --stats"),
        (["--stats"], "no decisions file"),
        ([], "needs a terminal"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path, taxonomy_file, extra, message):
    path = write(tmp_path)
    result = runner.invoke(app, ["review", str(path), "--taxonomy", str(taxonomy_file), *extra])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not default_db_path(path).exists()


def test_training_labels_take_review_decisions(tmp_path, taxonomy):
    from classifier.model.training import corpus_labels

    path = write(tmp_path)
    db = tmp_path / "d.sqlite"
    record(db, [override("3", "topic", "pricing", "bug"), accept("2", "team", "legacy")])
    corpus = load_corpus(path, taxonomy)
    _, before, _ = corpus_labels(corpus)
    _, after, left_out = corpus_labels(corpus, decisions=db)
    assert before["topic"].tolist()[2] != "bug"
    assert after["topic"].tolist()[2] == "bug"
    assert after["team"].tolist()[1] == "web"  # the retired tag, trained as its successor
    assert left_out["topic"]["missing"] <= corpus_labels(corpus)[2]["topic"]["missing"]


# --- idempotent decisions (feedtag serve) -------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, step INTEGER NOT NULL, message_id TEXT NOT NULL,
    row INTEGER, axis TEXT NOT NULL, suggested TEXT, confidence REAL, final TEXT,
    action TEXT NOT NULL CHECK (action IN ('accepted', 'overridden', 'skipped')),
    agent TEXT NOT NULL, model_version TEXT, decided_at TEXT NOT NULL, undone_at TEXT
);
CREATE INDEX decisions_message ON decisions (message_id, axis);
CREATE INDEX decisions_step ON decisions (agent, step);
INSERT INTO decisions (step, message_id, axis, suggested, final, action, agent, decided_at)
    VALUES (1, 'old', 'team', 'web', 'web', 'accepted', 'ann', '2026-01-01T00:00:00.000+00:00');
PRAGMA user_version = 1;
"""


def test_a_retried_key_is_stored_once_and_answers_the_first_row(tmp_path):
    db = tmp_path / "d.sqlite"
    with DecisionStore(db) as store:
        first = store.record_once(accept("1", "team", "api", confidence=0.9), "key-1")
        again = store.record_once(accept("1", "team", "api", confidence=0.9), "key-1")
        other = store.record_once(accept("1", "topic", "bug"), "key-2")
        assert store.count() == 2
    assert (first.replayed, again.replayed, other.replayed) == (False, True, False)
    assert again.seq == first.seq and again.decision.step == first.decision.step == 1
    assert other.decision.step == 2


def test_a_key_reused_for_another_decision_is_refused(tmp_path):
    from classifier.errors import IdempotencyConflict

    with DecisionStore(tmp_path / "d.sqlite") as store:
        store.record_once(accept("1", "team", "api"), "key-1")
        with pytest.raises(IdempotencyConflict, match="'key-1' was used for another decision"):
            store.record_once(override("1", "team", "api", "web"), "key-1")
        assert store.count() == 1


def test_the_database_refuses_a_second_row_with_the_same_key(tmp_path):
    db = tmp_path / "d.sqlite"
    with DecisionStore(db) as store:
        store.record_once(accept("1", "team", "api"), "key-1")
    raw = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        raw.execute(
            "INSERT INTO decisions (step, message_id, axis, action, final, agent, decided_at, "
            "idempotency_key) VALUES (9, '2', 'team', 'accepted', 'web', 'bob', 'now', 'key-1')"
        )


def test_a_v1_file_is_migrated_in_place_and_keeps_its_rows(tmp_path):
    db = tmp_path / "old.sqlite"
    raw = sqlite3.connect(db)
    raw.executescript(V1_SCHEMA)
    raw.close()
    with DecisionStore(db) as store:
        (old,) = store.history()
        assert (old.message_id, old.final, old.step) == ("old", "web", 1)
        made = store.record_once(accept("new", "team", "api"), "k")
        assert made.decision.step == 2 and store.count() == 2
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    keys = raw.execute("SELECT message_id, idempotency_key FROM decisions ORDER BY seq").fetchall()
    assert keys == [("old", None), ("new", "k")]
    with DecisionStore(db) as store:  # opening a v2 file again changes nothing
        assert store.count() == 2


# --- other programs' files are never touched -----------------------------------------------


def foreign_db(path: Path) -> Path:
    """Another program's SQLite file: its own table, rollback journal, user_version 0."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users (name) VALUES ('ann')")
    return path


def untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists() and not Path(f"{path}-journal").exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.parametrize("create", [False, True])
def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path, create):
    path = foreign_db(tmp_path / "other.sqlite")
    before = path.read_bytes()
    with pytest.raises(DecisionsError) as caught:
        DecisionStore(path, create=create)
    assert str(caught.value) == (
        f"{path}: not a feedtag decisions file (schema version 0, tables: users); "
        "pass --db with the file 'feedtag review' wrote"
    )
    untouched(path, before)


def test_reading_needs_the_schema_and_writes_nothing(tmp_path, taxonomy):
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()  # a valid, empty database (0 bytes)
    with pytest.raises(DecisionsError, match="an empty database, not a decisions file"):
        decision_stats(empty)
    assert empty.read_bytes() == b""
    text = write(tmp_path, name="notes.csv")
    with pytest.raises(DecisionsError, match="not a decisions file"):
        decision_stats(text)
    assert text.read_text() == FLAT
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version=9")
    with pytest.raises(DecisionsError, match="schema v9 is newer"):
        DecisionStore(newer)


def test_reading_our_own_file_changes_no_byte(tmp_path, taxonomy):
    """SQLite may add its WAL side files while reading; the database itself stays as it was."""
    db = tmp_path / "d.sqlite"
    record(db, [accept("1", "team", "api")])
    before = db.read_bytes()
    assert decision_stats(db).messages == 1
    decision_labels(db, load_corpus(write(tmp_path), taxonomy))
    assert db.read_bytes() == before
    with DecisionStore(db) as store:  # and it is still ours to write
        store.record([accept("2", "team", "web")])


@pytest.mark.parametrize(
    "command",
    [
        ["review", "{corpus}", "--stats", "--db", "{db}"],
        ["review", "{corpus}", "--apply", "--out", "{out}", "--db", "{db}"],
        ["train", "{corpus}", "--out", "{out}", "--decisions", "{db}"],
    ],
)
def test_cli_refuses_a_foreign_db_in_one_line(tmp_path, taxonomy_file, command):
    db = foreign_db(tmp_path / "other.sqlite")
    before = db.read_bytes()
    values = {"corpus": write(tmp_path), "db": db, "out": tmp_path / "out"}
    args = [part.format(**values) for part in command]
    result = runner.invoke(app, [*args, "--taxonomy", str(taxonomy_file)])
    assert result.exit_code == 2, result.output
    assert (
        result.stderr == f"error: {db}: not a feedtag decisions file (schema version 0, "
        "tables: users); pass --db with the file 'feedtag review' wrote\n"
    )
    untouched(db, before)
