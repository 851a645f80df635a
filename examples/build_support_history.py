"""Build the support-history example for ``feedtag stats`` and ``feedtag report`` (seeded).

Reads only ``examples/source/heldout.csv`` (messages written for feedtag and kept out of
training, with their true team and topic) and ``taxonomy.yaml`` (display names). Writes:

- ``examples/support-history.csv``: 14 weeks (2026-08-03 to 2026-11-08, across the EU and US
  DST changes) of a help desk's messages: ``id, conversation_id, user_id, created_at,
  first_response_at, agent, text, tags``. Customers write from Berlin, New York and Tokyo in
  their working hours; ``created_at`` carries the customer's offset, ``Z``, or no offset (UTC).
- ``examples/users.csv``: ``user_id, signed_up_at`` for every customer (some never wrote).
- ``examples/active-users.csv``: ``week, active_users``; one week has no figure.

Planted: an **outage spike** in 2026-W42 (30 outage contacts against about 5 a week before),
a **weekend dip** (Saturdays and Sundays get about a quarter of a weekday's contacts), new
users who write more in their first week, and confused / user-issue contacts that come back
within a week more often. Each text is used once. ``examples/README.md`` lists the answers.

Usage: python examples/build_support_history.py
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SEED = 13
START = pd.Timestamp("2026-08-03T00:00:00Z")  # Monday of 2026-W32
WEEKS = 14
SPIKE_WEEK = 10  # 0-based: 2026-W42, Monday 2026-10-12
SPIKE_OUTAGES = 30
OUTAGES_PER_WEEK = 5
BASE_PER_WEEK = (50, 58)  # contacts a week before repeats, excluding outages
ZONES = {"Europe/Berlin": 0.45, "America/New_York": 0.35, "Asia/Tokyo": 0.20}
DAY_WEIGHT = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.25, 0.2])  # Monday first
COME_BACK = {"confused": 0.35, "user-issue": 0.3}  # else 0.08: another contact within 6 days
SECOND_MESSAGE = 0.12  # a contact with a second message in the same conversation
AGENTS = ["Amara Okafor", "Ben Fischer", "Chloé Martin", "Diego Alvarez", "Hana Suzuki"]
USERS = 420


def display_names() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "taxonomy.yaml").read_text(encoding="utf-8"))
    return {tag["id"]: tag["name"] for body in data["axes"].values() for tag in body["tags"]}


def make_users(rng: np.random.Generator) -> pd.DataFrame:
    """Customers: 55% signed up before the period, the rest during it."""
    before = int(USERS * 0.55)
    old = START - pd.to_timedelta(rng.uniform(1, 540, before) * 86400, unit="s")
    new = START + pd.to_timedelta(rng.uniform(0, WEEKS * 7, USERS - before) * 86400, unit="s")
    signed = pd.Series(np.concatenate([old.to_numpy(), new.to_numpy()])).dt.floor("s")
    zones = rng.choice(list(ZONES), size=USERS, p=list(ZONES.values()))
    frame = pd.DataFrame(
        {"user_id": [f"cus_{i:04d}" for i in range(USERS)], "signed_up_at": signed, "zone": zones}
    )
    return frame.sort_values("signed_up_at", ignore_index=True)


def local_time(rng: np.random.Generator, week: int, zone: str) -> pd.Timestamp:
    """A working-hours moment of ``week`` in the customer's zone, weekdays busier."""
    day = int(rng.choice(7, p=DAY_WEIGHT / DAY_WEIGHT.sum()))
    hour = float(np.clip(rng.normal(13.0, 2.6), 6.5, 22.5))
    monday = (START + pd.Timedelta(days=7 * week)).tz_localize(None)
    naive = monday + pd.Timedelta(days=day) + pd.Timedelta(seconds=int(hour * 3600))
    return naive.tz_localize(zone, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")


def pick_user(rng: np.random.Generator, users: pd.DataFrame, when: pd.Timestamp) -> int:
    """A customer who had signed up by ``when``; those in their first week are 8x as likely."""
    age = (when - users["signed_up_at"]).dt.total_seconds().to_numpy()
    weight = np.where(age < 0, 0.0, np.where(age < 7 * 86400, 8.0, 1.0))
    return int(rng.choice(len(users), p=weight / weight.sum()))


def response_time(rng: np.random.Generator, when: pd.Timestamp, team: str) -> pd.Timestamp | None:
    """Support works 07:00-19:00 UTC on weekdays; a few contacts are never answered."""
    if rng.random() < 0.04:
        return None
    opens = when
    while opens.weekday() >= 5 or not 7 <= opens.hour < 19:
        opens = (opens + pd.Timedelta(hours=1)).floor("h")
    minutes = rng.lognormal(np.log(35 if team != "infrastructure" else 90), 0.8)
    return (opens + pd.Timedelta(minutes=float(minutes))).floor("s")


def written(rng: np.random.Generator, moment: pd.Timestamp, zone: str) -> str:
    """``created_at`` as exports write it: the customer's offset, ``Z``, or naive UTC."""
    style = rng.random()
    if style < 0.6:
        return moment.tz_convert(ZoneInfo(zone)).isoformat()
    if style < 0.9:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def tag_cell(rng: np.random.Generator, names: dict[str, str], team: str, topic: str) -> str:
    """Display names; about 2% without a team, 1% with a second topic, 1% an unknown topic."""
    roll = rng.random()
    if roll < 0.02:
        return names[topic]
    if roll < 0.03:
        return f"{names[team]}; {names[topic]}; {names['confused']}"
    if roll < 0.04:
        return f"{names[team]}; Question"
    return f"{names[team]}; {names[topic]}"


def build(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    heldout = pd.read_csv(HERE / "source" / "heldout.csv", dtype=str, keep_default_na=False)
    heldout = heldout[heldout["text"].str.strip() != ""]
    shuffled = heldout.iloc[rng.permutation(len(heldout))]
    outages = iter(shuffled[shuffled["topic"] == "outage"].to_dict("records"))
    others = iter(shuffled[shuffled["topic"] != "outage"].to_dict("records"))
    users = make_users(rng)
    end = START + pd.Timedelta(days=7 * WEEKS)
    contacts = []  # (moment, user index, source message)
    for week in range(WEEKS):
        count = int(rng.integers(*BASE_PER_WEEK))
        outage = SPIKE_OUTAGES if week == SPIKE_WEEK else OUTAGES_PER_WEEK
        for k in range(count + outage):
            zone = rng.choice(list(ZONES), p=list(ZONES.values()))
            when = local_time(rng, week, zone)
            user = pick_user(rng, users, when)
            contacts.append((when, user, next(outages) if k < outage else next(others)))
    for when, user, source in list(contacts):
        if rng.random() < COME_BACK.get(source["topic"], 0.08):
            later = when + pd.Timedelta(hours=float(rng.uniform(20, 144)))
            if later < end:
                contacts.append((later, user, next(others)))
    contacts.sort(key=lambda c: c[0])
    names = display_names()
    rows = []
    for number, (when, user, source) in enumerate(contacts):
        conversation = f"conv_{50_000 + 7 * number}"
        messages = [(when, source)]
        if rng.random() < SECOND_MESSAGE:
            later = when + pd.Timedelta(minutes=float(rng.uniform(30, 2000)))
            if later < end:
                messages.append((later, next(others)))
        for moment, message in messages:
            moment = moment.floor("s")
            zone = users.at[user, "zone"]
            answered = response_time(rng, moment, message["team"])
            rows.append(
                {
                    "created": moment,
                    "conversation_id": conversation,
                    "user_id": users.at[user, "user_id"],
                    "created_at": written(rng, moment, zone),
                    "first_response_at": "" if answered is None else answered.isoformat(),
                    "agent": rng.choice(AGENTS),
                    "text": message["text"],
                    "tags": tag_cell(rng, names, message["team"], message["topic"]),
                }
            )
    frame = pd.DataFrame(rows).sort_values("created", kind="stable", ignore_index=True)
    frame.insert(0, "id", [f"msg_{i + 1:05d}" for i in range(len(frame))])
    frame = frame.drop(columns="created")
    signed = users["signed_up_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    users_out = pd.DataFrame({"user_id": users["user_id"], "signed_up_at": signed})
    active = []
    for week in range(WEEKS):
        monday = START + pd.Timedelta(days=7 * week)
        if week == 5:
            continue  # the analytics export missed this week: stats must show no figure
        signed_up = int((users["signed_up_at"] < monday + pd.Timedelta(days=7)).sum())
        year, number, _ = monday.isocalendar()
        label = monday.date().isoformat() if week == 7 else f"{year}-W{number:02d}"
        active.append({"week": label, "active_users": int(signed_up * 0.8)})
    return frame, users_out, pd.DataFrame(active)


def main() -> None:
    rng = np.random.default_rng(SEED)
    messages, users, active = build(rng)
    messages.to_csv(HERE / "support-history.csv", index=False)
    users.to_csv(HERE / "users.csv", index=False)
    active.to_csv(HERE / "active-users.csv", index=False)
    print(
        f"support-history.csv: {len(messages)} messages, "
        f"{messages['conversation_id'].nunique()} conversations; users.csv: {len(users)}; "
        f"active-users.csv: {len(active)} weeks"
    )


if __name__ == "__main__":
    main()
