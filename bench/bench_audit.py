"""Audit speed and memory at scale: 1,000,000 and 10,000,000 synthetic messages.

Usage: python bench/bench_audit.py [--rows 1000000 10000000]

Each size runs in a fresh process (so peak memory is that run's own): read the CSV, resolve tags,
run every check, then the same through the CLI writing the findings as CSV.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "out"

CHILD = """
import sys, time, resource
from classifier.taxonomy import load_taxonomy
from classifier.corpus import load_corpus
from classifier.audit import run_audit
start = time.perf_counter()
corpus = load_corpus(sys.argv[1], load_taxonomy())
loaded = time.perf_counter()
report = run_audit(corpus)
done = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = usage.ru_maxrss / 2**20
cpu = usage.ru_utime + usage.ru_stime
print(f"{loaded - start:.2f} {done - loaded:.2f} {done - start:.2f} {peak:.2f} {len(report.findings)} {cpu:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from bench.machine import machine
    from bench.synthetic import write_export

    print(f"machine: {machine()}")
    for rows in args.rows:
        path = OUT / f"export-{rows}.csv"
        started = time.perf_counter()
        write_export(path, rows)
        print(
            f"{rows:>11,} rows: export ready ({path.stat().st_size / 2**20:.0f} MiB, "
            f"{time.perf_counter() - started:.0f} s to make)"
        )
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
        )
        load, checks, total, peak, found, cpu_s = child.stdout.split()
        print(
            f"{rows:>11,} rows: library read {load} s + checks {checks} s = {total} s wall "
            f"({cpu_s} s CPU incl. imports), peak RSS {peak} GiB, {int(found):,} findings"
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "audit",
                str(path),
                "--format",
                "csv",
                "--output",
                str(OUT / f"findings-{rows}.csv"),
                "--fail-on",
                "never",
            ],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
        )
        wall = time.perf_counter() - started
        peak_cli = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 2**20
        status = "ok" if cli.returncode == 0 else f"exit {cli.returncode}: {cli.stderr.strip()}"
        print(
            f"{rows:>11,} rows: CLI `feedtag audit --format csv --output` {wall:.2f} s wall, "
            f"peak RSS <= {peak_cli:.2f} GiB ({status})"
        )


if __name__ == "__main__":
    main()
