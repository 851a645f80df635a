"""Bug reports to the issue tracker: per issue its team and frequency labels and its findings.

A conversation is linked to an issue when one of its messages names the issue in the link
column (see :mod:`classifier.export.links`). Decisions a lead relies on:

- **A report is one (issue, conversation) pair**, dated and tagged by its first linking
  message: a customer who writes three times in one conversation reports the bug once.
  Messages without a conversation id are conversations of their own.
- **Team**: the majority team of an issue's reports (reports without exactly one team tag do
  not vote), with its share. Any disagreement is a finding (``team-mismatch``); a tie for the
  top is ``team-tie`` and gets no team label; no vote at all is ``no-team``.
- **Topic mix**: reports per topic; more than half ``feature-request`` is ``not-a-bug``.
- **Frequency**, counted back from ``as_of`` in UTC calendar days, the day of ``as_of`` being
  day 0: ``daily`` when reported on at least ``daily_days`` distinct days of days 0-6;
  otherwise ``weekly`` when reported in each of the last ``weekly_weeks`` weeks (week k is days
  7k to 7k+6); otherwise none. ``as_of`` defaults to the newest message of the corpus, so a
  file always gives the same labels; reports after it do not count.
- **Unlinked bug reports**: bug-report messages of conversations with nothing in the link
  column (an unreadable link is reported with its row instead), grouped by team and then into
  near-duplicates (:mod:`classifier.export.duplicates`).
- **Label changes** per issue: see :mod:`classifier.export.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from classifier.corpus import join_groups, timestamps
from classifier.errors import UsageError
from classifier.export.duplicates import DEFAULT_SIMILARITY, near_duplicates
from classifier.export.links import IssueRef, link_table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from classifier.corpus import Corpus

DEFAULT_DAILY_DAYS = 4
DEFAULT_WEEKLY_WEEKS = 4
FREQUENCIES = ("daily", "weekly")


@dataclass(frozen=True)
class IssueSettings:
    """Options of ``feedtag issues``, validated by :func:`issue_settings`."""

    daily_days: int = DEFAULT_DAILY_DAYS
    weekly_weeks: int = DEFAULT_WEEKLY_WEEKS
    as_of: pd.Timestamp | None = None  # exclusive end; None: just after the newest message
    since: pd.Timestamp | None = None
    bug_topic: str = "bug-report"
    feature_topic: str = "feature-request"
    similarity: float = DEFAULT_SIMILARITY


def issue_settings(
    corpus: Corpus,
    *,
    daily_days: int = DEFAULT_DAILY_DAYS,
    weekly_weeks: int = DEFAULT_WEEKLY_WEEKS,
    as_of: str | None = None,
    since: str | None = None,
    bug_topic: str = "bug-report",
    feature_topic: str = "feature-request",
    similarity: float = DEFAULT_SIMILARITY,
) -> IssueSettings:
    """Check the options against the corpus and its taxonomy.

    Raises
    ------
    UsageError
        Naming the option and what it accepts.
    """
    from classifier.export.teams import parse_date

    if corpus.columns.links is None:
        raise UsageError(
            f"{corpus.path}: no issue link column; name it with --link-column "
            f"(columns are: {', '.join(map(str, corpus.frame.columns))})"
        )
    if not 1 <= daily_days <= 7:
        raise UsageError(f"--daily-days {daily_days}: give a number of days from 1 to 7")
    if weekly_weeks < 1:
        raise UsageError(f"--weekly-weeks {weekly_weeks}: give at least 1 week")
    if not 0.0 < similarity <= 1.0:
        raise UsageError(f"--similarity {similarity}: give a cosine above 0 and at most 1")
    topics = corpus.taxonomy.axes.get("topic")
    for option, topic in (("--bug-topic", bug_topic), ("--feature-topic", feature_topic)):
        if topics is None or topic not in topics.ids:
            known = ", ".join(topics.ids) if topics is not None else "(no topic axis)"
            raise UsageError(f"{option} '{topic}': not a topic id; choose from: {known}")
    if "team" not in corpus.taxonomy.axes:
        raise UsageError("the taxonomy has no 'team' axis to label issues with")
    end = parse_date(as_of, "--as-of", end=True) if as_of else None
    start = parse_date(since, "--since") if since else None
    if (as_of or since) and "created_at" not in corpus.messages:
        raise UsageError(f"{corpus.path}: no created_at column for --as-of/--since")
    return IssueSettings(
        daily_days, weekly_weeks, end, start, bug_topic, feature_topic, float(similarity)
    )


@dataclass(frozen=True)
class IssuesReport:
    """What ``feedtag issues`` found.

    Attributes
    ----------
    issues : pandas.DataFrame
        One row per issue, most reported first: ``issue``, ``tracker``, ``conversations``,
        ``users``, ``first_report``, ``last_report`` (ISO times), ``team``, ``team_share``,
        ``frequency``, ``days_last_7``, ``weeks_reported``, ``topics``, ``findings``, and
        ``ref``, the issue's position in ``refs`` (left out of every output).
    findings : pandas.DataFrame
        ``issue``, ``check``, ``message``.
    unreadable : pandas.DataFrame
        ``row``, ``id``, ``value``: link cells with something that is not an issue reference.
    unlinked : pandas.DataFrame
        Bug reports without a link: ``team``, ``group``, ``group_size``, ``row``, ``id``,
        ``conversation_id``, ``user_id``, ``created_at``, ``text``; by team, largest group first.
    refs : list of IssueRef
        Every issue the link column names, in order of first appearance.
    """

    as_of: pd.Timestamp | None
    settings: IssueSettings
    messages: int
    reports: int
    issues: pd.DataFrame
    findings: pd.DataFrame
    unreadable: pd.DataFrame
    unlinked: pd.DataFrame
    refs: list[IssueRef] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "daily_days": settings.daily_days,
            "weekly_weeks": settings.weekly_weeks,
            "messages": self.messages,
            "reports": self.reports,
            "issues": _records(self.issues.drop(columns="ref")),
            "findings": _records(self.findings),
            "unreadable": _records(self.unreadable),
            "unlinked": _records(self.unlinked),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    return json.loads(frame.to_json(orient="records", force_ascii=False))


def build_issues(corpus: Corpus, settings: IssueSettings) -> IssuesReport:
    """Per issue: reports, users, dates, team, topics, frequency; and the unlinked bug reports."""
    import numpy as np
    import pandas as pd

    messages = corpus.messages
    links = link_table(corpus.frame[corpus.columns.links])
    when = message_times(messages)
    conversation = conversations(messages)
    team = live_labels(corpus, "team")
    topic = live_labels(corpus, "topic")

    keep = np.ones(len(messages), dtype=bool)
    if settings.since is not None:
        keep &= (when >= settings.since).fillna(False).to_numpy(dtype=bool)
    if settings.as_of is not None:
        end = settings.as_of
        keep &= ~(when >= end).fillna(False).to_numpy(dtype=bool)
    else:
        newest = when[keep].max() if keep.any() else pd.NaT
        end = None if pd.isna(newest) else newest + pd.Timedelta(microseconds=1)

    reports = first_reports(
        links.pairs[keep[links.pairs["message"].to_numpy()]], conversation, when
    )
    position = reports["message"].to_numpy()
    reports["team"] = team[position]
    reports["topic"] = topic[position]
    if "user_id" in messages:
        reports["user"] = messages["user_id"].iloc[position].to_numpy(dtype=object)
    issues = _per_issue(reports, links.refs, settings, end)
    findings = _findings(issues, settings)
    issues = issues[ISSUE_COLUMNS].reset_index(drop=True)
    checks: dict[str, str] = {}
    for key, check in zip(findings["issue"], findings["check"], strict=True):
        checks[key] = f"{checks[key]}, {check}" if key in checks else check
    issues["findings"] = [checks.get(key, "") for key in issues["issue"]]
    ids = messages["id"].iloc[links.unreadable["row"].to_numpy() - 1].to_numpy(dtype=object)
    unreadable = links.unreadable.assign(id=ids)
    linked = np.zeros(conversation.max() + 1 if len(conversation) else 0, dtype=bool)
    linked[conversation[links.linked]] = True
    bugs = keep & (topic == settings.bug_topic) & ~linked[conversation]
    return IssuesReport(
        as_of=None if end is None else end - pd.Timedelta(microseconds=1),
        settings=settings,
        messages=int(keep.sum()),
        reports=len(reports),
        issues=issues,
        findings=findings,
        unreadable=unreadable[["row", "id", "value"]],
        unlinked=_unlinked(messages, np.flatnonzero(bugs), team, when, settings.similarity),
        refs=links.refs,
    )


ISSUE_COLUMNS = [
    "issue",
    "tracker",
    "conversations",
    "users",
    "first_report",
    "last_report",
    "team",
    "team_share",
    "frequency",
    "days_last_7",
    "weeks_reported",
    "topics",
    "ref",
]


def live_labels(corpus: Corpus, axis: str) -> np.ndarray:
    """Each message's one tag on ``axis`` (None if not exactly one), a retired tag replaced by
    its successor, so that a label never names a retired team."""
    labels = corpus.labels(axis)
    live = {tag: corpus.taxonomy.successor(axis, tag) for tag in labels.dropna().unique()}
    mapped = labels.map(live).astype(object)
    return mapped.where(mapped.notna(), None).to_numpy(dtype=object)


def message_times(messages: pd.DataFrame) -> pd.Series:
    """``created_at`` as UTC times; all NaT when the corpus has no such column."""
    import pandas as pd

    if "created_at" in messages:
        return timestamps(messages["created_at"]).reset_index(drop=True)
    return pd.Series(pd.NaT, index=range(len(messages)), dtype="datetime64[ns, UTC]")


def conversations(messages: pd.DataFrame) -> np.ndarray:
    """One integer per conversation; a message without a conversation id is one of its own."""
    import numpy as np
    import pandas as pd

    if "conversation_id" not in messages:
        return np.arange(len(messages))
    ids = messages["conversation_id"].to_numpy(dtype=object)
    codes, uniques = pd.factorize(np.where(ids == "", None, ids))
    alone = codes < 0
    codes[alone] = len(uniques) + np.arange(int(alone.sum()))
    return codes


def first_reports(pairs: pd.DataFrame, conversation: np.ndarray, when: pd.Series) -> pd.DataFrame:
    """One row per (issue, conversation): its earliest linking message (undated ones last)."""
    import numpy as np
    import pandas as pd

    message = pairs["message"].to_numpy()
    issue = pairs["issue"].to_numpy()
    moment = when.to_numpy(dtype="datetime64[ns]")[message]
    stamp = np.where(np.isnat(moment), np.iinfo(np.int64).max, moment.astype(np.int64))
    thread = conversation[message]
    order = np.lexsort((message, stamp, thread, issue))
    issue, thread, message = issue[order], thread[order], message[order]
    first = np.ones(len(issue), dtype=bool)
    first[1:] = (issue[1:] != issue[:-1]) | (thread[1:] != thread[:-1])
    return pd.DataFrame(
        {
            "issue": issue[first],
            "conversation": thread[first],
            "message": message[first],
            "when": when.iloc[message[first]].reset_index(drop=True),
        }
    )


def iso(values: pd.Series) -> pd.Series:
    """UTC times as ``2026-11-02T09:30:00Z``; None where missing (numpy, not strftime: fast)."""
    import numpy as np
    import pandas as pd

    seconds = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[s]")
    text = np.char.add(np.datetime_as_string(seconds, unit="s"), "Z").astype(object)
    text[np.isnat(seconds)] = None
    return pd.Series(text, index=values.index, dtype=object)


def _per_issue(
    reports: pd.DataFrame, refs: list[IssueRef], settings: IssueSettings, end: pd.Timestamp | None
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    grouped = reports.groupby("issue", sort=True)
    issues = pd.DataFrame({"conversations": grouped.size()}).rename_axis(None)
    index = issues.index
    issues["ref"] = index
    issues["issue"] = [refs[i].key for i in index]
    issues["tracker"] = [refs[i].tracker for i in index]
    if "user" in reports:
        users = reports.loc[reports["user"] != "", ["issue", "user"]].drop_duplicates()
        issues["users"] = users.groupby("issue").size().reindex(index, fill_value=0)
    else:
        issues["users"] = 0
    issues["first_report"] = iso(grouped["when"].min())
    issues["last_report"] = iso(grouped["when"].max())

    issues = issues.join(_mix(reports, "team", index).add_prefix("team_"))
    issues["team"] = issues["team_top"].fillna("")
    issues["team_share"] = (issues["team_top_n"] / issues["team_votes"]).round(3)
    topics = _mix(reports, "topic", index)
    issues["topics"] = topics["mix"].fillna("")
    feature = reports["topic"] == settings.feature_topic
    features = reports[feature].groupby("issue").size().reindex(index, fill_value=0)
    issues["feature_n"], issues["topic_votes"] = features, topics["votes"].fillna(0).astype(int)

    days = np.zeros(len(index), dtype=np.int64)
    weeks = np.zeros(len(index), dtype=np.int64)
    if end is not None:
        last_day = (end - pd.Timedelta(microseconds=1)).floor("D")
        back = (last_day - reports["when"].dt.floor("D")).dt.days
        dated = reports.assign(day=back)[back.notna()].astype({"day": np.int64})
        recent = dated[dated["day"] < 7].drop_duplicates(["issue", "day"])
        days = recent.groupby("issue").size().reindex(index, fill_value=0).to_numpy()
        dated = dated.assign(week=dated["day"] // 7)
        span = dated[dated["week"] < settings.weekly_weeks].drop_duplicates(["issue", "week"])
        weeks = span.groupby("issue").size().reindex(index, fill_value=0).to_numpy()
    issues["days_last_7"], issues["weeks_reported"] = days, weeks
    daily = days >= settings.daily_days
    weekly = weeks >= settings.weekly_weeks
    issues["frequency"] = np.where(daily, "daily", np.where(weekly, "weekly", ""))
    return issues.sort_values(["conversations", "issue"], ascending=[False, True], kind="stable")


def _mix(reports: pd.DataFrame, column: str, index: pd.Index) -> pd.DataFrame:
    """Per issue, the values of ``column`` most common first: top, its count, the runner-up's
    count, how many voted, how many values, and ``a 3, b 1``."""
    import numpy as np
    import pandas as pd

    voted = reports[reports[column].notna()]
    counts = voted.groupby(["issue", column]).size().reset_index(name="n")
    counts = counts.sort_values(["issue", "n", column], ascending=[True, False, True])
    issue = counts["issue"].to_numpy()
    n = counts["n"].to_numpy()
    head = np.ones(len(issue), dtype=bool)
    head[1:] = issue[1:] != issue[:-1]
    second = np.zeros(len(issue), dtype=bool)  # the row after a head is the runner-up
    second[:-1] = issue[1:] == issue[:-1]
    top = counts[head].set_index("issue")
    runner = np.zeros(len(counts), dtype=np.int64)
    runner[head & second] = n[np.flatnonzero(head & second) + 1]
    labels = counts[column].astype(str).to_numpy(dtype=object) + " " + n.astype(str)
    keys, mix = join_groups(issue, labels.astype(object), ", ")
    frame = top.rename(columns={column: "top", "n": "top_n"})
    frame["runner_n"] = runner[head]
    frame["votes"] = voted.groupby("issue").size()
    frame["values"] = counts.groupby("issue").size()
    frame = frame.reindex(index)
    frame["mix"] = pd.Series(mix, index=keys, dtype=object).reindex(index)
    return frame


def _findings(issues: pd.DataFrame, settings: IssueSettings) -> pd.DataFrame:
    """``team-tie``, ``team-mismatch``, ``no-team`` and ``not-a-bug``, one row each."""
    import pandas as pd

    rows: list[tuple[str, str, str]] = []
    votes = issues["team_votes"].fillna(0).astype(int)
    tie = (votes > 0) & (issues["team_runner_n"] == issues["team_top_n"])
    mismatch = (issues["team_values"] > 1) & ~tie
    for key, mix, n in zip(
        issues.loc[tie, "issue"], issues.loc[tie, "team_mix"], votes[tie], strict=True
    ):
        rows.append((key, "team-tie", f"tie for the team ({mix} of {n} reports): choose by hand"))
    chosen = issues[mismatch]
    for key, team, share, mix in zip(
        chosen["issue"], chosen["team"], chosen["team_share"], chosen["team_mix"], strict=True
    ):
        rows.append((key, "team-mismatch", f"reports disagree ({mix}): {team} has {share:.0%}"))
    for key, n in zip(
        issues.loc[votes == 0, "issue"], issues.loc[votes == 0, "conversations"], strict=True
    ):
        rows.append((key, "no-team", f"none of its {n} reports has exactly one team tag"))
    feature = issues["feature_n"] * 2 > issues["topic_votes"]
    chosen = issues[feature & (issues["feature_n"] > 0)]
    for key, n, of in zip(chosen["issue"], chosen["feature_n"], chosen["topic_votes"], strict=True):
        message = f"{n} of {of} reports are {settings.feature_topic}: probably not a bug"
        rows.append((key, "not-a-bug", message))
    findings = pd.DataFrame(rows, columns=["issue", "check", "message"])
    rank = {key: i for i, key in enumerate(issues["issue"])}
    findings["_rank"] = findings["issue"].map(rank)
    findings = findings.sort_values(["_rank", "check"], kind="stable")
    return findings.drop(columns="_rank").reset_index(drop=True)


UNLINKED_COLUMNS = [
    "team",
    "group",
    "group_size",
    "row",
    "id",
    "conversation_id",
    "user_id",
    "created_at",
    "text",
]


def _unlinked(
    messages: pd.DataFrame,
    positions: np.ndarray,
    team: np.ndarray,
    when: pd.Series,
    similarity: float,
) -> pd.DataFrame:
    """Bug reports without a link by team, near-duplicates together, largest group first."""
    import numpy as np
    import pandas as pd

    wanted = [c for c in ("row", "id", "conversation_id", "user_id", "text") if c in messages]
    chosen = messages[wanted].iloc[positions].reset_index(drop=True)
    frame = pd.DataFrame({"team": pd.Series(team[positions], dtype=object).fillna("")})
    for column in ("row", "id", "conversation_id", "user_id"):
        frame[column] = chosen.get(column, "")
    frame["created_at"] = iso(when.iloc[positions].reset_index(drop=True))
    frame["_when"] = when.iloc[positions].reset_index(drop=True)
    frame["text"] = chosen["text"]
    groups = near_duplicates(frame["text"].tolist(), frame["team"].to_numpy(), similarity)
    frame["group_size"] = np.bincount(groups)[groups] if len(groups) else 0
    frame["_group"] = groups
    earliest = frame.groupby("_group")["row"].transform("min")
    frame["_first"] = earliest
    frame["_untagged"] = frame["team"] == ""
    frame = frame.sort_values(
        ["_untagged", "team", "group_size", "_first", "_when", "row"],
        ascending=[True, True, False, True, True, True],
        kind="stable",
    )
    frame["group"] = pd.factorize(frame["_group"])[0] + 1
    return frame[UNLINKED_COLUMNS].reset_index(drop=True)
