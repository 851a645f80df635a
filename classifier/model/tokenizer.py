"""spaCy's rule-based English tokenizer in plain Python, from rules saved with the model.

Importing spaCy costs most of a second (thinc, its CLI, catalogue ...), more than the rest of
``feedtag suggest`` together, yet the word features only need ``spacy.blank("en").tokenizer``:
a few regular expressions and a table of exceptions. ``export_rules`` reads those from the
installed spaCy when a model is saved (they go into the model directory as ``tokenizer.json``);
``RuleTokenizer`` applies them with the algorithm of spaCy's ``tokenizer.pyx`` (version 3),
ported step by step, so a loaded model needs no spaCy at all. ``tests/test_tokenizer.py``
checks the tokens against spaCy itself on varied and random text.

Only the token texts matter here (``spacy_tokens`` keeps ``lower_`` of the tokens that are
neither punctuation nor space), so no ``Doc``, lexemes or character offsets are built.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RULES_VERSION = 1
CACHE_SIZE = 100_000
# Runs of whitespace and of anything else: the chunks spaCy's tokenizer starts from.
RUNS = re.compile(r"\s+|\S+")


def export_rules() -> dict[str, Any]:
    """The installed spaCy's English tokenizer rules as JSON-able data (imports spaCy)."""
    import spacy
    from spacy.symbols import ORTH

    tokenizer = spacy.blank("en").tokenizer

    def pattern(method: Any) -> dict[str, Any] | None:
        if method is None:
            return None
        compiled = method.__self__
        return {"pattern": compiled.pattern, "flags": int(compiled.flags)}

    rules = {}
    for chunk, substrings in sorted(tokenizer.rules.items()):
        rules[chunk] = [str(s.get(ORTH, s.get("ORTH", s.get("orth")))) for s in substrings]
    return {
        "rules_version": RULES_VERSION,
        "spacy": spacy.__version__,
        "prefix": pattern(tokenizer.prefix_search),
        "suffix": pattern(tokenizer.suffix_search),
        "infix": pattern(tokenizer.infix_finditer),
        "token_match": pattern(tokenizer.token_match),
        "url_match": pattern(tokenizer.url_match),
        "faster_heuristics": bool(tokenizer.faster_heuristics),
        "special_cases": rules,
    }


def _compile(spec: dict[str, Any] | None) -> re.Pattern[str] | None:
    return None if spec is None else re.compile(spec["pattern"], spec["flags"])


def is_punct(text: str) -> bool:
    """spaCy's ``IS_PUNCT``: every character in a Unicode punctuation category."""
    return all(unicodedata.category(char).startswith("P") for char in text)


@dataclass
class RuleTokenizer:
    """Token texts exactly as spaCy's tokenizer splits them, given its exported rules.

    ``words(text)`` is what ``classifier.model.text.spacy_tokens`` returns: lower-cased
    tokens, punctuation and whitespace dropped. Results are cached per whitespace-separated
    chunk, as spaCy caches them, and each token's word (or its absence) per token text.
    """

    rules: dict[str, Any]
    _prefix: re.Pattern[str] | None = field(init=False, repr=False)
    _suffix: re.Pattern[str] | None = field(init=False, repr=False)
    _infix: re.Pattern[str] | None = field(init=False, repr=False)
    _token_match: Callable[[str], Any] | None = field(init=False, repr=False)
    _url_match: Callable[[str], Any] | None = field(init=False, repr=False)
    _specials: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _matcher: dict[str, list[tuple[str, ...]]] | None = field(init=False, repr=False)
    _cache: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    _words: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._prefix = _compile(self.rules["prefix"])
        self._suffix = _compile(self.rules["suffix"])
        self._infix = _compile(self.rules["infix"])
        token_match = _compile(self.rules["token_match"])
        url_match = _compile(self.rules["url_match"])
        self._token_match = None if token_match is None else token_match.match
        self._url_match = None if url_match is None else url_match.match
        self._specials = {k: tuple(v) for k, v in self.rules["special_cases"].items()}
        self._matcher = None  # built on first use: most texts never need it
        self._cache = dict(self._specials)  # special cases first, never overwritten
        self._words = {}

    # ---------------------------------------------------------------- public
    def tokens(self, text: str) -> list[str]:
        """Every token text spaCy's ``Tokenizer.__call__`` produces, whitespace tokens included."""
        orths, spaced = self._tokenize_affixes(text, True)
        return self._apply_special_cases(orths, spaced)

    def words(self, text: str) -> list[str]:
        """Lower-cased tokens that are neither punctuation nor whitespace."""
        known = self._words
        if len(known) >= CACHE_SIZE:
            known.clear()
        words = []
        for token in self.tokens(text):
            word = known.get(token)
            if word is None:  # "" for a token dropped
                word = known[token] = "" if is_punct(token) or token.isspace() else token.lower()
            if word:
                words.append(word)
        return words

    # ------------------------------------------------- tokenizer.pyx, ported
    def _tokenize_affixes(self, string: str, specials: bool) -> tuple[list[str], list[int]]:
        """Tokens of each run of whitespace or not, and which tokens one space follows."""
        orths: list[str] = []
        spaced: list[int] = []
        known = self._cache if specials else {}
        for k, run in enumerate(RUNS.findall(string)):
            if k and run[0] == " ":  # the first space after a word belongs to its last token
                spaced.append(len(orths) - 1)
                run = run[1:]
                if not run:
                    continue
            pieces = known.get(run)
            orths += self._tokenize(run, specials) if pieces is None else pieces
        return orths, spaced

    def _tokenize(self, span: str, specials: bool) -> tuple[str, ...]:
        prefixes: list[str] = []
        suffixes: list[str] = []
        rest = self._split_affixes(span, prefixes, suffixes, specials)
        pieces = tuple(self._attach(rest, prefixes, suffixes, specials))
        if specials and len(self._cache) < CACHE_SIZE:
            self._cache[span] = pieces
        return pieces

    def _find_prefix(self, string: str) -> int:
        match = None if self._prefix is None else self._prefix.search(string)
        return 0 if match is None else match.end() - match.start()

    def _find_suffix(self, string: str) -> int:
        match = None if self._suffix is None else self._suffix.search(string)
        return 0 if match is None else match.end() - match.start()

    def _find_infix(self, string: str) -> list[re.Match[str]]:
        return [] if self._infix is None else list(self._infix.finditer(string))

    def _split_affixes(
        self, string: str, prefixes: list[str], suffixes: list[str], specials: bool
    ) -> str:
        last_size = 0
        special = self._specials if specials else {}
        while string and len(string) != last_size:
            if self._token_match and self._token_match(string):
                break
            if string in special:
                break
            last_size = len(string)
            pre_len = self._find_prefix(string)
            if pre_len != 0:
                prefix = string[:pre_len]
                minus_pre = string[pre_len:]
                if minus_pre and minus_pre in special:
                    prefixes.append(prefix)
                    string = minus_pre
                    break
            suf_len = self._find_suffix(string[pre_len:])
            if suf_len != 0:
                suffix = string[-suf_len:]
                minus_suf = string[:-suf_len]
                if minus_suf and minus_suf in special:
                    suffixes.append(suffix)
                    string = minus_suf
                    break
            if pre_len and suf_len and (pre_len + suf_len) <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        return string

    def _attach(
        self, string: str, prefixes: list[str], suffixes: list[str], specials: bool
    ) -> list[str]:
        tokens = list(prefixes)
        if string:
            if specials and string in self._cache:
                tokens.extend(self._cache[string])
            elif (self._token_match and self._token_match(string)) or (
                self._url_match and self._url_match(string)
            ):
                tokens.append(string)
            else:
                matches = self._find_infix(string)
                if not matches:
                    tokens.append(string)
                else:
                    start = 0
                    start_before_infixes = start
                    for match in matches:
                        infix_start, infix_end = match.start(), match.end()
                        if infix_start == start_before_infixes:
                            continue
                        if infix_start != start:
                            tokens.append(string[start:infix_start])
                        if infix_start != infix_end:
                            tokens.append(string[infix_start:infix_end])
                        start = infix_end
                    if string[start:]:
                        tokens.append(string[start:])
        tokens.extend(reversed(suffixes))
        return tokens

    def _special_patterns(self) -> dict[str, list[tuple[str, ...]]]:
        """spaCy's ``_special_matcher``: the affix tokenization of each special case that the
        affix rules would split, keyed by its first token."""
        if self._matcher is None:
            matcher: dict[str, list[tuple[str, ...]]] = {}
            heuristics = self.rules["faster_heuristics"]
            for chunk in sorted(self._specials):
                if (
                    not heuristics
                    or self._find_prefix(chunk)
                    or self._find_infix(chunk)
                    or self._find_suffix(chunk)
                    or " " in chunk
                ):
                    pattern = tuple(self._tokenize_affixes(chunk, False)[0])
                    # One token that becomes itself (" ", "'") changes nothing and, shorter
                    # than any other match, cannot hide one either: left out.
                    if pattern and not (len(pattern) == 1 and self._specials[chunk] == pattern):
                        matcher.setdefault(pattern[0], []).append(pattern)
            self._matcher = matcher
        return self._matcher

    def _apply_special_cases(self, orths: list[str], spaced: list[int]) -> list[str]:
        patterns = self._special_patterns()
        if patterns.keys().isdisjoint(orths):
            return orths
        matches = []
        for start in [i for i, orth in enumerate(orths) if orth in patterns]:
            for pattern in patterns[orths[start]]:
                end = start + len(pattern)
                if tuple(orths[start:end]) == pattern:
                    matches.append((start, end))
        if not matches:
            return orths
        # _filter_special_spans: longest first, then earliest; a span is kept when neither
        # its first nor its last token was covered by a span looked at before.
        matches.sort(key=lambda m: (-(m[1] - m[0]), m[0]))
        seen: set[int] = set()
        kept = []
        for start, end in matches:
            if start not in seen and end - 1 not in seen:
                kept.append((start, end))
            seen.update(range(start, end))
        after = set(spaced)
        out: list[str] = []
        i = 0
        for start, end in sorted(kept):  # disjoint: shorter spans come later
            text = "".join(orths[j] + " " * (j in after) for j in range(start, end - 1))
            text += orths[end - 1]
            out += orths[i:start]
            out += self._specials.get(text, orths[start:end])
            i = end
        out += orths[i:]
        return out
