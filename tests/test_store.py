"""Model directories: round trip, hash verified before unpickling, tags checked, versions warned."""

from __future__ import annotations

import json
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus

from classifier.errors import ModelError
from classifier.model.estimator import TagClassifier
from classifier.model.store import (
    ModelVersionWarning,
    load_model,
    never_suggest,
    read_meta,
    save_model,
)
from classifier.taxonomy import load_taxonomy

TEXTS = ["the website is broken", "the API costs too much per seat", "thanks, love it"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, taxonomy):
    corpus = pd.DataFrame(tiny_corpus())
    model = TagClassifier(folds=3, never_suggest=never_suggest(taxonomy))
    model.fit(corpus["text"], corpus[["team", "topic"]])
    directory = tmp_path_factory.mktemp("model") / "tiny"
    save_model(model, directory, taxonomy, training={"rows": len(corpus), "source": "tiny.csv"})
    return directory


@pytest.fixture
def copy_dir(model_dir, tmp_path):
    target = tmp_path / "copy"
    target.mkdir()
    for path in model_dir.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_round_trip_predicts_the_same(model_dir, taxonomy):
    model = load_model(model_dir, taxonomy)
    again = load_model(model_dir, taxonomy)
    pd.testing.assert_frame_equal(model.suggest_table(TEXTS), again.suggest_table(TEXTS))
    assert model.thresholds_ == read_meta(model_dir)["thresholds"]


def test_meta_records_versions_taxonomy_data_and_hash(model_dir, taxonomy):
    import hashlib

    meta = read_meta(model_dir)
    assert meta["format_version"] == 1
    assert set(meta["versions"]) == {"feedtag", "scikit-learn", "spacy", "python"}
    assert meta["taxonomy"]["name"] == taxonomy.name
    assert meta["taxonomy"]["sha256"] == taxonomy.sha256
    assert meta["taxonomy"]["tags"]["topic"] == ["bug", "escalation", "praise", "pricing"]
    assert meta["training"]["rows"] == 160
    assert set(meta["metrics"]["cross_validated"]) == {"team", "topic"}
    payload = (model_dir / "model.joblib").read_bytes()
    assert meta["model_sha256"] == hashlib.sha256(payload).hexdigest()
    card = (model_dir / "card.md").read_text()
    assert "fixture" in card and "Cross-validated metrics" in card and "tiny.csv" in card


def test_tampered_model_is_refused_before_unpickling(copy_dir, taxonomy, monkeypatch):
    path = copy_dir / "model.joblib"
    path.write_bytes(path.read_bytes() + b"\x00")

    def never(*args, **kwargs):
        raise AssertionError("joblib.load was called on an unverified file")

    monkeypatch.setattr(joblib, "load", never)
    with pytest.raises(ModelError, match=r"sha256 .* does not match"):
        load_model(copy_dir, taxonomy)


def test_replaced_model_with_matching_size_is_refused(copy_dir, taxonomy):
    joblib.dump({"evil": True}, copy_dir / "model.joblib")
    with pytest.raises(ModelError, match="does not match"):
        load_model(copy_dir, taxonomy)


def test_taxonomy_missing_a_model_tag_is_refused_naming_it(model_dir, tmp_path):
    text = textwrap.dedent(
        """\
        version: 1
        name: smaller
        axes:
          team:
            tags:
              - {id: web, name: Web}
              - {id: legacy, name: Legacy}
          topic:
            tags:
              - {id: bug, name: Bug}
              - {id: praise, name: Praise}
              - {id: escalation, name: Escalation}
        """
    )
    (tmp_path / "t.yaml").write_text(text)
    smaller = load_taxonomy(tmp_path / "t.yaml")
    with pytest.raises(ModelError, match=r"team:api, topic:pricing"):
        load_model(model_dir, smaller)


def test_tags_masked_by_the_current_taxonomy(model_dir, taxonomy, tmp_path):
    # the taxonomy now marks 'bug' human-only: the loaded model stops suggesting it
    raw = taxonomy.model_dump(mode="json")
    for tag in raw["axes"]["topic"]["tags"]:
        if tag["id"] == "bug":
            tag["human_only"] = True
    import yaml

    (tmp_path / "t.yaml").write_text(yaml.safe_dump(raw))
    changed = load_taxonomy(tmp_path / "t.yaml")
    model = load_model(model_dir, changed)
    assert "bug" not in set(model.predict(["the website is broken, it crashes"])["topic"])


def test_scikit_learn_version_mismatch_warns(copy_dir, taxonomy):
    meta_path = copy_dir / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["versions"]["scikit-learn"] = "0.1.0"
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(ModelVersionWarning, match="0.1.0"):
        model = load_model(copy_dir, taxonomy)
    assert len(model.predict(TEXTS)) == len(TEXTS)


def test_missing_or_broken_directory_is_a_model_error(tmp_path, taxonomy, copy_dir):
    with pytest.raises(ModelError, match="no such model directory"):
        load_model(tmp_path / "nope", taxonomy)
    (copy_dir / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(copy_dir, taxonomy)


def test_saved_model_is_fast_path_consistent(model_dir, taxonomy):
    model = load_model(model_dir, taxonomy)
    table = model.suggest_table(TEXTS)
    for i, text in enumerate(TEXTS):
        one = model.suggest_one(text)
        assert one["team"].tag == table["team"][i]
        assert np.isclose(one["topic"].confidence, table["topic_confidence"][i], atol=1e-5)
