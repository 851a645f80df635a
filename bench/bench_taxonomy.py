"""How long a large taxonomy takes to load: issue 12 asks for 20,000 tags in under 2 s.

Writes a synthetic taxonomy (two axes, each tag with a name, two aliases and a description),
then times ``load_taxonomy`` (parse, validation, collision checks) a few times.

    python -m bench.bench_taxonomy --tags 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.machine import machine


def synthetic_taxonomy(tags: int) -> str:
    lines = ["version: 1", "name: synthetic", "axes:"]
    for axis, count in (("team", tags // 2), ("topic", tags - tags // 2)):
        lines += [f"  {axis}:", f"    description: The {axis}.", "    tags:"]
        for i in range(count):
            lines += [
                f"      - id: {axis}-{i}",
                f"        name: {axis.title()} {i}",
                f'        aliases: ["{axis} alias {i}", "former {axis} {i}"]',
                f"        description: The {axis} number {i}.",
            ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from classifier.taxonomy import load_taxonomy

    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "taxonomy.yaml"
        path.write_text(synthetic_taxonomy(args.tags), encoding="utf-8")
        size = path.stat().st_size
        times, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            loaded = load_taxonomy(path)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        count = sum(len(axis.tags) for axis in loaded.axes.values())
    print(
        f"{count} tags ({size / 1e6:.1f} MB): load {min(times):.2f} s wall best, "
        f"{max(times):.2f} s worst of {args.repeat}; CPU {min(cpu):.2f} s best"
    )


if __name__ == "__main__":
    main()
