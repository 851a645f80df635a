"""Text normalisation before feature extraction.

Support messages carry URLs, e-mail addresses and numbers (order ids, amounts, dates) whose exact
spelling says nothing about the tag but multiplies the vocabulary. Masking folds each kind into
one placeholder token. Which steps earn their place is measured in ``bench/bench_classifier.py``
(``--ablation``) and written down in BENCHMARKS.md.

The masks make no measurable difference on Banking77 or HWU64 (few URLs, e-mails or numbers
there), but they keep customers' e-mail addresses, links and order numbers out of the model's
vocabulary, which is saved in the model directory (``vocabulary.json``): kept for that reason.

The spaCy tokenizer (a blank English pipeline: rules only, no model download) is the word
tokenizer: it splits contractions and keeps one-letter words, worth 0.1-0.2 points of
cross-validated accuracy over scikit-learn's regular expression for a few microseconds a
message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits with their separators, so "1,299.00" and "2024-05-01" become one token each.
NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")

URL_TOKEN = " xxurl "
EMAIL_TOKEN = " xxemail "
NUMBER_TOKEN = " xxnum "
# Words spaCy's vocabulary may hold before the tokenizer starts afresh. It keeps a lexeme for
# every distinct word it ever saw, so a long-running ``feedtag serve`` would grow by about
# 0.6 KiB per new name or typo; about 20k words (some 12 MiB) then a new tokenizer (0.1 s),
# whose tokens are the same: the rules do not depend on what the vocabulary has seen.
VOCAB_LIMIT = 20_000


def mask(text: str, *, urls: bool = True, emails: bool = True, numbers: bool = True) -> str:
    """Replace URLs, e-mail addresses and numbers by placeholder words.

    URLs go first (they may hold an ``@`` or digits), then e-mails, then numbers.

    Examples
    --------
    >>> mask("Mail bob@example.com about order 12,345 at https://x.io/a?b=1")
    'Mail  xxemail  about order  xxnum  at  xxurl '
    """
    if urls:
        text = URL.sub(URL_TOKEN, text)
    if emails and "@" in text:  # the expression would try every word otherwise
        text = EMAIL.sub(EMAIL_TOKEN, text)
    if numbers:
        text = NUMBER.sub(NUMBER_TOKEN, text)
    return text


def normalise(
    texts: Iterable[Any], *, urls: bool = True, emails: bool = True, numbers: bool = True
) -> list[str]:
    """Texts as strings with the chosen masks applied; ``None`` and NaN become ``""``."""
    out = []
    for text in texts:
        if text is None or (isinstance(text, float) and text != text):
            out.append("")
            continue
        out.append(mask(str(text), urls=urls, emails=emails, numbers=numbers))
    return out


@cache
def _spacy_tokenizer() -> Any:
    import spacy

    return spacy.blank("en").tokenizer


def spacy_tokens(text: str) -> list[str]:
    """Lower-cased word tokens from spaCy's rule-based English tokenizer (punctuation dropped).

    It splits contractions (``hasn't`` -> ``has``, ``n't``) where the regular expression keeps
    ``hasn``; usable as ``TextFeatures(tokenizer="spacy")``.
    """
    tokenizer = _spacy_tokenizer()
    tokens = [t.lower_ for t in tokenizer(text) if not (t.is_punct or t.is_space)]
    if len(tokenizer.vocab) > VOCAB_LIMIT:
        _spacy_tokenizer.cache_clear()
    return tokens
