"""Review decisions: every accept, override and skip an agent makes, kept in SQLite.

Each keypress is one transaction, committed before the screen moves on, in WAL mode with
``synchronous=FULL``: a review killed at any moment loses no decision it showed as made, and the
next run resumes at the first message without one. Undo marks a step undone instead of deleting
it, so the file stays an audit trail of what was decided, by whom, with which model.

The newest live decision per (message, axis) is the one that stands (``effective``): it is what
``--apply`` writes into a copy of the corpus, what ``decision_labels`` hands to training and what
``stats`` counts.

Clients over HTTP (``feedtag serve``) retry: ``record_once`` stores a decision under the
client's idempotency key, and a unique index on that key makes a retried request find the row it
already wrote instead of counting the decision twice (schema v2; a v1 file gains the column when
first opened, its rows without a key).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from classifier.errors import DecisionsError, IdempotencyConflict

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus

Action = Literal["accepted", "overridden", "skipped"]
KEYED = """
CREATE UNIQUE INDEX IF NOT EXISTS decisions_idempotency ON decisions (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
"""
ACTIONS: tuple[Action, ...] = ("accepted", "overridden", "skipped")
SCHEMA_VERSION = 2
SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    row INTEGER,
    axis TEXT NOT NULL,
    suggested TEXT,
    confidence REAL,
    final TEXT,
    action TEXT NOT NULL CHECK (action IN ('accepted', 'overridden', 'skipped')),
    agent TEXT NOT NULL,
    model_version TEXT,
    decided_at TEXT NOT NULL,
    undone_at TEXT,
    idempotency_key TEXT
);
CREATE INDEX IF NOT EXISTS decisions_message ON decisions (message_id, axis);
CREATE INDEX IF NOT EXISTS decisions_step ON decisions (agent, step);
"""
    + KEYED
)
# Schema v1 -> v2: the idempotency key of decisions made over HTTP.
MIGRATIONS = {1: "ALTER TABLE decisions ADD COLUMN idempotency_key TEXT;" + KEYED}
COLUMNS = {
    "seq", "step", "message_id", "row", "axis", "suggested", "confidence", "final",
    "action", "agent", "model_version", "decided_at", "undone_at",
}  # fmt: skip
# The newest live decision per (message, axis).
EFFECTIVE = """
SELECT d.* FROM decisions d
JOIN (
    SELECT MAX(seq) AS seq FROM decisions WHERE undone_at IS NULL GROUP BY message_id, axis
) latest USING (seq)
"""


def default_db_path(corpus_path: str | Path) -> Path:
    """``CORPUS.decisions.sqlite`` beside the corpus (stdin: in the working directory)."""
    if str(corpus_path) == "-":
        return Path("stdin.decisions.sqlite")
    path = Path(corpus_path)
    return path.with_name(path.name + ".decisions.sqlite")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Decision:
    """One agent's decision on one axis of one message.

    ``final`` is the tag that stands (``None`` when skipped); ``suggested`` and ``confidence``
    are what the model offered (``None`` when it offered nothing).
    """

    message_id: str
    axis: str
    action: Action
    final: str | None
    suggested: str | None = None
    confidence: float | None = None
    agent: str = ""
    model_version: str | None = None
    row: int | None = None
    decided_at: str = field(default_factory=now)
    step: int | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {self.action!r}")
        if (self.final is None) != (self.action == "skipped"):
            raise ValueError("a skipped decision has no final tag; the others need one")


class DecisionStore:
    """A decisions file, opened for one review session or one report.

    Parameters
    ----------
    path : str or Path
        The SQLite file; created (with its schema) unless ``create`` is false.
    create : bool
        With ``False`` the file is opened read-only (``--stats``, ``--apply``, ``train
        --decisions``): a missing file is an error, and nothing in the file is created or
        changed, not even its journal mode. With ``True`` (a review session) a new or empty
        file gets the schema; a file holding anything else is refused before any write.

    Raises
    ------
    DecisionsError
        A missing file (read-only), a file that is not SQLite, or a database without
        feedtag's decisions schema (another program's file, or a newer feedtag's).
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        self.read_only = not create
        if self.read_only and not self.path.is_file():
            raise DecisionsError(
                f"{self.path}: no decisions file; run 'feedtag review CORPUS' first, or pass --db"
            )
        try:
            if self.read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        except (OSError, sqlite3.Error) as err:
            raise DecisionsError(f"{self.path}: cannot open the decisions file ({err})") from None
        self._db.row_factory = sqlite3.Row
        try:
            state = self._schema()
            if state == "empty" and self.read_only:
                raise DecisionsError(f"{self.path}: an empty database, not a decisions file")
            if not self.read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                if state != "current":
                    self._upgrade()
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise DecisionsError(f"{self.path}: not a decisions file ({err})") from None
        except BaseException:
            self._db.close()
            raise

    def _upgrade(self) -> None:
        """Create the schema, or migrate an older file, in one transaction.

        The version is read again under the write lock: two processes opening a v1 file at once
        (``serve --workers``) must not both add the column.
        """
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            exists = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'"
            ).fetchone()
            steps = range(version, SCHEMA_VERSION)
            if exists is None:
                script = SCHEMA
            elif all(v in MIGRATIONS for v in steps):
                script = "".join(MIGRATIONS[v] for v in steps)
            else:
                raise DecisionsError(f"{self.path}: has a decisions table feedtag did not write")
            for statement in filter(str.strip, script.split(";")):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _schema(self) -> str:
        """``"current"``, ``"older"`` (ours, migratable) or ``"empty"``; anything else raises
        before a byte is written."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if version > SCHEMA_VERSION:
            raise DecisionsError(
                f"{self.path}: decisions schema v{version} is newer than this feedtag "
                f"(v{SCHEMA_VERSION}); upgrade feedtag"
            )
        if version == 0 and not tables:
            return "empty"
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(decisions)")}
        known = version == SCHEMA_VERSION or version in MIGRATIONS
        if not known or not columns >= COLUMNS:
            found = ", ".join(sorted(tables)) or "none"
            raise DecisionsError(
                f"{self.path}: not a feedtag decisions file (schema version {version}, "
                f"tables: {found}); pass --db with the file 'feedtag review' wrote"
            )
        # An older file of ours is read as it is, and migrated only when opened for writing.
        return "current" if version == SCHEMA_VERSION else "older"

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _transaction(self):
        return _Transaction(self._db)

    def record(self, decisions: Sequence[Decision]) -> int:
        """Store decisions as one step (one keypress) in one durable transaction.

        Returns the step number, which ``undo`` takes back as a whole.
        """
        if not decisions:
            raise ValueError("record needs at least one decision")
        with self._transaction():
            step = self._db.execute("SELECT COALESCE(MAX(step), 0) + 1 FROM decisions")
            number = step.fetchone()[0]
            self._db.executemany(
                "INSERT INTO decisions (step, message_id, row, axis, suggested, confidence, "
                "final, action, agent, model_version, decided_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(number, *_values(d)) for d in decisions],
            )
        return number

    def record_once(self, decision: Decision, key: str) -> Recorded:
        """Store one decision under a client's idempotency key, unless the key is already there.

        A retry of the same request finds the row it wrote (``replayed``) and stores nothing.
        The same key with a different decision is refused: the client reused a key by mistake,
        and either answer would hide that.

        Raises
        ------
        IdempotencyConflict
            The key names a stored decision that differs from this one.
        """
        with self._transaction():
            found = self._db.execute(
                "SELECT * FROM decisions WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if found is not None:
                stored = _decision(found)
                if _request_fields(stored) != _request_fields(decision):
                    raise IdempotencyConflict(
                        f"idempotency key {key!r} was used for another decision "
                        f"(message {stored.message_id}, axis {stored.axis}); use a new key"
                    )
                return Recorded(found["seq"], stored, replayed=True)
            step = self._db.execute("SELECT COALESCE(MAX(step), 0) + 1 FROM decisions")
            number = step.fetchone()[0]
            cursor = self._db.execute(
                "INSERT INTO decisions (step, message_id, row, axis, suggested, confidence, "
                "final, action, agent, model_version, decided_at, idempotency_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, *_values(decision), key),
            )
        stored = Decision(**{**asdict(decision), "step": number})
        return Recorded(int(cursor.lastrowid or 0), stored, replayed=False)

    def count(self) -> int:
        """Rows in the file, undone ones included."""
        return self._db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]

    def undo(self, agent: str) -> list[Decision]:
        """Take back ``agent``'s newest live step; returns its decisions (empty: nothing to undo).

        Undone rows stay in the file, marked with the time they were undone.
        """
        with self._transaction():
            found = self._db.execute(
                "SELECT MAX(step) FROM decisions WHERE agent = ? AND undone_at IS NULL", (agent,)
            ).fetchone()[0]
            if found is None:
                return []
            rows = self._db.execute(
                "SELECT * FROM decisions WHERE step = ? ORDER BY seq", (found,)
            ).fetchall()
            self._db.execute("UPDATE decisions SET undone_at = ? WHERE step = ?", (now(), found))
        return [_decision(row) for row in rows]

    def effective(
        self, message_ids: Iterable[str] | None = None
    ) -> dict[tuple[str, str], Decision]:
        """The decision that stands per (message id, axis), skips included."""
        rows = self._db.execute(EFFECTIVE + " ORDER BY d.seq").fetchall()
        wanted = None if message_ids is None else set(message_ids)
        return {
            (row["message_id"], row["axis"]): _decision(row)
            for row in rows
            if wanted is None or row["message_id"] in wanted
        }

    def history(self) -> list[Decision]:
        """Every decision ever recorded, undone ones included, oldest first."""
        rows = self._db.execute("SELECT * FROM decisions ORDER BY seq").fetchall()
        return [_decision(row) for row in rows]

    def undone(self) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM decisions WHERE undone_at IS NOT NULL"
        ).fetchone()[0]

    def acceptance(self, agent: str | None = None) -> tuple[int, int]:
        """(accepted, accepted + overridden) among decisions that stand, for one agent or all."""
        query = f"SELECT action, COUNT(*) FROM ({EFFECTIVE}) WHERE action != 'skipped'"
        params: tuple[str, ...] = ()
        if agent is not None:
            query += " AND agent = ?"
            params = (agent,)
        counts = dict(self._db.execute(query + " GROUP BY action", params).fetchall())
        accepted = counts.get("accepted", 0)
        return accepted, accepted + counts.get("overridden", 0)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: the write lock is taken up front, so two agents
    sharing a file never interleave inside a step."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, *exc: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


@dataclass(frozen=True)
class Recorded:
    """A decision as stored: its row number, and whether an earlier request had stored it."""

    seq: int
    decision: Decision
    replayed: bool


def _values(d: Decision) -> tuple:
    """The columns of an INSERT after ``step``, in the order the statements name them."""
    return (
        d.message_id,
        d.row,
        d.axis,
        d.suggested,
        d.confidence,
        d.final,
        d.action,
        d.agent,
        d.model_version,
        d.decided_at,
    )


def _request_fields(d: Decision) -> tuple:
    """What a client sent: a retry carries the same, whatever the time it was stored."""
    return (d.message_id, d.axis, d.suggested, d.confidence, d.final, d.action, d.agent)


def _decision(row: sqlite3.Row) -> Decision:
    return Decision(
        message_id=row["message_id"],
        axis=row["axis"],
        action=row["action"],
        final=row["final"],
        suggested=row["suggested"],
        confidence=row["confidence"],
        agent=row["agent"],
        model_version=row["model_version"],
        row=row["row"],
        decided_at=row["decided_at"],
        step=row["step"],
    )


# --- stats ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acceptance:
    """How often suggestions were accepted within one group (an axis, a tag, an agent)."""

    group: dict[str, str]
    accepted: int
    overridden: int
    skipped: int

    @property
    def decided(self) -> int:
        return self.accepted + self.overridden

    @property
    def rate(self) -> float | None:
        """Accepted share of accepts and overrides; ``None`` before any."""
        return self.accepted / self.decided if self.decided else None

    def to_dict(self) -> dict:
        return {**self.group, **_counts(self), "acceptance": self.rate}


def _counts(item: Acceptance) -> dict[str, int]:
    return {"accepted": item.accepted, "overridden": item.overridden, "skipped": item.skipped}


@dataclass(frozen=True)
class Override:
    axis: str
    suggested: str
    chosen: str
    count: int


@dataclass(frozen=True)
class DecisionStats:
    """What a lead reads off the decisions: acceptance per axis, tag and agent; top overrides.

    Counts are over the decisions that stand (one per message and axis; undone ones left out).
    ``by_tag`` groups by the *suggested* tag: how far agents trust the model's use of it.
    """

    source: str
    messages: int
    overall: Acceptance
    by_axis: list[Acceptance]
    by_tag: list[Acceptance]
    by_agent: list[Acceptance]
    overrides: list[Override]
    undone: int

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "messages": self.messages,
            "overall": self.overall.to_dict(),
            "by_axis": [item.to_dict() for item in self.by_axis],
            "by_tag": [item.to_dict() for item in self.by_tag],
            "by_agent": [item.to_dict() for item in self.by_agent],
            "overrides": [asdict(item) for item in self.overrides],
            "undone": self.undone,
        }


def decision_stats(db: str | Path, top: int = 10) -> DecisionStats:
    """Acceptance per axis, per suggested tag and per agent, and the ``top`` commonest overrides."""
    with DecisionStore(db, create=False) as store:
        standing = list(store.effective().values())
        undone = store.undone()

    def grouped(*keys: str) -> list[Acceptance]:
        table: dict[tuple, dict[str, int]] = {}
        for d in standing:
            key = tuple(getattr(d, k) or "" for k in keys)
            table.setdefault(key, dict.fromkeys(ACTIONS, 0))[d.action] += 1
        return [
            Acceptance(
                dict(zip(keys, key, strict=True)), c["accepted"], c["overridden"], c["skipped"]
            )
            for key, c in sorted(table.items())
        ]

    overall = grouped()
    pairs: dict[tuple[str, str, str], int] = {}
    for d in standing:
        if d.action == "overridden" and d.suggested is not None and d.final is not None:
            pairs[(d.axis, d.suggested, d.final)] = pairs.get((d.axis, d.suggested, d.final), 0) + 1
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:top]
    by_tag = [item for item in grouped("axis", "suggested") if item.group["suggested"]]
    return DecisionStats(
        source=str(db),
        messages=len({d.message_id for d in standing}),
        overall=overall[0] if overall else Acceptance({}, 0, 0, 0),
        by_axis=grouped("axis"),
        by_tag=by_tag,
        by_agent=grouped("agent"),
        overrides=[Override(*key, count) for key, count in ranked],
        undone=undone,
    )


# --- applying decisions to a corpus -----------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    path: Path
    messages_changed: int
    decisions_applied: int
    unmatched: int  # decisions about message ids the corpus does not have


def decided_tags(db: str | Path, corpus: Corpus) -> dict[tuple[int, str], str]:
    """The tag id decided per (message position, axis): accepts and overrides that stand.

    Every row with a decided message id gets it (an export can repeat a message). Retired
    tags are followed to their successor; tags the taxonomy no longer has are refused.
    """
    taxonomy = corpus.taxonomy
    with DecisionStore(db, create=False) as store:
        standing = [d for d in store.effective().values() if d.final is not None]
    positions: dict[str, list[int]] = {}
    for position, message_id in enumerate(corpus.messages["id"].tolist()):
        positions.setdefault(message_id, []).append(position)
    tags: dict[tuple[int, str], str] = {}
    unknown = []
    for d in standing:
        if d.axis not in taxonomy.axes or d.final not in taxonomy.axes[d.axis].ids:
            unknown.append(f"{d.axis}:{d.final}")
            continue
        for position in positions.get(d.message_id, []):
            tags[(position, d.axis)] = taxonomy.successor(d.axis, d.final)
    if unknown:
        listed = ", ".join(sorted(set(unknown)))
        raise DecisionsError(
            f"{db}: decisions name tags the taxonomy does not have: {listed}; "
            "pass the --taxonomy they were made with"
        )
    return tags


def decision_labels(db: str | Path, corpus: Corpus) -> dict[str, pd.Series]:
    """Training labels per axis: the corpus's own labels, with decisions overriding or adding.

    Each series is aligned with ``corpus.messages`` (one tag id or ``None`` per message), like
    ``Corpus.labels``; an accepted or overridden decision replaces whatever the file says.
    """
    decided = decided_tags(db, corpus)
    labels = {axis: corpus.labels(axis).copy() for axis in corpus.taxonomy.axes}
    for (position, axis), tag in decided.items():
        labels[axis].iat[position] = tag
    return labels


def apply_decisions(corpus: Corpus, db: str | Path, out: str | Path) -> ApplyResult:
    """Write a copy of the corpus with every standing decision applied, atomically.

    On a per-axis column the decided tag replaces the cell; in a flat tags column it replaces
    that axis's tags in place, leaving other axes' and unknown tags as written; a corpus with
    no tag columns gains one column per decided axis. Tags are written by display name.
    """
    from classifier.audit.fix import write_cells

    with DecisionStore(db, create=False) as store:
        ids = {message_id for message_id, _ in store.effective()}
    decided = decided_tags(db, corpus)
    cells = _decided_cells(corpus, decided)
    unmatched = len(ids - set(corpus.messages["id"].tolist()))
    write_cells(corpus, cells, out, option="--apply --out")
    return ApplyResult(Path(out), len({position for position, _ in cells}), len(decided), unmatched)


def _decided_cells(corpus: Corpus, decided: dict[tuple[int, str], str]) -> dict:
    """The new tag list per (message position, column) for ``write_cells``; changed ones only."""
    taxonomy, columns, frame = corpus.taxonomy, corpus.columns, corpus.frame
    touched = corpus.tags[corpus.tags["message"].isin({position for position, _ in decided})]
    written: dict[tuple[int, str], list[tuple[str, str | None]]] = {}
    for message, column, raw, axis in zip(
        touched["message"], touched["column"], touched["raw"], touched["axis"], strict=True
    ):
        written.setdefault((message, column), []).append(
            (str(raw), axis if isinstance(axis, str) else None)
        )
    cells: dict[tuple[int, str], list[tuple[str, str | None]]] = {}
    for (position, axis), tag in sorted(decided.items()):
        name = taxonomy.tag(axis, tag).name
        if axis in columns.axes:
            cells[(position, columns.axes[axis])] = [(name, axis)]
        elif columns.tags is not None:
            cell = (position, columns.tags)
            entries = cells.get(cell, written.get(cell, []))
            at = next((i for i, (_, on) in enumerate(entries) if on == axis), len(entries))
            kept = [entry for entry in entries if entry[1] != axis]
            kept.insert(at, (name, axis))  # where the axis's first tag was, else at the end
            cells[cell] = kept
        else:
            column = axis if axis not in frame.columns else f"feedtag_{axis}"
            cells[(position, column)] = [(name, axis)]
    return {
        cell: [raw for raw, _ in entries]
        for cell, entries in cells.items()
        if [raw for raw, _ in entries] != [raw for raw, _ in written.get(cell, [])]
    }
