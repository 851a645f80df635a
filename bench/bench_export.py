"""Benchmark ``feedtag export`` on a synthetic help-desk export of 1,000,000 messages.

The corpus is made here (no download): one flat ``tags`` column spelled the way help desks
write tags (``Team: Inbox; Bug``: ids, names, aliases, odd case, a retired tag), about 8% of
messages missing or doubling a tag, and some text a spreadsheet would run as a formula.
The timed run is the real command in a fresh process (``feedtag export CORPUS --by team``),
so reading the corpus, resolving its tags and writing every file all count; its peak
resident set is that process's own.

Usage::

    python bench/bench_export.py [--messages 1000000] [--format csv] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_stats import timed  # noqa: E402

SENTENCES = [
    "The messenger launcher does not show up on our pricing page",
    "Can we export conversations to CSV from the inbox?",
    "We were charged twice this month, please refund",
    "Love the new mobile SDK, setup took five minutes",
    "Campaign emails went out twice to the same users",
    "The API returns 500 when I page past 10,000 contacts",
    "How do I assign a conversation to a teammate?",
    "We are cancelling because the price doubled",
    "Everything is down, our customers cannot reach us",
    "I did not know you could snooze a conversation",
    '=HYPERLINK("http://example.com","click me")',
    "-2 stars, would not recommend",
    "Is there a discount for non-profits?",
    "The inbox search is confusing: where are closed chats?",
]


def tag_spellings(taxonomy) -> dict[str, list[list[str]]]:
    """Per axis, for each tag, the spellings an export writes: id, name, aliases, odd case."""
    spellings = {}
    for axis, body in taxonomy.axes.items():
        spellings[axis] = [[tag.id, tag.name, tag.name.upper(), *tag.aliases] for tag in body.tags]
    return spellings


def make_corpus(path: Path, messages: int, seed: int = 7) -> None:
    """Write a synthetic export of ``messages`` rows to ``path`` (CSV), vectorised."""
    import numpy as np
    import pandas as pd

    from classifier.taxonomy import load_taxonomy

    rng = np.random.default_rng(seed)
    spellings = tag_spellings(load_taxonomy())

    def axis_cells(axis: str) -> np.ndarray:
        tags = spellings[axis]
        # Skewed like real feedback: a few tags take most messages.
        weights = 1.0 / np.arange(1, len(tags) + 1)
        chosen = rng.choice(len(tags), size=messages, p=weights / weights.sum())
        variant = rng.integers(0, 1 << 16, size=messages)
        table = np.array(
            [[t[v % len(t)] for v in range(12)] for t in tags], dtype=object
        )  # 12 spellings per tag, cycled
        return table[chosen, variant % 12]

    team = axis_cells("team")
    topic = axis_cells("topic")
    second_team = axis_cells("team")
    roll = rng.random(messages)
    tags = team + "; " + topic
    tags = np.where(roll < 0.04, topic, tags)  # no team
    tags = np.where((roll >= 0.04) & (roll < 0.07), team, tags)  # no topic
    tags = np.where((roll >= 0.07) & (roll < 0.08), tags + "; " + second_team, tags)  # two teams
    start = np.datetime64("2024-03-01T00:00:00")
    created = start + rng.integers(0, 90 * 24 * 3600, size=messages).astype("timedelta64[s]")
    frame = pd.DataFrame(
        {
            "id": np.char.add("msg-", np.arange(messages).astype(str)),
            "conversation_id": np.char.add("conv-", (np.arange(messages) // 3).astype(str)),
            "created_at": np.datetime_as_string(created, unit="s"),
            "agent": np.char.add("agent-", rng.integers(0, 40, size=messages).astype(str)),
            "user_id": np.char.add("user-", rng.integers(0, 200_000, size=messages).astype(str)),
            "text": np.array(SENTENCES, dtype=object)[rng.integers(0, len(SENTENCES), messages)],
            "tags": tags,
        }
    )
    frame.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "markdown"])
    parser.add_argument("--keep", type=Path, help="Keep the corpus and export here.")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="feedtag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"export-{args.messages}.csv"
    try:
        if not corpus.exists():
            made = time.perf_counter()
            make_corpus(corpus, args.messages)
            print(f"made {corpus} in {time.perf_counter() - made:.1f} s", file=sys.stderr)
        feedtag = Path(sys.executable).with_name("feedtag")
        command = [str(feedtag), "export", str(corpus), "--by", "team", "--out", str(work / "out")]
        command += ["--format", args.format, "--force"]
        elapsed, cpu, peak = timed(command)
        print(
            f"export of {args.messages:,} messages (--format {args.format}, no --suggest): "
            f"{elapsed:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak:.2f} GiB "
            f"(load average {os.getloadavg()[0]:.1f} after)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
