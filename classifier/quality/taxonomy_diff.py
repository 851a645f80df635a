"""``feedtag taxonomy diff``: what changed between two taxonomy files, and what it does to a corpus.

A tag's history lives in the spellings messages were tagged with (its id, name and aliases).
Each change is read off where those spellings of the old file resolve in the new one, which
is exactly how the corpus's raw tags will resolve: a renamed tag whose old name became an
alias, a merge (``replaced_by``), a split (the spellings now lead to several tags), a removal
(they lead nowhere). With a corpus, every raw tag is resolved under both files, so each change
says how many messages it touches, how many ``audit --fix`` rewrites by itself and how many
need a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from classifier.output import escape_markdown, markdown_table
from classifier.taxonomy import Tag, Taxonomy, fold

if TYPE_CHECKING:
    from classifier.corpus import Corpus

NO_TAG = "(no valid tag)"


@dataclass(frozen=True)
class Change:
    """One change to one tag (or axis).

    ``into`` holds the tags the old one's messages go to (a rename, merge or split);
    ``breaking`` says messages written with one of the old tag's spellings would be left
    without a valid tag. ``messages``, ``automatic`` and ``person`` are filled with a corpus:
    messages touched, those valid under the new file by themselves (after ``audit --fix`` for
    an alias or a retired tag) and those a person must re-tag.
    """

    kind: str
    axis: str
    tag: str
    detail: str
    into: tuple[str, ...] = ()
    breaking: bool = False
    messages: int | None = None
    automatic: int | None = None
    person: int | None = None

    def to_dict(self) -> dict:
        data = {
            "kind": self.kind,
            "axis": self.axis,
            "tag": self.tag,
            "into": list(self.into),
            "detail": self.detail,
            "breaking": self.breaking,
        }
        if self.messages is not None:
            data |= {"messages": self.messages, "automatic": self.automatic}
            data |= {"person": self.person}
        return data


@dataclass(frozen=True)
class TaxonomyDiff:
    """Every change, and with a corpus its impact and the before/after messages per tag."""

    old: str
    new: str
    changes: list[Change]
    corpus: str | None = None
    per_tag: pd.DataFrame | None = None
    lost: dict[str, int] = field(default_factory=dict)

    @property
    def fails(self) -> bool:
        """Messages would be left without a valid tag: counted in the corpus, or without one,
        any spelling of a live tag that would stop resolving."""
        if self.corpus is not None:
            return any(self.lost.values())
        return any(change.breaking for change in self.changes)

    def to_dict(self) -> dict:
        data: dict = {
            "old": self.old,
            "new": self.new,
            "changes": [c.to_dict() for c in self.changes],
            "fails": self.fails,
        }
        if self.corpus is not None and self.per_tag is not None:
            data["corpus"] = self.corpus
            data["left_without_valid_tag"] = self.lost
            data["messages_per_tag"] = self.per_tag.to_dict(orient="records")
        return data

    def to_markdown(self) -> str:
        """For the pull request that changes the taxonomy."""
        title = f"{escape_markdown(self.old)} -> {escape_markdown(self.new)}"
        parts = [f"## Taxonomy diff: {title}\n\n"]
        if not self.changes:
            parts.append("No changes.\n")
        else:
            impact = self.corpus is not None
            header = ["change", "axis", "tag", "into", "detail"]
            header += ["messages", "by themselves", "need a person"] if impact else []
            rows = [
                [c.kind, c.axis, c.tag, ", ".join(c.into), c.detail]
                + ([c.messages, c.automatic, c.person] if impact else [])
                for c in self.changes
            ]
            parts.append(markdown_table(header, rows))
        if self.per_tag is not None:
            parts.append(f"\n### Messages per tag in {escape_markdown(self.corpus)}\n\n")
            rows = self.per_tag[["axis", "tag", "before", "after", "change"]].to_numpy().tolist()
            parts.append(markdown_table(("axis", "tag", "before", "after", "change"), rows))
        parts.append("\n" + verdict(self) + "\n")
        return "".join(parts)


def verdict(diff: TaxonomyDiff) -> str:
    """One line: does the change leave messages without a valid tag?"""
    if diff.corpus is not None:
        lost = {axis: n for axis, n in diff.lost.items() if n}
        if not lost:
            return "No message is left without a valid tag."
        spread = ", ".join(f"{n} on {axis}" for axis, n in lost.items())
        return f"Messages left without a valid tag: {spread}."
    breaking = [c for c in diff.changes if c.breaking]
    if not breaking:
        return "Every spelling of a live tag still resolves to a live tag."
    names = ", ".join(f"{c.axis}:{c.tag}" for c in breaking)
    return f"Messages tagged with these would be left without a valid tag: {names}."


def _spellings(tag: Tag) -> list[str]:
    return [tag.id, tag.name, *tag.aliases]


def _final(taxonomy: Taxonomy, axis: str, spelling: str) -> str | None:
    """The live tag a spelling ends at in ``taxonomy`` (following ``replaced_by``), or None."""
    hit = taxonomy.resolve(spelling, axis)
    if hit.tag is None:
        return None
    tag = taxonomy.successor(axis, hit.tag)
    return None if taxonomy.tag(axis, tag).deprecated else tag


def _tags(taxonomy: Taxonomy) -> dict[str, tuple[str, Tag]]:
    return {tag.id: (axis, tag) for axis, body in taxonomy.axes.items() for tag in body.tags}


def diff_taxonomies(old: Taxonomy, new: Taxonomy, old_name: str = "old", new_name: str = "new"):
    """Every change from ``old`` to ``new``, tag by tag, in the order of the old file."""
    before, after = _tags(old), _tags(new)
    changes: list[Change] = []
    for axis in new.axes:
        if axis not in old.axes:
            changes.append(Change("axis-added", axis, "", "every message lacks it", breaking=True))
    for axis in old.axes:
        if axis not in new.axes:
            changes.append(Change("axis-removed", axis, "", "its tags are dropped"))
    reached: set[str] = set()
    for axis, tag in before.values():
        found = _changes_of(old, new, axis, tag, before, after)
        changes += found
        reached.update(target for change in found for target in change.into)
    for tag_id, (axis, tag) in after.items():
        if tag_id not in before and tag_id not in reached and axis in old.axes:
            changes.append(Change("added", axis, tag_id, f"'{tag.name}'"))
    return TaxonomyDiff(old_name, new_name, changes)


def _changes_of(old, new, axis, tag, before, after) -> list[Change]:
    """The changes to one old tag, read off where its spellings resolve in the new file."""
    if axis not in new.axes:
        return []
    was_live = _final(old, axis, tag.id) is not None
    targets = {s: _final(new, axis, s) for s in _spellings(tag)}
    live = sorted({t for t in targets.values() if t is not None})
    dropped = [s for s, t in targets.items() if t is None]
    breaking = was_live and bool(dropped)
    lost = f"; no longer resolve: {', '.join(dropped)}" if dropped and live else ""
    changes = []
    if tag.id in after and after[tag.id][0] != axis:
        changes.append(
            Change("moved", axis, tag.id, f"now on axis '{after[tag.id][0]}'", breaking=was_live)
        )
        return changes
    if len(live) > 1:
        changes.append(
            Change(
                "split",
                axis,
                tag.id,
                f"spellings lead to {len(live)} tags" + lost,
                tuple(live),
                breaking,
            )
        )
        return changes
    if tag.id not in after:
        if not live:
            return [
                Change(
                    "removed",
                    axis,
                    tag.id,
                    "spellings resolve to nothing",
                    breaking=was_live,
                )
            ]
        kind = "merged" if live[0] in before else "renamed"
        detail = "spellings now its aliases" + lost
        return [Change(kind, axis, tag.id, detail, (live[0],), breaking)]
    now = after[tag.id][1]
    successor = new.successor(axis, tag.id) if now.deprecated else None
    if now.deprecated and not tag.deprecated:
        if now.replaced_by:
            changes.append(
                Change(
                    "merged",
                    axis,
                    tag.id,
                    "retired, replaced_by",
                    (successor,),
                    breaking,
                )
            )
        else:
            changes.append(Change("retired", axis, tag.id, "retired, no successor", (), True))
    elif tag.deprecated and not now.deprecated:
        changes.append(Change("reinstated", axis, tag.id, "no longer retired"))
    elif tag.deprecated and now.replaced_by != tag.replaced_by:
        was, to = tag.replaced_by or "none", now.replaced_by or "none"
        into = (successor,) if live else ()
        changes.append(Change("merged", axis, tag.id, f"successor {was} -> {to}", into, breaking))
    if now.name != tag.name:
        changes.append(
            Change(
                "renamed",
                axis,
                tag.id,
                f"'{tag.name}' -> '{now.name}' (id kept)",
                breaking=breaking and fold(tag.name) in map(fold, dropped),
            )
        )
    old_aliases, new_aliases = {fold(a): a for a in tag.aliases}, {fold(a): a for a in now.aliases}
    gone = [a for key, a in old_aliases.items() if key not in new_aliases]
    added = [a for key, a in new_aliases.items() if key not in old_aliases]
    if gone or added:
        parts = [f"+ {', '.join(added)}"] * bool(added) + [f"- {', '.join(gone)}"] * bool(gone)
        unresolved = [a for a in gone if fold(a) in map(fold, dropped)]
        changes.append(
            Change(
                "aliases", axis, tag.id, "; ".join(parts), breaking=was_live and bool(unresolved)
            )
        )
    if " ".join(now.description.split()) != " ".join(tag.description.split()):
        changes.append(Change("description", axis, tag.id, "edited"))
    if now.human_only != tag.human_only:
        flip = "now human only" if now.human_only else "no longer human only"
        changes.append(Change("human-only", axis, tag.id, flip))
    return changes


def corpus_impact(diff: TaxonomyDiff, corpus: Corpus, new: Taxonomy) -> TaxonomyDiff:
    """Fill in each change's messages and the before/after table from a corpus read with the
    old taxonomy (``corpus.taxonomy``); every raw tag is resolved again under ``new``.

    Tags become integers (one per axis and tag id of either file) so a million messages are
    counted with array operations; each distinct raw spelling is resolved once.
    """
    old = corpus.taxonomy
    tags = corpus.tags
    names = sorted({(a, t) for taxonomy in (old, new) for t, (a, _) in _tags(taxonomy).items()})
    number = {name: i for i, name in enumerate(names)}
    axis_of_old = {t: a for t, (a, _) in _tags(old).items()}

    def code(axis: str | None, tag: str | None) -> int:
        return -1 if tag is None or axis is None else number[(axis, tag)]

    # The old tag as written (for the changes) and its live successor (for the table).
    categories = tags["tag"].cat.categories.tolist()
    tag_codes = tags["tag"].cat.codes.to_numpy()
    written = np.array([code(axis_of_old[t], t) for t in categories] + [-1])[tag_codes]
    before = np.array(
        [code(axis_of_old[t], _final(old, axis_of_old[t], t)) for t in categories] + [-1]
    )[tag_codes]
    # The new resolution of each distinct (raw spelling, column), once.
    column_axis = {c: a for a, c in corpus.columns.axes.items()}
    per_column = [column_axis.get(c) for c in tags["column"].cat.categories]
    raws = tags["raw"].cat.categories.tolist()
    pair = tags["raw"].cat.codes.to_numpy().astype(np.int64) * len(per_column)
    pair += tags["column"].cat.codes.to_numpy()
    unique, inverse = np.unique(pair, return_inverse=True)
    finals = []
    for key in unique.tolist():
        hit = new.resolve(raws[key // len(per_column)], per_column[key % len(per_column)])
        finals.append(code(hit.axis, None if hit.tag is None else _final(new, hit.axis, hit.tag)))
    after = np.array(finals, dtype=np.int64)[inverse] if finals else np.array([], np.int64)
    message = tags["message"].to_numpy()

    filled = []
    for change in diff.changes:
        if change.kind in ("added", "axis-removed"):
            filled.append(replace(change, messages=0, automatic=0, person=0))
            continue
        if change.kind == "axis-added":
            n = len(corpus)
            filled.append(replace(change, messages=n, automatic=0, person=n))
            continue
        rows = written == number.get((change.axis, change.tag), -2)
        touched = _messages(message[rows], len(corpus))
        if change.kind == "split":
            person = touched  # a spelling leads to one side, but only a person knows which
            spread = []
            for tag in change.into:
                lands = rows & (after == number[(change.axis, tag)])
                spread.append(f"{tag} {int(_messages(message[lands], len(corpus)).sum())}")
            change = replace(change, detail=f"{change.detail}; by spelling: {', '.join(spread)}")
        else:
            on_axis = [number[(change.axis, t)] for t in _live_ids(new, change.axis)]
            valid = _messages(message[rows & np.isin(after, on_axis)], len(corpus))
            person = touched & ~valid
        count, needs = int(touched.sum()), int(person.sum())
        filled.append(replace(change, messages=count, automatic=count - needs, person=needs))
    per_tag, lost = _before_after(corpus, old, new, names, message, before, after)
    return replace(diff, changes=filled, corpus=corpus.path, per_tag=per_tag, lost=lost)


def _messages(positions: np.ndarray, total: int) -> np.ndarray:
    """A mask over the corpus's messages: those at ``positions``."""
    mask = np.zeros(total, dtype=bool)
    mask[positions] = True
    return mask


def _live_ids(taxonomy: Taxonomy, axis: str) -> list[str]:
    if axis not in taxonomy.axes:
        return []
    return [t.id for t in taxonomy.axes[axis].tags if not t.deprecated]


def _before_after(corpus, old, new, names, message, before, after):
    """Distinct messages per live tag under each file, and messages left with no valid tag.

    A (tag, message) boolean table per side: a message counts once per tag however many
    times it was written.
    """
    seen = {}
    for side, codes in (("before", before), ("after", after)):
        table = np.zeros((len(names), len(corpus)), dtype=bool)
        known = codes >= 0
        table[codes[known], message[known]] = True
        seen[side] = table
    rows, lost = [], {}
    for axis in new.axes:
        live_new, live_old = _live_ids(new, axis), _live_ids(old, axis)
        listed = live_new + [t for t in live_old if t not in live_new]
        on_axis = [i for i, (a, _) in enumerate(names) if a == axis]
        valid = {side: table[on_axis].any(axis=0) for side, table in seen.items()}
        for tag in listed:
            i = names.index((axis, tag))
            rows.append((axis, tag, int(seen["before"][i].sum()), int(seen["after"][i].sum())))
        rows.append((axis, NO_TAG, int((~valid["before"]).sum()), int((~valid["after"]).sum())))
        if axis in old.axes:
            lost[axis] = int((valid["before"] & ~valid["after"]).sum())
        else:
            lost[axis] = int((~valid["after"]).sum())
    frame = pd.DataFrame(rows, columns=["axis", "tag", "before", "after"])
    frame["change"] = (frame["after"] - frame["before"]).map(lambda d: f"{d:+d}" if d else "")
    return frame, lost
