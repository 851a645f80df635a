"""Distributed suggest and audit on 1 and 2 local Dask workers over a partitioned Parquet dataset.

Usage:
  python bench/bench_distributed.py generate --rows 10000000 --files 40 --out /work/bench-data/feedtag-10m
  python bench/bench_distributed.py run --data /work/bench-data/feedtag-10m --workers 1 2 [--local]
      [--commands suggest audit]

``generate`` writes the synthetic export of ``bench/synthetic.py`` as ``--files`` Parquet part
files (ids, conversations and dates continue from file to file, so the dataset reads as one
export), into a temporary directory renamed at the end. ``run`` starts a ``LocalCluster`` with
N single-threaded worker processes for each N given, and times ``suggest`` (messages/s) and
``audit`` (seconds) through the library functions the CLI calls, each writing its Parquet
result into a scratch directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent


def generate(rows: int, files: int, out: Path) -> None:
    import numpy as np

    from bench.synthetic import make_export

    if out.exists():
        print(f"{out} exists: kept")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    per_file = -(-rows // files)
    started = time.perf_counter()
    for i in range(files):
        offset = i * per_file
        n = min(per_file, rows - offset)
        frame = make_export(n, seed=i)
        numbers = frame["id"].str.slice(1).astype(np.int64) + offset
        frame["id"] = "m" + numbers.astype(str)
        frame["conversation_id"] = "c" + ((np.arange(n) + offset) // 3).astype(str)
        start = np.datetime64("2026-01-01T00:00:00")
        created = start + ((np.arange(n) + offset) * 3).astype("timedelta64[s]")
        frame["created_at"] = np.datetime_as_string(created, unit="s")
        frame.to_parquet(temp / f"part-{i:05d}.parquet", index=False, row_group_size=50_000)
        print(f"file {i + 1}/{files}: {n:,} rows ({time.perf_counter() - started:.0f} s)")
    temp.rename(out)
    print(f"wrote {rows:,} rows in {files} files to {out}")


def run(data: str, workers: list[int], model: Path | None, local: bool, commands: list[str]):
    from distributed import LocalCluster

    from bench.machine import machine
    from classifier.dataset import dataset_files
    from classifier.engine import distributed_audit, distributed_suggest, engine_client
    from classifier.model.store import default_model_path, load_model
    from classifier.taxonomy import load_taxonomy

    print(f"machine: {machine()}")
    taxonomy = load_taxonomy()
    model = model or default_model_path()
    fitted = load_model(model, taxonomy)
    print(f"model: {model}")
    files = dataset_files(data)
    print(f"data: {data} ({len(files)} Parquet files)")
    scratch = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    try:
        if local:
            single_machine(data, taxonomy, fitted, commands)
        for n in workers:
            with (
                LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    memory_limit="6GiB",
                ) as cluster,
                engine_client(cluster.scheduler_address) as client,
            ):
                if "suggest" in commands:
                    with timed(f"{n} worker(s): suggest") as result:
                        done = distributed_suggest(
                            client, data, fitted, taxonomy, None, scratch / f"suggest-{n}"
                        )
                        result["messages"] = done.messages
                if "audit" in commands:
                    with timed(f"{n} worker(s): audit") as result:
                        report = distributed_audit(client, data, taxonomy)
                        result["messages"] = report.messages
                        result["findings"] = report.findings
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def single_machine(data: str, taxonomy, fitted, commands: list[str]) -> None:
    """The same work in this one process with ``--engine local``'s functions, for comparison."""
    from classifier.audit.stream import audit_dataset
    from classifier.dataset import iter_chunks
    from classifier.model.suggest import suggest_corpus

    if "suggest" in commands:
        with timed("single machine (1 process): suggest") as result:
            chunks = iter_chunks(data, taxonomy)
            result["messages"] = sum(len(suggest_corpus(fitted, c).table) for c in chunks)
    if "audit" in commands:
        with timed("single machine (1 process): audit") as result:
            report = audit_dataset(data, taxonomy)
            result["messages"] = report.summary.messages
            result["findings"] = len(report.found)


@contextmanager
def timed(label: str):
    """Time the block; print messages, seconds, messages/s and the load before and after."""
    result: dict[str, int] = {}
    load = os.getloadavg()[0]
    started = time.perf_counter()
    yield result
    seconds = time.perf_counter() - started
    messages = result["messages"]
    found = f", {result['findings']:,} findings" if "findings" in result else ""
    print(
        f"{label} {messages:,} messages in {seconds:.0f} s = {messages / seconds:,.0f} "
        f"messages/s{found} (load {load:.1f} at start, {os.getloadavg()[0]:.1f} at end)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("generate")
    make.add_argument("--rows", type=int, default=10_000_000)
    make.add_argument("--files", type=int, default=40)
    make.add_argument("--out", type=Path, default=Path("/work/bench-data/feedtag-10m"))
    bench = commands.add_parser("run")
    bench.add_argument("--data", default="/work/bench-data/feedtag-10m", help="directory or glob")
    bench.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    bench.add_argument("--model", type=Path, default=None)
    bench.add_argument("--local", action="store_true", help="also time the single-machine path")
    bench.add_argument("--commands", nargs="+", default=["suggest", "audit"])
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    if args.command == "generate":
        generate(args.rows, args.files, args.out)
    else:
        run(args.data, args.workers, args.model, args.local, args.commands)


if __name__ == "__main__":
    main()
