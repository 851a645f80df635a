"""Model directories (format 2): round trip, every file hashed before it is parsed, tags checked,
versions warned, malformed directories refused in one line, format 1 refused and converted."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from typer.testing import CliRunner

from classifier.errors import ModelError, UsageError
from classifier.model.estimator import TagClassifier
from classifier.model.legacy import convert_model
from classifier.model.serialise import npz_bytes
from classifier.model.store import (
    ModelVersionWarning,
    load_model,
    manifest_sha256,
    never_suggest,
    read_meta,
    save_model,
)
from classifier.taxonomy import load_taxonomy
from cli import app

TEXTS = ["the website is broken", "the API costs too much per seat", "thanks, love it"]
DATA_FILES = {"model.json", "vocabulary.json", "arrays.npz", "tokenizer.json"}
runner = CliRunner()


@pytest.fixture(scope="session")
def fitted(taxonomy):
    corpus = pd.DataFrame(tiny_corpus())
    model = TagClassifier(folds=3, never_suggest=never_suggest(taxonomy))
    return model.fit(corpus["text"], corpus[["team", "topic"]])


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, taxonomy, fitted):
    directory = tmp_path_factory.mktemp("model") / "tiny"
    save_model(fitted, directory, taxonomy, training={"rows": 160, "source": "tiny.csv"})
    return directory


@pytest.fixture
def copy_dir(model_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(model_dir, target)
    return target


def rewrite(directory, name, payload: bytes) -> None:
    """Replace a data file and record its new sha256, as a careful forger would."""
    (directory / name).write_bytes(payload)
    meta = json.loads((directory / "meta.json").read_text())
    meta["files"][name] = hashlib.sha256(payload).hexdigest()
    meta["model_sha256"] = manifest_sha256(meta["files"])
    (directory / "meta.json").write_text(json.dumps(meta))


def edit_meta(directory, change) -> None:
    meta = json.loads((directory / "meta.json").read_text())
    change(meta)
    (directory / "meta.json").write_text(json.dumps(meta))


def test_round_trip_predicts_the_same(model_dir, taxonomy, fitted):
    model = load_model(model_dir, taxonomy)
    pd.testing.assert_frame_equal(model.suggest_table(TEXTS), fitted.suggest_table(TEXTS))
    assert model.thresholds_ == read_meta(model_dir)["thresholds"]
    assert model.axes_ == ["team", "topic"]
    assert list(model.heads_["topic"].classes) == ["bug", "escalation", "praise", "pricing"]


def test_directory_holds_data_files_only_with_their_sha256(model_dir, taxonomy):
    meta = read_meta(model_dir)
    assert {p.name for p in model_dir.iterdir()} == DATA_FILES | {"meta.json", "card.md"}
    assert meta["format_version"] == 2
    assert set(meta["versions"]) == {"feedtag", "scikit-learn", "spacy", "python"}
    assert meta["taxonomy"]["name"] == taxonomy.name
    assert meta["taxonomy"]["sha256"] == taxonomy.sha256
    assert meta["taxonomy"]["tags"]["topic"] == ["bug", "escalation", "praise", "pricing"]
    assert meta["training"]["rows"] == 160
    for name in DATA_FILES:
        digest = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        assert meta["files"][name] == digest
    listing = "".join(f"{meta['files'][n]}  {n}\n" for n in sorted(DATA_FILES))
    assert meta["model_sha256"] == hashlib.sha256(listing.encode()).hexdigest()
    with np.load(model_dir / "arrays.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"idf_0", "idf_1", "weights_0_0", "bias_0_0"} | {
            "weights_1_0",
            "bias_1_0",
        }
        assert arrays["weights_1_0"].dtype == np.float32
    card = (model_dir / "card.md").read_text()
    assert "fixture" in card and "Cross-validated metrics" in card and "tiny.csv" in card
    assert meta["model_sha256"] in card and "model.joblib" not in card


def test_saving_twice_gives_the_same_bytes(fitted, taxonomy, tmp_path, model_dir):
    save_model(fitted, tmp_path / "again", taxonomy, training={"rows": 160, "source": "tiny.csv"})
    assert read_meta(tmp_path / "again")["files"] == read_meta(model_dir)["files"]


@pytest.mark.parametrize("name", sorted(DATA_FILES))
def test_a_changed_file_is_refused_before_it_is_parsed(copy_dir, taxonomy, monkeypatch, name):
    path = copy_dir / name
    path.write_bytes(path.read_bytes() + b" ")

    def never(*args, **kwargs):
        raise AssertionError("an unverified file was parsed")

    monkeypatch.setattr(np, "load", never)
    with pytest.raises(ModelError, match=rf"{name}: sha256 .* does not match meta.json"):
        load_model(copy_dir, taxonomy)


def test_a_pickle_inside_the_arrays_is_never_unpickled(copy_dir, taxonomy):
    buffer = io.BytesIO()
    np.savez(buffer, idf_0=np.array([object()], dtype=object))
    rewrite(copy_dir, "arrays.npz", buffer.getvalue())
    with pytest.raises(ModelError, match=r"arrays.npz: array 'idf_0' cannot be read"):
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
    assert "bug" in set(load_model(model_dir, taxonomy).predict(["the website is broken"])["topic"])


def test_scikit_learn_version_mismatch_warns(copy_dir, taxonomy):
    edit_meta(copy_dir, lambda meta: meta["versions"].update({"scikit-learn": "0.1.0"}))
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


# ------------------------------------------------------- malformed directories


def _set(path, value):
    def change(meta):
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _drop(key):
    return lambda meta: meta.pop(key)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_set(["thresholds", "topic", "bug"], "0.5"), r"field 'thresholds\.topic\.bug'.*'0\.5'"),
        (_set(["taxonomy"], []), r"field 'taxonomy': input should be an object \(found a list\)"),
        (_set(["taxonomy", "tags", "team"], "web"), r"field 'taxonomy\.tags\.team'"),
        (_set(["format_version"], "2"), r"field 'format_version'"),
        (_set(["format_version"], 3), r"format version 3; this feedtag reads version 2"),
        (_set(["training", "rows_per_axis"], {"team": "many"}), r"'training\.rows_per_axis"),
        (_set(["files", "model.json"], 42), r"field 'files\.model\.json'"),
        (_set(["files", "../../etc/passwd"], "0" * 64), r"names '\.\./\.\./etc/passwd'"),
        (_set(["model_sha256"], "0" * 64), r"'model_sha256' does not match 'files'"),
        (_drop("files"), r"field 'files' is missing"),
        (_drop("metrics"), r"field 'metrics' is missing"),
        (_set(["versions"], ["1.0"]), r"field 'versions'"),
    ],
)
def test_wrong_types_in_meta_are_one_line_naming_the_field(copy_dir, taxonomy, change, expected):
    edit_meta(copy_dir, change)
    with pytest.raises(ModelError, match=expected) as raised:
        load_model(copy_dir, taxonomy)
    message = str(raised.value)
    assert message.startswith(str(copy_dir / "meta.json")) and "\n" not in message


def test_a_json_array_as_meta_is_one_line(copy_dir, taxonomy):
    (copy_dir / "meta.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match=r"meta.json: expected a JSON object, found list"):
        load_model(copy_dir, taxonomy)


@pytest.mark.parametrize(
    ("name", "payload", "expected"),
    [
        (
            "model.json",
            lambda spec: spec["heads"]["team"]["members"][0].update({"temperature": "hot"}),
            r"model.json: field 'heads\.team\.members\.0\.temperature'",
        ),
        ("model.json", lambda spec: spec.update({"axes": {}}), r"model.json: field 'axes'"),
        (
            "model.json",
            lambda spec: spec["features"]["blocks"][0].update({"analyzer": "char"}),
            r"field 'features\.blocks\.0\.analyzer'",
        ),
        ("vocabulary.json", lambda vocab: vocab.pop(), r"expected a list of 2 vocabularies"),
        ("vocabulary.json", lambda vocab: vocab[0].append(7), r"vocabulary 0: expected a list"),
        (
            "tokenizer.json",
            lambda rules: rules.update({"special_cases": ["a"]}),
            r"tokenizer.json: field 'special_cases'",
        ),
        (
            "tokenizer.json",
            lambda rules: rules["prefix"].update({"pattern": "(unclosed"}),
            r"tokenizer.json: a pattern does not compile",
        ),
    ],
)
def test_wrong_types_in_the_data_files_are_one_line(copy_dir, taxonomy, name, payload, expected):
    content = json.loads((copy_dir / name).read_text())
    payload(content)
    rewrite(copy_dir, name, json.dumps(content).encode())
    with pytest.raises(ModelError, match=expected) as raised:
        load_model(copy_dir, taxonomy)
    assert "\n" not in str(raised.value)


def test_arrays_of_the_wrong_shape_or_missing_are_refused(copy_dir, taxonomy):
    with np.load(copy_dir / "arrays.npz", allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["weights_0_0"] = arrays["weights_0_0"][:-1]
    rewrite(copy_dir, "arrays.npz", npz_bytes(arrays))
    with pytest.raises(ModelError, match=r"array 'weights_0_0' is float32 \(\d+, 2\), expected"):
        load_model(copy_dir, taxonomy)
    del arrays["weights_0_0"]
    rewrite(copy_dir, "arrays.npz", npz_bytes(arrays))
    with pytest.raises(ModelError, match=r"arrays.npz: array 'weights_0_0' is missing"):
        load_model(copy_dir, taxonomy)
    rewrite(copy_dir, "arrays.npz", b"PK not a zip")
    with pytest.raises(ModelError, match=r"arrays.npz: not a numpy .npz archive"):
        load_model(copy_dir, taxonomy)


def test_missing_file_or_directory_in_its_place(copy_dir, taxonomy):
    (copy_dir / "vocabulary.json").unlink()
    (copy_dir / "vocabulary.json").mkdir()
    with pytest.raises(ModelError, match=r"vocabulary.json: is a directory, expected a file"):
        load_model(copy_dir, taxonomy)
    (copy_dir / "vocabulary.json").rmdir()
    with pytest.raises(ModelError, match=r"vocabulary.json: missing"):
        load_model(copy_dir, taxonomy)
    shutil.rmtree(copy_dir / "meta.json", ignore_errors=True)
    (copy_dir / "meta.json").unlink()
    (copy_dir / "meta.json").mkdir()
    with pytest.raises(ModelError, match=r"meta.json: is a directory"):
        load_model(copy_dir, taxonomy)


def test_meta_and_model_disagreeing_on_tags_is_refused(copy_dir, taxonomy):
    edit_meta(copy_dir, _set(["taxonomy", "tags", "team"], ["web", "legacy"]))
    with pytest.raises(ModelError, match=r"'taxonomy.tags.team' and model.json"):
        load_model(copy_dir, taxonomy)


def test_cli_malformed_model_is_one_error_line_exit_2(copy_dir, taxonomy_file):
    edit_meta(copy_dir, _set(["thresholds", "topic", "bug"], "0.5"))
    result = runner.invoke(
        app, ["suggest", "hi", "--model", str(copy_dir), "--taxonomy", str(taxonomy_file)]
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "meta.json: field 'thresholds.topic.bug'" in lines[0]


# ------------------------------------------------------------ format 1 (pickle)


@pytest.fixture
def legacy_dir(tmp_path, fitted, model_dir):
    """A format-1 directory as feedtag 0.1 wrote it: model.joblib and its sha256."""
    directory = tmp_path / "old"
    directory.mkdir()
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer, compress=3)
    (directory / "model.joblib").write_bytes(buffer.getvalue())
    meta = read_meta(model_dir)
    meta = {k: v for k, v in meta.items() if k != "files"}
    meta["format_version"] = 1
    meta["model_sha256"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (directory / "meta.json").write_text(json.dumps(meta))
    return directory


def _no_unpickling(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("model.joblib was unpickled")

    monkeypatch.setattr(joblib, "load", never)


def test_format_1_is_refused_saying_how_to_convert(legacy_dir, taxonomy, monkeypatch):
    _no_unpickling(monkeypatch)
    with pytest.raises(ModelError) as raised:
        load_model(legacy_dir, taxonomy)
    message = str(raised.value)
    assert f"feedtag model convert {legacy_dir} --out NEW_DIR --trust" in message
    assert "retrain" in message and "\n" not in message
    (legacy_dir / "meta.json").unlink()  # a bare model.joblib: the same advice
    with pytest.raises(ModelError, match="format-1 model"):
        load_model(legacy_dir, taxonomy)


def test_convert_needs_trust_and_a_matching_sha256(legacy_dir, tmp_path, monkeypatch):
    _no_unpickling(monkeypatch)
    with pytest.raises(UsageError, match="--trust"):
        convert_model(legacy_dir, tmp_path / "new", trust=False)
    path = legacy_dir / "model.joblib"
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ModelError, match=r"does not match meta\.json"):
        convert_model(legacy_dir, tmp_path / "new", trust=True)
    with pytest.raises(UsageError, match="is the directory being converted"):
        convert_model(legacy_dir, legacy_dir / ".", trust=True)
    assert not (tmp_path / "new").exists()


def test_converted_model_predicts_what_the_pickled_one_did(legacy_dir, tmp_path, taxonomy):
    old = joblib.load(legacy_dir / "model.joblib")
    meta = convert_model(legacy_dir, tmp_path / "new", trust=True)
    assert set(meta["files"]) == DATA_FILES
    assert meta["converted_from"]["format_version"] == 1
    new = load_model(tmp_path / "new", taxonomy)
    texts = [*TEXTS, "", "the webhook endpoint returns 500 at https://x.io"]
    pd.testing.assert_frame_equal(new.suggest_table(texts), old.suggest_table(texts))
    assert "Converted from a format-1" in (tmp_path / "new" / "card.md").read_text()


def test_cli_model_convert(legacy_dir, tmp_path, taxonomy_file):
    result = runner.invoke(app, ["model", "convert", str(legacy_dir), "--out", str(tmp_path / "n")])
    assert result.exit_code == 2
    assert "add --trust only if you trust" in result.stderr
    result = runner.invoke(
        app, ["model", "convert", str(legacy_dir), "--out", str(tmp_path / "n"), "--trust"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"wrote {tmp_path / 'n'} (arrays.npz, model.json")
    done = runner.invoke(
        app,
        ["suggest", "the website is broken", "--model", str(tmp_path / "n"), "--taxonomy"]
        + [str(taxonomy_file), "--format", "json"],
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["axes"]["team"]["tag"] == "web"


def test_saving_over_a_format_1_directory_removes_the_pickle(legacy_dir, fitted, taxonomy):
    save_model(fitted, legacy_dir, taxonomy)
    assert not (legacy_dir / "model.joblib").exists()
    assert load_model(legacy_dir, taxonomy).predict(TEXTS).shape == (3, 2)
