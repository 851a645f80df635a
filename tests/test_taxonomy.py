from __future__ import annotations

import string
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifier.errors import TaxonomyError
from classifier.taxonomy import Taxonomy, default_taxonomy_path, fold, load_taxonomy
from tests.conftest import FIXTURE_TAXONOMY


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_loads_fixture_with_axes_and_tags(taxonomy):
    assert list(taxonomy.axes) == ["team", "topic"]
    assert taxonomy.axes["team"].ids == ["web", "api", "legacy"]
    assert taxonomy.suggestable("team") == ["web", "api"]
    assert taxonomy.suggestable("topic") == ["bug", "praise", "pricing"]
    assert taxonomy.successor("team", "legacy") == "web"


@pytest.mark.parametrize(
    ("raw", "axis", "tag", "how"),
    [
        ("web", "team", "web", "exact"),
        ("  BUG report ", "topic", "bug", "exact"),
        ("bug_report", "topic", "bug", "exact"),
        ("team:web", "team", "web", "alias"),
        ("Legacy", "team", "legacy", "deprecated"),
        ("Frobnicate", None, None, "unknown"),
    ],
)
def test_resolve_matches_ids_names_and_aliases_after_folding(taxonomy, raw, axis, tag, how):
    resolution = taxonomy.resolve(raw)
    assert (resolution.axis, resolution.tag, resolution.how) == (axis, tag, how)


def test_resolve_restricted_to_an_axis_treats_other_axes_as_unknown(taxonomy):
    assert taxonomy.resolve("Praise", axis="team").how == "unknown"
    assert taxonomy.resolve("Praise", axis="topic").tag == "praise"


def test_sha256_ignores_comments_and_layout(tmp_path, taxonomy):
    commented = write(tmp_path, "# a comment\n" + FIXTURE_TAXONOMY)
    assert load_taxonomy(commented).sha256 == taxonomy.sha256


def test_every_problem_is_reported_at_once_with_its_line(tmp_path):
    path = write(
        tmp_path,
        """\
        version: 1
        name: broken
        axes:
          team:
            tags:
              - id: web
                name: Web
                colour: blue
              - id: web
                name: Website
          topic:
            tags:
              - id: Bad_Id
                name: Bug
                replaced_by: nowhere
        """,
    )
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    assert caught.value.problems == [
        f"{path}:8: unknown key 'colour'",
        f"{path}:9: duplicate id 'web'",
        f"{path}:12: axis 'topic' needs at least two tags",
        f"{path}:13: axes.topic.tags.0.id: 'Bad_Id' is not a kebab-case id (like 'bug-report')",
        f"{path}:15: replaced_by 'nowhere' names no tag in this file",
    ]


def test_colliding_spellings_across_tags_are_reported(tmp_path):
    path = write(
        tmp_path,
        """\
        version: 1
        name: clash
        axes:
          team:
            tags:
              - {id: web, name: Web, aliases: ["Front end"]}
              - {id: api, name: API, aliases: ["front-END"]}
        """,
    )
    with pytest.raises(TaxonomyError, match=r":7: 'front-END' collides with 'Front end'"):
        load_taxonomy(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("version: 1\nname: [oops\n", "YAML syntax error"),
        ("- just\n- a list\n", "expected a mapping"),
        (
            "version: 2\nname: x\naxes: {a: {tags: [{id: a, name: A}, {id: b, name: B}]}}\n",
            "version must be 1",
        ),
        (
            "version: 1\nname: x\nname: y\n"
            "axes: {a: {tags: [{id: a, name: A}, {id: b, name: B}]}}\n",
            ":3: duplicate key 'name'",
        ),
    ],
)
def test_bad_files_raise_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "t.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=expected) as caught:
        load_taxonomy(path)
    assert all(problem.startswith(str(path)) for problem in caught.value.problems)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(TaxonomyError, match="no such file"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_shipped_taxonomy_has_the_nine_seed_topics():
    shipped = load_taxonomy(default_taxonomy_path())
    assert shipped.axes["topic"].ids == [
        "feature-request",
        "bug-report",
        "unaware",
        "confused",
        "user-issue",
        "pricing-question",
        "positive-feedback",
        "churn-feedback",
        "outage",
    ]
    assert 6 <= len(shipped.suggestable("team")) <= 8


def test_building_an_inconsistent_taxonomy_in_code_fails():
    data = {
        "version": 1,
        "name": "x",
        "axes": {"a": {"tags": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}},
    }
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        Taxonomy.model_validate(data)


names = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs", "Pd"]), min_size=1
).filter(lambda s: fold(s))


@given(first=names, second=names)
def test_two_spellings_that_fold_equal_always_collide(first, second):
    data = {
        "version": 1,
        "name": "prop",
        "axes": {
            "a": {
                "tags": [
                    {"id": "one", "name": "One", "aliases": [first]},
                    {"id": "two", "name": "Two", "aliases": [second]},
                ]
            }
        },
    }
    clash = fold(first) == fold(second) or {fold(first), fold(second)} & {"one", "two"}
    if clash:
        with pytest.raises(ValueError, match="collides"):
            Taxonomy.model_validate(data)
    else:
        Taxonomy.model_validate(data)


@given(st.text(alphabet=string.ascii_letters + string.digits + " -_", min_size=1))
def test_fold_ignores_case_and_separators(label):
    assert fold(label.upper().replace(" ", "_")) == fold(label.lower().replace(" ", "-"))
