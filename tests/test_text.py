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


def test_the_spacy_tokenizer_starts_afresh_past_its_vocabulary_limit(monkeypatch):
    from classifier.model import text

    monkeypatch.setattr(text, "VOCAB_LIMIT", len(text._spacy_tokenizer().vocab) + 50)
    first = text._spacy_tokenizer()
    words = [f"zq{chr(97 + i // 26)}{chr(97 + i % 26)}x" for i in range(100)]
    tokens = [spacy_tokens(f"Card hasn't arrived, {word}!") for word in words]
    assert text._spacy_tokenizer() is not first  # the grown vocabulary was let go
    assert tokens == [["card", "has", "n't", "arrived", word] for word in words]
