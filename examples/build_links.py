"""Add issue links to the example export, and write a closed-issues file (seeded, reproducible).

Reads ``examples/helpdesk-export.csv`` (left unchanged) and writes:

- ``examples/helpdesk-links.csv``: the same rows and columns plus ``issue``, the tracker links
  agents pasted, spelled every way exports write them (GitHub, GitLab and Jira URLs, the
  ``owner/repo#N`` short form, bare Jira keys, several in one cell, a JSON list), and a few
  cells that are not links at all;
- ``examples/closed-issues.csv``: issues closed in the tracker (``issue``, ``closed_at``), for
  ``feedtag followups``.

Most bug reports of each team are linked to one of a few issues of that team's tracker; some
are left unlinked. On top of that, designed cases each command should find: an issue reported
daily and one weekly (counted back from the newest message), a tie between two teams, an issue
linked mostly from feature requests, and closed issues some customers wrote again after.

Usage: python examples/build_links.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from classifier.corpus import load_corpus  # noqa: E402
from classifier.taxonomy import load_taxonomy  # noqa: E402

EXPORT = HERE / "helpdesk-export.csv"
LINKS = HERE / "helpdesk-links.csv"
CLOSED = HERE / "closed-issues.csv"
SEED = 14
LINKED_SHARE = 0.7  # bug reports an agent linked to an issue
ISSUES_PER_TEAM = 3

# Each team's tracker, and how a link to issue N of it is written (several spellings each).
TRACKERS = {
    "inbox": [
        "https://github.com/acme/inbox/issues/{n}",
        "acme/inbox#{n}",
        "https://github.com/Acme/Inbox/issues/{n}#issuecomment-1",
    ],
    "messenger": ["https://github.com/acme/messenger/issues/{n}", "Acme/messenger#{n}"],
    "outbound": ["https://github.com/acme/outbound/issues/{n}", "acme/outbound#{n}"],
    "platform": [
        "https://github.com/acme/platform/issues/{n}",
        "https://github.com/acme/platform/pull/{n}",
    ],
    "mobile": [
        "https://gitlab.com/acme/apps/mobile/-/issues/{n}",
        "https://gitlab.com/Acme/Apps/Mobile/-/issues/{n}/",
    ],
    "billing": ["https://acme.atlassian.net/browse/BILL-{n}", "BILL-{n}", "bill-{n}"],
    "infrastructure": ["https://acme.atlassian.net/browse/INFRA-{n}", "INFRA-{n}"],
}
NOT_LINKS = ["see slack thread", "#4411", "https://status.acme.example/incidents/88"]
# One problem nobody has filed yet, reported by four customers in their own words (written
# for this example): the unlinked bug reports should show them as one near-duplicate group.
SAME_PROBLEM = [
    "The conversation CSV export is missing the last day of the date range. I export "
    "1-15 November and there is nothing from the 15th.",
    "Exported our conversations to CSV for last week and the export stops a day early: "
    "the final day of the range is missing.",
    "CSV export of conversations leaves out the last day of the range I pick, every time.",
    "export csv missing last day of conversations??",
]


def main() -> None:
    rng = np.random.default_rng(SEED)
    frame = pd.read_csv(EXPORT, dtype=str, keep_default_na=False)
    corpus = load_corpus(str(EXPORT), load_taxonomy())
    team = corpus.labels("team").to_numpy(dtype=object)
    topic = corpus.labels("topic").to_numpy(dtype=object)
    when = pd.to_datetime(frame["created_at"], utc=True)
    links: list[list[str]] = [[] for _ in range(len(frame))]

    def link(position: int, team_id: str, number: int) -> None:
        spellings = TRACKERS[team_id]
        links[position].append(spellings[rng.integers(len(spellings))].format(n=number))

    # Ordinary links: most bug reports of a team to one of its few open issues.
    for team_id in TRACKERS:
        bugs = np.flatnonzero((team == team_id) & (topic == "bug-report"))
        for position in bugs[rng.random(len(bugs)) < LINKED_SHARE]:
            link(position, team_id, 10 + int(rng.integers(ISSUES_PER_TEAM)))

    # Daily: one outbound issue on five distinct days of the last seven.
    newest = when.max().floor("D")
    days = (newest - when.dt.floor("D")).dt.days.to_numpy()
    outbound = np.flatnonzero((team == "outbound") & (days < 7) & (topic != "feature-request"))
    for day in sorted(set(days[outbound]))[:5]:
        link(int(outbound[days[outbound] == day][0]), "outbound", 31)
    # Weekly: one platform issue once in each of the last five weeks.
    platform = np.flatnonzero(team == "platform")
    for week in range(5):
        in_week = platform[(days[platform] // 7) == week]
        link(int(in_week[-1]), "platform", 32)
    # A tie: two messenger and two mobile conversations on one messenger issue.
    conversation = frame["conversation_id"].to_numpy()
    for team_id in ("messenger", "mobile"):
        candidates = np.flatnonzero((team == team_id) & (topic == "user-issue"))
        _, firsts = np.unique(conversation[candidates], return_index=True)
        for position in candidates[np.sort(firsts)][:2]:
            link(int(position), "messenger", 33)
    # An issue and the pull request that fixes it, both pasted into one cell.
    for position in np.flatnonzero((team == "platform") & (topic == "outage"))[:3]:
        link(int(position), "platform", 35)
        links[position].append("https://github.com/acme/platform/pull/36")
    # Probably not a bug: an inbox issue linked from four feature requests and one bug report.
    requests = np.flatnonzero((team == "inbox") & (topic == "feature-request"))[:4]
    for position in [*requests, np.flatnonzero((team == "inbox") & (topic == "bug-report"))[-1]]:
        link(int(position), "inbox", 34)

    cells = []
    for position, written in enumerate(links):
        if len(written) > 1 and position % 2:
            cells.append(json.dumps(written))
        else:
            cells.append(", ".join(written))
    empty = np.flatnonzero(np.array(cells) == "")
    for position, junk in zip(
        rng.choice(empty, len(NOT_LINKS), replace=False), NOT_LINKS, strict=False
    ):
        cells[position] = junk
    frame["issue"] = cells
    frame = pd.concat([frame, _same_problem(frame, newest)], ignore_index=True)
    frame.to_csv(LINKS, index=False, lineterminator="\n")

    # Closed: the tie issue and one inbox and one billing issue, two days after their last
    # link, so conversations written again after the close are not to get back to.
    closed = []
    for key, spelling in (
        ("acme/messenger#33", "https://github.com/acme/messenger/issues/33"),
        ("acme/inbox#11", "https://github.com/acme/inbox/issues/11"),
        ("BILL-10", "https://acme.atlassian.net/browse/BILL-10"),
    ):
        linked = [i for i, cell in enumerate(links) if _keyed(cell, key)]
        moment = when.iloc[linked].sort_values().iloc[-2] + pd.Timedelta(days=2)
        closed.append({"issue": spelling, "closed_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})
    pd.DataFrame(closed).to_csv(CLOSED, index=False, lineterminator="\n")
    print(f"wrote {LINKS.name} ({sum(map(bool, cells))} rows with a link cell), {CLOSED.name}")


def _same_problem(frame: pd.DataFrame, newest: pd.Timestamp) -> pd.DataFrame:
    """The four new messages: inbox bug reports in the last two weeks, no link."""
    rows = []
    for number, text in enumerate(SAME_PROBLEM):
        moment = newest - pd.Timedelta(days=12 - 3 * number, hours=-10 - number)
        rows.append(
            {
                "id": str(4819001 + number),
                "conversation_id": str(71219001 + number),
                "created_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "agent": "Priya Nair",
                "user_id": f"usr_{90001 + number}",
                "text": text,
                "tags": "Inbox; Bug report",
                "issue": "",
            }
        )
    return pd.DataFrame(rows, columns=frame.columns)


def _keyed(cell: list[str], key: str) -> bool:
    from classifier.export.links import parse_ref

    return any(ref is not None and ref.key == key for ref in map(parse_ref, cell))


if __name__ == "__main__":
    main()
