"""The shipped quality examples: the sample, its re-tags and the changed taxonomy hold together.

Expectations come from how the examples were built (examples/README.md), not from the output.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def rows(name: str) -> list[dict[str, str]]:
    with (EXAMPLES / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_blind_sample_has_no_tags_and_its_key_matches():
    sample, key = rows("sample.csv"), rows("sample.key.csv")
    assert len(sample) == 200 and [r["id"] for r in sample] == [r["id"] for r in key]
    assert all(r["team"] == "" and r["topic"] == "" for r in sample)
    assert "agent" not in sample[0] and "tags" not in sample[0]
    export = {r["id"]: r for r in rows("helpdesk-export.csv")}
    assert all(export[r["id"]]["tags"] == r["tags"] for r in key)
    assert len({r["id"] for r in sample}) == 200


def test_the_changed_taxonomy_deletes_growth_and_its_eleven_messages_lose_their_team():
    from classifier.corpus import load_corpus
    from classifier.quality.taxonomy_diff import corpus_impact, diff_taxonomies
    from classifier.taxonomy import load_taxonomy

    old = load_taxonomy(ROOT / "taxonomy.yaml")
    new = load_taxonomy(EXAMPLES / "taxonomy-changed.yaml")
    corpus = load_corpus(str(EXAMPLES / "helpdesk-export.csv"), old)
    diff = corpus_impact(diff_taxonomies(old, new), corpus, new)
    kinds = {(c.kind, c.tag) for c in diff.changes}
    assert {("merged", "confused"), ("renamed", "platform"), ("split", "infrastructure")} <= kinds
    growth = next(c for c in diff.changes if c.tag == "growth")
    # examples/README.md: 11 rows carry the retired 'Team: Growth'
    assert (growth.kind, growth.messages, growth.person) == ("removed", 11, 11)
    assert diff.lost["team"] == 11 and diff.fails


def test_installed_commands_run_on_the_examples(tmp_path):
    script = shutil.which("feedtag", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("feedtag is not installed in this environment")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([script, *args], cwd=ROOT, capture_output=True, text=True)

    drawn = run(
        "sample",
        "examples/helpdesk-export.csv",
        "--blind",
        "--seed",
        "16",
        "--out",
        str(tmp_path / "sample.csv"),
    )
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "sample.csv").read_bytes() == (EXAMPLES / "sample.csv").read_bytes()
    agreed = run(
        "agreement",
        "examples/sample.key.csv",
        "examples/sample-retagged.csv",
        "--format",
        "json",
        "--resamples",
        "200",
    )
    assert agreed.returncode == 0, agreed.stderr
    diffed = run("taxonomy", "diff", "taxonomy.yaml", "examples/taxonomy-changed.yaml")
    assert diffed.returncode == 1, diffed.stderr
