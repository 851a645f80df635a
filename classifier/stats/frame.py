"""The contacts table: a corpus read as conversations in time, in the lead's time zone.

A **contact** is a conversation (``conversation_id``; a row without one is its own
conversation), counted once, at its first message. A **message** is a row. Weeks are ISO weeks
(Monday first) in the chosen zone; hours of day and weekdays too, DST included. Every metric in
``classifier.stats`` is a function of the ``Contacts`` built here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

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
    """Place every message and contact of ``corpus`` in time in ``timezone``.

    Raises
    ------
    CorpusError
        No ``created_at`` column, or a bad timestamp (naming the row) without ``skip_bad_dates``.
    UsageError
        A bad ``--timezone``, ``--since`` or ``--until``.
    """
    zone = zone_of(timezone)
    first = parse_day(since, "--since", zone) if since else None
    last = parse_day(until, "--until", zone, end=True) if until else None
    if first is not None and last is not None and first >= last:
        raise UsageError(f"--since {since} is not before --until {until}: no time to count")
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
            f"{corpus.path}: row {at + 1}, column '{corpus.columns.created_at}': "
            f"'{messages['created_at'].iat[at]}' is not an ISO 8601 time; fix it, or pass "
            "--skip-bad-dates to count and leave out such rows"
        )
    response, bad_responses = _responses(corpus, created, skip_bad_dates)
    keep = ~bad
    if first is not None:
        keep &= (created >= first).to_numpy()
    if last is not None:
        keep &= (created < last).to_numpy()
    if not keep.any():
        raise CorpusError(f"{corpus.path}: no messages with a created_at in the dates asked for")

    conversation = _conversations(messages)
    user, user_ids = _users(messages)
    labels = {axis: _labels(corpus, axis) for axis in corpus.taxonomy.axes}
    local = created.dt.tz_convert(zone).dt.tz_localize(None)
    week = monday(local)
    kept = np.flatnonzero(keep)
    # The first message of each conversation (earliest time, then file order) is the contact.
    moment = created.array.asi8  # integers in the array's own unit: only compared here
    order = kept[np.lexsort((kept, moment[kept], conversation[kept]))]
    heads = order[np.r_[True, conversation[order][1:] != conversation[order][:-1]]]
    heads.sort()
    contacts = pd.DataFrame(
        {
            "row": heads + 1,
            "user": user[heads],
            "start": created.iloc[heads].reset_index(drop=True),
            "week": week.iloc[heads].to_numpy(),
            "weekday": local.iloc[heads].dt.day_of_week.to_numpy(),
            "hour": local.iloc[heads].dt.hour.to_numpy(),
            **{axis: values[heads] for axis, values in labels.items()},
            "response_s": response[heads],
        }
    )
    start = first if first is not None else created[keep].min()
    end = last if last is not None else created[keep].max()
    weeks = _week_range(week[keep], start, end, zone, first is not None, last is not None)
    return Contacts(
        source=corpus.path,
        zone=timezone,
        messages=pd.DataFrame({"created": created[keep], "week": week[keep]}),
        contacts=contacts,
        weeks=weeks,
        start=start,
        end=end,
        axes=tuple(corpus.taxonomy.axes),
        user_ids=user_ids,
        skipped=Skipped(created_at=int(bad.sum()), first_response=bad_responses),
        has_users="user_id" in messages,
        has_responses=corpus.columns.first_response_at is not None
        or corpus.columns.first_response_seconds is not None,
    )


def _week_range(week, start, end, zone, from_since: bool, to_until: bool) -> pd.DatetimeIndex:
    def local_monday(moment: pd.Timestamp) -> pd.Timestamp:
        return monday(pd.Series([moment.tz_convert(zone).tz_localize(None)])).iloc[0]

    low = local_monday(start) if from_since else week.min()
    high = local_monday(end - pd.Timedelta(microseconds=1)) if to_until else week.max()
    return pd.date_range(low, high, freq="7D")


def _conversations(messages: pd.DataFrame) -> np.ndarray:
    """An integer per conversation; a row without a conversation id is its own."""
    n = len(messages)
    if "conversation_id" not in messages:
        return np.arange(n)
    ids = messages["conversation_id"].str.strip()
    codes, _ = pd.factorize(ids.where(ids != ""))
    alone = codes < 0
    codes[alone] = codes.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    return codes


def _users(messages: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """An integer per user id (-1: none), and the ids in that order."""
    if "user_id" not in messages:
        return np.full(len(messages), -1), np.array([], dtype=object)
    ids = messages["user_id"].str.strip()
    codes, uniques = pd.factorize(ids.where(ids != ""))
    return codes, np.asarray(uniques, dtype=object)


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


def _responses(corpus: Corpus, created: pd.Series, skip: bool) -> tuple[np.ndarray, int]:
    """Seconds from each message to its first response (NaN: none), and how many were skipped."""
    messages = corpus.messages
    n = len(messages)
    if "first_response_at" in messages:
        column, raw = corpus.columns.first_response_at, messages["first_response_at"]
        seconds = (timestamps(raw) - created).dt.total_seconds().to_numpy(dtype=float, copy=True)
    elif "first_response_seconds" in messages:
        column, raw = corpus.columns.first_response_seconds, messages["first_response_seconds"]
        seconds = pd.to_numeric(raw.str.strip(), errors="coerce").to_numpy(dtype=float, copy=True)
    else:
        return np.full(n, np.nan), 0
    written = raw.str.strip().ne("").to_numpy()
    unreadable = written & np.isnan(seconds) & created.notna().to_numpy()
    bad = unreadable | (seconds < 0)
    if bad.any() and not skip:
        at = int(np.flatnonzero(bad)[0])
        why = "is before created_at" if seconds[at] < 0 else "is not readable"
        raise CorpusError(
            f"{corpus.path}: row {at + 1}, column '{column}': '{raw.iat[at]}' {why}; fix it, "
            "or pass --skip-bad-dates to count it as unanswered"
        )
    seconds[bad] = np.nan
    return seconds, int(bad.sum())
