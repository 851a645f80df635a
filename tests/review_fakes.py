"""A fake suggester for review tests, built from whatever taxonomy it is given.

On each axis it suggests the first suggestable tag whose id appears in the text, confidently
(``auto``); otherwise the first suggestable tag, unsure (``review``). The other suggestable
tags follow as alternatives. Importable by a review running in another process
(``review_fakes:make``).
"""

from __future__ import annotations

from classifier.review import Suggestion


class FakeSuggester:
    def __init__(self, taxonomy):
        self.taxonomy = taxonomy
        self.calls: list[list[str]] = []

    def suggestion(self, axis: str, text: str) -> Suggestion:
        tags = self.taxonomy.suggestable(axis)
        named = [tag for tag in tags if tag in text.lower()]
        tag = (named or tags)[0]
        confidence = 0.9 if named else 0.55
        rest = [other for other in tags if other != tag]
        share = (1 - confidence) / max(len(rest), 1)
        return Suggestion(
            tag=tag,
            confidence=confidence,
            status="auto" if named else "review",
            alternatives=tuple((other, round(share / (i + 1), 4)) for i, other in enumerate(rest)),
        )

    def __call__(self, texts: list[str]) -> dict[str, list[Suggestion]]:
        self.calls.append(list(texts))
        return {
            axis: [self.suggestion(axis, text) for text in texts] for axis in self.taxonomy.axes
        }


def make(taxonomy) -> FakeSuggester:
    return FakeSuggester(taxonomy)
