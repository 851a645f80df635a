"""``normalise_text`` (the duplicate checks' notion of "the same text") against its definition."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from classifier.corpus import normalise_text

NOISE = (string.punctuation + string.whitespace).encode()


def reference(text: str) -> str:
    """The definition, one text at a time: lowercase; ASCII loses punctuation and spacing;
    anything else (or holding NUL) is NFKD-decomposed, casefolded, letters and digits kept."""
    lowered = text.lower()
    if lowered.isascii() and "\x00" not in lowered:
        return lowered.encode("ascii").translate(None, NOISE).decode("ascii")
    decomposed = unicodedata.normalize("NFKD", lowered).casefold()
    return "".join(c for c in decomposed if unicodedata.category(c)[0] in "LN")


TEXT = st.text(
    st.characters(codec="utf-8") | st.sampled_from(list(string.printable) + ["\x00", "\x01"]),
    max_size=30,
)


@given(st.lists(TEXT, max_size=20))
@example(["Hello, World!", "hello world", "  HELLO\tworld  ", "Café", "CAFE\u0301", ""])
@example(["\u212a\x01", "K\x01", "a\x00b", "ﬁne", "Straße", "İstanbul", "\x0b\x0c"])
@example(["Plain, ASCII!", "", "all of them"])  # one pass over the join
@example(["a\x00b", "Plain", "\x00"])  # ASCII, but a NUL would split the join
@example(["ΑΣ", "Σb", "aΣ."])  # final sigma: lowered one by one
@example([])
def test_normalise_text_is_its_definition(texts):
    expected = [reference(t) for t in texts]
    assert list(normalise_text(texts)) == expected
    assert all(type(t) is str for t in normalise_text(texts))
