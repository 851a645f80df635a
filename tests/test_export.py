"""Export by team or topic: every message in exactly one file, safely written."""

from __future__ import annotations

import csv
import json
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.corpus import load_corpus
from classifier.errors import ModelError, OutputError, UsageError
from classifier.export.teams import (
    REVIEW,
    build_export,
    check_out_dir,
    export_corpus,
    model_suggester,
    parse_date,
    select,
    write_export,
)
from classifier.output import neutralise_formula
from cli import app

runner = CliRunner()
HEADER = "id,created_at,user_id,agent,text,tags\n"
SAMPLE = (
    HEADER
    + "1,2024-05-01T10:00:00,u1,ann,web crashes,Team: Web; Bug report\n"
    + "2,2024-05-08,u2,bob,love the api,API; Praise\n"
    + "3,2024-05-09,u3,ann,no tags at all,\n"
    + "4,2024-05-09,u3,ann,two teams,web; api; bug\n"
    + "1,2024-05-10,u1,bob,same id again,web; bug\n"
    + "6,,u4,cy,retired team,Legacy; Billing question; vip\n"
    + "7,2024-05-10,u5,cy,misspelt team,Wbe; bug\n"
)


def corpus_file(tmp_path: Path, text: str = SAMPLE, name: str = "corpus.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, taxonomy):
    return load_corpus(str(path), taxonomy)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def exported(tmp_path, taxonomy, text=SAMPLE, by="team", suggest=None, **options):
    selection = select(taxonomy, by, **options)
    return build_export(load(corpus_file(tmp_path, text), taxonomy), selection, suggest)


# --- assignment -------------------------------------------------------------------------------


def test_each_message_lands_in_its_tag_file_or_review_with_the_reason(tmp_path, taxonomy):
    export = exported(tmp_path, taxonomy)
    rows = export.rows
    assert rows["file"].tolist() == ["web", "api", REVIEW, REVIEW, REVIEW, "web", REVIEW]
    assert rows["reason"].tolist() == [
        "",
        "",
        "no team tag; no topic tag",
        "2 team tags (web, api)",
        "duplicate id (first at row 1)",
        "",
        "no team tag (unknown: 'Wbe')",
    ]
    assert export.counts.exported == 3 and export.counts.needs_review == 4
    assert export.files == taxonomy.axes["team"].ids[:2]  # retired 'legacy' maps to 'web'


def test_aliases_and_retired_tags_are_exported_as_canonical_ids(tmp_path, taxonomy):
    rows = exported(tmp_path, taxonomy).rows.set_index("row")
    assert (rows.at[1, "team"], rows.at[1, "topic"]) == ("web", "bug")  # 'Team: Web', name
    assert (rows.at[6, "team"], rows.at[6, "topic"]) == ("web", "pricing")  # Legacy, alias
    assert rows.at[4, "team"] == "web; api"  # several, as ids in the order written


def test_index_counts_messages_per_team_and_topic(tmp_path, taxonomy):
    index = exported(tmp_path, taxonomy).index().set_index("team")
    assert index.loc["web", ["bug", "praise", "pricing", "total"]].tolist() == [1, 0, 1, 2]
    assert index.loc["api", ["bug", "praise", "total"]].tolist() == [0, 1, 1]
    assert index.loc[REVIEW, "total"] == 4


def test_by_topic_splits_on_the_other_axis(tmp_path, taxonomy):
    export = exported(tmp_path, taxonomy, by="topic")
    assert export.files == ["bug", "praise", "pricing", "escalation"]
    assert export.rows["file"].tolist()[:2] == ["bug", "praise"]
    assert export.index().set_index("topic").loc["pricing", "web"] == 1


# --- selection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"by": "colour"}, "--by 'colour': not an axis; choose from: team, topic"),
        ({"since": "2024-13-01"}, "--since '2024-13-01': not an ISO date"),
        ({"until": "last week"}, "--until 'last week': not an ISO date"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "--since 2024-05-02 is after --until"),
        ({"topics": ["Bugz"]}, "--topic 'Bugz': no such topic; choose from: bug, praise"),
        ({"min_confidence": 1.5}, "--min-confidence 1.5: give a number from 0 to 1"),
    ],
)
def test_bad_options_are_clear_usage_errors(taxonomy, options, message):
    options = {"by": "team", **options}
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        select(taxonomy, options.pop("by"), **options)


def test_dates_are_inclusive_and_undated_messages_are_left_out(tmp_path, taxonomy):
    export = exported(tmp_path, taxonomy, since="2024-05-08", until="2024-05-09")
    assert export.rows["row"].tolist() == [2, 3, 4]
    assert export.counts.outside_dates == 4 and export.counts.undated == 1
    later = exported(tmp_path, taxonomy, until="2024-05-09T23:59:59")
    assert later.rows["row"].tolist() == [1, 2, 3, 4]


def test_parse_date_reads_zones_and_day_ends():
    assert str(parse_date("2024-05-01", "--until", end=True)) == "2024-05-02 00:00:00+00:00"
    assert str(parse_date("2024-05-01T12:00+02:00", "--since")) == "2024-05-01 10:00:00+00:00"


def test_dates_need_a_created_at_column(tmp_path, taxonomy):
    text = "id,text,tags\n1,hi,web; bug\n"
    with pytest.raises(UsageError, match="no created_at column"):
        exported(tmp_path, taxonomy, text=text, since="2024-01-01")


def test_topic_filter_keeps_those_topics_by_any_spelling(tmp_path, taxonomy):
    export = exported(tmp_path, taxonomy, topics=["Topic: Bug"])
    assert export.rows["row"].tolist() == [1, 4, 5, 7]
    assert export.counts.other_topics == 3
    assert (
        sum(vars(export.counts)[k] for k in ("outside_dates", "other_topics")) + len(export.rows)
        == len(SAMPLE.splitlines()) - 1
    )


# --- suggestions ------------------------------------------------------------------------------


class FakeSuggester:
    """Suggests by keyword; records what it was asked."""

    def __init__(self, confidence: float = 0.9):
        self.confidence = confidence
        self.asked: list[list[str]] = []

    def __call__(self, texts):
        self.asked.append(list(texts))
        team = [("api" if "api" in t else "web", self.confidence) for t in texts]
        topic = [("praise" if "love" in t else "bug", self.confidence) for t in texts]
        return {"team": team, "topic": topic}


SPARSE = (
    HEADER
    + "1,2024-05-01,u1,ann,love the api,\n"
    + "2,2024-05-02,u2,ann,web is down,web; zzz\n"
    + "3,2024-05-03,u3,ann,   ,api\n"
    + "4,2024-05-04,u4,ann,tagged,web; bug\n"
)


def test_suggestions_fill_missing_tags_and_say_so(tmp_path, taxonomy):
    fake = FakeSuggester(0.9)
    export = exported(tmp_path, taxonomy, text=SPARSE, suggest=fake)
    assert fake.asked == [["love the api", "web is down"]]  # not the tagged, not the blank
    rows = export.rows.set_index("row")
    assert rows.loc[1, ["team", "topic", "file", "source"]].tolist() == [
        "api",
        "praise",
        "api",
        "suggested",
    ]
    assert rows.at[1, "suggested_for"] == "team; topic" and rows.at[1, "confidence"] == 0.9
    assert rows.loc[2, ["topic", "suggested_for", "file"]].tolist() == ["bug", "topic", "web"]
    assert rows.loc[4, ["source", "suggested_for"]].tolist() == ["tagged", ""]
    assert rows.at[3, "reason"] == "no topic tag (empty text, nothing to suggest from)"
    assert export.counts.suggested == 2


def test_unconfident_suggestions_send_the_message_to_review(tmp_path, taxonomy):
    export = exported(tmp_path, taxonomy, text=SPARSE, suggest=FakeSuggester(0.5))
    row = export.rows.set_index("row").loc[2]
    assert row["file"] == REVIEW and row["source"] == "tagged" and row["topic"] == ""
    assert row["reason"] == "no topic tag (unknown: 'zzz'; suggested 'bug' at 0.50, below 0.80)"
    lowered = exported(
        tmp_path, taxonomy, text=SPARSE, suggest=FakeSuggester(0.5), min_confidence=0.5
    )
    assert lowered.rows.set_index("row").at[2, "file"] == "web"


def test_suggestion_provenance_survives_into_the_files(tmp_path, taxonomy):
    corpus = load(corpus_file(tmp_path, SPARSE), taxonomy)
    export_corpus(corpus, select(taxonomy, "team"), tmp_path / "out", suggest=FakeSuggester(0.87))
    api = read_csv(tmp_path / "out" / "api.csv")
    assert [(r["id"], r["source"], r["confidence"], r["suggested_for"]) for r in api] == [
        ("1", "suggested", "0.87", "team; topic")
    ]
    web = {r["id"]: r for r in read_csv(tmp_path / "out" / "web.csv")}
    assert (web["4"]["source"], web["4"]["confidence"]) == ("tagged", "")


def test_a_suggester_that_does_not_fit_the_taxonomy_is_refused(tmp_path, taxonomy):
    def retired(texts):
        return {"team": [("legacy", 0.99)] * len(texts), "topic": [("bug", 0.99)] * len(texts)}

    with pytest.raises(ModelError, match="suggests team 'legacy'"):
        exported(tmp_path, taxonomy, text=SPARSE, suggest=retired)

    def short(texts):
        return {"team": [], "topic": []}

    with pytest.raises(ModelError, match="gave 0 team suggestions for 2 messages"):
        exported(tmp_path, taxonomy, text=SPARSE, suggest=short)


# --- writing ----------------------------------------------------------------------------------


def test_csv_files_are_named_by_tag_id_and_hold_the_export_columns(tmp_path, taxonomy):
    corpus = load(corpus_file(tmp_path), taxonomy)
    done = export_corpus(corpus, select(taxonomy, "team"), tmp_path / "out")
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == ["_needs-review.csv", "api.csv", "index.csv", "index.md", "web.csv"]
    assert sorted(p.name for p in done.paths) == names
    web = read_csv(tmp_path / "out" / "web.csv")
    assert list(web[0]) == [
        "id",
        "created_at",
        "conversation_id",
        "user_id",
        "agent",
        "team",
        "topic",
        "text",
        "source",
    ]
    assert [(r["id"], r["team"], r["topic"], r["text"]) for r in web] == [
        ("1", "web", "bug", "web crashes"),
        ("6", "web", "pricing", "retired team"),
    ]
    review = read_csv(tmp_path / "out" / "_needs-review.csv")
    assert [(r["row"], r["id"]) for r in review] == [("3", "3"), ("4", "4"), ("5", "1"), ("7", "7")]
    assert review[0]["reason"] == "no team tag; no topic tag"
    index = read_csv(tmp_path / "out" / "index.csv")
    assert [(r["team"], r["total"]) for r in index] == [("web", "2"), ("api", "1"), (REVIEW, "4")]


def test_a_tag_without_messages_still_gets_its_file(tmp_path, taxonomy):
    text = HEADER + "1,2024-05-01,u1,ann,hi,web; bug\n"
    corpus = load(corpus_file(tmp_path, text), taxonomy)
    export_corpus(corpus, select(taxonomy, "team"), tmp_path / "out")
    assert (tmp_path / "out" / "api.csv").read_text().startswith('"id","created_at"')
    assert read_csv(tmp_path / "out" / "api.csv") == []


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_hostile_cells_are_neutralised_in_every_column(tmp_path, taxonomy, start):
    hostile = f"{start}cmd|' /C calc'!A0"
    frame = {
        "id": [hostile],
        "created_at": [hostile],
        "user_id": [hostile],
        "agent": [hostile],
        "conversation_id": [hostile],
        "text": [hostile],
        "tags": ["web; bug"],
    }
    path = tmp_path / "hostile.jsonl"
    path.write_text(json.dumps({k: v[0] for k, v in frame.items()}) + "\n", encoding="utf-8")
    corpus = load(path, taxonomy)
    export_corpus(corpus, select(taxonomy, "team"), tmp_path / "out")
    (row,) = read_csv(tmp_path / "out" / "web.csv")
    for column in ("id", "created_at", "user_id", "agent", "conversation_id", "text"):
        assert row[column] == "'" + hostile, column
    assert row["team"] == "web"  # safe cells are left alone


def test_jsonl_keeps_text_exactly(tmp_path, taxonomy):
    corpus = load(corpus_file(tmp_path), taxonomy)
    export_corpus(corpus, select(taxonomy, "team"), tmp_path / "out", format="jsonl")
    lines = (tmp_path / "out" / "web.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["web crashes", "retired team"]
    review = [json.loads(line) for line in (tmp_path / "out" / "_needs-review.jsonl").open()]
    assert [r["row"] for r in review] == [3, 4, 5, 7]


def test_existing_non_empty_directory_needs_force(tmp_path, taxonomy):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty; pass --force"):
        check_out_dir(out, force=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        check_out_dir(tmp_path / "file", force=True)
    check_out_dir(tmp_path / "new", force=False)  # a missing directory is fine


def test_force_replaces_a_previous_export_and_keeps_other_files(tmp_path, taxonomy):
    out = tmp_path / "out"
    corpus = load(corpus_file(tmp_path), taxonomy)
    export_corpus(corpus, select(taxonomy, "team"), out, format="jsonl")
    (out / "notes.txt").write_text("mine")
    export_corpus(corpus, select(taxonomy, "team"), out, format="csv", force=True)
    names = sorted(path.name for path in out.iterdir())
    assert names == [
        "_needs-review.csv",
        "api.csv",
        "index.csv",
        "index.md",
        "notes.txt",
        "web.csv",
    ]


def test_the_corpus_is_never_overwritten(tmp_path, taxonomy):
    out = tmp_path / "out"
    out.mkdir()
    path = corpus_file(out, name="web.csv")
    export = build_export(load(path, taxonomy), select(taxonomy, "team"))
    with pytest.raises(OutputError, match="--out is a directory holding the input CORPUS"):
        write_export(export, out, force=True)
    assert path.read_text(encoding="utf-8") == SAMPLE


# --- markdown ---------------------------------------------------------------------------------

WEEKS = (
    HEADER
    + "1,2024-04-28,u1,ann,old bug,web; bug\n"
    + "2,2024-05-05,u1,ann,new bug,web; bug\n"
    + "3,2024-05-09,u1,ann,newer bug,web; bug\n"
    + "4,2024-05-10T08:00:00,u1,ann,<script>alert(1)</script> | *bold* [x](y)\\n,web; praise\n"
    + "5,2024-05-02,u2,ann,api praise,api; praise\n"
)


def markdown_export(tmp_path, taxonomy, text=WEEKS):
    corpus = load(corpus_file(tmp_path, text), taxonomy)
    export_corpus(corpus, select(taxonomy, "team"), tmp_path / "md", format="markdown")
    return tmp_path / "md"


def test_digest_counts_topics_with_the_change_versus_the_previous_week(tmp_path, taxonomy):
    web = (markdown_export(tmp_path, taxonomy) / "web.md").read_text(encoding="utf-8")
    assert "| topic | messages | 7 days to 2024-05-10 | 7 days before | change |" in web
    assert "| Bug report | 3 | 2 | 1 | \\+1 \\(\\+100%\\) |" in web
    assert "| Praise | 1 | 1 | 0 | \\+1 |" in web
    newest = web.index("### Bug report (3)")
    assert web.index("newer bug", newest) < web.index("new bug |", newest)


def test_digest_escapes_everything_from_the_corpus(tmp_path, taxonomy):
    web = (markdown_export(tmp_path, taxonomy) / "web.md").read_text(encoding="utf-8")
    assert "<script>" not in web
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt; \\| \\*bold\\* \\[x\\]\\(y\\)" in web
    (row,) = [line for line in web.splitlines() if "&lt;script" in line]
    assert row.replace("\\|", "").count("|") == 6  # five cells: the text's pipe is escaped


def test_digest_without_dates_says_so(tmp_path, taxonomy):
    text = "id,text,tags\n1,first,web; bug\n2,second,web; bug\n"
    web = (markdown_export(tmp_path, taxonomy, text) / "web.md").read_text(encoding="utf-8")
    assert "| Bug report | 2 |" in web and "7 days" not in web
    assert "no change versus the previous week" in web
    assert web.index("second") < web.index("first")  # later in the file counts as newer


def test_review_digest_lists_every_message_and_its_reason(tmp_path, taxonomy):
    review = (markdown_export(tmp_path, taxonomy, SAMPLE) / "_needs-review.md").read_text()
    assert "4 messages need a person to tag them." in review
    assert "| several team tags | 1 |" in review and "| no team tag | 2 |" in review
    for text in ("no tags at all", "two teams", "same id again", "misspelt team"):
        assert text in review


# --- property: every message exactly once ---------------------------------------------------

SPELLINGS = ["web", "Team: Web", "API", "legacy", "bug", "Topic: Bug", "Praise", "pricing", "zzz"]
messages = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["a", "b", "c", "", "=1", "@x"]) | st.text(max_size=6),
            "text": st.text(max_size=30),
            "tags": st.lists(st.sampled_from(SPELLINGS), max_size=4),
            "created_at": st.sampled_from(["", "2024-05-01", "2024-05-09T10:00:00", "soon"]),
        }
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.sampled_from(["team", "topic"]))
def test_every_message_lands_in_exactly_one_file(taxonomy, records, by):
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        path = work / "corpus.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        corpus = load_corpus(str(path), taxonomy)
        selection = select(taxonomy, by)
        written = export_corpus(corpus, selection, work / "csv")
        export_corpus(corpus, selection, work / "jsonl", format="jsonl")

        expected = Counter((r["id"], r["text"]) for r in records)
        seen_csv, seen_jsonl = Counter(), Counter()
        for stem in [*written.files, REVIEW]:
            for row in read_csv(work / "csv" / f"{stem}.csv"):
                seen_csv[row["id"], row["text"]] += 1
                assert (row[by] == stem) if stem != REVIEW else row["reason"]
            with (work / "jsonl" / f"{stem}.jsonl").open(encoding="utf-8") as stream:
                for line in stream:
                    row = json.loads(line)
                    seen_jsonl[row["id"], row["text"]] += 1
        assert seen_jsonl == expected
        assert seen_csv == Counter(
            {(neutralise_formula(i), neutralise_formula(t)): n for (i, t), n in expected.items()}
        )


# --- command line -----------------------------------------------------------------------------


def invoke(*args: str):
    return runner.invoke(app, ["export", *args], env={"COLUMNS": "100"})


def test_cli_writes_the_files_and_reports_on_stderr(tmp_path, taxonomy_file):
    path, out = corpus_file(tmp_path), tmp_path / "out"
    result = invoke(str(path), "--by", "team", "--out", str(out), "--taxonomy", str(taxonomy_file))
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"exported 3 of 7 messages to 2 team files in {out}; 4 need review (_needs-review)\n"
    )
    assert "│ web.csv           │        2 │" in result.stdout
    assert "│ _needs-review.csv │        4 │" in result.stdout
    assert len(read_csv(out / "web.csv")) == 2


def test_cli_refuses_a_non_empty_directory_without_force(tmp_path, taxonomy_file):
    path, out = corpus_file(tmp_path), tmp_path / "out"
    out.mkdir()
    (out / "old.csv").write_text("x")
    args = [str(path), "--by", "team", "--out", str(out), "--taxonomy", str(taxonomy_file)]
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {out}: the directory is not empty; pass --force to write the export into it "
        "(a previous export there is replaced, other files are kept)\n"
    )
    assert invoke(*args, "--force").exit_code == 0
    assert (out / "old.csv").read_text() == "x"


@pytest.mark.parametrize(
    ("extra", "stderr"),
    [
        (
            ["--since", "05/01/2024"],
            "error: --since '05/01/2024': not an ISO date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM\n",
        ),
        (
            ["--min-confidence", "0.5"],
            "error: --model and --min-confidence only apply with --suggest\n",
        ),
        (
            ["--model", "models/x"],
            "error: --model and --min-confidence only apply with --suggest\n",
        ),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(tmp_path, taxonomy_file, extra, stderr):
    path, out = corpus_file(tmp_path), tmp_path / "out"
    result = invoke(
        str(path), "--by", "team", "--out", str(out), "--taxonomy", str(taxonomy_file), *extra
    )
    assert result.exit_code == 2
    assert result.stderr == stderr
    assert not out.exists()  # refused before anything was written


def test_cli_topic_and_dates_report_what_was_left_out(tmp_path, taxonomy_file):
    path, out = corpus_file(tmp_path), tmp_path / "out"
    result = invoke(
        str(path),
        "--by",
        "topic",
        "--out",
        str(out),
        "--taxonomy",
        str(taxonomy_file),
        "--since",
        "2024-05-02",
        "--topic",
        "bug",
        "--format",
        "markdown",
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"exported 1 of 7 messages to 4 topic files in {out}; 2 need review (_needs-review)",
        "left out 2 outside --since/--until (1 without a readable created_at)",
        "left out 2 with other topics than --topic",
    ]
    assert (out / "bug.md").is_file() and (out / "index.md").is_file()


# --- the real model behind --suggest ---------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, taxonomy):
    import pandas as pd
    from classifier_fixtures import tiny_corpus

    from classifier.model.estimator import TagClassifier
    from classifier.model.store import never_suggest, save_model

    corpus = pd.DataFrame(tiny_corpus())
    model = TagClassifier(folds=3, never_suggest=never_suggest(taxonomy))
    model.fit(corpus["text"], corpus[["team", "topic"]])
    directory = tmp_path_factory.mktemp("model") / "tiny"
    save_model(model, directory, taxonomy, training={"rows": len(corpus), "source": "tiny"})
    return directory


UNTAGGED_TOPIC = (
    HEADER
    + "1,2024-05-01,u1,ann,the website is broken and crashes,web\n"
    + "2,2024-05-02,u2,ann,the API endpoint fails with a 500,api; bug\n"
)


def test_model_suggester_feeds_export_the_models_top_tags(model_dir, taxonomy, tmp_path):
    from classifier.model.store import load_model

    model = load_model(model_dir, taxonomy)
    texts = ["the website is broken and crashes"]
    answers = model_suggester(model)(texts)
    predicted = model.predict_axes(texts, top=1)
    for axis in ("team", "topic"):
        ((tag, confidence),) = answers[axis]
        assert tag == predicted[axis].tags[0] and confidence == predicted[axis].confidence[0]


def test_cli_suggest_fills_a_missing_topic_from_the_model(model_dir, tmp_path, taxonomy_file):
    path, out = corpus_file(tmp_path, UNTAGGED_TOPIC), tmp_path / "out"
    args = [str(path), "--by", "team", "--out", str(out), "--taxonomy", str(taxonomy_file)]
    result = invoke(*args, "--suggest", "--model", str(model_dir), "--min-confidence", "0")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "1 messages carry a suggested tag"
    (web,) = read_csv(out / "web.csv")
    assert (web["topic"], web["source"], web["suggested_for"]) == ("bug", "suggested", "topic")
    assert 0 < float(web["confidence"]) <= 1
    (api,) = read_csv(out / "api.csv")
    assert (api["source"], api["confidence"]) == ("tagged", "")


def test_cli_suggest_with_a_missing_model_is_one_clear_error(tmp_path, taxonomy_file):
    path, out = corpus_file(tmp_path, UNTAGGED_TOPIC), tmp_path / "out"
    args = [str(path), "--by", "team", "--out", str(out), "--taxonomy", str(taxonomy_file)]
    result = invoke(*args, "--suggest", "--model", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and str(tmp_path / "nowhere") in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not out.exists()


def test_review_digest_escapes_cells_like_every_other_table(tmp_path, taxonomy):
    from classifier.output import markdown_table

    text = HEADER + '1,,u1,ann,"<b>hi</b> | [x](y)\n*new line*",web; api\n'
    review = (markdown_export(tmp_path, taxonomy, text) / "_needs-review.md").read_text()
    expected = markdown_table(
        ("row", "id", "reason", "team", "topic", "text"),
        [
            (
                1,
                "1",
                "2 team tags (web, api); no topic tag",
                "web; api",
                "",
                "<b>hi</b> | [x](y)\n*new line*",
            )
        ],
    )
    assert review.endswith(expected)
    assert "<b>" not in review


# --- all or nothing ---------------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root`` (directories as ``None``): what a failed export must keep."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture
def previous(tmp_path, taxonomy):
    """An export of the sample in ``out`` and a corpus to export again (more rows)."""
    out = tmp_path / "out"
    export_corpus(load(corpus_file(tmp_path), taxonomy), select(taxonomy, "team"), out)
    again = corpus_file(tmp_path, SAMPLE + "9,2024-06-01,u9,bob,new one,web; praise\n", "b.csv")
    return out, load(again, taxonomy)


def test_a_directory_where_a_file_goes_fails_before_anything_is_written(previous, taxonomy):
    out, corpus = previous
    (out / "api.csv").unlink()
    (out / "api.csv").mkdir()
    before = tree(out.parent)
    with pytest.raises(OutputError) as caught:
        export_corpus(corpus, select(taxonomy, "team"), out, force=True)
    assert str(caught.value) == (
        f"{out / 'api.csv'}: a directory where the export writes a file; "
        "move it away or choose another --out"
    )
    assert tree(out.parent) == before


def test_a_failure_half_way_leaves_the_old_export_untouched(previous, taxonomy, monkeypatch):
    out, corpus = previous
    before = tree(out.parent)
    written = []

    def failing(path, data):  # files are written whole or appended to, chunk by chunk
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(path)
        with Path(path).open("ab") as stream:
            stream.write(data.encode() if isinstance(data, str) else data)

    monkeypatch.setattr("classifier.output.write_atomic", failing)
    monkeypatch.setattr("classifier.output.append_bytes", failing)
    with pytest.raises(OutputError, match="No space left on device"):
        export_corpus(corpus, select(taxonomy, "team"), out, force=True)
    assert len(written) == 3 and all(out not in Path(p).parents for p in written)
    assert tree(out.parent) == before  # no new file in out, no temporary directory beside it


def test_a_new_export_appears_whole(tmp_path, taxonomy):
    out = tmp_path / "deep" / "out"
    done = export_corpus(load(corpus_file(tmp_path), taxonomy), select(taxonomy, "team"), out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in done.paths)
    assert [p.name for p in out.parent.iterdir()] == ["out"]
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_cli_export_onto_a_directory_in_the_way_is_one_line(tmp_path, taxonomy_file):
    out = tmp_path / "out"
    args = [str(corpus_file(tmp_path)), "--by", "team", "--out", str(out)]
    args += ["--taxonomy", str(taxonomy_file)]
    assert invoke(*args).exit_code == 0
    (out / "web.csv").unlink()
    (out / "web.csv").mkdir()
    before = tree(out)
    result = invoke(*args, "--force")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {out / 'web.csv'}: a directory where the export")
    assert tree(out) == before
