"""Errors a user can act on.

The library raises these; the CLI renders each as one red line on stderr and exits 2.
Messages name the file and the line, row or column, and say what to do.
"""


class FeedtagError(Exception):
    """Base class: a problem with the user's input, not a bug in feedtag."""


class TaxonomyError(FeedtagError):
    """The taxonomy file is missing, unreadable or invalid.

    ``problems`` holds every ``FILE:LINE: message`` found, so all are reported at once.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class CorpusError(FeedtagError):
    """A corpus file cannot be read as messages with tags."""


class ModelError(FeedtagError):
    """A model directory is missing, tampered with, or does not fit the taxonomy."""


class OutputError(FeedtagError):
    """An output cannot be written where the user asked."""


class UsageError(FeedtagError):
    """Options that do not fit together or name something that does not exist."""


class DecisionsError(FeedtagError):
    """A review decisions file is missing, unreadable, or names tags the taxonomy lacks."""


class IdempotencyConflict(DecisionsError):
    """An idempotency key already names a different decision."""


class EncoderError(FeedtagError):
    """A sentence encoder is unknown, not installed, or its weights fail their pinned checksum."""
