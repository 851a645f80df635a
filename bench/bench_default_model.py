"""Quality of the shipped default model (issue 5): on its training corpus, the examples, and real reviews.

Usage: python bench/bench_default_model.py

- cross-validated accuracy and macro-F1 per axis, as recorded in models/default/meta.json;
- accuracy on examples/source/heldout.csv (written messages never trained on) and on the
  tagged export examples/helpdesk-export.csv (with its injected wrong tags counted as errors);
- real app reviews (URR golden set, bench/data/urr-app-reviews) that the training corpus left
  out and whose manual labels include ERROR: the share the model tags bug-report.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    import pandas as pd

    from classifier.corpus import Columns, load_corpus
    from classifier.model.evaluate import evaluate_corpus
    from classifier.model.store import default_model_path, load_model, read_meta
    from classifier.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(ROOT / "taxonomy.yaml")
    model = load_model(default_model_path(), taxonomy)
    meta = read_meta(default_model_path())
    print("## cross-validated on training/data/train.csv (5 folds)")
    for axis, report in meta["metrics"]["cross_validated"].items():
        print(f"- {axis}: accuracy {report['accuracy']:.2%}, macro-F1 {report['macro_f1']:.2%}")
    axes = Columns(axes={axis: axis for axis in taxonomy.axes})
    for name, columns in (
        ("examples/source/heldout.csv", axes),
        ("examples/helpdesk-export.csv", None),
    ):
        result = evaluate_corpus(model, load_corpus(ROOT / name, taxonomy, columns)).to_dict()
        print(f"## {name} ({result['rows']} messages)")
        for axis, report in result["axes"].items():
            print(
                f"- {axis}: accuracy {report['accuracy']:.2%}, macro-F1 {report['macro_f1']:.2%}, "
                f"auto share {report['coverage']:.1%} at accuracy {report['accuracy_at_threshold']:.2%}"
            )
        if name.endswith("heldout.csv"):
            per_tag = result["axes"]["topic"]["per_tag"]
            print("  topic | precision | recall | support")
            for tag, figures in per_tag.items():
                print(
                    f"  {tag} | {figures['precision']:.1%} | {figures['recall']:.1%} | {figures['support']}"
                )
    reviews = pd.read_csv(ROOT / "bench/data/urr-app-reviews/data.csv", dtype=str).fillna("")
    trained = set(pd.read_csv(ROOT / "training/data/train.csv", dtype=str)["id"])
    unseen = reviews[~reviews["id"].isin(trained) & reviews["labels_all"].str.contains("ERROR")]
    topics = model.predict(unseen["text"].tolist())["topic"]
    counts = Counter(topics)
    print(f"## real app reviews labelled ERROR, not trained on ({len(unseen)})")
    print(f"- tagged bug-report: {counts['bug-report'] / len(unseen):.1%}")
    print(f"- topics: {json.dumps(dict(counts.most_common()))}")


if __name__ == "__main__":
    main()
