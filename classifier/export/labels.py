"""The label changes ``feedtag issues`` proposes, as JSON Lines and as ``gh`` commands.

Per issue: add ``team:<id>`` (not when the team is tied or no report has one) and
``frequency:daily`` or ``frequency:weekly``; remove the frequency label that no longer holds
(both when none does), so last week's ``daily`` does not linger. Other team labels are left
alone: feedtag does not know which ones an issue carries.

``gh`` commands are written for GitHub keys only (``gh issue edit N --repo owner/repo``, or
``gh pr edit`` for a key first written as a pull request), every value through
``shlex.quote``. GitLab and Jira issues have no ``gh`` command: they are counted in a comment
line, and ``--labels-out`` carries their changes for the tracker's own tools. gh refuses a
label the repository lacks, so create ``team:*`` and ``frequency:*`` once with ``gh label
create``. feedtag itself makes no network call.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classifier.export.links import IssueRef

if TYPE_CHECKING:
    from classifier.export.tracker import IssuesReport

FREQUENCIES = ("daily", "weekly")


@dataclass(frozen=True)
class LabelChange:
    """The labels one issue should gain and lose."""

    ref: IssueRef
    add: tuple[str, ...]
    remove: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        ref = self.ref
        return {
            "issue": ref.key,
            "tracker": ref.tracker,
            "project": ref.project,
            "number": ref.number,
            "pull": ref.pull,
            "add": list(self.add),
            "remove": list(self.remove),
        }


def label_changes(report: IssuesReport) -> list[LabelChange]:
    """One change per issue of the report, in the report's order."""
    issues = report.issues
    tied = set(report.findings.loc[report.findings["check"] == "team-tie", "issue"])
    changes = []
    for key, ref, team, frequency in zip(
        issues["issue"], issues["ref"], issues["team"], issues["frequency"], strict=True
    ):
        add = []
        if team and key not in tied:
            add.append(f"team:{team}")
        if frequency:
            add.append(f"frequency:{frequency}")
        remove = tuple(f"frequency:{other}" for other in FREQUENCIES if other != frequency)
        changes.append(LabelChange(report.refs[ref], tuple(add), remove))
    return changes


def labels_jsonl(changes: list[LabelChange]) -> str:
    """One JSON object per issue and line."""
    return "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in changes)


def gh_commands(changes: list[LabelChange]) -> str:
    """A shell script of ``gh issue edit`` lines for the GitHub issues, the rest counted."""
    lines = ["# feedtag issues: label changes for GitHub issues; review, then run with sh"]
    others: dict[str, int] = {}
    for change in changes:
        ref = change.ref
        if ref.tracker != "github":
            others[ref.tracker] = others.get(ref.tracker, 0) + 1
            continue
        words = ["gh", "pr" if ref.pull else "issue", "edit", str(ref.number)]
        words += ["--repo", ref.project]
        for label in change.add:
            words += ["--add-label", label]
        for label in change.remove:
            words += ["--remove-label", label]
        lines.append(" ".join(shlex.quote(word) for word in words))
    for tracker, count in sorted(others.items()):
        noun = "issue" if count == 1 else "issues"
        lines.append(f"# {count} {tracker} {noun} skipped: gh edits GitHub only; see --labels-out")
    return "\n".join(lines) + "\n"
