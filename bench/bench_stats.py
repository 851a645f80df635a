"""Benchmark ``feedtag stats`` and ``feedtag report`` on 1,000,000 synthetic messages.

The corpus is ``bench/synthetic.py``'s help-desk export (id, conversation_id, created_at over
about 50 weeks, agent, user_id, text, tags with the usual defects) plus a ``first_response_at``
column; the script also writes a users file (every user id with a signup time) and an
active-users file (one figure per week). Each command runs in a fresh process, reading and
resolving the corpus included; peak memory is that process's maximum resident set.

Usage::

    python bench/bench_stats.py [--messages 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import machine

PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_utime + u.ru_stime, u.ru_maxrss)"
)


def make_files(work: Path, messages: int) -> tuple[Path, Path, Path]:
    import numpy as np
    import pandas as pd

    from bench.synthetic import make_export

    corpus, users, active = work / f"stats-{messages}.csv", work / "users.csv", work / "active.csv"
    if corpus.exists():
        return corpus, users, active
    rng = np.random.default_rng(5)
    frame = make_export(messages, seed=5)
    created = pd.to_datetime(frame["created_at"], utc=True)
    wait = pd.to_timedelta(rng.lognormal(np.log(1800), 1.0, messages).astype(int), unit="s")
    answered = (created + wait).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["first_response_at"] = answered.where(rng.random(messages) > 0.05, "")
    frame.to_csv(corpus, index=False)
    ids = pd.unique(frame["user_id"])
    start = pd.Timestamp("2025-06-01T00:00:00Z")
    signed = start + pd.to_timedelta(rng.integers(0, 550 * 86400, len(ids)), unit="s")
    pd.DataFrame({"user_id": ids, "signed_up_at": signed.strftime("%Y-%m-%dT%H:%M:%SZ")}).to_csv(
        users, index=False
    )
    weeks = pd.date_range(created.min().normalize(), created.max(), freq="W-MON")
    labels = [f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in weeks]
    pd.DataFrame(
        {"week": labels, "active_users": rng.integers(150_000, 190_000, len(labels))}
    ).to_csv(active, index=False)
    return corpus, users, active


def timed(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (GiB) of ``command`` in a fresh process."""
    env = {**os.environ, "COLUMNS": "100"}
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *command], check=True, env=env, capture_output=True, text=True
    )
    cpu, peak = done.stdout.split()[-2:]
    return time.perf_counter() - began, float(cpu), int(peak) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="Keep the corpus and outputs here.")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="feedtag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        made = time.perf_counter()
        corpus, users, active = make_files(work, args.messages)
        print(f"files ready in {time.perf_counter() - made:.1f} s", file=sys.stderr)
        print(machine())
        feedtag = str(Path(sys.executable).with_name("feedtag"))
        common = [str(corpus), "--users", str(users), "--active-users", str(active)]
        common += ["--timezone", "Europe/Berlin"]
        runs = {
            "stats --format json": [
                feedtag,
                "stats",
                *common,
                "-f",
                "json",
                "-o",
                str(work / "s.json"),
            ],
            "stats (table)": [feedtag, "stats", *common],
            "report": [feedtag, "report", *common, "--out", str(work / "report.html")],
        }
        for name, command in runs.items():
            seconds, cpu, peak = timed(command)
            print(
                f"{name} on {args.messages:,} messages: {seconds:.1f} s wall, {cpu:.1f} s CPU, "
                f"peak RSS {peak:.2f} GiB"
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
