"""The support team's health figures, each a vectorised function of the contacts table.

Definitions (the README repeats them): a contact counts in the local ISO week of its first
message; medians and 90th percentiles interpolate linearly between ranks (numpy's default);
a figure whose input is absent is ``None``, never a guess.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from classifier.stats.frame import Contacts
from classifier.stats.results import (
    Cohort,
    FirstWeek,
    FirstWeekTag,
    LifeWeek,
    RepeatContacts,
    TeamResponse,
    TopicRepeats,
    Week,
)
from classifier.stats.users import Users

WEEK = pd.Timedelta(days=7)
LIFE_WEEKS = 52  # the last bucket of the life curve pools week 52 and later


def week_label(monday: pd.Timestamp) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _share(part: float, whole: float) -> float | None:
    return float(part) / float(whole) if whole else None


def _quantiles(values: pd.Series, by: pd.Series) -> pd.DataFrame:
    """Median and p90 of ``values`` per group (groups without values are left out)."""
    answered = values.notna()
    grouped = values[answered].groupby(by[answered].to_numpy(), sort=True)
    return pd.DataFrame({"median": grouped.median(), "p90": grouped.quantile(0.9)}).round(1)


def _none(value: float) -> float | None:
    return None if value is None or value != value else float(value)


def weekly(data: Contacts, active: dict[pd.Timestamp, int] | None = None) -> list[Week]:
    """Contacts and messages per week, week-over-week change, per active user, first response."""
    contacts = data.contacts["week"].value_counts().reindex(data.weeks, fill_value=0)
    messages = data.messages["week"].value_counts().reindex(data.weeks, fill_value=0)
    response = _quantiles(data.contacts["response_s"], data.contacts["week"])
    result = []
    previous = None
    for monday in data.weeks:
        count = int(contacts[monday])
        users = None if active is None else active.get(monday)
        change = None if not previous else (count - previous) / previous
        result.append(
            Week(
                week=week_label(monday),
                start=monday.date().isoformat(),
                contacts=count,
                messages=int(messages[monday]),
                contacts_change=change,
                active_users=users,
                contacts_per_active_user=None if not users else count / users,
                first_response_median_s=_none(response["median"].get(monday)),
                first_response_p90_s=_none(response["p90"].get(monday)),
            )
        )
        previous = count
    return result


def hour_weekday(data: Contacts) -> tuple[list[list[int]], list[list[float]]]:
    """The 7 x 24 contact counts (Monday first, local hours) and their mean per week."""
    cells = data.contacts["weekday"].to_numpy() * 24 + data.contacts["hour"].to_numpy()
    table = np.bincount(cells, minlength=7 * 24).reshape(7, 24)
    weeks = max(len(data.weeks), 1)
    return table.tolist(), (table / weeks).round(3).tolist()


def response_by_team(data: Contacts, axis: str = "team") -> list[TeamResponse] | None:
    """Median and p90 time to first response per team over the whole period (never per agent)."""
    if not data.has_responses or axis not in data.contacts:
        return None
    contacts = data.contacts
    answered = contacts["response_s"].notna().to_numpy()
    teams = contacts[axis].to_numpy(dtype=object)
    total = pd.Series(teams).value_counts()
    replied = pd.Series(teams[answered]).value_counts()
    figures = _quantiles(contacts["response_s"], contacts[axis])
    return [
        TeamResponse(
            team=str(team),
            answered=int(replied.get(team, 0)),
            unanswered=int(total[team] - replied.get(team, 0)),
            median_s=_none(figures["median"].get(team)),
            p90_s=_none(figures["p90"].get(team)),
        )
        for team in sorted(total.index)
    ]


def first_week(data: Contacts, users: Users) -> FirstWeek:
    """Signup cohorts' first-week contact share, the contacts-over-life curve, first-week tags."""
    signup = users.signups  # user id -> UTC signup time
    contacts = data.contacts
    # Each contact's user as a position in ``signup`` (-1: no user, or not in the users file).
    where = pd.Index(signup.index).get_indexer(data.user_ids)
    code = contacts["user"].to_numpy()
    position = np.where(code >= 0, where[np.maximum(code, 0)] if len(where) else -1, -1)
    known = position >= 0
    signed = signup.array.take(position, allow_fill=True)
    since = np.asarray(contacts["start"].array - signed)
    in_first_week = known & (since >= pd.Timedelta(0)) & (since < WEEK)
    contacted = np.zeros(len(signup), dtype=bool)
    contacted[position[in_first_week]] = True
    return FirstWeek(
        cohorts=_cohorts(data, signup, contacted),
        life=_life(data, signup, since, position),
        tags=_first_week_tags(data, in_first_week),
    )


def _cohorts(data: Contacts, signup: pd.Series, contacted: np.ndarray) -> list[Cohort]:
    """Only signup weeks whose every user's first 7 days lie inside the data are shown."""
    local = signup.dt.tz_convert(data.zone).dt.tz_localize(None)
    cohort = local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")
    frame = pd.DataFrame({"week": cohort.to_numpy(), "contacted": contacted})
    result = []
    for monday, members in frame.groupby("week", sort=True):
        begins = monday.tz_localize(data.zone, ambiguous=True, nonexistent="shift_forward")
        ends = (monday + WEEK).tz_localize(data.zone, ambiguous=True, nonexistent="shift_forward")
        if begins < data.start or ends + WEEK > data.end:
            continue
        reached = int(members["contacted"].sum())
        result.append(
            Cohort(
                week=week_label(monday),
                new_users=len(members),
                contacted_first_week=reached,
                share=_share(reached, len(members)),
            )
        )
    return result


def _life(
    data: Contacts, signup: pd.Series, since: np.ndarray, position: np.ndarray
) -> list[LifeWeek]:
    """Contacts per user in each week since signup, over the users whose week k is observed.

    User ``u``'s week k is observed when it lies wholly inside [start, end]; only contacts in
    observed weeks count, so every figure divides like by like (a cohort curve).
    """
    first = np.ceil((data.start - signup) / WEEK).clip(lower=0).to_numpy()
    last = (np.floor((data.end - signup) / WEEK) - 1).to_numpy()
    at_risk = np.zeros(LIFE_WEEKS + 1, dtype=np.int64)
    for k in range(LIFE_WEEKS):
        at_risk[k] = int(((first <= k) & (last >= k)).sum())
    at_risk[LIFE_WEEKS] = int(np.clip(last - np.maximum(first, LIFE_WEEKS) + 1, 0, None).sum())

    known = position >= 0
    week = (since[known] // WEEK.to_timedelta64()).astype(np.int64)
    mine = position[known]
    observed = (week >= 0) & (week >= first[mine]) & (week <= last[mine])
    counts = np.bincount(np.minimum(week[observed], LIFE_WEEKS), minlength=LIFE_WEEKS + 1)
    return [
        LifeWeek(
            weeks_since_signup=k,
            users_at_risk=int(at_risk[k]),
            contacts=int(counts[k]),
            contacts_per_user=_share(counts[k], at_risk[k]),
        )
        for k in range(LIFE_WEEKS + 1)
        if at_risk[k]
    ]


def _first_week_tags(data: Contacts, in_first_week: np.ndarray) -> list[FirstWeekTag]:
    """Each axis's tags among new users' first-week contacts, against all other contacts."""
    result = []
    for axis in data.axes:
        labels = data.contacts[axis]
        new = labels[in_first_week].value_counts()
        other = labels[~in_first_week].value_counts()
        for tag in sorted(set(new.index) | set(other.index)):
            result.append(
                FirstWeekTag(
                    axis=axis,
                    tag=str(tag),
                    first_week_contacts=int(new.get(tag, 0)),
                    first_week_share=_share(new.get(tag, 0), new.sum()),
                    other_contacts=int(other.get(tag, 0)),
                    other_share=_share(other.get(tag, 0), other.sum()),
                )
            )
    return result


def repeat_contacts(data: Contacts, axis: str = "topic") -> RepeatContacts | None:
    """Share of contacts followed by another contact of the same user within 7 days.

    Counted over contacts with a user id whose following 7 days lie inside the data (a contact
    near the end could still be followed); ``by_topic`` groups them by their topic.
    """
    if not data.has_users:
        return None
    contacts = data.contacts[data.contacts["user"].to_numpy() >= 0]
    order = np.lexsort(
        (contacts["row"].to_numpy(), contacts["start"].array.asi8, contacts["user"].to_numpy())
    )
    contacts = contacts.iloc[order]
    user = contacts["user"].to_numpy()
    start = contacts["start"].reset_index(drop=True)
    gap = start.shift(-1) - start
    same = np.r_[user[1:] == user[:-1], False]
    followed = same & (gap <= WEEK).fillna(False).to_numpy()
    eligible = (start + WEEK <= data.end).to_numpy()
    topic = contacts[axis if axis in contacts else data.axes[-1]].to_numpy()[eligible]
    hits = followed[eligible]
    table = pd.DataFrame({"topic": topic, "followed": hits})
    grouped = table.groupby("topic", sort=True)["followed"].agg(["size", "sum"])
    return RepeatContacts(
        contacts=int(eligible.sum()),
        followed=int(hits.sum()),
        share=_share(hits.sum(), eligible.sum()),
        by_topic=[
            TopicRepeats(
                topic=str(tag),
                contacts=int(row["size"]),
                followed=int(row["sum"]),
                share=_share(row["sum"], row["size"]),
            )
            for tag, row in grouped.sort_values("sum", ascending=False, kind="stable").iterrows()
        ],
    )


def tag_totals(data: Contacts) -> dict[str, dict[str, int]]:
    """Contacts per tag on every axis, with ``(none)``, ``(several)`` and ``(unknown)``."""
    return {
        axis: {str(k): int(v) for k, v in data.contacts[axis].value_counts().sort_index().items()}
        for axis in data.axes
    }
