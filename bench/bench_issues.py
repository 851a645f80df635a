"""Benchmark ``feedtag issues`` on 1,000,000 messages linked to 50,000 distinct issues.

The corpus is made here (no download), vectorised: about two messages per conversation over
twelve weeks; team and topic tags spelled by name; the first message of a conversation carries
its link, more often for bug reports (70%) and outages than for questions, to one of 50,000
issues (a few issues take many reports, as in real trackers) spelled every way (GitHub URL,
pull-request URL, ``owner/repo#N``, GitLab URL, Jira URL, bare and lower-case Jira key), 5% of
cells naming two issues, 0.5% not a link. Texts are the held-out example messages
(``examples/source/heldout.csv``), half with an order number appended, so unlinked bug
reports have near-duplicates to group. ``--distinct-texts`` instead writes every text as two
random sentences of different messages (no two alike): the worst case for the grouping.

The timed run is the real command in a fresh process (``feedtag issues CORPUS --format csv
--labels-out FILE``), so starting Python, reading the corpus, resolving its tags, parsing the
links, grouping unlinked reports and writing both outputs all count.

Usage::

    python bench/bench_issues.py [--messages 1000000] [--issues 50000] [--distinct-texts]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402

HELDOUT = ROOT / "examples" / "source" / "heldout.csv"
LINK_SHARE = {"bug-report": 0.7, "outage": 0.6, "user-issue": 0.3}  # others 0.1


def make_corpus(path: Path, messages: int, issues: int, distinct: bool, seed: int = 14) -> None:
    """Write the synthetic corpus to ``path`` (CSV)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from classifier.taxonomy import load_taxonomy

    rng = np.random.default_rng(seed)
    taxonomy = load_taxonomy()
    teams = [tag for tag in taxonomy.axes["team"].tags if not tag.deprecated]
    topics = [tag for tag in taxonomy.axes["topic"].tags if not tag.deprecated]
    topic_ids = np.array([tag.id for tag in topics])
    weights = np.array([0.15 if t == "bug-report" else 0.85 / (len(topics) - 1) for t in topic_ids])
    team = rng.integers(0, len(teams), messages)
    topic = rng.choice(len(topics), messages, p=weights)
    tags = np.array([t.name for t in teams], dtype=object)[team] + "; "
    tags = tags + np.array([t.name for t in topics], dtype=object)[topic]

    conversation = np.sort(rng.integers(0, messages // 2, messages))
    start = np.datetime64("2026-09-07T00:00:00")
    seconds = np.sort(rng.integers(0, 84 * 24 * 3600, messages))
    created = np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="s")
    first = np.r_[True, conversation[1:] != conversation[:-1]]
    share = np.array([LINK_SHARE.get(t, 0.1) for t in topic_ids])[topic]
    linked = first & (rng.random(messages) < share)
    issue = np.minimum(rng.zipf(1.3, messages) - 1, issues - 1)  # a few issues take many
    issue = np.where(rng.random(messages) < 0.5, issue, rng.integers(0, issues, messages))
    every = rng.choice(np.flatnonzero(linked), issues, replace=False)
    issue[every] = np.arange(issues)  # every issue is linked at least once
    cells = np.where(linked, _spell(rng, issue), "")
    second = linked & (rng.random(messages) < 0.05)
    cells[second] = cells[second] + ", " + _spell(rng, rng.integers(0, issues, int(second.sum())))
    junk = linked & (rng.random(messages) < 0.005)
    junk[every] = False
    cells[junk] = "see slack"

    texts = pd.read_csv(HELDOUT)["text"].dropna().tolist()
    if distinct:
        sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 20]
        pool = np.array(sentences, dtype=object)
        a, b = rng.integers(0, len(pool), messages), rng.integers(0, len(pool), messages)
        text = pool[a] + " " + pool[b] + " " + np.char.add("#", np.arange(messages).astype(str))
    else:
        pool = np.array(texts, dtype=object)
        order = np.char.add(" (order ", rng.integers(10000, 99999, messages).astype(str))
        text = pool[rng.integers(0, len(pool), messages)]
        text = np.where(rng.random(messages) < 0.5, text + np.char.add(order, ")"), text)
    table = pa.table(
        {
            "id": np.char.add("m", np.arange(messages).astype(str)),
            "conversation_id": np.char.add("c", conversation.astype(str)),
            "created_at": created,
            "user_id": np.char.add("u", (conversation % (messages // 6)).astype(str)),
            "text": pa.array(text.tolist(), pa.string()),
            "tags": pa.array(tags.tolist(), pa.string()),
            "issue": pa.array(cells.tolist(), pa.string()),
        }
    )
    pacsv.write_csv(table, path)


def _spell(rng, issue):
    """Issue numbers written as links: a third each on GitHub, GitLab and Jira, every way."""
    import numpy as np

    n = issue.astype(str)
    repo = (issue % 40).astype(str)
    way = rng.integers(0, 3, len(issue))
    github = [
        np.char.add(np.char.add(np.char.add("https://github.com/acme/r", repo), "/issues/"), n),
        np.char.add(np.char.add(np.char.add("https://github.com/Acme/R", repo), "/pull/"), n),
        np.char.add(np.char.add(np.char.add("acme/r", repo), "#"), n),
    ]
    gitlab = [
        np.char.add(np.char.add(np.char.add("https://gitlab.com/acme/g/p", repo), "/-/issues/"), n),
        np.char.add(np.char.add(np.char.add("https://gitlab.com/Acme/G/P", repo), "/-/issues/"), n),
        np.char.add(np.char.add(np.char.add("gitlab.com/acme/g/p", repo), "/-/issues/"), n),
    ]
    jira = [
        np.char.add(np.char.add(np.char.add("https://acme.atlassian.net/browse/P", repo), "-"), n),
        np.char.add(np.char.add(np.char.add("P", repo), "-"), n),
        np.char.add(np.char.add(np.char.add("p", repo), "-"), n),
    ]
    tracker = issue % 3
    out = np.empty(len(issue), dtype=object)
    for number, spellings in enumerate((github, gitlab, jira)):
        for choice in range(3):
            mask = (tracker == number) & (way == choice)
            out[mask] = spellings[choice][mask]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=50_000)
    parser.add_argument("--distinct-texts", action="store_true")
    parser.add_argument("--keep", type=Path, help="Keep the corpus and outputs here.")
    args = parser.parse_args()

    print(machine())
    work = args.keep or Path(tempfile.mkdtemp(prefix="feedtag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    kind = "distinct" if args.distinct_texts else "pool"
    corpus = work / f"issues-{args.messages}-{args.issues}-{kind}.csv"
    try:
        if not corpus.exists():
            made = time.perf_counter()
            make_corpus(corpus, args.messages, args.issues, args.distinct_texts)
            print(f"made {corpus} in {time.perf_counter() - made:.1f} s", file=sys.stderr)
        feedtag = Path(sys.executable).with_name("feedtag")
        command = [str(feedtag), "issues", str(corpus), "--link-column", "issue"]
        command += ["--format", "csv", "--output", str(work / "issues.csv")]
        command += ["--labels-out", str(work / "labels.jsonl")]
        began = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - began
        print(done.stderr.strip())
        print(
            f"feedtag issues on {args.messages:,} messages, {args.issues:,} issues "
            f"({kind} texts): {elapsed:.1f} s; load average now {os.getloadavg()[0]:.1f}"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
