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


# --- hostile YAML (issue 12) -------------------------------------------------------------------

PAIRS = zip("abcdefgh", "bcdefghi", strict=True)
LEVELS = [("a", '["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')] + [
    (name, "[" + ", ".join([f"*{below}"] * 8) + "]") for below, name in PAIRS
]
BOMB = "version: 1\nname: bomb\n" + "".join(f"{n}: &{n} {v}\n" for n, v in LEVELS) + "axes: *i\n"


def taxonomy_error(tmp_path, text: str) -> str:
    import time

    from classifier.errors import TaxonomyError

    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    start = time.process_time()
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    assert time.process_time() - start < 1.0
    return str(caught.value).replace(str(path), "t.yaml")


def test_an_alias_bomb_fails_fast_naming_the_alias(tmp_path):
    assert taxonomy_error(tmp_path, BOMB) == (
        "t.yaml:4: YAML alias '*a' is not allowed in a taxonomy; write the value out"
    )


def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path):
    deep = "version: 1\nname: deep\naxes: " + "[" * 50_000 + "]" * 50_000 + "\n"
    assert taxonomy_error(tmp_path, deep) in (
        "t.yaml:3: nested more than 32 levels deep; not a taxonomy",
        "t.yaml:3: YAML syntax error: exceeded maximum nesting depth",  # libyaml's own limit
    )
    maps = "version: 1\nname: deep\naxes:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 40))
    assert taxonomy_error(tmp_path, maps).endswith(
        "nested more than 32 levels deep; not a taxonomy"
    )


def test_two_documents_and_complex_keys_are_one_line(tmp_path):
    assert taxonomy_error(tmp_path, "version: 1\n---\nname: x\n") == (
        "t.yaml:2: expected one YAML document, found another"
    )
    assert taxonomy_error(tmp_path, "version: 1\n? [a, b]\n: c\n") == (
        "t.yaml:2: a mapping key must be a plain value, not a list or mapping"
    )


def test_scalars_keep_their_yaml_types(tmp_path):
    """Plain ``yes``/empty values are what YAML says (bool, null), quoted ones text."""
    typed = FIXTURE_TAXONOMY.replace("deprecated: true", "deprecated: yes").replace(
        "human_only: true", 'human_only: ""'
    )
    path = tmp_path / "t.yaml"
    path.write_text(typed, encoding="utf-8")
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    (problem,) = caught.value.problems
    assert problem.endswith(
        "human_only: Input should be a valid boolean, unable to interpret input"
    )
    path.write_text(typed.replace('human_only: ""', "human_only:"), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"human_only: Input should be a valid boolean$"):
        load_taxonomy(path)  # an empty value is null
    path.write_text(typed.replace('human_only: ""', "human_only: on"), encoding="utf-8")
    assert load_taxonomy(path).tag("topic", "escalation").human_only
    assert load_taxonomy(path).tag("team", "legacy").deprecated


def test_twenty_thousand_tags_load_in_linear_time(tmp_path):
    import time

    from bench.bench_taxonomy import synthetic_taxonomy

    text = synthetic_taxonomy(20_000)
    path = tmp_path / "big.yaml"
    path.write_text(text + '        aliases: ["Team 3"]\n', encoding="utf-8")  # one collision
    start = time.process_time()
    with pytest.raises(
        Exception, match=r"big.yaml:80008: 'Team 3' collides with 'team-3' of tag 'team:team-3'"
    ):
        load_taxonomy(path)
    assert time.process_time() - start < 4.0  # 23 s before issue 12; ~1.5 s now
