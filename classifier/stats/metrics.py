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
    answered = contacts["response_s"].notna()
    counts = pd.crosstab(contacts[axis], answered)
    figures = _quantiles(contacts["response_s"], contacts[axis])
    return [
        TeamResponse(
            team=str(team),
            answered=int(counts.loc[team].get(True, 0)),
            unanswered=int(counts.loc[team].get(False, 0)),
            median_s=_none(figures["median"].get(team)),
            p90_s=_none(figures["p90"].get(team)),
        )
        for team in counts.index
    ]


def first_week(data: Contacts, users: Users) -> FirstWeek:
    """Signup cohorts' first-week contact share, the contacts-over-life curve, first-week tags."""
    signup = users.signups  # user id -> UTC signup time
    contacts = data.contacts
    known = contacts["user"].isin(signup.index).to_numpy()
    since = (contacts["start"] - contacts["user"].map(signup)).to_numpy()
    in_first_week = known & (since >= pd.Timedelta(0)) & (since < WEEK)
    return FirstWeek(
        cohorts=_cohorts(data, users, contacts.loc[in_first_week, "user"]),
        life=_life(data, signup, since, known),
        tags=_first_week_tags(data, in_first_week),
    )


def _cohorts(data: Contacts, users: Users, contacted: pd.Series) -> list[Cohort]:
    """Only signup weeks whose every user's first 7 days lie inside the data are shown."""
    signup = users.signups
    local = signup.dt.tz_convert(data.zone).dt.tz_localize(None)
    cohort = local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")
    frame = pd.DataFrame({"week": cohort, "contacted": signup.index.isin(contacted.unique())})
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
    data: Contacts, signup: pd.Series, since: np.ndarray, known: np.ndarray
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

    week = np.full(len(since), -1, dtype=np.int64)
    week[known] = (since[known] // WEEK.to_timedelta64()).astype(np.int64)
    user_first = data.contacts["user"].map(pd.Series(first, index=signup.index)).to_numpy()
    user_last = data.contacts["user"].map(pd.Series(last, index=signup.index)).to_numpy()
    observed = known & (week >= 0)
    observed[known] &= (week[known] >= user_first[known]) & (week[known] <= user_last[known])
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
    contacts = data.contacts[data.contacts["user"].notna()]
    contacts = contacts.sort_values(["user", "start", "row"], kind="stable")
    user = contacts["user"].to_numpy()
    start = contacts["start"]
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
