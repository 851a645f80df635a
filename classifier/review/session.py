"""A review session without a screen: which messages, what the model says, what the agent did.

The Textual app (``classifier.review.app``) only draws a ``ReviewSession`` and maps keys to its
methods, so everything an agent can do is testable here without a terminal. Every method that
decides something writes it to the ``DecisionStore`` before it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from classifier.errors import ModelError, UsageError
from classifier.review.decisions import Decision, DecisionStore

if TYPE_CHECKING:
    from classifier.corpus import Corpus
    from classifier.taxonomy import Taxonomy

Only = Literal["incomplete", "all", "suspect", "review"]
ONLY: tuple[Only, ...] = ("incomplete", "all", "suspect", "review")


@dataclass(frozen=True)
class Suggestion:
    """The model's tag for one axis of one message.

    ``status`` is ``auto`` where the confidence clears the tag's threshold, ``review``
    otherwise; ``alternatives`` are the next best (tag, confidence) pairs, best first.
    """

    tag: str
    confidence: float
    status: str = "review"
    alternatives: tuple[tuple[str, float], ...] = ()


# Texts in; per axis, one suggestion (or None: nothing to suggest) per text, in order. Anything
# with ``tag``, ``confidence``, ``status`` and ``alternatives`` (pairs, or objects with ``tag``
# and ``confidence``) will do: the classifier's ``AxisSuggestion`` is used as it is.
Suggest = Callable[[list[str]], Mapping[str, Sequence[Suggestion | None]]]


def alternatives(suggestion: object | None) -> list[tuple[str, float]]:
    """A suggestion's alternatives as (tag, confidence) pairs, best first."""
    if suggestion is None:
        return []
    return [
        (item.tag, item.confidence) if hasattr(item, "tag") else (item[0], item[1])
        for item in getattr(suggestion, "alternatives", ())
    ]


def from_classifier(model: object, axes: Sequence[str], top: int = 4) -> Suggest:
    """Adapt a classifier whose ``suggest(texts, top)`` returns one object per text with
    ``.axes[axis]`` (``TagClassifier``) to the per-axis ``Suggest`` shape; ``top - 1``
    alternatives each. An axis the model lacks gets no suggestion."""

    def suggest(texts: list[str]) -> dict[str, list]:
        per_text = model.suggest(texts, top=top)  # type: ignore[attr-defined]
        return {axis: [s.axes.get(axis) for s in per_text] for axis in axes}

    return suggest


def load_suggester(directory: str | Path, taxonomy: Taxonomy) -> tuple[Suggest, str]:
    """The model in ``directory`` as a ``Suggest``, and the version recorded with decisions
    (the directory name and the start of the model's sha256)."""
    from classifier.model.store import load_model, read_meta

    model = load_model(directory, taxonomy)
    version = f"{Path(directory).name}@{str(read_meta(directory)['model_sha256'])[:12]}"
    return from_classifier(model, list(taxonomy.axes)), version


class CannotDecide(Exception):
    """A key that does nothing here (no suggestion to accept, nothing to undo...); say why."""


@dataclass(frozen=True)
class Item:
    """One message as the agent sees it."""

    position: int  # in corpus.messages
    row: int
    id: str
    text: str
    current: dict[str, tuple[str, ...]]  # tag ids the file has, per axis
    unknown: tuple[str, ...]  # raw tags the taxonomy does not know
    suggestions: dict[str, Suggestion | None]
    decided: dict[str, Decision] = field(default_factory=dict)


class ReviewSession:
    """Work through a corpus one message at a time, recording each decision at once.

    Parameters
    ----------
    corpus : Corpus
        The messages; a message id repeated in the file is reviewed once (the decision applies
        to every row with that id).
    store : DecisionStore
        Where decisions go; decisions already there are respected, so a new session resumes
        at the first message without one.
    suggest : callable
        See ``Suggest``. Called in batches of ``batch_size`` texts as the agent moves on (for
        ``only="suspect"`` and ``"review"``, once for all messages, to choose them).
    agent, model_version : str
        Recorded with every decision.
    calibration : str, optional
        Where the model's confidence comes from (``classifier.model.calibration.describe``),
        shown to the agent.
    only : str
        ``incomplete`` (not exactly one tag on every axis), ``all``, ``suspect`` (the model
        confidently disagrees with a tag the file has), ``review`` (the model is unsure).
    """

    def __init__(
        self,
        corpus: Corpus,
        store: DecisionStore,
        suggest: Suggest,
        *,
        agent: str,
        model_version: str | None = None,
        only: Only = "incomplete",
        batch_size: int = 32,
        calibration: str | None = None,
    ):
        if only not in ONLY:
            raise UsageError(f"--only {only}: use one of {', '.join(ONLY)}")
        if not agent:
            raise UsageError("no agent name: pass --agent NAME")
        self.corpus, self.store, self.suggest = corpus, store, suggest
        self.agent, self.model_version, self.batch_size = agent, model_version, batch_size
        self.calibration = calibration
        self.axes = list(corpus.taxonomy.axes)
        self._current = {axis: corpus.axis_tags(axis) for axis in self.axes}
        self._suggestions: dict[int, dict[str, Suggestion | None]] = {}
        self._ids = ids = corpus.messages["id"].astype(str).tolist()
        firsts = list({message_id: p for p, message_id in reversed(list(enumerate(ids)))}.values())
        queue = sorted(firsts)
        if only == "incomplete":
            counts = [corpus.tag_counts(axis) for axis in self.axes]
            queue = [p for p in queue if any(c[p] != 1 for c in counts)]
        elif only in ("suspect", "review"):
            self._fetch(queue)
            keep = self._suspect if only == "suspect" else self._unsure
            queue = [p for p in queue if keep(p)]
        self.queue: list[int] = queue
        self._slot = {ids[p]: i for i, p in enumerate(queue)}  # message id -> queue index
        self.decided = store.effective(self._slot)
        self._finished = sum(self._is_decided(p) for p in queue)
        self.index = self._next_undecided(0)
        self.focus = self._first_open_axis()

    # --- what the agent sees ----------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.index >= len(self.queue)

    @property
    def current(self) -> Item | None:
        if self.done:
            return None
        position = self.queue[self.index]
        self._fetch(self.queue[self.index : self.index + self.batch_size])
        messages = self.corpus.messages
        message_id = self._ids[position]
        tags = self.corpus.tags  # sorted by message: slice this one's rows
        start, stop = tags["message"].searchsorted([position, position + 1])
        own = tags.iloc[start:stop]
        unknown = own.loc[own["axis"].isna(), "raw"]
        return Item(
            position=position,
            row=int(messages["row"].iat[position]),
            id=message_id,
            text=str(messages["text"].iat[position]),
            current={axis: tuple(self._current[axis].iat[position]) for axis in self.axes},
            unknown=tuple(str(raw) for raw in unknown),
            suggestions=self._suggestions[position],
            decided={
                axis: self.decided[(message_id, axis)]
                for axis in self.axes
                if (message_id, axis) in self.decided
            },
        )

    @property
    def progress(self) -> tuple[int, int, int]:
        """(number of the message shown, 1-based; messages in the queue; messages decided)."""
        return min(self.index + 1, len(self.queue)), len(self.queue), self._finished

    def acceptance(self) -> float | None:
        """This agent's accepted share of accepts and overrides so far (all sessions)."""
        accepted, decided = self.store.acceptance(self.agent)
        return accepted / decided if decided else None

    # --- what the agent does -------------------------------------------------------------------

    def accept(self) -> list[Decision]:
        """Accept the suggestion on every axis still open; the message is done if all were."""
        item = self._item()
        open_axes = [axis for axis in self.axes if axis not in item.decided]
        missing = [axis for axis in open_axes if item.suggestions.get(axis) is None]
        if missing:
            raise CannotDecide(f"no {' or '.join(missing)} suggestion: choose one")
        return self._record(
            item,
            [(axis, item.suggestions[axis].tag) for axis in open_axes],  # type: ignore[union-attr]
        )

    def choose(self, axis: str, tag: str) -> list[Decision]:
        """Set ``axis`` to ``tag``: an override, or an accept when it is the suggestion."""
        if axis not in self.axes:
            raise CannotDecide(f"no axis '{axis}'")
        if tag not in self.corpus.taxonomy.axes[axis].ids:
            raise CannotDecide(f"'{tag}' is not a {axis} tag")
        return self._record(self._item(), [(axis, tag)])

    def alternative(self, number: int) -> list[Decision]:
        """Take the ``number``-th (1-based) alternative on the focused axis."""
        item = self._item()
        offered = alternatives(item.suggestions.get(self.focus))
        if not 1 <= number <= len(offered):
            raise CannotDecide(f"no alternative {number} for {self.focus}")
        return self.choose(self.focus, offered[number - 1][0])

    def skip(self) -> list[Decision]:
        """Leave the message for later: recorded as skipped on every axis still open."""
        item = self._item()
        open_axes = [axis for axis in self.axes if axis not in item.decided]
        return self._record(item, [(axis, None) for axis in open_axes])

    def undo(self) -> list[Decision]:
        """Take back this agent's last step (one keypress) and show that message again."""
        undone = self.store.undo(self.agent)
        if not undone:
            raise CannotDecide("nothing to undo")
        slots = {self._slot[d.message_id] for d in undone if d.message_id in self._slot}
        finished = sum(self._is_decided(self.queue[i]) for i in slots)
        for axis in self.axes:
            for d in undone:
                self.decided.pop((d.message_id, axis), None)
        self.decided.update(self.store.effective({d.message_id for d in undone}))
        self._finished += sum(self._is_decided(self.queue[i]) for i in slots) - finished
        back = self._slot.get(undone[0].message_id)
        if back is not None:
            self.index = back
        self.focus = undone[0].axis if back is not None else self._first_open_axis()
        return undone

    def next_axis(self) -> str:
        """Move the focus (what 1-3 act on) to the next axis."""
        self.focus = self.axes[(self.axes.index(self.focus) + 1) % len(self.axes)]
        return self.focus

    # --- inside -----------------------------------------------------------------------------------

    def _item(self) -> Item:
        item = self.current
        if item is None:
            raise CannotDecide("every message in this review is decided")
        return item

    def _record(self, item: Item, choices: list[tuple[str, str | None]]) -> list[Decision]:
        if not choices:
            raise CannotDecide("this message is already decided")
        decisions = []
        for axis, tag in choices:
            suggestion = item.suggestions.get(axis)
            suggested = suggestion.tag if suggestion else None
            action = "skipped" if tag is None else "accepted" if tag == suggested else "overridden"
            decisions.append(
                Decision(
                    message_id=item.id,
                    axis=axis,
                    action=action,
                    final=tag,
                    suggested=suggested,
                    confidence=suggestion.confidence if suggestion else None,
                    agent=self.agent,
                    model_version=self.model_version,
                    row=item.row,
                )
            )
        step = self.store.record(decisions)  # durable before the screen moves on
        decisions = [Decision(**{**d.__dict__, "step": step}) for d in decisions]
        finished = self._is_decided(item.position)
        self.decided.update({(d.message_id, d.axis): d for d in decisions})
        self._finished += self._is_decided(item.position) - finished
        if self._is_decided(item.position):
            self.index = self._next_undecided(self.index + 1)
        self.focus = self._first_open_axis()
        return decisions

    def _is_decided(self, position: int) -> bool:
        message_id = self._ids[position]
        return all((message_id, axis) in self.decided for axis in self.axes)

    def _next_undecided(self, start: int) -> int:
        """The first undecided message from ``start`` on, else from the top, else the end."""
        order = list(range(start, len(self.queue))) + list(range(min(start, len(self.queue))))
        return next((i for i in order if not self._is_decided(self.queue[i])), len(self.queue))

    def _first_open_axis(self) -> str:
        if self.done:
            return self.axes[0]
        message_id = self._ids[self.queue[self.index]]
        return next((a for a in self.axes if (message_id, a) not in self.decided), self.axes[0])

    def _fetch(self, positions: Sequence[int]) -> None:
        """Ask the suggester about the messages not asked yet (empty texts get nothing)."""
        texts = self.corpus.messages["text"]
        missing = [p for p in positions if p not in self._suggestions]
        for p in [p for p in missing if not str(texts.iat[p]).strip()]:
            self._suggestions[p] = dict.fromkeys(self.axes)
        ask = [p for p in missing if p not in self._suggestions]
        if not ask:
            return
        answers = self.suggest([str(texts.iat[p]) for p in ask])
        for axis in self.axes:
            given = answers.get(axis)
            if given is None or len(given) != len(ask):
                count = "no" if given is None else len(given)
                raise ModelError(f"the model gave {count} {axis} suggestions for {len(ask)} texts")
            known = set(self.corpus.taxonomy.axes[axis].ids)
            stray = {s.tag for s in given if s is not None and s.tag not in known}
            if stray:
                raise ModelError(
                    f"the model suggests {axis} '{sorted(stray)[0]}', which this taxonomy lacks; "
                    "pass the --taxonomy it was trained with"
                )
        for i, p in enumerate(ask):
            self._suggestions[p] = {axis: answers[axis][i] for axis in self.axes}

    def _suspect(self, position: int) -> bool:
        """The model confidently (status auto) prefers another tag than the one the file has."""
        suggestions = self._suggestions[position]
        for axis in self.axes:
            s, current = suggestions.get(axis), self._current[axis].iat[position]
            if s is not None and s.status == "auto" and len(current) == 1 and current[0] != s.tag:
                return True
        return False

    def _unsure(self, position: int) -> bool:
        suggestions = self._suggestions[position]
        return any(s is None or s.status != "auto" for s in suggestions.values())
