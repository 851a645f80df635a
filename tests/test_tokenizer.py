"""The plain-Python port of spaCy's tokenizer gives spaCy's tokens, on chosen and random text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.model.schema import TokenizerRules
from classifier.model.text import spacy_tokens
from classifier.model.tokenizer import RuleTokenizer, export_rules, is_punct

CHOSEN = [
    "",
    " ",
    "  a  b ",
    "a\n\nb\t c",
    "can't won't I'm y'all ain't gonna lemme 'em C'mon 'Cause o'clock",
    "a.m. p.m. e.g. i.e. Mr. Smith Dr. Who U.S.A. hello.:)",
    ":) :-( <3 (: ;) :)) ..:) (can't) \"can't\" it's. don't!!",
    "http://x.com/a?b=1 www.foo.org https://a.b/c#d, (https://e.f)",
    "“quoted” ‘single’ «guillemets» —dash— – ‒ …",
    "emoji 😀🙈 test 👍🏽 flags 🇫🇷",
    "naïve café Straße ǅ İstanbul",
    "1,000.00 $5 10% 3rd 10am 5pm 2024-05-01 12:30 +44 20",
    "e-mail re-enter co-op rock'n'roll well-known 3-4",
    "(hello) [world] {x} <tag> a/b a\\b a|b a_b",
    "\u00a0x\u00a0 x\u2028y z\u0085w \u3000wide",
    "日本語のテキスト 中文 한국어 العربية עברית",
    "Ma'am ma'am 's 's' ’s ’re n’t",
    "xxurl xxemail xxnum",
]


@pytest.fixture(scope="module")
def spacy_tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


@pytest.fixture(scope="module")
def rules():
    return export_rules()


@pytest.fixture(scope="module")
def port(rules):
    return RuleTokenizer(rules)


@pytest.mark.parametrize("text", CHOSEN)
def test_chosen_texts_tokenise_as_spacy(spacy_tokenizer, port, text):
    assert port.tokens(text) == [t.text for t in spacy_tokenizer(text)]
    assert port.words(text) == spacy_tokens(text)


def test_every_special_case_alone_and_with_affixes(spacy_tokenizer, port, rules):
    texts = []
    for chunk in rules["special_cases"]:
        texts += [chunk, f"({chunk})", f"{chunk}.", f"x {chunk}!", f'"{chunk}",']
    for text in texts:
        assert port.tokens(text) == [t.text for t in spacy_tokenizer(text)], text


PUNCTUATED = st.lists(
    st.sampled_from([*"ab'’-.:;)(\"!?,/@#$%&* \n\t0129AZé😀\u00a0", "n't", "'s", ":)", "a.m."]),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(PUNCTUATED, st.text(max_size=40)))
def test_random_text_tokenises_as_spacy(spacy_tokenizer, port, text):
    assert port.tokens(text) == [t.text for t in spacy_tokenizer(text)]


def test_rules_round_trip_through_json_and_the_schema(rules, port):
    again = TokenizerRules.model_validate_json(json.dumps(rules)).model_dump()
    assert RuleTokenizer(again).tokens(CHOSEN[4]) == port.tokens(CHOSEN[4])


def test_is_punct_is_unicode_punctuation():
    assert is_punct("...") and is_punct("“") and is_punct("-")
    assert not is_punct("$") and not is_punct("a.") and not is_punct("😀")
