"""What the support team measures: load, staffing, first response, new users, repeats, trends.

``compute_stats`` reads nothing itself: give it a corpus (or ``stats_of_chunks`` the chunks of
one) and, optionally, the users and active-users files read by ``classifier.stats.users``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from classifier.stats.frame import Contacts, build_contacts
from classifier.stats.results import Stats
from classifier.stats.trends import SpikeRule

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus
    from classifier.stats.users import Users

__all__ = [
    "Contacts",
    "SpikeRule",
    "Stats",
    "StatsOptions",
    "build_contacts",
    "compute_stats",
    "stats_of_chunks",
]


@dataclass(frozen=True)
class StatsOptions:
    """The options of ``feedtag stats``, validated where they are used."""

    timezone: str = "UTC"
    since: str | None = None
    until: str | None = None
    by: str | None = None  # trends on this axis only
    skip_bad_dates: bool = False
    spike: SpikeRule = field(default_factory=SpikeRule)


def compute_stats(
    corpus: Corpus,
    options: StatsOptions | None = None,
    users: Users | None = None,
    active: dict[pd.Timestamp, int] | None = None,
) -> Stats:
    """Every figure of ``feedtag stats`` for ``corpus``: :func:`stats_of_chunks` of one chunk."""
    return stats_of_chunks([corpus], options, users, active)


def stats_of_chunks(
    chunks: Iterable[Corpus],
    options: StatsOptions | None = None,
    users: Users | None = None,
    active: dict[pd.Timestamp, int] | None = None,
) -> Stats:
    """Every figure of ``feedtag stats`` for a corpus read in chunks (``dataset.iter_chunks``).

    Each chunk is reduced to compact columns as it comes (``frame.message_columns``: times,
    hashed conversation ids, user ids, tags as categories), so memory follows those, not
    the corpus; the figures are the same whatever the chunk size.
    """
    from itertools import chain

    from classifier.errors import CorpusError, UsageError
    from classifier.stats import metrics
    from classifier.stats.frame import contacts_of_chunks
    from classifier.stats.results import Skips
    from classifier.stats.trends import trends

    options = options or StatsOptions()
    chunks = iter(chunks)
    first = next(chunks)
    if options.by is not None and options.by not in first.taxonomy.axes:
        axes = ", ".join(first.taxonomy.axes)
        raise UsageError(f"--by '{options.by}': no such axis; choose from: {axes}")
    data = contacts_of_chunks(
        chain([first], chunks),
        options.timezone,
        options.since,
        options.until,
        skip_bad_dates=options.skip_bad_dates,
    )
    if users is not None and not data.has_users:
        raise CorpusError(
            f"{first.path}: no user_id column, so --users {users.path} cannot be matched"
        )
    counts, means = metrics.hour_weekday(data)
    return Stats(
        source=first.path,
        timezone=options.timezone,
        messages=len(data.messages),
        contacts=len(data.contacts),
        skipped=Skips(
            created_at=data.skipped.created_at,
            first_response=data.skipped.first_response,
            users=0 if users is None else users.skipped,
        ),
        weeks=metrics.weekly(data, active),
        hour_weekday=counts,
        hour_weekday_mean=means,
        first_response_by_team=metrics.response_by_team(data),
        first_week=None if users is None else metrics.first_week(data, users),
        repeat_contacts=metrics.repeat_contacts(data),
        tags=metrics.tag_totals(data),
        trends=trends(data, options.spike, (options.by,) if options.by else None),
        spike_rule=options.spike.describe(),
    )
