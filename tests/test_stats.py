"""Library tests of ``classifier.stats``: every figure on a small corpus worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.corpus import load_corpus
from classifier.errors import CorpusError, UsageError
from classifier.stats import SpikeRule, StatsOptions, build_contacts, compute_stats
from classifier.stats.users import read_active_users, read_users
from classifier.taxonomy import load_taxonomy


@pytest.fixture
def taxonomy(taxonomy_file):
    return load_taxonomy(taxonomy_file)


def write(tmp_path, rows, name="c.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def stats_of(tmp_path, taxonomy, rows, users=None, active=None, **options):
    corpus = load_corpus(write(tmp_path, rows), taxonomy)
    return compute_stats(corpus, StatsOptions(**options), users, active)


def row(i, created, conversation="", user="", tags="Web; Bug report", **extra):
    return {
        "id": str(i),
        "text": f"message {i}",
        "conversation_id": conversation or f"c{i}",
        "user_id": user,
        "created_at": created,
        "tags": tags,
        **extra,
    }


# Europe/Berlin leaves summer time on Sunday 2026-10-25 at 01:00 UTC (03:00 CEST -> 02:00 CET).
DST_ROWS = [
    row(1, "2026-10-19T06:30:00Z"),  # Mon 08:30 CEST, W43
    row(2, "2026-10-25T21:30:00Z"),  # Sun 22:30 CET, W43 (UTC: Sun 21)
    row(3, "2026-10-25T23:30:00Z", "conv3"),  # Mon 00:30 CET: W44 in Berlin, Sun W43 in UTC
    row(4, "2026-10-26T07:00:00+01:00", "conv3"),  # same conversation: a message, not a contact
    row(5, "2026-10-24 22:30:00"),  # naive = UTC: Sun 00:30 CEST in Berlin, Sat 22 in UTC
    row(6, "2026-10-25T00:30:00Z"),  # Sun 02:30 CEST
    row(7, "2026-10-25T01:30:00Z"),  # Sun 02:30 CET: the repeated hour, same local hour 2
]


def test_weeks_and_hours_follow_the_zone_through_a_dst_change(tmp_path, taxonomy):
    berlin = stats_of(tmp_path, taxonomy, DST_ROWS, timezone="Europe/Berlin")
    assert [(w.week, w.start, w.contacts, w.messages) for w in berlin.weeks] == [
        ("2026-W43", "2026-10-19", 5, 5),
        ("2026-W44", "2026-10-26", 1, 2),
    ]
    assert berlin.contacts == 6 and berlin.messages == 7
    cells = {
        (d, h): n for d, hours in enumerate(berlin.hour_weekday) for h, n in enumerate(hours) if n
    }
    assert cells == {(0, 8): 1, (6, 22): 1, (0, 0): 1, (6, 0): 1, (6, 2): 2}
    assert berlin.hour_weekday_mean[6][2] == 1.0  # 2 contacts over 2 weeks
    assert berlin.weeks[1].contacts_change == pytest.approx(-0.8)

    utc = stats_of(tmp_path, taxonomy, DST_ROWS)
    assert [(w.week, w.contacts, w.messages) for w in utc.weeks] == [
        ("2026-W43", 6, 6),
        ("2026-W44", 0, 1),
    ]
    cells = {
        (d, h): n for d, hours in enumerate(utc.hour_weekday) for h, n in enumerate(hours) if n
    }
    assert cells == {(0, 6): 1, (6, 21): 1, (6, 23): 1, (5, 22): 1, (6, 0): 1, (6, 1): 1}


def test_a_contact_counts_in_the_week_of_its_earliest_message(tmp_path, taxonomy):
    rows = [
        row(1, "2026-03-10T10:00:00Z", "same"),  # written first in the file, but later in time
        row(2, "2026-03-02T10:00:00Z", "same"),
        row(3, "2026-03-03T10:00:00Z", conversation=" "),  # blank: its own conversation
        {**row(4, "2026-03-03T11:00:00Z"), "conversation_id": ""},
    ]
    result = stats_of(tmp_path, taxonomy, rows)
    assert [(w.week, w.contacts, w.messages) for w in result.weeks] == [
        ("2026-W10", 3, 3),
        ("2026-W11", 0, 1),
    ]


RESPONSES = [  # seconds to first response: week W10 has 60, 120, 180, 240, 600 and one unanswered
    ("2026-03-02T09:00:00Z", "2026-03-02T09:01:00Z", "Web; Bug report"),
    ("2026-03-02T10:00:00Z", "2026-03-02T10:02:00Z", "API; Bug report"),
    ("2026-03-03T10:00:00Z", "2026-03-03T10:03:00Z", "Web; Praise"),
    ("2026-03-04T10:00:00Z", "2026-03-04T12:04:00+02:00", "API; Praise"),
    ("2026-03-05T10:00:00Z", "2026-03-05T10:10:00Z", "Web; Praise"),
    ("2026-03-05T11:00:00Z", "", "Web; Praise"),
]


def test_first_response_median_and_p90_per_week_and_team(tmp_path, taxonomy):
    rows = [
        row(i, created, tags=tags, first_response_at=answered)
        for i, (created, answered, tags) in enumerate(RESPONSES)
    ]
    result = stats_of(tmp_path, taxonomy, rows)
    week = result.weeks[0]
    # Linear interpolation: p90 of 60..600 sits at rank 3.6: 240 + 0.6 * (600 - 240).
    assert (week.first_response_median_s, week.first_response_p90_s) == (180, 456)
    teams = {t.team: t for t in result.first_response_by_team}
    assert (teams["web"].answered, teams["web"].unanswered) == (3, 1)
    assert (teams["web"].median_s, teams["web"].p90_s) == (180, 516)  # 60, 180, 600
    assert (teams["api"].median_s, teams["api"].p90_s) == (180, 228)  # 120, 240


def test_first_response_seconds_column_and_no_response_column(tmp_path, taxonomy):
    rows = [
        row(i, "2026-03-02T09:00:00Z", first_response_seconds=s) for i, s in enumerate([10, 30])
    ]
    result = stats_of(tmp_path, taxonomy, rows)
    assert result.weeks[0].first_response_median_s == 20
    plain = stats_of(tmp_path, taxonomy, [row(1, "2026-03-02T09:00:00Z")])
    assert plain.weeks[0].first_response_median_s is None
    assert plain.first_response_by_team is None


def test_active_users_per_week_with_a_missing_week(tmp_path, taxonomy):
    rows = [row(i, f"2026-03-{day:02d}T09:00:00Z") for i, day in enumerate([2, 3, 9, 16, 17, 18])]
    active = tmp_path / "active.csv"
    active.write_text("week,active_users\n2026-W10,10\n2026-03-19,30\n", encoding="utf-8")
    result = stats_of(tmp_path, taxonomy, rows, active=read_active_users(str(active)))
    assert [(w.contacts, w.active_users, w.contacts_per_active_user) for w in result.weeks] == [
        (2, 10, 0.2),
        (1, None, None),  # W11 has no figure: none, never a guess
        (3, 30, 0.1),
    ]
    assert [w.contacts_change for w in result.weeks] == [None, -0.5, 2.0]


USERS_CSV = """user_id,signed_up_at
u1,2026-03-02T10:00:00Z
u2,2026-03-03T00:00:00Z
u3,2026-03-04T12:00:00Z
u4,2026-03-09T08:00:00Z
"""
COHORT_ROWS = [
    row(1, "2026-03-01T00:00:00Z", user="u9"),  # not in the users file; starts the data
    row(2, "2026-03-05T00:00:00Z", user="u1", tags="Web; Pricing question"),  # u1, day 2.6
    row(3, "2026-03-10T23:00:00Z", user="u2"),  # u2 at 7d 23h: week 1, not the first week
    row(4, "2026-03-09T12:00:00Z", user="u4", tags="API; Pricing question"),  # u4 after 4 h
    row(5, "2026-03-20T00:00:00Z", user="u1"),  # u1 at 17.6 days: week 2
    row(6, "2026-03-25T00:00:00Z", user="u9"),  # ends the data
]


def test_first_week_cohorts_and_life_curve(tmp_path, taxonomy):
    (tmp_path / "users.csv").write_text(USERS_CSV, encoding="utf-8")
    users = read_users(str(tmp_path / "users.csv"))
    result = stats_of(tmp_path, taxonomy, COHORT_ROWS, users=users)
    cohorts = [
        (c.week, c.new_users, c.contacted_first_week, c.share) for c in result.first_week.cohorts
    ]
    assert cohorts == [("2026-W10", 3, 1, pytest.approx(1 / 3)), ("2026-W11", 1, 1, 1.0)]
    # Observed weeks since signup in [03-01, 03-25]: u1 and u2 weeks 0-2, u3 and u4 weeks 0-1.
    life = [(x.weeks_since_signup, x.users_at_risk, x.contacts) for x in result.first_week.life]
    assert life == [(0, 4, 2), (1, 4, 1), (2, 2, 1)]
    assert [x.contacts_per_user for x in result.first_week.life] == [0.5, 0.25, 0.5]
    topics = {(t.axis, t.tag): t for t in result.first_week.tags}
    pricing = topics["topic", "pricing"]
    assert (pricing.first_week_contacts, pricing.first_week_share) == (2, 1.0)
    assert (pricing.other_contacts, pricing.other_share) == (0, 0.0)
    assert topics["topic", "bug"].other_share == 1.0


def test_a_cohort_whose_first_week_runs_past_the_data_is_left_out(tmp_path, taxonomy):
    (tmp_path / "users.csv").write_text(USERS_CSV, encoding="utf-8")
    users = read_users(str(tmp_path / "users.csv"))
    result = stats_of(tmp_path, taxonomy, COHORT_ROWS[:-1], users=users)  # ends 03-20
    assert [c.week for c in result.first_week.cohorts] == ["2026-W10"]


def test_repeat_contacts_within_seven_days(tmp_path, taxonomy):
    day = pd.Timestamp("2026-03-02T09:00:00Z")

    def at(days):
        return (day + pd.Timedelta(days=days)).isoformat()

    rows = [
        row(1, at(0), user="a", tags="Web; Bug report"),
        row(2, at(3), user="a", tags="Web; Bug report"),
        row(3, at(20), user="a", tags="Web; Praise"),
        row(4, at(0), user="b", tags="Web; Bug report"),
        row(5, at(8), user="b", tags="Web; Praise"),
        row(6, at(1), tags="Web; Praise"),  # no user: not counted
        row(7, at(30), user="c", tags="Web; Praise"),  # ends the data; its 7 days are not in it
    ]
    repeats = stats_of(tmp_path, taxonomy, rows).repeat_contacts
    assert (repeats.contacts, repeats.followed, repeats.share) == (5, 1, 0.2)
    topics = {t.topic: (t.contacts, t.followed) for t in repeats.by_topic}
    assert topics == {"bug": (3, 1), "praise": (2, 0)}


def weekly_rows(counts, tags="Web; Bug report", start=0):
    monday = pd.Timestamp("2026-01-05T10:00:00Z")
    rows = []
    for week, n in enumerate(counts):
        for k in range(n):
            when = monday + pd.Timedelta(days=7 * week, minutes=k)
            rows.append(row(start + len(rows), when.isoformat(), tags=tags))
    return rows


def trend(result, tag, axis="topic"):
    return [t for t in result.trends if t.axis == axis and t.tag == tag]


def test_a_planted_spike_is_found_against_the_trailing_mean(tmp_path, taxonomy):
    rows = weekly_rows([5, 4, 6, 5, 20, 5]) + weekly_rows([2] * 6, "API; Praise", 1000)
    result = stats_of(tmp_path, taxonomy, rows)
    bug = trend(result, "bug")
    assert [t.baseline for t in bug] == [None, None, None, None, 5.0, 8.75]
    assert [t.spike for t in bug] == [False, False, False, False, True, False]
    assert bug[4].p_value < 1e-6
    assert [(t.axis, t.tag, t.week) for t in result.spikes] == [
        ("team", "web", "2026-W06"),  # every bug report is the web team's here
        ("topic", "bug", "2026-W06"),
    ]
    assert not result.spike_in_last_week()
    assert not any(t.spike for t in trend(result, "praise"))


def test_no_spike_on_a_flat_series_and_none_below_the_minimum_count(tmp_path, taxonomy):
    flat = stats_of(tmp_path, taxonomy, weekly_rows([6] * 10))
    assert not flat.spikes
    small = stats_of(tmp_path, taxonomy, weekly_rows([1, 1, 1, 1, 1, 4]))  # 1 -> 4: no alarm
    assert not small.spikes
    new = stats_of(tmp_path, taxonomy, weekly_rows([1, 0, 0, 0, 0, 6]))
    assert [(t.tag, t.week, t.baseline) for t in new.spikes] == [
        ("web", "2026-W07", 0.0),
        ("bug", "2026-W07", 0.0),
    ]
    assert new.spike_in_last_week()
    strict = stats_of(
        tmp_path, taxonomy, weekly_rows([1, 0, 0, 0, 0, 6]), spike=SpikeRule(min_count=7)
    )
    assert not strict.spikes


def test_untagged_multi_tagged_and_unknown_are_counted(tmp_path, taxonomy):
    cells = [
        "Web; Bug report",
        "Bug report",
        "Web; API; Bug report",
        "Web; Mystery",
        "",
        "Legacy; Praise",
    ]
    rows = [row(i, "2026-03-02T09:00:00Z", tags=cell) for i, cell in enumerate(cells)]
    result = stats_of(tmp_path, taxonomy, rows)
    assert result.tags["team"] == {"(none)": 2, "(several)": 1, "web": 3}  # Legacy -> web
    assert result.tags["topic"] == {"(none)": 1, "(unknown)": 1, "bug": 3, "praise": 1}
    topics = {t.tag: t.contacts for t in trend(result, "(unknown)")}
    assert topics == {"(unknown)": 1}


def test_by_restricts_trends_to_one_axis(tmp_path, taxonomy):
    result = stats_of(tmp_path, taxonomy, weekly_rows([2, 2]), by="team")
    assert {t.axis for t in result.trends} == {"team"}
    with pytest.raises(UsageError, match="--by 'size'"):
        stats_of(tmp_path, taxonomy, weekly_rows([2]), by="size")


def test_since_and_until_are_local_days(tmp_path, taxonomy):
    rows = [
        row(1, "2026-03-01T23:30:00Z"),
        row(2, "2026-03-02T09:00:00Z"),
        row(3, "2026-03-08T23:30:00Z"),
    ]
    # In Berlin, row 1 is Monday 00:30 and row 3 Monday 00:30 of the next week.
    result = stats_of(
        tmp_path, taxonomy, rows, timezone="Europe/Berlin", since="2026-03-02", until="2026-03-08"
    )
    assert [(w.week, w.contacts) for w in result.weeks] == [("2026-W10", 2)]


def test_bad_input_is_one_line_naming_what_to_fix(tmp_path, taxonomy):
    with pytest.raises(CorpusError, match="no created_at column"):
        stats_of(tmp_path, taxonomy, [{"id": "1", "text": "x", "tags": "Web"}])
    with pytest.raises(CorpusError, match=r"row 2, column 'created_at': 'yesterday'"):
        stats_of(tmp_path, taxonomy, [row(1, "2026-03-02T09:00:00Z"), row(2, "yesterday")])
    with pytest.raises(UsageError, match="--timezone 'Mars/Olympus'"):
        stats_of(tmp_path, taxonomy, [row(1, "2026-03-02T09:00:00Z")], timezone="Mars/Olympus")
    late = [row(1, "2026-03-02T09:00:00Z", first_response_at="2026-03-01T09:00:00Z")]
    with pytest.raises(CorpusError, match=r"row 1, column 'first_response_at'.*before created_at"):
        stats_of(tmp_path, taxonomy, late)
    users = tmp_path / "users.csv"
    users.write_text("user_id,joined\nu1,2026-01-01\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no signed_up_at column"):
        read_users(str(users))
    active = tmp_path / "active.csv"
    active.write_text("week,active_users\nsoon,3\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="row 1, column 'week': 'soon' is not a week"):
        read_active_users(str(active))


def test_skip_bad_dates_counts_what_it_leaves_out(tmp_path, taxonomy):
    rows = [
        row(1, "2026-03-02T09:00:00Z", first_response_at="later"),
        row(2, "yesterday"),
        row(3, ""),
        row(4, "2026-03-03T09:00:00Z", first_response_at="2026-03-03T09:05:00Z"),
    ]
    result = stats_of(tmp_path, taxonomy, rows, skip_bad_dates=True)
    assert (result.skipped.created_at, result.skipped.first_response) == (2, 1)
    assert (result.contacts, result.weeks[0].first_response_median_s) == (2, 300)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 60 * 24 * 40), st.integers(0, 6), st.sampled_from(["Web", "API", ""])
        ),
        min_size=1,
        max_size=40,
    )
)
def test_every_contact_is_counted_once_in_every_view(tmp_path, taxonomy, messages):
    start = pd.Timestamp("2026-10-01T00:00:00Z")
    rows = [
        row(i, (start + pd.Timedelta(minutes=m)).isoformat(), f"c{c}", tags=f"{team}; Praise")
        for i, (m, c, team) in enumerate(messages)
    ]
    result = stats_of(tmp_path, taxonomy, rows, timezone="America/New_York")
    contacts = len({c for _, c, _ in messages})
    assert result.contacts == contacts == sum(w.contacts for w in result.weeks)
    assert sum(map(sum, result.hour_weekday)) == contacts
    assert sum(w.messages for w in result.weeks) == len(messages)
    for axis in ("team", "topic"):
        assert sum(result.tags[axis].values()) == contacts
        assert sum(t.contacts for t in result.trends if t.axis == axis) == contacts


def test_contacts_table_keeps_utc_starts_and_local_weeks(tmp_path, taxonomy):
    corpus = load_corpus(write(tmp_path, DST_ROWS), taxonomy)
    data = build_contacts(corpus, "Europe/Berlin")
    assert str(data.contacts["start"].dt.tz) == "UTC"
    assert data.contacts.loc[data.contacts["row"] == 3, "week"].iloc[0] == pd.Timestamp(
        "2026-10-26"
    )


def test_to_dict_has_the_keys_integrations_read(tmp_path, taxonomy):
    (tmp_path / "users.csv").write_text(USERS_CSV, encoding="utf-8")
    result = stats_of(
        tmp_path, taxonomy, COHORT_ROWS, users=read_users(str(tmp_path / "users.csv"))
    )
    data = result.to_dict()
    assert set(data["weeks"][0]) >= {
        "week", "start", "contacts", "messages", "active_users", "contacts_per_active_user",
        "first_response_median_s", "first_response_p90_s",
    }  # fmt: skip
    assert len(data["hour_weekday"]) == 7 and {len(h) for h in data["hour_weekday"]} == {24}
    assert set(data["first_week"]["cohorts"][0]) >= {
        "week",
        "new_users",
        "contacted_first_week",
        "share",
    }
    assert set(data["first_week"]["life"][0]) >= {
        "weeks_since_signup", "users_at_risk", "contacts", "contacts_per_user"
    }  # fmt: skip
    assert set(data["repeat_contacts"]) >= {"share", "by_topic"}
    assert set(data["trends"][0]) >= {"axis", "tag", "week", "contacts", "baseline", "spike"}
    plain = stats_of(tmp_path, taxonomy, [row(1, "2026-03-02T09:00:00Z")]).to_dict()
    assert plain["first_week"] is None and plain["weeks"][0]["active_users"] is None
