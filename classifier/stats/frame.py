"""The contacts table: a corpus read as conversations in time, in the lead's time zone.

A **contact** is a conversation (``conversation_id``; a row without one is its own
conversation), counted once, at its first message. A **message** is a row. Weeks are ISO weeks
(Monday first) in the chosen zone; hours of day and weekdays too, DST included. Every metric in
``classifier.stats`` is a function of the ``Contacts`` built here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from classifier.corpus import timestamps
from classifier.errors import CorpusError, UsageError

if TYPE_CHECKING:
    from classifier.corpus import Corpus

NONE, SEVERAL, UNKNOWN = "(none)", "(several)", "(unknown)"
SPECIAL = (NONE, SEVERAL, UNKNOWN)


@dataclass(frozen=True)
class Skipped:
    """What ``--skip-bad-dates`` left out: rows without a readable ``created_at``, and
    first-response values that were unreadable or before the message (counted as unanswered)."""

    created_at: int = 0
    first_response: int = 0


@dataclass(frozen=True)
class Contacts:
    """Messages and contacts of a corpus, placed in time.

    Attributes
    ----------
    messages : pandas.DataFrame
        One row per message in the selected dates: ``created`` (UTC) and ``week`` (the local
        Monday, a naive date-time).
    contacts : pandas.DataFrame
        One row per contact: ``row`` (of its first message), ``user`` (a position in
        ``user_ids``, -1 without a user id),
        ``start`` (UTC), ``week``, ``weekday`` (0 = Monday), ``hour`` (local), one column per
        axis with the contact's tag (its first message's: a tag id, ``(none)``,
        ``(several)`` or ``(unknown)``), and ``response_s`` (seconds to the first response,
        NaN where there is none).
    weeks : pandas.DatetimeIndex
        The local Monday of every week from the first to the last, none left out.
    start, end : pandas.Timestamp
        The time observed (UTC): ``--since``/``--until`` where given, else the first and last
        message. Cohorts and repeat contacts count only what fits inside it.
    """

    source: str
    zone: str
    messages: pd.DataFrame
    contacts: pd.DataFrame
    weeks: pd.DatetimeIndex
    start: pd.Timestamp
    end: pd.Timestamp
    axes: tuple[str, ...]
    user_ids: np.ndarray
    skipped: Skipped
    has_users: bool
    has_responses: bool


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a one-line error saying what to write."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone '{name}': not an IANA time zone; write e.g. UTC, Europe/Berlin "
            "or America/New_York"
        ) from None


def parse_day(value: str, option: str, zone: ZoneInfo, *, end: bool = False) -> pd.Timestamp:
    """An ISO date (midnight in ``zone``; a date-only ``end`` means the next midnight) or an
    ISO date-time (naive ones in ``zone``), as UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end else 0)
            moment = dt.datetime.combine(day, dt.time())
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option} '{value}': not an ISO date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return pd.Timestamp(moment).tz_convert("UTC")


def monday(local: pd.Series) -> pd.Series:
    """The Monday 00:00 of each naive local time's ISO week."""
    day = local.dt.normalize()
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


def build_contacts(
    corpus: Corpus,
    timezone: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    *,
    skip_bad_dates: bool = False,
) -> Contacts:
    """Place every message and contact of ``corpus`` in time in ``timezone``: the
    :func:`contacts_of_chunks` of one chunk.

    Raises
    ------
    CorpusError
        No ``created_at`` column, or a bad timestamp (naming the row) without ``skip_bad_dates``.
    UsageError
        A bad ``--timezone``, ``--since`` or ``--until``.
    """
    return contacts_of_chunks([corpus], timezone, since, until, skip_bad_dates=skip_bad_dates)


@dataclass(frozen=True)
class Period:
    """``--timezone``, ``--since`` and ``--until`` checked: the zone and the UTC bounds."""

    zone: ZoneInfo
    first: pd.Timestamp | None
    last: pd.Timestamp | None  # exclusive


def period(timezone: str, since: str | None, until: str | None) -> Period:
    """Validate the options of time before any corpus is read.

    Raises
    ------
    UsageError
        A bad ``--timezone``, ``--since`` or ``--until``.
    """
    zone = zone_of(timezone)
    first = parse_day(since, "--since", zone) if since else None
    last = parse_day(until, "--until", zone, end=True) if until else None
    if first is not None and last is not None and first >= last:
        raise UsageError(f"--since {since} is not before --until {until}: no time to count")
    return Period(zone, first, last)


@dataclass(frozen=True)
class MessageColumns:
    """One chunk reduced to what the contacts table needs: its messages in the dates asked
    for, as compact columns (``rows``: ``row``, ``created`` (UTC), ``conversation`` (a
    64-bit hash of the id), ``alone`` (no conversation id), ``user`` (the id, a category;
    missing without one), one categorical column per axis with the tag (see ``_labels``),
    ``response_s``), and what was left out."""

    source: str
    rows: pd.DataFrame
    bad_created: int
    bad_responses: int
    response_error: CorpusError | None  # raised once every chunk's created_at is known good
    axes: tuple[str, ...]
    has_users: bool
    has_responses: bool


def message_columns(
    corpus: Corpus, when: Period, *, skip_bad_dates: bool = False
) -> MessageColumns:
    """Reduce one chunk of a corpus to its :class:`MessageColumns` (pure: the chunk alone).

    Raises
    ------
    CorpusError
        No ``created_at`` column, or a bad timestamp (naming the row) without
        ``skip_bad_dates``. A bad first response is returned, not raised: the whole corpus's
        bad ``created_at`` is named first, wherever it is.
    """
    messages = corpus.messages
    if "created_at" not in messages:
        columns = ", ".join(str(c) for c in corpus.frame.columns)
        raise CorpusError(
            f"{corpus.path}: no created_at column (stats need the time of every message); "
            f"columns are: {columns}"
        )
    created = timestamps(messages["created_at"])
    bad = created.isna().to_numpy()
    if bad.any() and not skip_bad_dates:
        at = int(np.flatnonzero(bad)[0])
        raise CorpusError(
            f"{corpus.path}: row {messages['row'].iat[at]}, column '{corpus.columns.created_at}': "
            f"'{messages['created_at'].iat[at]}' is not an ISO 8601 time; fix it, or pass "
            "--skip-bad-dates to count and leave out such rows"
        )
    response, bad_responses, error = _responses(corpus, created, skip_bad_dates)
    keep = ~bad
    if when.first is not None:
        keep &= (created >= when.first).to_numpy()
    if when.last is not None:
        keep &= (created < when.last).to_numpy()
    kept = np.flatnonzero(keep)
    conversation, alone = _conversations(messages)
    rows = pd.DataFrame(
        {
            "row": messages["row"].to_numpy(dtype=np.int64)[kept],
            "created": created.iloc[kept].reset_index(drop=True),
            "conversation": conversation[kept],
            "alone": alone[kept],
            "user": _categorical(_users(messages).to_numpy(dtype=object)[kept]),
            **{axis: _categorical(_labels(corpus, axis)[kept]) for axis in corpus.taxonomy.axes},
            "response_s": response[kept],
        }
    )
    return MessageColumns(
        source=corpus.path,
        rows=rows,
        bad_created=int(bad.sum()),
        bad_responses=bad_responses,
        response_error=error,
        axes=tuple(corpus.taxonomy.axes),
        has_users="user_id" in messages,
        has_responses=corpus.columns.first_response_at is not None
        or corpus.columns.first_response_seconds is not None,
    )


def _categorical(values: np.ndarray) -> pd.Categorical:
    """Text values (``None`` for missing) as a categorical whose categories are plain objects,
    so the chunks' categories can be united whatever each chunk holds."""
    values = pd.Series(values, dtype=object)
    return pd.Categorical(values, categories=pd.Index(values.dropna().unique(), dtype=object))


def contacts_of_chunks(
    chunks: Iterable[Corpus],
    timezone: str = "UTC",
    since: str | None = None,
    until: str | None = None,
    *,
    skip_bad_dates: bool = False,
) -> Contacts:
    """The contacts table of a corpus read in chunks: each chunk reduced to its
    :class:`MessageColumns` as it comes (only those are kept), then :func:`combine_columns`."""
    when = period(timezone, since, until)
    parts = [message_columns(chunk, when, skip_bad_dates=skip_bad_dates) for chunk in chunks]
    return combine_columns(parts, timezone, when)


def combine_columns(parts: list[MessageColumns], timezone: str, when: Period) -> Contacts:
    """The combine step: the chunks' compact columns end to end, placed in time.

    Raises
    ------
    CorpusError
        The first bad first response of any chunk, or no message in the dates asked for.
    """
    first = parts[0]
    for part in parts:
        if part.response_error is not None:
            raise part.response_error
    categorical = ["user", *first.axes]
    rows = pd.concat([p.rows.drop(columns=categorical) for p in parts], ignore_index=True)
    for column in categorical:  # codes over the union of the chunks' categories: no strings
        rows[column] = union_categoricals([p.rows[column] for p in parts])
    if not len(rows):
        raise CorpusError(f"{first.source}: no messages with a created_at in the dates asked for")
    created = rows["created"]
    conversation = pd.factorize(rows["conversation"])[0]
    alone = rows["alone"].to_numpy()
    conversation[alone] = conversation.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    user = rows["user"].cat.codes.to_numpy().astype(np.int64)
    user_ids = rows["user"].cat.categories
    local = created.dt.tz_convert(when.zone).dt.tz_localize(None)
    week = monday(local)
    kept = np.arange(len(rows))
    # The first message of each conversation (earliest time, then file order) is the contact.
    moment = created.array.asi8  # integers in the array's own unit: only compared here
    order = kept[np.lexsort((kept, moment, conversation))]
    heads = order[np.r_[True, conversation[order][1:] != conversation[order][:-1]]]
    heads.sort()
    contacts = pd.DataFrame(
        {
            "row": rows["row"].to_numpy()[heads],
            "user": user[heads],
            "start": created.iloc[heads].reset_index(drop=True),
            "week": week.iloc[heads].to_numpy(),
            "weekday": local.iloc[heads].dt.day_of_week.to_numpy(),
            "hour": local.iloc[heads].dt.hour.to_numpy(),
            **{axis: rows[axis].take(heads).to_numpy(dtype=object) for axis in first.axes},
            "response_s": rows["response_s"].to_numpy()[heads],
        }
    )
    start = when.first if when.first is not None else created.min()
    end = when.last if when.last is not None else created.max()
    weeks = _week_range(week, start, end, when.zone, when.first is not None, when.last is not None)
    return Contacts(
        source=first.source,
        zone=timezone,
        messages=pd.DataFrame({"created": created, "week": week}),
        contacts=contacts,
        weeks=weeks,
        start=start,
        end=end,
        axes=first.axes,
        user_ids=np.asarray(user_ids, dtype=object),
        skipped=Skipped(
            created_at=sum(p.bad_created for p in parts),
            first_response=sum(p.bad_responses for p in parts),
        ),
        has_users=first.has_users,
        has_responses=first.has_responses,
    )


def _week_range(week, start, end, zone, from_since: bool, to_until: bool) -> pd.DatetimeIndex:
    def local_monday(moment: pd.Timestamp) -> pd.Timestamp:
        return monday(pd.Series([moment.tz_convert(zone).tz_localize(None)])).iloc[0]

    low = local_monday(start) if from_since else week.min()
    high = local_monday(end - pd.Timedelta(microseconds=1)) if to_until else week.max()
    return pd.date_range(low, high, freq="7D")


def _conversations(messages: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of each conversation id, and which rows have none (each its own).

    Hashes, not the ids, are what a corpus read in chunks keeps; two ids sharing one (about
    3 in 10^8 for a million conversations) would make one conversation of two.
    """
    n = len(messages)
    if "conversation_id" not in messages:
        return np.zeros(n, dtype=np.uint64), np.ones(n, dtype=bool)
    ids = messages["conversation_id"].str.strip().to_numpy(dtype=object)
    hashes = pd.util.hash_array(ids) if n else np.zeros(0, dtype=np.uint64)
    return hashes, ids == ""


def _users(messages: pd.DataFrame) -> pd.Series:
    """Each message's user id (stripped); missing where there is none."""
    if "user_id" not in messages:
        return pd.Series([None] * len(messages), dtype=object)
    ids = messages["user_id"].str.strip()
    return ids.where(ids != "").astype(object)


def _labels(corpus: Corpus, axis: str) -> np.ndarray:
    """Each message's tag on ``axis``: its id (a retired one's successor), or why there is none.

    ``(several)``: more than one distinct known tag; ``(unknown)``: no known tag on the axis but
    a tag the taxonomy does not know (in that axis's column, or anywhere in a flat tags cell);
    ``(none)``: no tag at all.
    """
    taxonomy = corpus.taxonomy
    counts = corpus.tag_counts(axis)
    labels = corpus.labels(axis)
    live = {tag: taxonomy.successor(axis, tag) for tag in taxonomy.axes[axis].ids}
    codes, uniques = pd.factorize(labels)
    lookup = np.array([*(live[tag] for tag in uniques), NONE], dtype=object)
    values = lookup[codes]  # code -1 (no single tag) takes the last entry
    tags = corpus.tags
    unknown = tags["how"] == "unknown"
    column = corpus.columns.axes.get(axis)
    if column is not None:
        unknown &= tags["column"] == column
    has_unknown = np.zeros(len(corpus), dtype=bool)
    has_unknown[tags.loc[unknown, "message"].to_numpy()] = True
    values[counts > 1] = SEVERAL
    values[(counts == 0) & has_unknown] = UNKNOWN
    values[(counts == 0) & ~has_unknown] = NONE
    return values


def _responses(
    corpus: Corpus, created: pd.Series, skip: bool
) -> tuple[np.ndarray, int, CorpusError | None]:
    """Seconds from each message to its first response (NaN: none), how many were skipped,
    and without ``skip`` the error naming the first bad one (``None`` when all are good)."""
    messages = corpus.messages
    n = len(messages)
    if "first_response_at" in messages:
        column, raw = corpus.columns.first_response_at, messages["first_response_at"]
        seconds = (timestamps(raw) - created).dt.total_seconds().to_numpy(dtype=float, copy=True)
    elif "first_response_seconds" in messages:
        column, raw = corpus.columns.first_response_seconds, messages["first_response_seconds"]
        seconds = pd.to_numeric(raw.str.strip(), errors="coerce").to_numpy(dtype=float, copy=True)
    else:
        return np.full(n, np.nan), 0, None
    written = raw.str.strip().ne("").to_numpy()
    unreadable = written & np.isnan(seconds) & created.notna().to_numpy()
    bad = unreadable | (seconds < 0)
    error = None
    if bad.any() and not skip:
        at = int(np.flatnonzero(bad)[0])
        why = "is before created_at" if seconds[at] < 0 else "is not readable"
        error = CorpusError(
            f"{corpus.path}: row {messages['row'].iat[at]}, column '{column}': '{raw.iat[at]}' "
            f"{why}; fix it, or pass --skip-bad-dates to count it as unanswered"
        )
    seconds[bad] = np.nan
    return seconds, int(bad.sum()), error
