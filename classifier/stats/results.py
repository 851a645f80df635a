"""What ``feedtag stats`` finds, as validated objects; ``Stats.to_dict`` is the JSON to read.

Times are seconds, shares are fractions of 1, weeks are ``YYYY-Www`` with their Monday as
``start``. ``None`` (JSON null) wherever an input is absent: no active-user figure for a week,
no ``--users`` file, no first-response column, no user ids.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Week(_Model):
    week: str
    start: str
    contacts: int
    messages: int
    contacts_change: float | None  # against the week before; None after a week of none
    active_users: int | None
    contacts_per_active_user: float | None
    first_response_median_s: float | None
    first_response_p90_s: float | None


class Cohort(_Model):
    week: str  # the signup week
    new_users: int
    contacted_first_week: int
    share: float | None


class LifeWeek(_Model):
    weeks_since_signup: int  # 52 pools week 52 and later: its users_at_risk are user-weeks
    users_at_risk: int
    contacts: int
    contacts_per_user: float | None


class FirstWeekTag(_Model):
    axis: str
    tag: str
    first_week_contacts: int
    first_week_share: float | None
    other_contacts: int
    other_share: float | None


class FirstWeek(_Model):
    cohorts: list[Cohort]
    life: list[LifeWeek]
    tags: list[FirstWeekTag]


class TopicRepeats(_Model):
    topic: str
    contacts: int
    followed: int
    share: float | None


class RepeatContacts(_Model):
    contacts: int  # contacts with a user whose next 7 days are inside the data
    followed: int
    share: float | None
    by_topic: list[TopicRepeats]


class TeamResponse(_Model):
    team: str
    answered: int
    unanswered: int
    median_s: float | None
    p90_s: float | None


class Trend(_Model):
    axis: str
    tag: str
    week: str
    contacts: int
    baseline: float | None  # mean of the previous weeks; None before there are enough
    p_value: float | None
    spike: bool


class Skips(_Model):
    created_at: int
    first_response: int
    users: int


class Stats(_Model):
    source: str
    timezone: str
    messages: int
    contacts: int
    skipped: Skips
    weeks: list[Week]
    hour_weekday: list[list[int]]  # 7 rows (Monday first) of 24 hours: contacts
    hour_weekday_mean: list[list[float]]  # the same per week of the period
    first_response_by_team: list[TeamResponse] | None
    first_week: FirstWeek | None
    repeat_contacts: RepeatContacts | None
    tags: dict[str, dict[str, int]]  # contacts per tag on each axis, (none)/(several)/(unknown) too
    trends: list[Trend]
    spike_rule: str

    @property
    def spikes(self) -> list[Trend]:
        """Spikes, latest week first."""
        return sorted((t for t in self.trends if t.spike), key=lambda t: t.week, reverse=True)

    def spike_in_last_week(self) -> bool:
        """Whether a tag spikes in the last week counted (``--fail-on-spike``)."""
        return bool(self.weeks) and any(t.week == self.weeks[-1].week for t in self.spikes)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
