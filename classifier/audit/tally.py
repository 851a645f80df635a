"""Counts of a corpus that the audit's summary and taxonomy health read: summed chunk by chunk.

A ``Tally`` of two chunks added together equals the tally of the two read as one corpus, so the
summary of a dataset too large for memory needs only these counts (and, for the by-agent
table, one small integer per message naming its agent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from classifier.corpus import Corpus
    from classifier.taxonomy import Taxonomy


@dataclass
class Tally:
    """Counts of messages: ``tags[axis]`` holds, per tag id of the axis, the messages with
    exactly that one tag on it, then ``(none)`` and ``(several)``; ``agents`` maps each agent
    (``(none)`` for a blank cell) to [messages, complete messages] (``None``: no agent
    column); ``agent_codes`` is per message (by row, from ``first_row``; an array a chunk, in
    the smallest unsigned type) its agent's index in ``agent_names``."""

    taxonomy: Taxonomy
    messages: int = 0
    complete: int = 0
    tags: dict[str, dict[str, int]] = field(default_factory=dict)
    agents: dict[str, list[int]] | None = None
    agent_names: list[str] = field(default_factory=list)
    agent_codes: list[np.ndarray] = field(default_factory=list)
    first_row: int | None = None
    _agent_index: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, corpus: Corpus) -> Tally:
        tally = cls(corpus.taxonomy)
        tally.add(corpus)
        return tally

    def add(self, corpus: Corpus) -> None:
        """Count one more chunk (chunks in row order)."""
        import numpy as np
        import pandas as pd

        taxonomy = corpus.taxonomy
        counts = {axis: corpus.tag_counts(axis) for axis in taxonomy.axes}
        complete = np.logical_and.reduce([n == 1 for n in counts.values()])
        complete = np.broadcast_to(complete, (len(corpus),))
        self.messages += len(corpus)
        self.complete += int(complete.sum())
        if self.first_row is None and len(corpus):
            self.first_row = int(corpus.messages["row"].iat[0])
        for axis, per_message in counts.items():
            labels = corpus.labels(axis).dropna().value_counts()
            mine = self.tags.setdefault(
                axis, {**dict.fromkeys(taxonomy.axes[axis].ids, 0), "(none)": 0, "(several)": 0}
            )
            for tag in taxonomy.axes[axis].ids:
                mine[tag] += int(labels.get(tag, 0))
            mine["(none)"] += int((per_message == 0).sum())
            mine["(several)"] += int((per_message > 1).sum())
        if "agent" not in corpus.messages:
            return
        if self.agents is None:
            self.agents = {}
        agent = corpus.messages["agent"].replace("", "(none)")
        codes, names = pd.factorize(agent)
        index = {name: self._code(name) for name in names.tolist()}
        mapping = _codes([index[name] for name in names.tolist()])
        self.agent_codes.append(mapping[codes] if len(codes) else codes.astype(np.uint8))
        members = np.bincount(codes, minlength=len(names))
        done = np.bincount(codes, weights=complete, minlength=len(names))
        for name, n, k in zip(names.tolist(), members.tolist(), done.tolist(), strict=True):
            figures = self.agents.setdefault(name, [0, 0])
            figures[0] += int(n)
            figures[1] += int(k)

    def extend(self, later: Tally) -> None:
        """Count the tally of the next rows too (a later part of the same dataset): the sum of
        the counts, agents numbered in order of first appearance, as ``add`` numbers them."""

        self.messages += later.messages
        self.complete += later.complete
        if self.first_row is None:
            self.first_row = later.first_row
        for axis, counts in later.tags.items():
            mine = self.tags.setdefault(axis, dict.fromkeys(counts, 0))
            for tag, n in counts.items():
                mine[tag] += n
        if later.agents is None:
            return
        if self.agents is None:
            self.agents = {}
        mapping = _codes([self._code(n) for n in later.agent_names])
        for codes in later.agent_codes:
            self.agent_codes.append(mapping[codes] if len(codes) else codes)
        for agent, (n, k) in later.agents.items():
            figures = self.agents.setdefault(agent, [0, 0])
            figures[0] += n
            figures[1] += k

    def _code(self, name: str) -> int:
        if name not in self._agent_index:
            self._agent_index[name] = len(self.agent_names)
            self.agent_names.append(name)
        return self._agent_index[name]

    def agent_of(self, rows: np.ndarray) -> np.ndarray:
        """The agent code of each row number (-1 for a missing row number, given as < 1, or
        NaN). Looks rows up chunk by chunk: the codes are never joined into one array."""
        import numpy as np

        sizes = [len(codes) for codes in self.agent_codes]
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        rows = np.asarray(rows, dtype=np.float64)
        positions = np.where(np.isnan(rows), -1, rows).astype(np.int64) - (self.first_row or 1)
        valid = (positions >= 0) & (positions < starts[-1])
        found = np.full(positions.size, -1, dtype=np.int64)
        where = np.flatnonzero(valid)
        chunk = np.searchsorted(starts, positions[where], side="right") - 1
        for c in np.unique(chunk).tolist():
            mine = where[chunk == c]
            found[mine] = self.agent_codes[c][positions[mine] - starts[c]]
        return found

    def label_counts(self, axis: str) -> dict[str, int]:
        """Messages per current (not retired) tag of ``axis``, exactly one tag on the axis."""
        mine = self.tags[axis]
        return {tag.id: mine[tag.id] for tag in self.taxonomy.axes[axis].tags if not tag.deprecated}


def _codes(codes: list[int]) -> np.ndarray:
    """Agent codes in the smallest unsigned type that holds them: a byte a message for up to
    256 agents, where int32 took 120 MB at 30 million messages."""
    import numpy as np

    return np.array(codes, dtype=np.min_scalar_type(max(codes, default=0)))
