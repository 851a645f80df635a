"""Does `auto` hold on a source the model has never seen? (issue 11)

Usage: python bench/bench_sources.py [--corpus training/data/train.csv] [--axis topic]
       [--calibrate-source minibar --calibrate-n 300]

1. Leave one source out, nested: for each real source S of the corpus (its ``source`` column),
   train on every other source, with thresholds chosen either on random folds (the old way) or
   on folds that hold out whole sources (the shipped way), then score S, which neither the
   weights nor the thresholds saw. Prints topic accuracy, auto share and auto accuracy per
   held-out source, for both calibrations side by side.
2. Calibrate on a team's own data: train without source S, then ``calibrate`` on N labelled
   messages of S and score the rest of S, before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402


class _Memo:
    """An encoder that answers from one shared cache: each text embedded once for all fits."""

    def __init__(self, cache):
        self.cache, self.spec = cache, cache.encoder.spec

    def encode(self, texts, batch_size: int = 64):
        return self.cache.embed(texts)


def figures(model, texts, truth, axis):
    import numpy as np

    predicted = model.predict_axes(texts, top=1)[axis]
    correct = predicted.tags.astype(str) == np.asarray(truth, dtype=str)
    auto = predicted.auto
    return {
        "n": len(texts),
        "accuracy": float(correct.mean()),
        "auto_share": float(auto.mean()),
        "auto_accuracy": float(correct[auto].mean()) if auto.any() else float("nan"),
        "auto_n": int(auto.sum()),
    }


def line(name, f):
    return (
        f"{name:>12} | {f['n']:>5} | {f['accuracy']:.1%} | {f['auto_share']:.1%} "
        f"({f['auto_n']}) | {f['auto_accuracy']:.1%}"
    )


def main() -> None:
    import numpy as np
    import pandas as pd

    from classifier.model.estimator import TagClassifier
    from classifier.model.store import never_suggest
    from classifier.taxonomy import load_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "training/data/train.csv")
    parser.add_argument("--axis", default="topic")
    parser.add_argument("--skip", nargs="*", default=["written"], help="sources not held out")
    parser.add_argument("--calibrate-source", nargs="*", default=[])
    parser.add_argument("--calibrate-n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default="{}", help="TagClassifier parameters, JSON")
    parser.add_argument("--calibrations", nargs="*", default=["random", "groups"])
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="also train each model with this sentence encoder joined ('default': recommended); "
        "each text is embedded once for all the fits",
    )
    args = parser.parse_args()

    print(machine())
    taxonomy = load_taxonomy(ROOT / "taxonomy.yaml")
    frame = pd.read_csv(args.corpus, dtype=str, keep_default_na=False)
    frame = frame[frame[args.axis] != ""]
    import json

    params = {"never_suggest": never_suggest(taxonomy), "n_jobs": -1, **json.loads(args.params)}
    print(f"parameters: {args.params}")
    variants = {"": params}
    if args.encoder:
        from classifier.model.embedding import EmbeddingCache, open_encoder

        cache = EmbeddingCache(open_encoder(args.encoder))
        variants["+enc"] = {**params, "encoder": _Memo(cache)}
        print(f"with encoder {cache.encoder.spec.name} beside each TF-IDF-only model (+enc)")
    axis = args.axis
    sources = [s for s in sorted(frame["source"].unique()) if s not in args.skip]
    print(f"{args.corpus.name}: {len(frame)} messages with a {axis}; held out in turn: {sources}")
    print("calibration | source | n | accuracy | auto share (n) | auto accuracy")
    pooled = {folds: [] for folds in args.calibrations}
    for source in sources:
        train, test = frame[frame["source"] != source], frame[frame["source"] == source]
        started = time.perf_counter()
        for folds in args.calibrations:
            for suffix, options in variants.items():
                model = TagClassifier(**options)
                groups = train["source"].tolist() if folds == "groups" else None
                model.fit(train["text"].tolist(), train[[axis]], groups=groups)
                f = figures(model, test["text"].tolist(), test[axis].tolist(), axis)
                pooled.setdefault(folds + suffix, []).append(f)
                print(f"{folds + suffix:>11} | {line(source, f)}")
        print(f"            ({time.perf_counter() - started:.0f} s)")
    for folds, rows in pooled.items():
        n = sum(f["n"] for f in rows)
        if not n:
            continue
        auto_n = sum(f["auto_n"] for f in rows)
        right = sum(f["accuracy"] * f["n"] for f in rows)
        auto_right = sum(f["auto_accuracy"] * f["auto_n"] for f in rows if f["auto_n"])
        print(
            f"{folds:>11} | {'all':>12} | {n:>5} | {right / n:.1%} | {auto_n / n:.1%} "
            f"({auto_n}) | {auto_right / max(auto_n, 1):.1%}"
        )

    for source in args.calibrate_source:
        from classifier.model.calibration import calibrate

        train, rest = frame[frame["source"] != source], frame[frame["source"] == source]
        rng = np.random.default_rng(args.seed)
        order = rng.permutation(len(rest))
        sample, held = rest.iloc[order[: args.calibrate_n]], rest.iloc[order[args.calibrate_n :]]
        model = TagClassifier(**params)
        model.fit(train["text"].tolist(), train[[axis]], groups=train["source"].tolist())
        before = figures(model, held["text"].tolist(), held[axis].tolist(), axis)
        result = calibrate(model, sample["text"].tolist(), sample[[axis]])
        after = figures(result.model, held["text"].tolist(), held[axis].tolist(), axis)
        print(
            f"## calibrate on {len(sample)} messages of {source}, scored on the other {len(held)}"
        )
        print(f"{'before':>11} | {line(source, before)}")
        print(f"{'after':>11} | {line(source, after)}")
        for axis_name, report in result.report.items():
            print(f"  cross-validated on the sample ({axis_name}): {report}")


if __name__ == "__main__":
    main()
