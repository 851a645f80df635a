"""The optional sentence-encoder block, with a tiny deterministic encoder (no weights, offline).

``FakeEncoder`` embeds a text as a hashed bag-of-words projection to 16 dimensions, L2
normalised, and records every text it is asked to encode. The ``registry`` fixture installs it
in ``classifier.model.encoder`` the way the real extra registers its encoder, so saving,
loading and the CLI go through the same path as the real one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus

from classifier.errors import EncoderError
from classifier.model import encoder as registry
from classifier.model.embedding import ENCODER_WEIGHTS, JoinedFeatures
from classifier.model.encoder import EncoderSpec
from classifier.model.estimator import TagClassifier, out_of_fold_proba
from classifier.model.store import load_model, never_suggest, save_model

SPEC = EncoderSpec(
    name="fake-16",
    package="feedtag-test-encoder",
    version="1.0",
    sha256=hashlib.sha256(b"fake-16").hexdigest(),
    dim=16,
)
PARAMS = {"tokenizer": "regex", "folds": 2, "char_ngrams": (2, 4)}


class FakeEncoder:
    """Hashed bag of words -> 16 dims, L2-normalised; ``seen`` lists every text encoded."""

    def __init__(self, spec: EncoderSpec = SPEC):
        self.spec = spec
        self.seen: list[str] = []

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        self.seen.extend(texts)
        rows = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()) or [""]:
                digest = hashlib.sha256(word.encode()).digest()[: self.spec.dim]
                rows[i] += np.frombuffer(digest, dtype=np.uint8) / 127.5 - 1.0
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows


@pytest.fixture
def registry_with_fake(monkeypatch: pytest.MonkeyPatch) -> list[FakeEncoder]:
    """``fake-16`` registered and loadable; returns the encoders loaded, in order."""
    loaded: list[FakeEncoder] = []

    def load(name_or_spec):
        name = getattr(name_or_spec, "name", name_or_spec)
        if name != SPEC.name:
            raise EncoderError(f"unknown sentence encoder '{name}'")
        loaded.append(FakeEncoder(registry.ENCODERS[name]))
        return loaded[-1]

    monkeypatch.setattr(registry, "ENCODERS", {SPEC.name: SPEC})
    monkeypatch.setattr(registry, "available", lambda: True)
    monkeypatch.setattr(registry, "resolve_name", lambda n: SPEC.name if n == "default" else n)
    monkeypatch.setattr(registry, "load_encoder", load)
    return loaded


@pytest.fixture(scope="module")
def data() -> tuple[list[str], pd.DataFrame]:
    rows = pd.DataFrame(tiny_corpus(120))
    return rows["text"].tolist(), rows[["team", "topic"]]


@pytest.fixture(scope="module")
def fitted(data, taxonomy) -> tuple[TagClassifier, FakeEncoder]:
    texts, labels = data
    fake = FakeEncoder()
    model = TagClassifier(encoder=fake, never_suggest=never_suggest(taxonomy), **PARAMS)
    return model.fit(texts, labels), fake


def test_the_embedding_joins_the_tfidf_columns_and_predicts(fitted, data) -> None:
    model, _ = fitted
    texts, labels = data
    assert isinstance(model.features_, JoinedFeatures)
    n_tfidf = model.features_.text.n_features_out_
    for head in model.heads_.values():
        assert all(m.weights.shape[0] == n_tfidf + SPEC.dim for m in head.members)
    # the embedding columns carry weight: the heads use them
    member = model.heads_["topic"].members[0]
    assert np.abs(member.weights[n_tfidf:]).sum() > 0
    assert (model.predict(texts)["team"] == labels["team"]).mean() > 0.95
    one = model.suggest_one(texts[3], top=2)
    many = model.predict_axes([texts[3]], top=2)
    for axis in model.axes_:
        assert one.axes[axis].tag == many[axis].tags[0]
        assert one.axes[axis].confidence == pytest.approx(many[axis].confidence[0], abs=1e-5)


def test_the_weight_is_tuned_over_the_grid_by_out_of_fold_accuracy(fitted) -> None:
    model, _ = fitted
    assert set(model.encoder_tuning_) == set(ENCODER_WEIGHTS)
    assert model.encoder_weight_ in ENCODER_WEIGHTS
    assert model.encoder_tuning_[model.encoder_weight_] == max(model.encoder_tuning_.values())
    assert model.features_.weight == model.encoder_weight_


def test_a_given_weight_is_not_tuned(data) -> None:
    texts, labels = data
    model = TagClassifier(encoder=FakeEncoder(), encoder_weight=3.0, **PARAMS).fit(texts, labels)
    assert model.encoder_weight_ == 3.0
    assert list(model.encoder_tuning_) == [3.0]


def test_each_distinct_text_is_embedded_once_per_fit(data) -> None:
    texts, labels = data
    doubled = texts + texts[:30]  # duplicates, as in any real export
    labels = pd.concat([labels, labels.iloc[:30]], ignore_index=True)
    fake = FakeEncoder()
    model = TagClassifier(encoder=fake, **{**PARAMS, "folds": 3}).fit(doubled, labels)
    # 4 weights x 3 folds + final fits, and the calibration folds, all from one embedding
    assert Counter(fake.seen) == Counter(set(doubled))
    assert fake.seen == sorted(fake.seen, key=len)  # shortest first: batches pad little
    model.predict_axes(texts[:10])  # the training texts' embeddings are cached
    assert len(fake.seen) == len(set(doubled))
    model.predict_axes(["a message never seen", "a message never seen"])
    assert fake.seen[-1:] == ["a message never seen"]
    model.predict_axes(["a message never seen"])  # predictions do not grow the cache
    assert fake.seen.count("a message never seen") == 2


def test_out_of_fold_probabilities_with_an_encoder(data) -> None:
    texts, labels = data
    fake = FakeEncoder()
    oof = out_of_fold_proba(texts, labels, encoder=fake, encoder_weight=1.0, **PARAMS)
    assert set(oof) == {"team", "topic"}
    assert (oof["team"].proba.argmax(axis=1) == oof["team"].labels).mean() > 0.9
    assert len(fake.seen) == len(set(texts))


def test_parameters_follow_scikit_learn_conventions() -> None:
    from sklearn.base import clone

    model = TagClassifier(encoder="fake-16", encoder_weight=2.0)
    copy = clone(model)
    assert copy.get_params()["encoder"] == "fake-16"
    assert copy.get_params()["encoder_weight"] == 2.0
    assert not hasattr(copy, "encoder_weight_")
    with pytest.raises(ValueError, match="encoder_weight"):
        TagClassifier(encoder="fake-16", encoder_weight=0).fit(["a", "b"], ["x", "y"])


def test_a_saved_model_records_the_encoder_and_loads_to_the_same_predictions(
    registry_with_fake, fitted, taxonomy, tmp_path: Path
) -> None:
    model, _ = fitted
    meta = save_model(model, tmp_path / "m", taxonomy)
    spec = json.loads((tmp_path / "m" / "model.json").read_text())
    expected = {**SPEC.__dict__, "weight": model.encoder_weight_}
    assert spec["encoder"] == expected
    assert {k: meta["encoder"][k] for k in expected} == expected
    assert meta["params"]["encoder"] == SPEC.name
    assert "Sentence encoder `fake-16`" in (tmp_path / "m" / "card.md").read_text()

    loaded = load_model(tmp_path / "m", taxonomy)
    assert isinstance(loaded.features_, JoinedFeatures)
    new = ["the API endpoint crashes", "website costs too much per seat", "", "landing page"]
    before, after = model.predict_axes(new), loaded.predict_axes(new)
    for axis in model.axes_:
        assert before[axis].tags.tolist() == after[axis].tags.tolist()
        np.testing.assert_array_equal(before[axis].confidence, after[axis].confidence)
        np.testing.assert_array_equal(before[axis].auto, after[axis].auto)
    assert not after["team"].auto[2]  # an empty message gives no evidence, embedding or not
    one = loaded.suggest_one(new[0])
    assert one.axes["team"].confidence == pytest.approx(after["team"].confidence[0], abs=1e-5)


def _saved(fitted, taxonomy, directory: Path) -> Path:
    save_model(fitted[0], directory, taxonomy)  # needs no registry: the fitted model has it
    return directory


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_loading_without_the_extra_says_what_to_install(
    fitted, taxonomy, tmp_path: Path, monkeypatch
) -> None:
    directory = _saved(fitted, taxonomy, tmp_path / "m")
    monkeypatch.setattr(registry, "available", lambda: False)
    with pytest.raises(EncoderError) as error:
        load_model(directory, taxonomy)
    message = _one_line(error)
    assert str(directory) in message
    assert "'fake-16' (feedtag-test-encoder 1.0" in message
    assert "pip install 'feedtag[encoder]'" in message


def test_serve_refuses_before_starting_workers_without_the_extra(
    fitted, taxonomy, taxonomy_file, tmp_path: Path, monkeypatch
) -> None:
    from classifier.serve.config import ServeConfig
    from classifier.serve.server import check

    directory = _saved(fitted, taxonomy, tmp_path / "m")
    monkeypatch.setattr(registry, "available", lambda: False)
    config = ServeConfig(model=directory, taxonomy=taxonomy_file, db=tmp_path / "d.sqlite")
    with pytest.raises(EncoderError, match="the encoder extra is not installed"):
        check(config)


@pytest.mark.parametrize(
    ("installed", "says"),
    [
        (replace(SPEC, sha256=hashlib.sha256(b"other").hexdigest()), "installed is 1.0"),
        (replace(SPEC, version="2.0"), "installed is 2.0"),
        (None, "does not know"),
    ],
)
def test_loading_with_another_encoder_is_refused(
    registry_with_fake, fitted, taxonomy, tmp_path: Path, monkeypatch, installed, says
) -> None:
    directory = _saved(fitted, taxonomy, tmp_path / "m")
    monkeypatch.setattr(registry, "ENCODERS", {} if installed is None else {SPEC.name: installed})
    with pytest.raises(EncoderError) as error:
        load_model(directory, taxonomy)
    message = _one_line(error)
    assert str(directory) in message and says in message
    assert "install feedtag-test-encoder==1.0 or retrain" in message
    assert registry_with_fake == []  # refused before loading any weights


def test_weights_whose_checksum_differs_from_the_record_are_refused(
    registry_with_fake, fitted, taxonomy, tmp_path: Path, monkeypatch
) -> None:
    directory = _saved(fitted, taxonomy, tmp_path / "m")
    corrupt = replace(SPEC, sha256=hashlib.sha256(b"corrupt").hexdigest())
    monkeypatch.setattr(registry, "load_encoder", lambda spec: FakeEncoder(corrupt))
    with pytest.raises(EncoderError) as error:
        load_model(directory, taxonomy)
    assert "the installed weights have sha256" in _one_line(error)


def test_a_calibrated_encoder_model_keeps_its_encoder(
    registry_with_fake, fitted, taxonomy, tmp_path: Path
) -> None:
    from classifier.model.calibration import calibrate
    from classifier.model.store import save_calibrated

    directory = _saved(fitted, taxonomy, tmp_path / "m")
    rows = pd.DataFrame(tiny_corpus(80, seed=1))
    loaded = load_model(directory, taxonomy)
    result = calibrate(loaded, rows["text"].tolist(), rows[["team"]], folds=2)
    save_calibrated(result.model, directory, tmp_path / "c", team_calibration=result.report)
    assert json.loads((tmp_path / "c" / "model.json").read_text())["encoder"]["name"] == "fake-16"
    again = load_model(tmp_path / "c", taxonomy)
    assert again.predict(["the API endpoint crashes"])["team"][0] == "api"


def test_a_model_without_an_encoder_records_nothing_of_it(tiny_model: Path) -> None:
    meta = json.loads((tiny_model / "meta.json").read_text())
    assert "encoder" not in meta
    assert not {"encoder", "encoder_weight"} & set(meta["params"])
    assert "encoder" not in json.loads((tiny_model / "model.json").read_text())
    assert "Sentence encoder" not in (tiny_model / "card.md").read_text()


# ------------------------------------------------------------------------- CLI
@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.csv"
    pd.DataFrame(tiny_corpus(120)).to_csv(path, index=False)
    return path


def test_cli_train_with_the_extra_missing_is_one_line_and_exit_2(
    corpus_file, taxonomy_file, tmp_path: Path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from cli import app

    monkeypatch.setattr(registry, "available", lambda: False)
    args = ["train", str(corpus_file), "--taxonomy", str(taxonomy_file), "--out"]
    result = CliRunner().invoke(app, [*args, str(tmp_path / "m"), "--encoder", "default"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'default' needs the encoder extra: pip install 'feedtag[encoder]'" in lines[0]
    assert not (tmp_path / "m").exists()


def test_cli_train_with_an_encoder_then_suggest(
    registry_with_fake, corpus_file, taxonomy_file, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cli import app

    runner = CliRunner()
    base = ["--taxonomy", str(taxonomy_file)]
    model = tmp_path / "m"
    trained = runner.invoke(
        app,
        ["train", str(corpus_file), *base, "--out", str(model), "--folds", "2"]
        + ["--encoder", "default", "--encoder-weight", "2"],
    )
    assert trained.exit_code == 0, trained.stderr
    assert json.loads((model / "model.json").read_text())["encoder"]["weight"] == 2.0
    assert len(registry_with_fake) == 1  # loaded once for the whole command
    suggested = runner.invoke(
        app, ["suggest", "the API endpoint crashes", *base, "--model", str(model)]
    )
    assert suggested.exit_code == 0, suggested.stderr
    assert "api" in suggested.stdout
