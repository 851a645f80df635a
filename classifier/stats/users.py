"""The two side files of ``feedtag stats``: who signed up when, and how many users were active.

``--users FILE``: ``user_id``, ``signed_up_at`` (ISO 8601; naive times are UTC).
``--active-users FILE``: ``week`` (``YYYY-Www``, or any date in that week) and ``active_users``.
Any format the corpus reader takes (csv, tsv, jsonl, json, parquet).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from classifier.corpus import timestamps
from classifier.errors import CorpusError
from classifier.readers import format_of, read_frame

ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Users:
    """Signup time (UTC) per user id; a user listed twice keeps the earliest."""

    path: str
    signups: pd.Series
    skipped: int = 0


def _column(name: str, frame: pd.DataFrame, wanted: tuple[str, ...], what: str) -> str:
    by_folded = {str(c).strip().casefold(): c for c in frame.columns}
    for candidate in wanted:
        if candidate in by_folded:
            return by_folded[candidate]
    columns = ", ".join(str(c) for c in frame.columns) or "(none)"
    raise CorpusError(f"{name}: no {wanted[0]} column ({what}); columns are: {columns}")


def _text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(values):
        return values.fillna("").astype(str).str.strip()
    return values.map(lambda v: "" if v is None or v != v else str(v).strip()).astype(str)


def read_users(path: str, *, skip_bad_dates: bool = False) -> Users:
    """Read ``--users``: one row per user with the time they signed up."""
    name = str(path)
    frame = read_frame(name, format_of(name))
    user = _column(name, frame, ("user_id", "customer_id", "user", "id"), "who signed up")
    signed = _column(
        name, frame, ("signed_up_at", "signup_at", "signed_up", "created_at"), "when they signed up"
    )
    ids = _text(frame[user]).reset_index(drop=True)
    raw = _text(frame[signed]).reset_index(drop=True)
    when = timestamps(raw)
    bad = (when.isna() | (ids == "")).to_numpy()
    if bad.any() and not skip_bad_dates:
        at = int(bad.argmax())
        what = f"'{raw.iat[at]}' is not an ISO 8601 time" if ids.iat[at] else "no user id"
        raise CorpusError(
            f"{name}: row {at + 1}: {what}; fix it, or pass --skip-bad-dates to leave such rows out"
        )
    table = pd.DataFrame({"user": ids[~bad], "when": when[~bad]})
    signups = table.groupby("user", sort=True)["when"].min()
    return Users(name, signups, int(bad.sum()))


def read_active_users(path: str) -> dict[pd.Timestamp, int]:
    """Read ``--active-users``: the Monday of each week -> its active users."""
    name = str(path)
    frame = read_frame(name, format_of(name))
    week = _column(name, frame, ("week", "week_start", "date"), "YYYY-Www or a date in it")
    count = _column(name, frame, ("active_users", "active", "users"), "users active that week")
    result: dict[pd.Timestamp, int] = {}
    pairs = zip(_text(frame[week]), _text(frame[count]), strict=True)
    for row, (cell, value) in enumerate(pairs, start=1):
        monday = _monday(cell)
        if monday is None:
            raise CorpusError(
                f"{name}: row {row}, column '{week}': '{cell}' is not a week; "
                "write YYYY-Www (2026-W07) or a date in the week (2026-02-09)"
            )
        try:
            users = int(float(value))
        except ValueError:
            users = -1
        if users < 0 or str(users) != value.removesuffix(".0"):
            raise CorpusError(
                f"{name}: row {row}, column '{count}': '{value}' is not a whole number of users"
            )
        if monday in result:
            raise CorpusError(f"{name}: row {row}: week {cell} is given twice; keep one figure")
        result[monday] = users
    return result


def _monday(cell: str) -> pd.Timestamp | None:
    match = ISO_WEEK.match(cell)
    try:
        if match:
            day = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        else:
            day = dt.date.fromisoformat(cell[:10])
    except ValueError:
        return None
    return pd.Timestamp(day - dt.timedelta(days=day.weekday()))
