"""The customers to get back to: conversations linked to issues closed since their last message.

The closed-issues file is what a tracker exports: ``gh issue list --state closed --json
url,closedAt`` (a JSON array), a Jira CSV export (``Issue key``, ``Resolved``), or any CSV,
TSV, JSON Lines or Parquet file with an issue reference column and a close-time column. Its
references are read like link cells (:mod:`classifier.export.links`), so every spelling meets
the corpus's. An issue listed more than once counts with its latest close.

A conversation is to get back to when an issue it links was closed *after* the conversation's
last message (any message of it, linked or not): the customer has not heard since. One row per
(conversation, issue), with the user and team of the first message that linked it, oldest last
message first. Conversations without a dated message cannot be judged and are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classifier.corpus import timestamps
from classifier.errors import CorpusError, UsageError
from classifier.export.links import parse_cell
from classifier.export.tracker import (
    conversations,
    first_reports,
    iso,
    live_labels,
    message_times,
)
from classifier.readers import format_of, read_frame

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus

ISSUE_NAMES = (
    "issue",
    "issue_key",
    "issue key",
    "key",
    "url",
    "html_url",
    "web_url",
    "reference",
    "ref",
    "link",
    "issue_url",
)
CLOSED_NAMES = (
    "closed_at",
    "closedat",
    "closed",
    "closed_on",
    "resolved",
    "resolved_at",
    "resolutiondate",
    "resolution_date",
)
COLUMNS = [
    "conversation_id",
    "user_id",
    "team",
    "issue",
    "closed_at",
    "last_message",
    "id",
    "row",
]


@dataclass(frozen=True)
class ClosedIssues:
    """The closed-issues file read: ``closed`` maps issue key to its latest close time."""

    path: str
    closed: dict[str, Any]
    unreadable: pd.DataFrame  # row, value, reason


@dataclass(frozen=True)
class Followups:
    """What ``feedtag followups`` found: ``rows`` has ``COLUMNS``, oldest last message first."""

    rows: pd.DataFrame
    closed: ClosedIssues
    undated: int
    linked_conversations: int

    def to_dict(self) -> dict[str, Any]:
        import json

        return {
            "followups": json.loads(self.rows.to_json(orient="records", force_ascii=False)),
            "undated_conversations": self.undated,
            "closed_unreadable": json.loads(
                self.closed.unreadable.to_json(orient="records", force_ascii=False)
            ),
        }


def read_closed(
    path: str, issue_column: str | None = None, closed_column: str | None = None
) -> ClosedIssues:
    """Read a closed-issues file; rows whose reference or time cannot be read are reported.

    Raises
    ------
    CorpusError
        When the file cannot be read or has no such columns.
    """
    import pandas as pd

    frame = read_frame(path, format_of(path))
    if frame.empty:
        raise CorpusError(f"{path}: no closed issues in the file")
    issue = _column(path, frame, issue_column, ISSUE_NAMES, "--issue-column")
    closed = _column(path, frame, closed_column, CLOSED_NAMES, "--closed-column")
    when = timestamps(frame[closed].astype(object).where(frame[closed].notna(), "").astype(str))
    keys, bad = [], []
    for row, (cell, moment) in enumerate(
        zip(frame[issue].tolist(), when.tolist(), strict=False), start=1
    ):
        parsed = parse_cell(cell)
        if parsed.unreadable or not parsed.refs:
            bad.append((row, str(cell), "not an issue reference"))
        elif pd.isna(moment):
            bad.append((row, str(frame[closed].iat[row - 1]), "not a readable close time"))
        else:
            keys += [(ref.key, moment) for ref in parsed.refs]
    latest: dict[str, Any] = {}
    for key, moment in keys:
        if key not in latest or moment > latest[key]:
            latest[key] = moment
    unreadable = pd.DataFrame(bad, columns=["row", "value", "reason"])
    return ClosedIssues(path, latest, unreadable)


def _column(path: str, frame: pd.DataFrame, wanted: str | None, names, option: str) -> str:
    by_folded = {str(column).strip().casefold(): column for column in frame.columns}
    if wanted is not None:
        if wanted.casefold() in by_folded:
            return by_folded[wanted.casefold()]
    else:
        found = next((by_folded[name] for name in names if name in by_folded), None)
        if found is not None:
            return found
    listing = ", ".join(map(str, frame.columns))
    named = f"no column '{wanted}'" if wanted else "no issue or close-time column found"
    raise CorpusError(f"{path}: {named} ({option}); columns are: {listing}")


def build_followups(corpus: Corpus, closed: ClosedIssues) -> Followups:
    """Every (conversation, closed issue) whose issue closed after the conversation's last
    message."""
    import numpy as np
    import pandas as pd

    from classifier.export.links import link_table

    if corpus.columns.links is None:
        raise UsageError(f"{corpus.path}: no issue link column; name it with --link-column")
    messages = corpus.messages
    links = link_table(corpus.frame[corpus.columns.links])
    when = message_times(messages)
    conversation = conversations(messages)
    last = when.reset_index(drop=True).groupby(conversation).max()
    reports = first_reports(links.pairs, conversation, when)
    keys = np.array([ref.key for ref in links.refs], dtype=object)
    reports["issue"] = keys[reports["issue"].to_numpy()] if len(keys) else ""
    reports["closed_at"] = reports["issue"].map(closed.closed)
    reports = reports[reports["closed_at"].notna()].reset_index(drop=True)
    reports["closed_at"] = pd.to_datetime(reports["closed_at"], utc=True)
    reports["last"] = last.reindex(reports["conversation"].to_numpy()).array
    undated = reports.loc[reports["last"].isna(), "conversation"].nunique()
    due = reports[reports["closed_at"] > reports["last"]]
    due = due.sort_values(["last", "issue", "conversation"], kind="stable")
    position = due["message"].to_numpy()
    team = live_labels(corpus, "team")[position]
    chosen = messages.iloc[position].reset_index(drop=True)
    rows = pd.DataFrame(
        {
            "conversation_id": _text(chosen, "conversation_id", chosen["id"]),
            "user_id": _text(chosen, "user_id", ""),
            "team": pd.Series(team, dtype=object).fillna(""),
            "issue": due["issue"].to_numpy(),
            "closed_at": iso(due["closed_at"].reset_index(drop=True)),
            "last_message": iso(due["last"].reset_index(drop=True)),
            "id": chosen["id"],
            "row": chosen["row"],
        }
    )
    return Followups(rows, closed, int(undated), int(reports["conversation"].nunique()))


def _text(frame: pd.DataFrame, column: str, default: Any) -> Any:
    if column not in frame:
        return default
    values = frame[column]
    return values.where(values != "", default) if not isinstance(default, str) else values
