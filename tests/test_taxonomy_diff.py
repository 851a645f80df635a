"""feedtag taxonomy diff: each kind of change, its impact on a corpus, the CLI, and properties."""

from __future__ import annotations

import copy
import csv
import json
import random
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURE_TAXONOMY
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from classifier.audit.fix import write_fixed
from classifier.corpus import load_corpus
from classifier.quality.taxonomy_diff import corpus_impact, diff_taxonomies
from classifier.taxonomy import Taxonomy, load_taxonomy
from cli import app

runner = CliRunner()


def base() -> dict:
    return yaml.safe_load(FIXTURE_TAXONOMY)


def tags_of(data: dict, axis: str) -> list[dict]:
    return data["axes"][axis]["tags"]


def find(data: dict, tag_id: str) -> dict:
    return next(t for axis in data["axes"].values() for t in axis["tags"] if t["id"] == tag_id)


def as_taxonomy(data: dict) -> Taxonomy:
    return Taxonomy.model_validate(data)


def changes(old: dict, new: dict) -> list[tuple]:
    diff = diff_taxonomies(as_taxonomy(old), as_taxonomy(new))
    return [(c.kind, c.axis, c.tag, c.into, c.breaking) for c in diff.changes]


def test_rename_keeping_the_id():
    new = base()
    find(new, "bug")["name"] = "Defect"
    assert changes(base(), new) == [("renamed", "topic", "bug", (), True)]  # 'Bug report' lost
    find(new, "bug")["aliases"].append("Bug report")
    assert changes(base(), new) == [
        ("renamed", "topic", "bug", (), False),
        ("aliases", "topic", "bug", (), False),
    ]
    renamed = base()
    find(renamed, "web")["name"] = "Web site"  # 'Web' still resolves: it folds to the id
    assert changes(base(), renamed) == [("renamed", "team", "web", (), False)]


def test_rename_to_a_new_id_by_alias_trail_is_not_an_addition():
    new = base()
    api = find(new, "api")
    api.update(id="developer", name="Developer", aliases=["API", "Team: API"])
    assert changes(base(), new) == [("renamed", "team", "api", ("developer",), False)]


def test_merge_by_replaced_by():
    new = base()
    find(new, "pricing").update(deprecated=True, replaced_by="bug")
    assert changes(base(), new) == [("merged", "topic", "pricing", ("bug",), False)]


def test_merge_into_an_existing_tag_by_alias():
    new = base()
    tags_of(new, "topic").remove(find(new, "pricing"))
    find(new, "bug")["aliases"] += ["Pricing question", "pricing", "Billing question"]
    assert changes(base(), new) == [
        ("aliases", "topic", "bug", (), False),
        ("merged", "topic", "pricing", ("bug",), False),
    ]


def test_split_when_the_spellings_lead_to_several_tags():
    new = base()
    topics = tags_of(new, "topic")
    topics.remove(find(new, "bug"))
    topics += [
        {"id": "bug-ui", "name": "UI bug", "aliases": ["Bug report"]},
        {"id": "bug-api", "name": "API bug", "aliases": ["bug", "Topic: Bug"]},
    ]
    assert changes(base(), new) == [("split", "topic", "bug", ("bug-api", "bug-ui"), False)]


def test_removed_retired_added_and_flags():
    new = base()
    tags_of(new, "topic").remove(find(new, "praise"))
    find(new, "api")["deprecated"] = True
    find(new, "escalation")["human_only"] = False
    find(new, "bug")["description"] = "Something is broken."
    tags_of(new, "topic").append({"id": "outage", "name": "Outage"})
    assert changes(base(), new) == [
        ("retired", "team", "api", (), True),
        ("description", "topic", "bug", (), False),
        ("removed", "topic", "praise", (), True),
        ("human-only", "topic", "escalation", (), False),
        ("added", "topic", "outage", (), False),
    ]


def test_removing_a_retired_tag_with_a_successor_breaks_its_history():
    new = base()
    tags_of(new, "team").remove(find(new, "legacy"))
    assert changes(base(), new) == [("removed", "team", "legacy", (), True)]


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


CORPUS = [
    "Web; Bug report",
    "website; Topic: Bug",
    "API; Praise",
    "Legacy; Pricing question",
    "Team: API; Billing question",
    "Web; Praise",
]


def removal_and_merge() -> dict:
    new = base()
    tags_of(new, "topic").remove(find(new, "praise"))
    find(new, "pricing").update(deprecated=True, replaced_by="bug")
    return new


@pytest.fixture
def corpus_file(tmp_path):
    rows = [{"id": f"m{i}", "text": "t", "tags": tags} for i, tags in enumerate(CORPUS, 1)]
    return write(tmp_path / "c.csv", rows)


def test_corpus_impact_by_hand(corpus_file, taxonomy):
    new = as_taxonomy(removal_and_merge())
    diff = corpus_impact(
        diff_taxonomies(taxonomy, new), load_corpus(str(corpus_file), taxonomy), new
    )
    impact = {c.tag: (c.kind, c.messages, c.automatic, c.person) for c in diff.changes}
    assert impact == {"praise": ("removed", 2, 0, 2), "pricing": ("merged", 2, 2, 0)}
    assert diff.lost == {"team": 0, "topic": 2} and diff.fails
    table = {(r.axis, r.tag): (r.before, r.after) for r in diff.per_tag.itertuples()}
    assert table == {
        ("team", "web"): (4, 4),  # m1, m2, m6 and m4 (Legacy -> web)
        ("team", "api"): (2, 2),
        ("team", "(no valid tag)"): (0, 0),
        ("topic", "bug"): (2, 4),
        ("topic", "escalation"): (0, 0),
        ("topic", "praise"): (2, 0),
        ("topic", "pricing"): (2, 0),
        ("topic", "(no valid tag)"): (0, 2),
    }


def test_cli_diff_exits_1_when_messages_lose_their_tag(tmp_path, corpus_file, taxonomy_file):
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(removal_and_merge()), encoding="utf-8")
    args = ["taxonomy", "diff", str(taxonomy_file), str(new)]
    result = runner.invoke(app, [*args, "--corpus", str(corpus_file)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert result.stderr == "Messages left without a valid tag: 2 on topic.\n"
    assert "│ topic │ (no valid tag) │      0 │     2 │     +2 │" in result.stdout
    static = runner.invoke(app, [*args, "--format", "json"])
    assert static.exit_code == 1
    data = json.loads(static.stdout)
    assert [(c["kind"], c["tag"], c["breaking"]) for c in data["changes"]] == [
        ("removed", "praise", True),
        ("merged", "pricing", False),
    ]
    assert static.stderr == (
        "Messages tagged with these would be left without a valid tag: topic:praise.\n"
    )


def test_cli_diff_markdown_for_a_pull_request(tmp_path, corpus_file, taxonomy_file):
    new = tmp_path / "new.yaml"
    data = base()
    find(data, "pricing").update(deprecated=True, replaced_by="bug")
    new.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "diff.md"
    result = runner.invoke(
        app,
        ["taxonomy", "diff", str(taxonomy_file), str(new), "--corpus", str(corpus_file)]
        + ["--format", "markdown", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "| merged | topic | pricing | bug | retired, replaced\\_by | 2 | 2 | 0 |" in text
    assert "| topic | bug | 2 | 4 | \\+2 |" in text
    assert text.rstrip().endswith("No message is left without a valid tag.")


def test_cli_diff_of_a_file_with_itself(taxonomy_file):
    result = runner.invoke(app, ["taxonomy", "diff", str(taxonomy_file), str(taxonomy_file)])
    assert result.exit_code == 0
    assert result.stdout == f"no changes from {taxonomy_file} to {taxonomy_file}\n"


def test_cli_diff_refuses_to_write_over_an_input(taxonomy_file):
    result = runner.invoke(
        app,
        ["taxonomy", "diff", str(taxonomy_file), str(taxonomy_file)]
        + ["--format", "json", "--output", str(taxonomy_file)],
    )
    assert result.exit_code == 2
    assert "inputs are never overwritten" in result.stderr


# --- properties ---------------------------------------------------------------------------


def random_taxonomy(rng: random.Random) -> dict:
    """A valid taxonomy: 2-4 tags per axis, some aliases, a retired tag now and then."""
    pool = iter(f"spelling {word}" for word in rng.sample(range(10_000), 40))
    axes = {}
    for axis in ("team", "topic"):
        tags = []
        for i in range(rng.randint(2, 4)):
            aliases = [next(pool) for _ in range(rng.randint(0, 2))]
            tag = {"id": f"{axis}-{i}", "name": f"{axis} name {i}", "aliases": aliases}
            tag["human_only"] = rng.random() < 0.2
            tags.append(tag)
        if rng.random() < 0.5:
            tags.append(
                {"id": f"{axis}-old", "name": f"{axis} old", "deprecated": True}
                | {"replaced_by": rng.choice(tags)["id"]}
            )
        axes[axis] = {"description": axis, "tags": tags}
    return {"version": 1, "name": "random", "axes": axes}


def renamed_and_merged(rng: random.Random, data: dict) -> dict:
    """Only changes whose messages resolve by themselves: renames with an alias trail, merges."""
    data = copy.deepcopy(data)
    for axis in data["axes"].values():
        live = [t for t in axis["tags"] if not t.get("deprecated")]
        for tag in live:
            roll = rng.random()
            if roll < 0.3:  # new name, old one kept as an alias
                tag["aliases"] = [*tag.get("aliases", []), tag["name"]]
                tag["name"] += " renamed"
            elif roll < 0.5:  # new id, old id and name as aliases
                old = tag["id"]
                tag["aliases"] = [*tag.get("aliases", []), tag["id"], tag["name"]]
                tag["id"], tag["name"] = old + "-new", tag["name"] + " new"
                for other in axis["tags"]:
                    if other.get("replaced_by") == old:
                        other["replaced_by"] = tag["id"]
        live = [t for t in axis["tags"] if not t.get("deprecated")]
        if len(live) > 1 and rng.random() < 0.5:
            retired, successor = rng.sample(live, 2)
            retired["deprecated"], retired["replaced_by"] = True, successor["id"]
    return data


def random_corpus(rng: random.Random, data: dict, path: Path) -> Path:
    spellings = {}
    for axis, body in data["axes"].items():
        spellings[axis] = [
            s for t in body["tags"] for s in [t["id"], t["name"], *t.get("aliases", [])]
        ]
    rows = []
    for i in range(rng.randint(1, 25)):
        tags = [rng.choice(spellings["team"]), rng.choice(spellings["topic"])]
        rows.append({"id": f"m{i}", "text": f"text {i}", "tags": "; ".join(tags)})
    return write(path, rows)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_diff_of_a_taxonomy_with_itself_is_empty(tmp_path_factory, seed):
    rng = random.Random(seed)
    data = random_taxonomy(rng)
    taxonomy = as_taxonomy(data)
    path = random_corpus(rng, data, tmp_path_factory.mktemp("self") / "c.csv")
    diff = corpus_impact(
        diff_taxonomies(taxonomy, taxonomy), load_corpus(str(path), taxonomy), taxonomy
    )
    assert diff.changes == [] and not diff.fails
    assert (diff.per_tag["before"] == diff.per_tag["after"]).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_diff_then_audit_fix_leaves_no_alias_or_retired_tag(tmp_path_factory, seed):
    rng = random.Random(seed)
    old_data = random_taxonomy(rng)
    new_data = renamed_and_merged(rng, old_data)
    folder = tmp_path_factory.mktemp("fix")
    (folder / "new.yaml").write_text(yaml.safe_dump(new_data), encoding="utf-8")
    old, new = as_taxonomy(old_data), load_taxonomy(folder / "new.yaml")
    path = random_corpus(rng, old_data, folder / "c.csv")
    diff = corpus_impact(diff_taxonomies(old, new), load_corpus(str(path), old), new)
    assert not diff.fails
    assert all(change.person == 0 for change in diff.changes)

    write_fixed(load_corpus(str(path), new), folder / "fixed.csv")
    fixed = load_corpus(str(folder / "fixed.csv"), new)
    assert not fixed.tags["how"].isin(["alias", "deprecated", "unknown"]).any()
    for row in diff.per_tag.itertuples():
        if row.tag != "(no valid tag)":
            on_axis = fixed.known_tags[fixed.known_tags["axis"] == row.axis]
            assert row.after == on_axis.loc[on_axis["tag"] == row.tag, "message"].nunique()


def test_a_split_needs_a_person_for_every_message_and_says_where_spellings_lead(tmp_path, taxonomy):
    new = base()
    topics = tags_of(new, "topic")
    topics.remove(find(new, "bug"))
    topics += [
        {"id": "bug-ui", "name": "UI bug", "aliases": ["Bug report"]},
        {"id": "bug-api", "name": "API bug", "aliases": ["bug", "Topic: Bug"]},
    ]
    rows = [
        {"id": f"m{i}", "text": "t", "tags": f"Web; {tag}"}
        for i, tag in enumerate(["Bug report", "Topic: Bug", "bug"])
    ]
    corpus = load_corpus(str(write(tmp_path / "c.csv", rows)), taxonomy)
    diff = corpus_impact(diff_taxonomies(taxonomy, as_taxonomy(new)), corpus, as_taxonomy(new))
    (split,) = diff.changes
    assert (split.messages, split.automatic, split.person) == (3, 0, 3)
    assert split.detail.endswith("by spelling: bug-api 2, bug-ui 1")
    assert not diff.fails  # every message still has a valid tag, if perhaps the wrong one
