"""Text normalisation: masks for URLs, e-mail addresses and numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from classifier.model.text import mask, normalise, spacy_tokens


def test_masks_each_kind_once():
    text = (
        "Write to jo.doe+x@mail.example.com or see https://a.io/x?id=7 about 1,299.00 on 2024-05-01"
    )
    masked = mask(text).split()
    assert masked.count("xxemail") == 1
    assert masked.count("xxurl") == 1
    assert masked.count("xxnum") == 2
    assert not any(ch.isdigit() for ch in mask(text))


def test_masks_can_be_switched_off():
    assert mask("call 555 at www.x.com", urls=False, numbers=False) == "call 555 at www.x.com"
    assert mask("call 555", numbers=True).split() == ["call", "xxnum"]


def test_normalise_tolerates_missing_values():
    assert normalise([None, float("nan"), 12]) == ["", "", " xxnum "]


@given(st.text(max_size=80))
def test_masking_is_idempotent(text):
    once = mask(text)
    assert mask(once) == once


def test_spacy_tokenizer_splits_contractions_and_drops_punctuation():
    assert spacy_tokens("Card hasn't arrived!") == ["card", "has", "n't", "arrived"]
