"""Figures of issue 16: agreement is right, its intervals cover, sample and diff are fast.

Usage: python bench/bench_quality.py [--rows 1000000] [--simulations 1000] [--part all]

1. Cohen's kappa from confusion counts against scikit-learn's ``cohen_kappa_score`` on random
   label pairs (several tag counts, sizes and agreement levels): the largest difference.
2. Coverage of the 95% percentile-bootstrap intervals: draw samples of n messages from a
   known joint distribution of two taggers' tags (so the true kappa and agreement are
   known), compute the interval as ``feedtag agreement`` does, count how often it holds the
   truth.
3. Speed of the bootstrap: 2,000 and 10,000 resamples of a 200-message and a 100,000-message
   comparison.
4. ``feedtag sample`` of a synthetic corpus (``bench/synthetic.py``), library and CLI, in
   fresh processes.
5. ``feedtag taxonomy diff taxonomy.yaml examples/taxonomy-changed.yaml --corpus`` of the same
   corpus, library and CLI.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parent
OUT = HERE / "out"

SAMPLE_CHILD = """
import sys, time
start = time.perf_counter()
from classifier.taxonomy import load_taxonomy
from classifier.corpus import load_corpus
from classifier.quality.sample import draw_sample, write_sample
imported = time.perf_counter()
corpus = load_corpus(sys.argv[1], load_taxonomy())
loaded = time.perf_counter()
sample = draw_sample(corpus, 200, blind=True)
write_sample(sample, sys.argv[2])
done = time.perf_counter()
print(f"{imported - start:.2f} {loaded - imported:.2f} {done - loaded:.2f} {len(sample.strata)}")
"""

DIFF_CHILD = """
import sys, time
start = time.perf_counter()
from classifier.taxonomy import load_taxonomy
from classifier.corpus import load_corpus
from classifier.quality.taxonomy_diff import corpus_impact, diff_taxonomies
imported = time.perf_counter()
old, new = load_taxonomy(sys.argv[2]), load_taxonomy(sys.argv[3])
corpus = load_corpus(sys.argv[1], old)
loaded = time.perf_counter()
diff = corpus_impact(diff_taxonomies(old, new), corpus, new)
done = time.perf_counter()
print(f"{imported - start:.2f} {loaded - imported:.2f} {done - loaded:.2f} {sum(diff.lost.values())}")
"""


def against_scikit_learn(rng: np.random.Generator, trials: int = 2000) -> tuple[float, int]:
    from sklearn.metrics import cohen_kappa_score

    from classifier.quality.kappa import confusion, kappa_from_counts

    worst, compared = 0.0, 0
    for _ in range(trials):
        k = int(rng.integers(2, 12))
        n = int(rng.integers(5, 5000))
        first = rng.integers(0, k, n)
        agree = rng.random()
        second = np.where(rng.random(n) < agree, first, rng.integers(0, k, n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = cohen_kappa_score(first, second)
        if np.isnan(expected):
            continue
        got = float(kappa_from_counts(confusion(first, second, k)))
        worst = max(worst, abs(got - expected))
        compared += 1
    return worst, compared


def joint(k: int, agree: float, skew: float) -> np.ndarray:
    """A joint distribution of two taggers' tags: skewed tag shares, ``agree`` on the diagonal,
    disagreements spread over the other tags in proportion to their shares."""
    shares = np.exp(-skew * np.arange(k))
    shares /= shares.sum()
    off = np.outer(shares, shares)
    np.fill_diagonal(off, 0)
    off /= off.sum()
    return agree * np.diag(shares) + (1 - agree) * off


def coverage(rng, table: np.ndarray, n: int, simulations: int, resamples: int) -> tuple:
    from classifier.quality.kappa import score

    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    true_agreement = float(np.trace(table))
    true_kappa = (true_agreement - expected) / (1 - expected)  # the population's
    k = len(table)
    hits_kappa = hits_agreement = 0
    widths = []
    for _ in range(simulations):
        counts = rng.multinomial(n, table.ravel()).reshape(k, k)
        s = score(counts, resamples, rng)
        hits_kappa += s.kappa.low <= true_kappa <= s.kappa.high
        hits_agreement += s.agreement.low <= true_agreement <= s.agreement.high
        widths.append(s.kappa.high - s.kappa.low)
    return true_kappa, hits_kappa / simulations, hits_agreement / simulations, np.mean(widths)


def index_resampling(rng, n: int = 200, resamples: int = 20_000) -> str:
    """The multinomial draw of confusion counts against resampling message indices."""
    from classifier.quality.kappa import bootstrap_counts, confusion, kappa_from_counts

    table = joint(9, 0.8, 0.2)
    cells = rng.choice(81, size=n, p=table.ravel())
    first, second = cells // 9, cells % 9
    counts = confusion(first, second, 9)
    indices = rng.integers(0, n, size=(resamples, n))
    by_index = np.array([kappa_from_counts(confusion(first[i], second[i], 9)) for i in indices])
    by_counts = kappa_from_counts(bootstrap_counts(counts, resamples, rng))
    q = [2.5, 50, 97.5]
    a, b = np.percentile(by_index, q), np.percentile(by_counts, q)
    return (
        f"  n={n}: 2.5/50/97.5% of kappa by index resampling {a.round(4).tolist()}, "
        f"by multinomial counts {b.round(4).tolist()} ({resamples:,} resamples each)"
    )


def speed(rng) -> list[str]:
    from classifier.quality.kappa import score

    lines = []
    for n in (200, 100_000):
        table = joint(9, 0.8, 0.2)
        counts = rng.multinomial(n, table.ravel()).reshape(9, 9)
        for resamples in (2000, 10_000):
            started = time.perf_counter()
            score(counts, resamples, rng)
            lines.append(
                f"  n={n:,}, 9 tags, {resamples:,} resamples: "
                f"{1000 * (time.perf_counter() - started):.1f} ms"
            )
    return lines


def run(args: list[str]) -> tuple[float, str, float]:
    """Wall time, stdout and CPU seconds (user + system) of one fresh process."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, done.stdout.strip() or f"exit {done.returncode}", cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--simulations", type=int, default=1000)
    parser.add_argument("--part", choices=["all", "stats", "speed", "equivalence"], default="all")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.machine import machine

    print(f"machine: {machine()}")
    rng = np.random.default_rng(16)
    if args.part in ("all", "stats"):
        worst, compared = against_scikit_learn(rng)
        print(
            f"kappa vs sklearn cohen_kappa_score: {compared} random pairs, max |diff| {worst:.1e}"
        )
        print(f"coverage of 95% intervals ({args.simulations} simulations, 2000 resamples each):")
        for k, agree, skew in ((9, 0.85, 0.2), (7, 0.6, 0.4), (2, 0.9, 1.5)):
            table = joint(k, agree, skew)
            for n in (50, 200, 1000):
                true, cov_k, cov_a, width = coverage(rng, table, n, args.simulations, 2000)
                print(
                    f"  {k} tags, true kappa {true:.3f}, n={n:>4}: kappa {cov_k:.1%}, "
                    f"agreement {cov_a:.1%} (mean kappa interval width {width:.3f})"
                )
        print("same bootstrap distribution as resampling indices:")
        print(index_resampling(rng))
        print("bootstrap speed (one interval pair, kappa and agreement):")
        print("\n".join(speed(rng)))
    if args.part == "equivalence":
        print(index_resampling(rng))
    if args.part in ("all", "speed"):
        from bench.synthetic import write_export

        path = write_export(OUT / f"export-{args.rows}.csv", args.rows)
        print(f"corpus: {path} ({args.rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB)")
        sample = OUT / "quality-sample.csv"
        _, got, _ = run([sys.executable, "-c", SAMPLE_CHILD, str(path), str(sample)])
        imports, read, draw, strata = got.split()
        print(
            f"sample library: imports {imports} s, read {read} s, draw + write {draw} s ({strata} strata)"
        )
        wall, _, cpu = run(
            [
                sys.executable,
                "-m",
                "cli",
                "sample",
                str(path),
                "--n",
                "200",
                "--blind",
                "--out",
                str(sample),
            ]
        )
        print(f"CLI `feedtag sample --n 200 --blind`: {wall:.2f} s wall, {cpu:.2f} s CPU")
        changed = ROOT / "examples" / "taxonomy-changed.yaml"
        _, got, _ = run(
            [sys.executable, "-c", DIFF_CHILD, str(path), str(ROOT / "taxonomy.yaml"), str(changed)]
        )
        imports, read, diff, lost = got.split()
        print(
            f"diff library: imports {imports} s, read {read} s, diff {diff} s ({lost} messages lose a tag)"
        )
        wall, _, cpu = run(
            [
                sys.executable,
                "-m",
                "cli",
                "taxonomy",
                "diff",
                "taxonomy.yaml",
                str(changed),
                "--corpus",
                str(path),
                "--format",
                "json",
                "--output",
                str(OUT / "diff.json"),
            ]
        )
        print(
            f"CLI `feedtag taxonomy diff --corpus --format json`: {wall:.2f} s wall, {cpu:.2f} s CPU"
        )


if __name__ == "__main__":
    main()
