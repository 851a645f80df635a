"""Shared fixtures: a small taxonomy of their own, so no test depends on the shipped one."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time (a red build must be reproducible); locally Hypothesis
# keeps exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Where the encoder extra is installed the shipped default is the encoder model; the suite
# runs on the TF-IDF default (fast, the same on every machine), and test_shipped.py checks
# the choice and the encoder model itself.
os.environ["FEEDTAG_ENCODER"] = "off"

FIXTURE_TAXONOMY = textwrap.dedent(
    """\
    version: 1
    name: fixture
    axes:
      team:
        description: Which team owns it.
        tags:
          - id: web
            name: Web
            aliases: ["Team: Web", "website"]
          - id: api
            name: API
            aliases: ["Team: API"]
          - id: legacy
            name: Legacy
            deprecated: true
            replaced_by: web
      topic:
        description: What kind of contact it is.
        tags:
          - id: bug
            name: Bug report
            aliases: ["Topic: Bug"]
          - id: praise
            name: Praise
          - id: pricing
            name: Pricing question
            aliases: ["Billing question"]
          - id: escalation
            name: Escalation
            human_only: true
    """
)


@pytest.fixture
def taxonomy_file(tmp_path: Path) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(FIXTURE_TAXONOMY, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def taxonomy(tmp_path_factory: pytest.TempPathFactory):
    """The fixture taxonomy, loaded once: it is immutable (frozen pydantic models)."""
    from classifier.taxonomy import load_taxonomy

    path = tmp_path_factory.mktemp("taxonomy") / "taxonomy.yaml"
    path.write_text(FIXTURE_TAXONOMY, encoding="utf-8")
    return load_taxonomy(path)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, taxonomy) -> Path:
    """A model directory trained (2 folds, regex tokenizer) on the tiny fixture corpus.

    Shared by tests that need any working model, not a good one; train once per session.
    """
    import pandas as pd
    from classifier_fixtures import tiny_corpus

    from classifier.corpus import load_corpus
    from classifier.model.training import train

    root = tmp_path_factory.mktemp("tiny-model")
    corpus = root / "corpus.csv"
    pd.DataFrame(tiny_corpus()).to_csv(corpus, index=False)
    train(load_corpus(corpus, taxonomy), root / "model", folds=2)
    return root / "model"
