"""Audit speed and memory at scale: synthetic exports of 1M, 10M and 30M messages.

Usage: python bench/bench_audit.py [--rows 1000000 10000000 30000000] [--data DIR] [--parquet]
       [--skip-cli] [--model]

Data goes to --data (default /work/bench-data, outside the repository, shared by sessions):
``audit-export-N.csv`` made by ``bench/synthetic.py``; with --parquet also the same rows as a
directory of 20 Parquet files (``audit-parquet-N/``). Every figure comes from a fresh process,
so its peak RSS (``ru_maxrss``) is that run's own:

- library: ``audit_dataset`` (read in chunks + every check + summary); with --model also
  ``audit_dataset(judge=ModelJudge)``, the shipped TF-IDF model (``models/default``) judging
  every tag;
- CLI: ``feedtag audit CORPUS --format csv --output F`` (findings streamed to the file);
- read: one pass of ``iter_frames`` (raw rows) and of ``iter_chunks`` (tags resolved), for the
  CSV and the Parquet dataset.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent

LIBRARY = """
import sys, time, resource
from classifier.taxonomy import load_taxonomy
from classifier.audit.stream import audit_dataset
start = time.perf_counter()
report = audit_dataset(sys.argv[1], load_taxonomy())
done = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"{done - start:.1f} {usage.ru_maxrss / 2**20:.2f} {len(report.found)} "
      f"{usage.ru_utime + usage.ru_stime:.1f}")
"""

JUDGED = """
import sys, time, resource
from classifier.taxonomy import load_taxonomy
from classifier.audit.judges import ModelJudge
from classifier.audit.stream import audit_dataset
taxonomy = load_taxonomy()
start = time.perf_counter()
report = audit_dataset(sys.argv[1], taxonomy, judge=ModelJudge.load(sys.argv[2], taxonomy))
done = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"{done - start:.1f} {usage.ru_maxrss / 2**20:.2f} {len(report.found)} "
      f"{usage.ru_utime + usage.ru_stime:.1f}")
"""

READ = """
import sys, time, resource
from classifier.taxonomy import load_taxonomy
from classifier.dataset import iter_chunks, iter_frames
start = time.perf_counter()
rows = sum(len(chunk.frame) for chunk in iter_frames(sys.argv[1]))
raw = time.perf_counter()
peak_raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
rows = sum(len(chunk) for chunk in iter_chunks(sys.argv[1], load_taxonomy(), require_tags=True))
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"{raw - start:.1f} {peak_raw:.2f} {done - raw:.1f} {peak:.2f} {rows}")
"""

CLI = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], capture_output=True).returncode
wall = time.perf_counter() - start
print(f"{wall:.1f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.2f} {code}")
"""


def child(script: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return done.stdout.split()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data"))
    parser.add_argument("--parquet", action="store_true", help="also a 20-file Parquet dataset")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--model", action="store_true", help="also audit --model (shipped model)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.machine import machine
    from bench.synthetic import write_export, write_parquet_dataset

    print(f"machine: {machine()}")
    for rows in args.rows:
        path = args.data / f"audit-export-{rows}.csv"
        started = time.perf_counter()
        write_export(path, rows)
        print(
            f"{rows:>11,} rows: export ready ({path.stat().st_size / 2**20:.0f} MiB, "
            f"{time.perf_counter() - started:.0f} s to make)"
        )
        wall, peak, found, cpu = child(LIBRARY, str(path))
        print(
            f"{rows:>11,} rows: library audit_dataset {wall} s wall ({cpu} s CPU), "
            f"peak RSS {peak} GiB, {int(found):,} findings (load {load()})"
        )
        if args.model:
            wall, peak, found, cpu = child(JUDGED, str(path), str(ROOT / "models" / "default"))
            print(
                f"{rows:>11,} rows: library audit_dataset judged by models/default {wall} s wall "
                f"({cpu} s CPU), peak RSS {peak} GiB, {int(found):,} findings (load {load()})"
            )
        if not args.skip_cli:
            out = args.data / f".audit-findings-{rows}-{os.getpid()}.csv"
            command = [sys.executable, "-m", "cli", "audit", str(path), "--format", "csv"]
            command += ["--output", str(out), "--fail-on", "never"]
            wall, peak, code = child(CLI, *command)
            size = out.stat().st_size / 2**20 if out.exists() else 0
            out.unlink(missing_ok=True)
            print(
                f"{rows:>11,} rows: CLI `feedtag audit --format csv --output` {wall} s wall, "
                f"peak RSS {peak} GiB, exit {code}, {size:.0f} MiB of findings (load {load()})"
            )
        if args.parquet:
            folder = write_parquet_dataset(args.data / f"audit-parquet-{rows}", path)
            for name, source in (("one CSV", path), ("20 Parquet files", folder)):
                raw, raw_peak, resolved, peak, _ = child(READ, str(source))
                print(
                    f"{rows:>11,} rows, {name}: read {raw} s (peak {raw_peak} GiB), "
                    f"read + resolve tags {resolved} s (peak {peak} GiB) (load {load()})"
                )
            wall, peak, found, cpu = child(LIBRARY, str(folder))
            print(
                f"{rows:>11,} rows, 20 Parquet files: audit_dataset {wall} s wall ({cpu} s CPU), "
                f"peak RSS {peak} GiB, {int(found):,} findings (load {load()})"
            )


if __name__ == "__main__":
    main()
