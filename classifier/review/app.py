"""The review screen: one message, its tags and the model's suggestions; one key per decision.

A thin Textual layer over ``ReviewSession``: each binding calls one session method (which has
stored the decision before it returns) and redraws. Imported only when a review starts.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from classifier.errors import FeedtagError
from classifier.review.session import CannotDecide, Item, ReviewSession, Suggestion, alternatives
from classifier.taxonomy import Taxonomy, fold

HELP = """\
enter   accept the suggestion on every open axis
t / p   choose the team / topic from a list (type to filter, enter to take)
1 2 3   take alternative 1-3 on the focused axis (marked >)
tab     focus the next axis
s       skip this message (recorded; the review moves on)
u       undo your last decision and go back to it
?       this help
q       quit (every decision is already saved)

Decisions are saved the moment you make them; run the same command again to resume."""


class PickerScreen(ModalScreen[str | None]):
    """Choose one tag of an axis; the list narrows to matches as you type."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "cancel"),
        Binding("down", "move(1)", "next", show=False),
        Binding("up", "move(-1)", "previous", show=False),
    ]
    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    #picker { width: 60; height: auto; max-height: 80%; border: round $accent; padding: 0 1; }
    #picker OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, taxonomy: Taxonomy, axis: str, suggested: str | None = None):
        super().__init__()
        self.axis = axis
        self.suggested = suggested
        self.choices = [
            (tag.id, tag.name, " ".join(fold(s) for s in (tag.id, tag.name, *tag.aliases)))
            for tag in taxonomy.axes[axis].tags
            if not tag.deprecated
        ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="picker"):
            yield Static(Content.assemble((f"choose the {self.axis}", "bold")))
            yield Input(placeholder="type to filter", id="filter")
            yield OptionList(id="choices")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        wanted = fold(query)
        options = self.query_one(OptionList)
        options.clear_options()
        matches = [(tag, name) for tag, name, keys in self.choices if wanted in keys]
        options.add_options([Option(f"{name} ({tag})", id=tag) for tag, name in matches])
        if matches:
            ids = [tag for tag, _ in matches]
            options.highlighted = ids.index(self.suggested) if self.suggested in ids else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = (current + step) % options.option_count


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q,enter", "dismiss(None)", "close")
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: auto; height: auto; border: round $accent; padding: 1 2; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Content(HELP), id="help")


class ReviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "accept", "accept"),
        Binding("t", "pick('t')", "team"),
        Binding("p", "pick('p')", "topic"),
        Binding("1", "alternative(1)", "alt 1"),
        Binding("2", "alternative(2)", "alt 2", show=False),
        Binding("3", "alternative(3)", "alt 3", show=False),
        Binding("tab", "next_axis", "next axis", show=False),
        Binding("s", "skip", "skip"),
        Binding("u", "undo", "undo"),
        Binding("question_mark", "help", "help"),
        Binding("q", "app.quit", "quit"),
    ]
    DEFAULT_CSS = """
    #progress { background: $boost; padding: 0 1; }
    #message { height: 1fr; border: round $primary; padding: 0 1; }
    #current { padding: 0 1; }
    .axis { padding: 0 1; }
    #notice { padding: 0 1; color: $warning; }
    """

    def __init__(self, session: ReviewSession):
        super().__init__()
        self.session = session
        axes = session.axes
        # t and p choose the team and the topic; for other axis names, the first two axes.
        self.keys = {
            "t": "team" if "team" in axes else axes[0],
            "p": "topic" if "topic" in axes else axes[min(1, len(axes) - 1)],
        }

    def compose(self) -> ComposeResult:
        yield Static(id="progress")
        with VerticalScroll(id="message"):
            yield Static(id="text")
        yield Static(id="current")
        for axis in self.session.axes:
            yield Static(id=f"axis-{axis}", classes="axis")
        yield Static(id="notice")
        yield Footer()

    def on_mount(self) -> None:
        self._do(lambda: None)

    def notice(self, text: str) -> None:
        self.query_one("#notice", Static).update(Content(text))

    def refresh_view(self) -> None:
        session = self.session
        shown, total, decided = session.progress
        rate = session.acceptance()
        rate_text = "-" if rate is None else f"{rate:.0%}"
        self.query_one("#progress", Static).update(
            Content.assemble(
                ("feedtag review", "bold"),
                f"  message {shown} of {total}  ·  {decided} decided  ·  "
                f"acceptance {rate_text}  ·  agent {session.agent}",
                *(
                    [("\ncalibration: " + session.calibration, "dim")]
                    if session.calibration
                    else []
                ),
            )
        )
        item = session.current
        if item is None:
            self.query_one("#text", Static).update(
                Content(f"All {total} messages in this review are decided. u undo · q quit")
            )
            self.query_one("#current", Static).update("")
            for axis in session.axes:
                self.query_one(f"#axis-{axis}", Static).update("")
            return
        self.query_one("#text", Static).update(
            Content.assemble((f"row {item.row} · id {item.id}\n", "dim"), item.text or "(empty)")
        )
        self.query_one("#current", Static).update(self._current(item))
        for axis in session.axes:
            self.query_one(f"#axis-{axis}", Static).update(self._axis(item, axis))

    def _current(self, item: Item) -> Content:
        parts: list[str | tuple[str, str]] = [("now: ", "dim")]
        for axis in self.session.axes:
            tags = ", ".join(item.current[axis]) or "(none)"
            parts += [f"{axis} ", (tags, "bold"), "   "]
        if item.unknown:
            parts += ["unknown ", (", ".join(item.unknown), "red")]
        return Content.assemble(*parts)

    def _axis(self, item: Item, axis: str) -> Content:
        focused = axis == self.session.focus
        parts: list[str | tuple[str, str]] = [
            ("> " if focused else "  ", "bold"),
            (f"{axis:<8}", "bold" if focused else ""),
        ]
        suggestion: Suggestion | None = item.suggestions.get(axis)
        if suggestion is None:
            parts.append(("no suggestion", "dim"))
        else:
            style = "green" if suggestion.status == "auto" else "yellow"
            parts += [
                (self._tag_name(axis, suggestion.tag), "bold"),
                f" {suggestion.confidence:.2f} ",
                (suggestion.status, style),
            ]
            for number, (tag, confidence) in enumerate(alternatives(suggestion)[:3], start=1):
                parts.append(f"   [{number}] {self._tag_name(axis, tag)} {confidence:.2f}")
        decision = item.decided.get(axis)
        if decision is not None:
            if decision.action == "skipped":
                parts.append(("   skipped", "dim"))
            else:
                mark = "accepted" if decision.action == "accepted" else "overridden ->"
                parts.append((f"   {mark} {self._tag_name(axis, decision.final or '')}", "cyan"))
        return Content.assemble(*parts)

    def _tag_name(self, axis: str, tag: str) -> str:
        try:
            return self.session.corpus.taxonomy.tag(axis, tag).name
        except KeyError:
            return tag

    def _do(self, step) -> None:
        """Run one session step and redraw; a step that cannot apply says why on the screen."""
        try:
            try:
                step()
                self.notice("")
            except CannotDecide as reason:
                self.notice(str(reason))
            self.refresh_view()
        except FeedtagError as error:  # e.g. the model fails on the next batch: leave cleanly
            self.app.exit(error)

    def action_accept(self) -> None:
        self._do(self.session.accept)

    def action_alternative(self, number: int) -> None:
        self._do(lambda: self.session.alternative(number))

    def action_skip(self) -> None:
        self._do(self.session.skip)

    def action_undo(self) -> None:
        self._do(self.session.undo)

    def action_next_axis(self) -> None:
        self._do(self.session.next_axis)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_pick(self, key: str) -> None:
        axis = self.keys[key]

        def chosen(tag: str | None) -> None:
            if tag is not None:
                self._do(lambda: self.session.choose(axis, tag))

        def open_picker() -> None:
            item = self.session.current
            if item is None:
                raise CannotDecide("every message in this review is decided")
            suggestion = item.suggestions.get(axis)
            taxonomy = self.session.corpus.taxonomy
            self.app.push_screen(
                PickerScreen(taxonomy, axis, suggestion and suggestion.tag), chosen
            )

        self._do(open_picker)


class ReviewApp(App[FeedtagError | None]):
    """``feedtag review``: the session's screen; quitting loses nothing (all is stored).

    ``run()`` returns the ``FeedtagError`` that ended the review early, if one did, for the
    caller to report.
    """

    TITLE = "feedtag review"

    def __init__(self, session: ReviewSession):
        super().__init__()
        self.session = session

    def on_mount(self) -> None:
        self.push_screen(ReviewScreen(self.session))
