"""What an export is: the selection, the counts, the rows assigned to files, and their names.

Shared by the writer (``teams``) and the Markdown digests (``digest``), so neither imports the
other's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from classifier.taxonomy import Taxonomy

# Takes message texts; returns, per axis, one (tag id, confidence) per text.
Suggester = Callable[[list[str]], Mapping[str, Sequence[tuple[str, float]]]]

REVIEW = "_needs-review"
FIELDS = ("id", "created_at", "conversation_id", "user_id", "agent")
SUFFIXES = {"csv": ".csv", "jsonl": ".jsonl", "markdown": ".md"}
DEFAULT_MIN_CONFIDENCE = 0.8


@dataclass(frozen=True)
class Selection:
    """What to export, validated against the taxonomy before any corpus is read."""

    by: str
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None  # exclusive
    topics: frozenset[str] | None = None
    min_confidence: float = DEFAULT_MIN_CONFIDENCE


@dataclass(frozen=True)
class Counts:
    """Where the corpus's messages went; ``input`` is the sum of the other four."""

    input: int
    outside_dates: int
    other_topics: int
    exported: int
    needs_review: int
    undated: int = 0  # of outside_dates: no readable created_at
    suggested: int = 0  # rows (exported or not) with a machine-suggested tag


@dataclass(frozen=True)
class Export:
    """The selected messages, each assigned to one file.

    ``rows`` holds them in input order: ``row``, the ``FIELDS``, one column per axis, ``text``,
    ``source`` (with ``--suggest``: ``confidence``, ``suggested_for``), ``file`` (a tag id or
    ``REVIEW``) and ``reason`` (empty unless under review). The export a writer returns holds
    only the :func:`compact_rows` of every chunk: what the files' counts are made of.
    """

    source: str
    taxonomy: Taxonomy
    selection: Selection
    rows: pd.DataFrame
    files: list[str]
    counts: Counts
    suggested: bool
    paths: list[Path] = field(default_factory=list)

    @property
    def by(self) -> str:
        return self.selection.by

    @property
    def columns(self) -> list[str]:
        """The columns of a tag file, in order."""
        extra = ["confidence", "suggested_for"] if self.suggested else []
        return [*FIELDS, *self.taxonomy.axes, "text", "source", *extra]

    def sizes(self) -> dict[str, int]:
        """Messages per file stem (tag files and ``REVIEW``)."""
        return {str(k): int(v) for k, v in self.rows["file"].value_counts().items()}

    def index(self) -> pd.DataFrame:
        """Messages per tag of ``by`` (rows) and tag of the next axis (columns), with totals."""
        import pandas as pd

        others = [axis for axis in self.taxonomy.axes if axis != self.by]
        exported = self.rows[self.rows["file"] != REVIEW]
        frame = pd.DataFrame({self.by: self.files})
        frame["name"] = [self.taxonomy.tag(self.by, tag).name for tag in self.files]
        if others:
            table = exported.groupby(["file", others[0]]).size().unstack(fill_value=0)
            tags = file_tags(self.taxonomy, others[0], table.columns)
            table = table.reindex(index=self.files, columns=tags, fill_value=0)
            frame = pd.concat([frame, table.reset_index(drop=True)], axis=1)
        totals = exported["file"].value_counts()
        frame["total"] = [int(totals.get(tag, 0)) for tag in self.files]
        review = {self.by: REVIEW, "name": "needs review", "total": self.counts.needs_review}
        frame = pd.concat([frame, pd.DataFrame([review])], ignore_index=True)
        counts = [c for c in frame.columns if c not in (self.by, "name")]
        return frame.astype({c: "Int64" for c in counts})


def file_tags(taxonomy: Taxonomy, axis: str, present: Iterable[Any]) -> list[str]:
    """Tags of ``axis`` that get a file: every live tag, and retired ones with messages."""
    present = set(present)
    return [t.id for t in taxonomy.axes[axis].tags if not t.deprecated or t.id in present]


def compact_rows(export: Export) -> pd.DataFrame:
    """The columns of ``export.rows`` that the index and the digests count by: ``row``, one
    per axis, ``source`` and ``file``. An export written chunk by chunk keeps only these."""
    return export.rows[["row", *export.taxonomy.axes, "source", "file"]]
