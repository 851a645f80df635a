"""Peak memory and time of the commands that read their input in chunks, on 1,000,000 messages.

Each command runs in a fresh process (reading the corpus included); its peak resident set is
that process's ``ru_maxrss``. The corpora are those of ``bench_export.py`` and
``bench_stats.py`` (made here when missing); ``train`` reads the first ``--train-rows`` rows of
the export, and ``suggest`` the first ``--suggest-rows`` when given (1M suggestions take minutes). ``--code DIR`` runs the commands from another checkout of feedtag (the code before
a change, e.g. ``git archive``'d into a folder), for a before/after with the same Python.

Usage::

    python bench/bench_stream.py [--data DIR] [--code DIR] [--only export,stats,suggest,train]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_stats import make_files, timed
from bench.machine import machine

COMMANDS = ("export", "stats", "suggest", "train")


def feedtag(code: Path | None) -> list[str]:
    """How to run feedtag: the installed script, or ``code``'s cli.py with this Python."""
    if code is None:
        return [str(Path(sys.executable).with_name("feedtag"))]
    run = f"import sys; sys.path.insert(0, {str(code)!r}); from cli import app; app(prog_name='feedtag')"
    return [sys.executable, "-c", run]


def first_rows(corpus: Path, rows: int) -> Path:
    """The first ``rows`` rows of ``corpus``, as a CSV file beside it (made once)."""
    head = corpus.with_name(f"{corpus.stem}-head-{rows}.csv")
    if not head.exists():
        import pandas as pd

        pd.read_csv(corpus, nrows=rows, dtype=str).to_csv(head, index=False)
    return head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data"))
    parser.add_argument("--code", type=Path, help="Run feedtag from this checkout instead.")
    parser.add_argument("--only", default=",".join(COMMANDS))
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--suggest-rows", type=int, help="Suggest for the first N rows only.")
    args = parser.parse_args()
    from bench.bench_export import make_corpus

    args.data.mkdir(parents=True, exist_ok=True)
    export = args.data / f"export-{args.messages}.csv"
    if not export.exists():
        make_corpus(export, args.messages)
    history, users, active = make_files(args.data, args.messages)
    head = first_rows(export, args.train_rows)
    suggest_input = first_rows(export, args.suggest_rows) if args.suggest_rows else export
    work = Path(tempfile.mkdtemp(prefix="feedtag-stream-", dir=args.data))
    run = feedtag(args.code)
    commands = {
        "export": ["export", str(export), "--by", "team", "--out", str(work / "out")],
        "stats": [
            *("stats", str(history), "--users", str(users), "--active-users", str(active)),
            *("--timezone", "Europe/Berlin", "-f", "json", "-o", str(work / "s.json")),
        ],
        "suggest": ["suggest", "--input", str(suggest_input), "--output", str(work / "s.csv")],
        "train": ["train", str(head), "--out", str(work / "model"), "--folds", "2"],
    }
    print(machine())
    print(f"code: {args.code or 'this checkout'}")
    try:
        for name in args.only.split(","):
            before = os.getloadavg()[0]
            seconds, cpu, peak = timed([*run, *commands[name]])
            sizes = {"train": args.train_rows, "suggest": args.suggest_rows or args.messages}
            rows = sizes.get(name, args.messages)
            print(
                f"{name} on {rows:,} messages: {seconds:.1f} s wall, {cpu:.1f} s CPU, "
                f"peak RSS {peak:.2f} GiB (load average {before:.1f} before, "
                f"{os.getloadavg()[0]:.1f} after)",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
