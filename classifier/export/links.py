"""Issue references as help-desk exports write them, normalised to one key per issue.

A link cell holds zero or more references, separated by whitespace, ``,``, ``;`` or ``|``, or
written as a JSON list. Each reference becomes one key:

==========================================================  ============================
spelling                                                    key
==========================================================  ============================
``https://github.com/Acme/Web/issues/12`` (``/pull/12``)    ``acme/web#12``  (github)
``Acme/Web#12``                                             ``acme/web#12``  (github)
``https://gitlab.com/Group/Sub/Proj/-/issues/12``           ``gitlab.com/group/sub/proj#12``
``https://git.example.org/team/app/-/merge_requests/3``     ``git.example.org/team/app!3``
``https://acme.atlassian.net/browse/abc-123``, ``ABC-123``  ``ABC-123``  (jira)
==========================================================  ============================

Decisions, so that one issue is always one key:

- **GitHub owner and repository are case-insensitive** (GitHub treats them so), so they are
  lower-cased. A pull request shares its repository's number sequence with the issues
  (``/issues/12`` redirects to ``/pull/12`` when 12 is a pull request), so ``/pull/12`` is the
  same key as ``/issues/12``; it is remembered as a pull request so ``--format gh`` can say
  ``gh pr edit``. ``owner/repo#12`` is GitHub's own short form and is read as GitHub.
- **GitLab** is any host whose path has ``/-/issues/N`` (or the older ``/issues/N`` on
  ``gitlab.*`` hosts), so self-hosted instances work; the key keeps the host. Host and project
  path are lower-cased (GitLab resolves paths case-insensitively). Merge requests have their
  own numbers, so they key as ``path!N``, GitLab's own spelling; work items share the issues'.
- **Jira keys are upper-cased** (Jira does). The host is dropped: a team has one Jira site, and
  a bare ``ABC-123`` (what agents paste) must meet its URL form. ``/browse/KEY``,
  ``/projects/P/issues/KEY`` and ``?selectedIssue=KEY`` URLs on any host are read.
- Query strings and fragments (``#issuecomment-5``) are ignored. Anything else, a bare ``#12``
  or a URL of another kind, is unreadable, and the row is reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classifier.corpus import split_tags

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SEPARATORS = re.compile(r"[\s,;|]+")
GITHUB_HOSTS = ("github.com", "www.github.com")
REPO_PART = r"[A-Za-z0-9_.-]+"
SHORT = re.compile(rf"^({REPO_PART})/({REPO_PART})#(\d+)$")
JIRA_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]+)-(\d+)$")
GITHUB_PATH = re.compile(rf"^/({REPO_PART})/({REPO_PART})/(issues|pull)/(\d+)(?:/.*)?$")
GITLAB_PATH = re.compile(r"^/(.+?)/-/(issues|work_items|merge_requests)/(\d+)(?:/.*)?$")
GITLAB_OLD_PATH = re.compile(r"^/(.+?)/(issues|merge_requests)/(\d+)(?:/.*)?$")
JIRA_PATH = re.compile(r"^/(?:.*/)?(?:browse|issues)/([A-Za-z][A-Za-z0-9_]+-\d+)/?$")
# scheme (optional: an export may drop it), user info, host, port, path, query, fragment;
# a regular expression is several times faster than urllib.parse on a million cells.
URL = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?:[^@/?#\s]*@)?(?P<host>[^:/?#\s]+)"
    r"(?::\d*)?(?P<path>/[^?#\s]*)?(?:\?(?P<query>[^#\s]*))?(?:#\S*)?$"
)
SELECTED = re.compile(r"(?:^|&)selectedIssue=([A-Za-z][A-Za-z0-9_]+-\d+)(?:&|$)")


@dataclass(frozen=True)
class IssueRef:
    """One issue reference, normalised.

    Attributes
    ----------
    key : str
        The one key of the issue (see the module docstring).
    tracker : str
        ``github``, ``gitlab`` or ``jira``.
    project : str
        ``owner/repo`` (GitHub), ``host/group/project`` (GitLab), the project key (Jira).
    number : int
        The issue's number within its project.
    pull : bool
        Written as a GitHub pull request or a GitLab merge request.
    """

    key: str
    tracker: str
    project: str
    number: int
    pull: bool = False


def parse_ref(token: str) -> IssueRef | None:
    """One reference as :class:`IssueRef`; ``None`` when it is none of the known spellings."""
    text = token.strip().strip("<>()[]\"'")
    if not text:
        return None
    if (short := SHORT.match(text)) is not None:
        project = f"{short[1]}/{short[2]}".lower()
        return IssueRef(f"{project}#{int(short[3])}", "github", project, int(short[3]))
    if JIRA_KEY.match(text):
        return _jira(text)
    url = URL.match(text)
    if url is None or not (url["scheme"] or url["path"]):
        return None
    scheme = (url["scheme"] or "https").lower()
    host = url["host"].lower()
    path = (url["path"] or "/").rstrip("/") or "/"
    if "//" in path:
        path = re.sub(r"/+", "/", path)
    if scheme not in ("http", "https"):
        return None
    if host in GITHUB_HOSTS:
        if (hub := GITHUB_PATH.match(path)) is None:
            return None
        project = f"{hub[1]}/{hub[2]}".lower()
        number = int(hub[4])
        return IssueRef(f"{project}#{number}", "github", project, number, hub[3] == "pull")
    lab = GITLAB_PATH.match(path)
    if lab is None and host.startswith("gitlab."):
        lab = GITLAB_OLD_PATH.match(path)
    if lab is not None:
        project = f"{host}/{lab[1]}".lower()
        number = int(lab[3])
        pull = lab[2] == "merge_requests"
        return IssueRef(f"{project}{'!' if pull else '#'}{number}", "gitlab", project, number, pull)
    if (browse := JIRA_PATH.match(path)) is not None:
        return _jira(browse[1])
    if url["query"] and (selected := SELECTED.search(url["query"])) is not None:
        return _jira(selected[1])
    return None


def _jira(key: str) -> IssueRef:
    project, _, number = key.upper().rpartition("-")
    return IssueRef(f"{project}-{int(number)}", "jira", project, int(number))


def split_cell(cell: Any) -> list[str]:
    """The reference tokens of one link cell: a JSON list, or text split on the separators.

    Raises ``ValueError`` for a cell that opens a JSON list but is not one.
    """
    return split_tags(cell, SEPARATORS)


@dataclass(frozen=True)
class CellLinks:
    """What one link cell says: its issues (each once, in written order) and what was not read."""

    refs: tuple[IssueRef, ...]
    unreadable: tuple[str, ...]


def parse_cell(cell: Any) -> CellLinks:
    """Every reference of one cell; a broken JSON list is one unreadable token."""
    try:
        tokens = split_cell(cell)
    except ValueError:
        return CellLinks((), (str(cell).strip(),))
    refs: dict[str, IssueRef] = {}
    unreadable = []
    for token in tokens:
        ref = parse_ref(token)
        if ref is None:
            unreadable.append(token)
        elif ref.key not in refs or ref.pull:
            refs[ref.key] = ref  # a pull-request spelling of a known key keeps its place
    return CellLinks(tuple(refs.values()), tuple(unreadable))


@dataclass(frozen=True)
class LinkTable:
    """Every readable link of a corpus, one row per (message, issue), and the rows that failed.

    Attributes
    ----------
    pairs : pandas.DataFrame
        ``message`` (position in ``Corpus.messages``) and ``issue`` (position in ``refs``), in
        message order, each pair once.
    refs : list of IssueRef
        The distinct issues, in order of first appearance.
    unreadable : pandas.DataFrame
        ``row`` (1-based data row) and ``value`` (the tokens not read, joined by a space).
    linked : numpy.ndarray
        Per message: its cell held anything at all (read or not).
    """

    pairs: pd.DataFrame
    refs: list[IssueRef]
    unreadable: pd.DataFrame
    linked: np.ndarray


def link_table(cells: pd.Series) -> LinkTable:
    """Read a whole link column, parsing each distinct cell once.

    A million rows hold far fewer distinct cells (most are empty or name one of a few thousand
    issues), so the Python parser runs per distinct cell and numpy spreads the result back.
    """
    import numpy as np
    import pandas as pd

    cells = cells.reset_index(drop=True)
    if cells.dtype == object:
        cells = cells.map(_hashable)
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    parsed = [parse_cell(cell) for cell in uniques.tolist()]
    index: dict[str, int] = {}
    refs: list[IssueRef] = []
    flat: list[int] = []
    sizes = np.zeros(len(parsed) + 1, dtype=np.int64)  # the last slot is the missing cell
    for number, cell in enumerate(parsed):
        for ref in cell.refs:
            position = index.setdefault(ref.key, len(refs))
            if position == len(refs):
                refs.append(ref)
            elif ref.pull and not refs[position].pull:
                refs[position] = ref
            flat.append(position)
        sizes[number] = len(cell.refs)
    codes = np.where(codes < 0, len(parsed), codes)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    per_message = sizes[codes]
    message = np.repeat(np.arange(len(codes)), per_message)
    within = np.arange(len(message)) - np.repeat(np.cumsum(per_message) - per_message, per_message)
    issue = np.asarray(flat, dtype=np.int64)[starts[codes][message] + within] if flat else message
    pairs = pd.DataFrame({"message": message, "issue": issue})
    failed = np.array([bool(cell.unreadable) for cell in parsed] + [False])
    wrong = np.flatnonzero(failed[codes])
    words = np.array([" ".join(cell.unreadable) for cell in parsed] + [""], dtype=object)
    unreadable = pd.DataFrame({"row": wrong + 1, "value": words[codes[wrong]]})
    written = np.array([bool(cell.refs or cell.unreadable) for cell in parsed] + [False])
    return LinkTable(pairs, refs, unreadable, written[codes])


def _hashable(cell: Any) -> Any:
    """List cells (JSON Lines, Parquet) as JSON text, so that equal cells factorise together."""
    if hasattr(cell, "tolist") and not isinstance(cell, str):
        cell = cell.tolist()
    if isinstance(cell, list | tuple):
        return json.dumps([None if item is None else str(item) for item in cell])
    return cell
