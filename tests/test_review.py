"""Review: the session, the Textual screen driven by its pilot, and a review killed mid-way."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from review_fakes import FakeSuggester

from classifier.corpus import load_corpus
from classifier.errors import ModelError, UsageError
from classifier.review import CannotDecide, ReviewSession, Suggestion, from_classifier
from classifier.review.app import HelpScreen, PickerScreen, ReviewApp
from classifier.review.decisions import DecisionStore

TESTS = Path(__file__).parent
ROOT = TESTS.parent
# Ids 1, 2 and 4 lack a tag on some axis; 5 and 6 are tagged against a confident suggestion;
# 4 and 6 get an unsure one. (The fake suggests the tag whose id appears in the text.)
CORPUS = (
    "id,text,tags\n"
    "1,the api has a bug,\n"
    "2,web praise for you,Team: Web\n"
    "3,pricing of the api,API; Pricing question\n"
    "4,nothing to match,wat\n"
    "5,the web crashes with a bug,API; Praise\n"
    "6,api again,Web; Bug report\n"
)


@pytest.fixture
def corpus(tmp_path, taxonomy):
    path = tmp_path / "corpus.csv"
    path.write_text(CORPUS, encoding="utf-8")
    return load_corpus(path, taxonomy)


@pytest.fixture
def store(tmp_path):
    with DecisionStore(tmp_path / "d.sqlite") as opened:
        yield opened


def session_of(corpus, store, **options) -> ReviewSession:
    options.setdefault("agent", "ann")
    suggest = options.pop("suggest", None) or FakeSuggester(corpus.taxonomy)
    return ReviewSession(corpus, store, suggest, model_version="fake-1", **options)


def standing(store) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {key: (d.action, d.final) for key, d in store.effective().items()}


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


def drive(session, script):
    """Run the app under the pilot; ``script(app, pilot)`` is an async function."""

    async def run():
        app = ReviewApp(session)
        async with app.run_test(size=(110, 30)) as pilot:
            await pilot.pause()
            await script(app, pilot)

    asyncio.run(run())


# --- the session, no screen -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("only", "ids"),
    [
        ("incomplete", ["1", "2", "4"]),
        ("all", ["1", "2", "3", "4", "5", "6"]),
        ("suspect", ["5", "6"]),
        ("review", ["4", "6"]),
    ],
)
def test_only_chooses_the_messages_to_review(corpus, store, only, ids):
    session = session_of(corpus, store, only=only)
    assert [corpus.messages["id"].iat[p] for p in session.queue] == ids


def test_a_new_session_resumes_at_the_first_undecided_message(corpus, store):
    first = session_of(corpus, store)
    first.accept()
    first.choose("team", "api")  # message 2: team decided, topic still open
    again = session_of(corpus, store)
    item = again.current
    assert item.id == "2"
    assert item.decided["team"].final == "api"
    assert again.focus == "topic"
    assert again.progress == (2, 3, 1)


def test_progress_counts_decided_messages_through_undo(corpus, store):
    session = session_of(corpus, store)
    session.accept()
    session.choose("team", "web")
    assert session.progress == (2, 3, 1)
    session.choose("topic", "bug")
    assert session.progress == (3, 3, 2)
    session.undo()
    assert session.progress == (2, 3, 1)
    session.undo()
    session.undo()
    assert session.progress == (1, 3, 0)


def test_suggestions_are_asked_for_in_batches_as_the_agent_moves_on(corpus, store):
    suggest = FakeSuggester(corpus.taxonomy)
    session = session_of(corpus, store, suggest=suggest, batch_size=2)
    assert session.current.id == "1"
    assert suggest.calls == [["the api has a bug", "web praise for you"]]
    session.skip()
    session.skip()
    assert session.current.id == "4"
    assert suggest.calls[1:] == [["nothing to match"]]


def test_a_repeated_id_is_reviewed_once(tmp_path, taxonomy, store):
    path = tmp_path / "dup.csv"
    path.write_text("id,text,tags\n7,first copy,\n7,second copy,\n8,other,\n", encoding="utf-8")
    session = session_of(load_corpus(path, taxonomy), store)
    assert len(session.queue) == 2
    session.skip()
    assert session.current.id == "8"


def test_an_empty_text_gets_no_suggestion_and_needs_a_choice(tmp_path, taxonomy, store):
    path = tmp_path / "empty.csv"
    path.write_text('id,text,tags\n1,"",\n', encoding="utf-8")
    session = session_of(load_corpus(path, taxonomy), store)
    assert session.current.suggestions == {"team": None, "topic": None}
    with pytest.raises(CannotDecide, match="no team or topic suggestion"):
        session.accept()
    session.choose("team", "web")
    assert standing(store)[("1", "team")] == ("overridden", "web")


def test_bad_suggester_output_is_a_model_error(corpus, store):
    def short(texts):
        return {"team": [], "topic": []}

    with pytest.raises(ModelError, match="0 team suggestions for"):
        session_of(corpus, store, suggest=short).current  # noqa: B018

    def stray(texts):
        made = Suggestion("nope", 0.9, "auto")
        return {axis: [made] * len(texts) for axis in corpus.taxonomy.axes}

    with pytest.raises(ModelError, match="'nope', which this taxonomy lacks"):
        session_of(corpus, store, suggest=stray).current  # noqa: B018


def test_session_refuses_unknown_only_and_nameless_agent(corpus, store):
    with pytest.raises(UsageError, match="--only"):
        session_of(corpus, store, only="some")
    with pytest.raises(UsageError, match="--agent"):
        session_of(corpus, store, agent="")


def test_a_classifier_is_adapted_to_per_axis_suggestions(corpus, store):
    class Alt:
        def __init__(self, tag, confidence):
            self.tag, self.confidence = tag, confidence

    class PerText:  # the shape TagClassifier.suggest returns: one object per text, .axes
        def __init__(self, text):
            self.axes = {
                "team": Suggestion("web", 0.7, "review", (Alt("api", 0.3),)),
                "topic": Suggestion("praise", 0.95, "auto"),
            }

    class Model:
        def suggest(self, texts, top):
            assert top == 4  # three alternatives for keys 1-3
            return [PerText(text) for text in texts]

    session = session_of(corpus, store, suggest=from_classifier(Model(), ["team", "topic"]))
    session.alternative(1)
    session.accept()
    assert standing(store) == {
        ("1", "team"): ("overridden", "api"),
        ("1", "topic"): ("accepted", "praise"),
    }
    recorded = store.history()[0]
    assert (recorded.suggested, recorded.confidence, recorded.model_version) == (
        "web",
        0.7,
        "fake-1",
    )


# --- the screen, driven by the pilot ------------------------------------------------------------


def test_enter_accepts_every_axis_and_shows_the_next_message(corpus, store):
    session = session_of(corpus, store)

    async def script(app, pilot):
        assert "message 1 of 3" in text_of(app, "#progress")
        assert "the api has a bug" in text_of(app, "#text")
        assert "API 0.90 auto" in text_of(app, "#axis-team")
        await pilot.press("enter")
        assert "message 2 of 3" in text_of(app, "#progress")
        assert "1 decided" in text_of(app, "#progress")
        assert "acceptance 100%" in text_of(app, "#progress")
        assert "web praise for you" in text_of(app, "#text")

    drive(session, script)
    assert standing(store) == {
        ("1", "team"): ("accepted", "api"),
        ("1", "topic"): ("accepted", "bug"),
    }
    assert {d.agent for d in store.history()} == {"ann"}


def test_t_and_p_override_from_a_list_that_filters_as_you_type(corpus, store, taxonomy):
    session = session_of(corpus, store)

    async def script(app, pilot):
        await pilot.press("t")
        assert isinstance(app.screen, PickerScreen)
        options = app.screen.query_one("OptionList")
        live = [tag.id for tag in taxonomy.axes["team"].tags if not tag.deprecated]
        assert [option.id for option in options.options] == live
        assert options.highlighted_option.id == "api"  # the suggestion, preselected
        await pilot.press("w", "e")
        assert [option.id for option in options.options] == ["web"]
        await pilot.press("enter")
        assert not isinstance(app.screen, PickerScreen)
        assert "overridden -> Web" in text_of(app, "#axis-team")
        assert "the api has a bug" in text_of(app, "#text")  # topic still open: same message
        await pilot.press("p", *"billing", "enter")  # an alias finds the tag too
        assert "web praise for you" in text_of(app, "#text")

    drive(session, script)
    assert standing(store) == {
        ("1", "team"): ("overridden", "web"),
        ("1", "topic"): ("overridden", "pricing"),
    }


def test_escape_leaves_the_list_without_deciding(corpus, store):
    session = session_of(corpus, store)

    async def script(app, pilot):
        await pilot.press("p", "x", "escape")
        assert not isinstance(app.screen, PickerScreen)

    drive(session, script)
    assert standing(store) == {}


def test_number_keys_take_an_alternative_on_the_focused_axis(corpus, store, taxonomy):
    session = session_of(corpus, store)
    fake = FakeSuggester(taxonomy)
    team = fake.suggestion("team", "the api has a bug").alternatives
    topic = fake.suggestion("topic", "the api has a bug").alternatives

    async def script(app, pilot):
        await pilot.press("3")  # the team axis has fewer alternatives
        assert "no alternative 3 for team" in text_of(app, "#notice")
        await pilot.press("1")
        assert text_of(app, "#axis-topic").startswith(">")  # focus moved to the open axis
        await pilot.press("2")

    drive(session, script)
    assert standing(store) == {
        ("1", "team"): ("overridden", team[0][0]),
        ("1", "topic"): ("overridden", topic[1][0]),
    }


def test_tab_moves_the_focus_between_axes(corpus, store, taxonomy):
    session = session_of(corpus, store)
    topic = FakeSuggester(taxonomy).suggestion("topic", "the api has a bug").alternatives

    async def script(app, pilot):
        await pilot.press("tab", "1")

    drive(session, script)
    assert standing(store) == {("1", "topic"): ("overridden", topic[0][0])}


def test_skip_and_undo(corpus, store):
    session = session_of(corpus, store)

    async def script(app, pilot):
        await pilot.press("s")
        assert "web praise for you" in text_of(app, "#text")
        await pilot.press("enter")
        assert "nothing to match" in text_of(app, "#text")
        await pilot.press("u")
        assert "web praise for you" in text_of(app, "#text")  # back to the undone message
        assert ("2", "team") not in store.effective()
        await pilot.press("u", "u")
        assert "nothing to undo" in text_of(app, "#notice")
        assert "the api has a bug" in text_of(app, "#text")

    drive(session, script)
    assert standing(store) == {}
    assert [d.action for d in store.history()] == ["skipped", "skipped", "accepted", "accepted"]
    assert store.undone() == 4


def test_help_opens_and_q_quits_with_everything_saved(corpus, store):
    session = session_of(corpus, store)

    async def script(app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("enter", "q")
        await pilot.pause()
        assert not app.is_running

    drive(session, script)
    assert len(standing(store)) == 2


def test_the_screen_says_when_everything_is_decided(corpus, store):
    session = session_of(corpus, store, only="review")

    async def script(app, pilot):
        await pilot.press("enter", "enter")
        assert "All 2 messages in this review are decided" in text_of(app, "#text")
        await pilot.press("enter")
        assert "every message in this review is decided" in text_of(app, "#notice")

    drive(session, script)


def test_a_model_failing_mid_review_ends_it_with_the_error_and_keeps_decisions(corpus, store):
    fake = FakeSuggester(corpus.taxonomy)

    def flaky(texts):
        if fake.calls:
            raise ModelError("the model broke")
        return fake(texts)

    session = session_of(corpus, store, suggest=flaky, batch_size=1)
    ended = {}

    async def script(app, pilot):
        await pilot.press("enter")
        await pilot.pause()
        ended["running"] = app.is_running
        ended["value"] = app.return_value

    drive(session, script)
    assert ended["running"] is False
    assert str(ended["value"]) == "the model broke"
    assert set(standing(store)) == {("1", "team"), ("1", "topic")}


# --- killed mid-way -----------------------------------------------------------------------------


def test_a_review_killed_mid_way_keeps_every_decision_and_resumes(tmp_path, taxonomy_file):
    from classifier.taxonomy import load_taxonomy

    count = 40
    path = tmp_path / "big.csv"
    path.write_text(
        "id,text,tags\n" + "".join(f"m{i},message {i} about the api,\n" for i in range(count))
    )
    db = tmp_path / "big.sqlite"
    keys = ["enter", "1", "enter", "s", "enter", "u", "enter"] * 6
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    command = [sys.executable, "-m", "classifier.review.headless", str(path)]
    command += ["--taxonomy", str(taxonomy_file), "--db", str(db), "--agent", "kim"]
    command += ["--suggester", "review_fakes:make", "--keys", " ".join(keys), "--pause", "0.05"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=ROOT, text=True)
    acknowledged = []
    deadline = time.monotonic() + 60
    try:
        while len(acknowledged) < 9 and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            if ready:
                line = process.stdout.readline()
                assert line, "the review ended before it was killed"
                acknowledged.append(json.loads(line))
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    assert len(acknowledged) == 9 < len(keys)

    with DecisionStore(db) as store:
        saved = {(d.message_id, d.axis, d.action, d.final) for d in store.effective().values()}
        shown = {tuple(entry) for entry in acknowledged[-1]["decided"]}
        assert shown <= saved  # nothing shown as made is lost
        assert len(saved - shown) <= 2  # at most the one keypress in flight when killed
        corpus = load_corpus(path, load_taxonomy(taxonomy_file))
        resumed = ReviewSession(corpus, store, FakeSuggester(corpus.taxonomy), agent="kim")
        decided = {(m, a) for m, a, _, _ in saved}
        first_open = next(
            m for m in corpus.messages["id"] if not {(m, "team"), (m, "topic")} <= decided
        )
        assert resumed.current.id == first_open
        if saved == shown:
            assert first_open == acknowledged[-1]["current"]


# --- with a real (tiny) model, and through the command line -------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, taxonomy):
    import pandas as pd
    from classifier_fixtures import tiny_corpus

    from classifier.model.estimator import TagClassifier
    from classifier.model.store import never_suggest, save_model

    rows = pd.DataFrame(tiny_corpus())
    model = TagClassifier(folds=3, never_suggest=never_suggest(taxonomy))
    model.fit(rows["text"], rows[["team", "topic"]])
    directory = tmp_path_factory.mktemp("model") / "tiny"
    save_model(model, directory, taxonomy, training={"rows": len(rows), "source": "tiny"})
    return directory


def test_the_model_suggests_with_alternatives_and_is_recorded(model_dir, corpus, store):
    from classifier.model.store import load_model, read_meta
    from classifier.review import load_suggester

    suggest, version = load_suggester(model_dir, corpus.taxonomy)
    assert version == f"tiny@{read_meta(model_dir)['model_sha256'][:12]}"
    session = ReviewSession(corpus, store, suggest, agent="ann", model_version=version)
    item = session.current
    predicted = load_model(model_dir, corpus.taxonomy).predict_axes([item.text], top=4)
    for axis, suggestion in item.suggestions.items():
        assert suggestion.tag == predicted[axis].tags[0]
        alternatives = [a.tag for a in suggestion.alternatives]
        assert alternatives == list(predicted[axis].top_tags[0][1:])
        assert set(alternatives) <= set(corpus.taxonomy.suggestable(axis))
    session.accept()
    recorded = store.history()[0]
    assert recorded.model_version == version
    assert recorded.confidence == pytest.approx(predicted[recorded.axis].confidence[0])


def test_cli_review_runs_the_app_with_the_model_agent_and_default_db(
    model_dir, tmp_path, taxonomy_file, monkeypatch
):
    from typer.testing import CliRunner

    import cli
    from classifier.review.decisions import default_db_path
    from classifier.review.headless import drive as drive_keys

    path = tmp_path / "corpus.csv"
    path.write_text(CORPUS, encoding="utf-8")
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    monkeypatch.setenv("USER", "dana")

    def run(app):  # stands in for the terminal: press enter, then quit
        asyncio.run(drive_keys(app.session, ["enter", "q"], report=lambda line: None))

    monkeypatch.setattr(ReviewApp, "run", run)
    args = ["review", str(path), "--taxonomy", str(taxonomy_file), "--model", str(model_dir)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "1 of 3 messages decided" in result.stderr
    with DecisionStore(default_db_path(path)) as saved:
        decisions = saved.history()
    assert {(d.message_id, d.agent, d.action) for d in decisions} == {("1", "dana", "accepted")}
    from classifier.model.store import read_meta

    assert {d.model_version for d in decisions} == {
        f"tiny@{read_meta(model_dir)['model_sha256'][:12]}"
    }
    missing = CliRunner().invoke(cli.app, [*args[:-1], str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "nope" in missing.stderr
