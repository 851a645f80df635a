"""``feedtag review``: agents accept or override suggested tags, one keypress each.

``session`` holds the logic (queue, suggestions, decisions) with no terminal; ``app`` is the
Textual screen over it (imported only when a review starts); ``headless`` drives the app
without a terminal, for scripts and for tests that kill a review mid-way.
"""

from classifier.review.session import (
    ONLY,
    CannotDecide,
    Item,
    ReviewSession,
    Suggest,
    Suggestion,
    alternatives,
    from_classifier,
    load_suggester,
)

__all__ = [
    "ONLY",
    "CannotDecide",
    "Item",
    "ReviewSession",
    "Suggest",
    "Suggestion",
    "alternatives",
    "from_classifier",
    "load_suggester",
]
