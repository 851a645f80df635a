"""The answers examples/README.md states for the support-history example, worked out again here
with the standard library only (csv, datetime, zoneinfo, statistics), then compared with
``feedtag stats``: two independent computations of the same definitions."""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from classifier.corpus import load_corpus
from classifier.stats import StatsOptions, compute_stats
from classifier.stats.users import read_active_users, read_users
from classifier.taxonomy import load_taxonomy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WEEK = dt.timedelta(days=7)

# What examples/README.md says the example gives, in Europe/Berlin.
README = {
    "messages": 1078,
    "contacts": 961,
    "weeks": 14,
    "spike": ("topic", "outage", "2026-W42", 28, 5.0),
    "weekend_share": 0.111,
    "first_week_share": 0.705,
    "repeat_share": 0.339,
    "median_first_response_s": 4524.0,
}


def parse(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def monday(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    local = moment.astimezone(zone).date()
    return local - dt.timedelta(days=local.weekday())


def label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def reference(zone_name: str) -> dict:
    zone = ZoneInfo(zone_name)
    rows = list(csv.DictReader((EXAMPLES / "support-history.csv").open(encoding="utf-8")))
    first: dict[str, dict] = {}
    for row in rows:
        when = parse(row["created_at"])
        held = first.get(row["conversation_id"])
        if held is None or when < held["when"]:
            first[row["conversation_id"]] = {**row, "when": when}
    contacts = sorted(first.values(), key=lambda c: c["when"])
    per_week = Counter(label(monday(c["when"], zone)) for c in contacts)
    weekend = sum(c["when"].astimezone(zone).weekday() >= 5 for c in contacts) / len(contacts)
    outage = Counter(  # exactly a team and the outage topic: two topics count as (several)
        label(monday(c["when"], zone))
        for c in contacts
        if c["tags"].split("; ")[1:] == ["Outage/Degradation"]
    )
    weeks = sorted(per_week)
    at = weeks.index("2026-W42")
    baseline = sum(outage[w] for w in weeks[at - 4 : at]) / 4
    start = min(parse(r["created_at"]) for r in rows)
    end = max(parse(r["created_at"]) for r in rows)

    signups = {
        r["user_id"]: parse(r["signed_up_at"])
        for r in csv.DictReader((EXAMPLES / "users.csv").open(encoding="utf-8"))
    }
    by_user = defaultdict(list)
    for c in contacts:
        by_user[c["user_id"]].append(c["when"])
    new = reached = 0
    for user, signed in signups.items():
        week_start = dt.datetime.combine(monday(signed, zone), dt.time(), zone)
        week_end = week_start.replace(tzinfo=None) + WEEK
        if week_start < start or week_end.replace(tzinfo=zone) + WEEK > end:
            continue
        new += 1
        reached += any(signed <= t < signed + WEEK for t in by_user[user])

    eligible = followed = 0
    for times in by_user.values():
        for i, t in enumerate(times):
            if t + WEEK <= end:
                eligible += 1
                followed += i + 1 < len(times) and times[i + 1] - t <= WEEK
    waits = [
        (parse(c["first_response_at"]) - c["when"]).total_seconds()
        for c in contacts
        if c["first_response_at"] and label(monday(c["when"], zone)) == "2026-W41"
    ]
    return {
        "messages": len(rows),
        "contacts": len(contacts),
        "weeks": len(weeks),
        "spike": ("topic", "outage", "2026-W42", outage["2026-W42"], baseline),
        "weekend_share": round(weekend, 3),
        "first_week_share": round(reached / new, 3),
        "repeat_share": round(followed / eligible, 3),
        "median_first_response_s": statistics.median(waits),
        "per_week": [per_week[w] for w in weeks],
    }


@pytest.fixture(scope="module")
def feedtag():
    corpus = load_corpus(str(EXAMPLES / "support-history.csv"), load_taxonomy())
    return compute_stats(
        corpus,
        StatsOptions(timezone="Europe/Berlin"),
        read_users(str(EXAMPLES / "users.csv")),
        read_active_users(str(EXAMPLES / "active-users.csv")),
    )


def test_the_readme_answers_hold_by_an_independent_computation(feedtag):
    expected = reference("Europe/Berlin")
    assert {k: v for k, v in expected.items() if k != "per_week"} == README
    assert [w.contacts for w in feedtag.weeks] == expected["per_week"]
    assert (feedtag.messages, feedtag.contacts, len(feedtag.weeks)) == (1078, 961, 14)
    assert [(t.axis, t.tag, t.week, t.contacts, t.baseline) for t in feedtag.spikes] == [
        README["spike"]
    ]
    weekend = sum(map(sum, feedtag.hour_weekday[5:])) / feedtag.contacts
    assert round(weekend, 3) == README["weekend_share"]
    cohorts = feedtag.first_week.cohorts
    share = sum(c.contacted_first_week for c in cohorts) / sum(c.new_users for c in cohorts)
    assert round(share, 3) == README["first_week_share"]
    assert round(feedtag.repeat_contacts.share, 3) == README["repeat_share"]
    w41 = next(w for w in feedtag.weeks if w.week == "2026-W41")
    assert w41.first_response_median_s == README["median_first_response_s"]
    assert next(w for w in feedtag.weeks if w.week == "2026-W37").active_users is None
    assert sum(map(sum, feedtag.hour_weekday[5:])) == 107
    special = {
        axis: {k: v for k, v in n.items() if k.startswith("(")} for axis, n in feedtag.tags.items()
    }
    assert special == {"team": {"(none)": 22}, "topic": {"(several)": 14, "(unknown)": 6}}
    top = [(t.topic, round(t.share, 3)) for t in feedtag.repeat_contacts.by_topic[:2]]
    assert top == [("user-issue", 0.464), ("confused", 0.435)]
