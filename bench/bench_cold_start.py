"""Cold start of the installed command (issue 15): ``feedtag suggest TEXT`` and ``feedtag --help``.

Usage: python bench/bench_cold_start.py [--runs 10] [--command PATH]

Each run is a fresh process of the installed console script (found beside this Python unless
``--command`` names one), started from an empty directory so nothing but the installed package
and its shipped model is used; the figure is wall-clock time from spawn to exit, so it includes
the interpreter start, every import, reading the model and printing. Prints min and median per
command of wall time and of CPU time (user + system, which other jobs on the machine hardly
change), plus the machine line.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine

MESSAGE = "Since this morning the messenger won't load for any of our customers"


def timed(command: list[str], cwd: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``runs`` fresh processes of ``command``.

    CPU time hardly depends on what else the machine runs; wall time does.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--command", help="the feedtag executable (default: beside this Python)")
    args = parser.parse_args()
    script = args.command or shutil.which("feedtag", path=str(Path(sys.executable).parent))
    if script is None:
        raise SystemExit("feedtag is not installed beside this Python: pip install -e .")
    print(machine())
    with tempfile.TemporaryDirectory() as empty:
        for label, command in (
            ("feedtag suggest TEXT", [script, "suggest", MESSAGE]),
            ("feedtag --help", [script, "--help"]),
        ):
            timed(command, empty, 1)  # warm the page cache: "cold" means a new process
            walls, cpus = timed(command, empty, args.runs)
            print(
                f"{label}: wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s; "
                f"CPU min {min(cpus):.3f} s, median {statistics.median(cpus):.3f} s "
                f"({args.runs} runs)"
            )


if __name__ == "__main__":
    main()
