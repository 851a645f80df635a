"""Build the default training corpus (training/data/train.csv) and the held-out examples source.

A one-off data-preparation step, run by hand when the corpus changes; nothing in feedtag reads its
inputs at run time. It takes the hand-written messages (one JSONL file per team) and the public
datasets from the command line, and writes only inside the repository::

    python training/prepare_data.py --written DIR_WITH_TEAM_JSONL --public DIR_WITH_PUBLIC_DATA

``--public`` holds ``urr-app-reviews/data.csv``, ``banking77/data.csv`` and
``bitext-customer-support/data.csv`` + ``data_8k_sample.csv`` (see training/README.md for where
each comes from). Everything is seeded: the same inputs give byte-identical outputs.

Steps
-----
1. Written messages: drop exact and near duplicates (TF-IDF cosine >= 0.85, or the same first
   8 words), always the later message of a pair (files in name order, lines in file order).
2. Split them, stratified by team x topic, into training (~72%) and held-out (~28%); the
   held-out part goes to examples/source/heldout.csv and never into training.
3. Public messages: map their original labels onto the shipped tags (MAPPING below; an axis
   with no honest mapping stays empty), drop case-folded repeats and near-identical wording,
   sample a capped number per label, and drop any that are near-identical to a written message.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CSV = ROOT / "training" / "data" / "train.csv"
DEDUPE_LOG = ROOT / "training" / "data" / "written_dedupe.csv"
HELDOUT_CSV = ROOT / "examples" / "source" / "heldout.csv"

SEED = 5
HELDOUT_SHARE = 0.28
NEAR = 0.85  # TF-IDF cosine at or above which two messages count as the same message
FIRST_WORDS = 8
MIN_TOPIC, MIN_TEAM = 200, 250  # written training messages every topic / team must keep

# Public data: (source, original label) -> (team, topic, how many to sample at most).
# "" = no honest mapping on that axis: training leaves the row out of that axis only.
MAPPING: dict[str, dict[str, tuple[str, str, int]]] = {
    "urr": {
        # Any review whose manual labels include ERROR (the other labels are areas such as UI or
        # DEVICE and carry no topic). Capped at 300, at most 60 per app.
        "ERROR": ("", "bug-report", 300),
        # PERFORMANCE reviews that are about the whole app being slow (hand-checked, URR_OUTAGE).
        "PERFORMANCE (whole app slow)": ("", "outage", 20),
    },
    "banking77": {
        # No team: Banking77 has no area label, only intents of one bank's app.
        "terminate_account": ("", "churn-feedback", 100),
        "card_payment_fee_charged": ("", "pricing-question", 25),
        "transfer_fee_charged": ("", "pricing-question", 25),
        "exchange_charge": ("", "pricing-question", 25),
        "top_up_by_card_charge": ("", "pricing-question", 25),
        "cash_withdrawal_charge": ("", "pricing-question", 25),
        "extra_charge_on_statement": ("", "pricing-question", 25),
        "passcode_forgotten": ("", "user-issue", 40),
    },
    "minibar": {
        # Human labels of Mini-BAR (PROVENANCE.md of minibar-health-app-reviews): a review with
        # only problem_report is a bug report, and only "irrelevant" from a 4-5 star reviewer
        # (at least 4 words: "Good app" says little) praise: a blind hand-labelled sample
        # agreed on 88% and 99% of rows (training/data/labelled/README.md). feature_request
        # agreed on only 69% (a third are churn over permissions, "where did X go", bugs), so
        # only its hand-labelled rows are used. Hand labels override every mapping.
        "problem_report": ("", "bug-report", 400),
        "irrelevant (4-5 stars)": ("", "positive-feedback", 450),
    },
    "vanvliet": {
        "Stability": ("", "bug-report", 120),
        "feature": ("", "feature-request", 100),
    },
    "bitext": {
        # Team from Bitext's own category (ACCOUNT, PAYMENT, INVOICES, CANCELLATION_FEE).
        "delete_account": ("billing", "churn-feedback", 50),
        "check_cancellation_fee": ("billing", "pricing-question", 40),
        "check_invoices": ("billing", "pricing-question", 25),
        "get_invoice": ("billing", "pricing-question", 25),
        "check_payment_methods": ("billing", "pricing-question", 30),
        "recover_password": ("billing", "user-issue", 40),  # not the "hacked" ones (below)
        "payment_issue": ("billing", "", 20),
        "create_account": ("billing", "", 20),
    },
}
URR_APP_CAP = 60
HAND_CAP = 10_000  # every hand-labelled row is taken (unless it repeats one already taken)
LABELLED = ROOT / "training" / "data" / "labelled"
DATASETS = {  # source name in train.csv -> folder under --public (and labelled/<folder>.csv)
    "urr": "urr-app-reviews",
    "minibar": "minibar-health-app-reviews",
    "vanvliet": "vanvliet-app-review-sentences",
    "banking77": "banking77",
    "bitext": "bitext-customer-support",
}
# URR reviews labelled PERFORMANCE whose text says the whole app is slow or hangs (read one by
# one); every other PERFORMANCE, BATTERY or MEMORY review is about one function or praises a
# light app, and is left out (or counts as a bug report when it also carries ERROR).
URR_OUTAGE = {
    "urr-578945a2819cb706b00a7321",  # "Lag city"
    "urr-578939b1819cb7066ab3fd45",  # "No longer that fast"
    "urr-5789394f819cb7066ab3fcfe",  # "Slow Very slow"
    "urr-57893871819cb7066ab3fc3c",  # "It's hanging too frequently, even I have a descent tablet"
    "urr-57893a8e819cb7066ab3fe06",  # "Sloww. dead sloww."
    "urr-57893a66819cb7066ab3fdce",  # "Too Slow ... as slow as molasses in January."
    "urr-57893a64819cb7066ab3fdc8",  # "slow to slow to brows"
    "urr-57893a51819cb7066ab3fdb4",  # "Poor performance ... Web searches are way too slow"
    "urr-57893a4b819cb7066ab3fda9",  # "... if it ever loaded in under 40 seconds..."
    "urr-578940f9819cb7066ab404ff",  # "Slow processing This calculator is good but slow."
}


def fold(text: str) -> str:
    """Case-, unicode- and whitespace-folded text: the key for exact duplicates."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words_key(text: str) -> str:
    return f" {' '.join(fold(text).split())} "


class Containment:
    """Finds a text that is another plus a little: at least 3 words and half of the longer one."""

    def __init__(self, texts: pd.Series) -> None:
        self.keys = np.array([words_key(t) for t in texts], dtype=object)
        self.lengths = np.array([k.count(" ") - 1 for k in self.keys])

    def __call__(self, text: str) -> bool:
        key = words_key(text)
        n = key.count(" ") - 1
        close = (self.lengths >= max(3, (n + 1) // 2)) & (self.lengths <= 2 * n)
        return n >= 3 and any(key in k or k in key for k in self.keys[close])


def vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, preprocessor=fold)


# ---------------------------------------------------------------- written messages


def load_written(directory: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(directory.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        frame = pd.DataFrame(rows)[["text", "team", "topic"]]
        frame.insert(0, "id", [f"w-{path.stem}-{n:04d}" for n in range(1, len(frame) + 1)])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def duplicate_pairs(texts: pd.Series) -> pd.DataFrame:
    """Every pair (earlier, later) that is an exact, near (cosine) or first-8-words duplicate."""
    folded = texts.map(fold).to_numpy()
    matrix = vectorizer().fit_transform(texts)
    sims = (matrix @ matrix.T).toarray()
    words = texts.map(lambda t: re.findall(r"\w+", fold(t)))
    opening = words.map(lambda w: " ".join(w[:FIRST_WORDS]) if len(w) >= FIRST_WORDS else None)
    opening = opening.to_numpy()
    exact = folded[:, None] == folded[None, :]
    same_opening = (opening[:, None] == opening[None, :]) & pd.notna(opening)[:, None]
    earlier, later = np.nonzero(np.triu(exact | (sims >= NEAR) | same_opening, k=1))
    rule = np.where(
        exact[earlier, later],
        "exact",
        np.where(sims[earlier, later] >= NEAR, "tfidf-cosine", "first-8-words"),
    )
    return pd.DataFrame(
        {"earlier": earlier, "later": later, "rule": rule, "cosine": sims[earlier, later].round(3)}
    )


def dedupe_written(written: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    pairs = duplicate_pairs(written["text"])
    log = pd.DataFrame(
        {
            "dropped_id": written["id"].to_numpy()[pairs["later"]],
            "kept_id": written["id"].to_numpy()[pairs["earlier"]],
            "rule": pairs["rule"],
            "cosine": pairs["cosine"],
        }
    )
    log["same_file"] = (
        log["dropped_id"].str.rsplit("-", n=1).str[0] == log["kept_id"].str.rsplit("-", n=1).str[0]
    )
    kept = written[~written["id"].isin(log["dropped_id"])].reset_index(drop=True)
    return kept, log


def split_written(written: pd.DataFrame) -> pd.Series:
    """True for held-out rows: round(28%) of every team x topic stratum, seeded."""
    rng = np.random.default_rng(SEED)
    heldout = pd.Series(False, index=written.index)
    for _, stratum in written.sort_values("id").groupby(["team", "topic"], sort=True):
        n = round(len(stratum) * HELDOUT_SHARE)
        heldout[rng.permutation(stratum.index.to_numpy())[:n]] = True
    return heldout


# ---------------------------------------------------------------- public messages


def load_urr(public: Path) -> pd.DataFrame:
    frame = pd.read_csv(public / "urr-app-reviews" / "data.csv", dtype=str, keep_default_na=False)
    labels = frame["labels_all"].str.split("|")
    outage = frame["id"].isin(URR_OUTAGE)
    frame["label"] = np.where(
        outage,
        "PERFORMANCE (whole app slow)",
        np.where(labels.map(lambda ls: "ERROR" in ls), "ERROR", ""),
    )
    return frame[["id", "text", "label", "app"]]


def load_minibar(public: Path) -> pd.DataFrame:
    folder = public / "minibar-health-app-reviews"
    frame = pd.read_csv(folder / "data.csv", dtype=str, keep_default_na=False)
    praise = (
        (frame["label"] == "irrelevant")
        & (frame["score"].astype(int) >= 4)
        & (frame["text"].str.split().str.len() >= 4)
    )
    frame["label"] = np.where(praise, "irrelevant (4-5 stars)", frame["label"])
    return frame[["id", "text", "label", "app"]]


def load_vanvliet(public: Path) -> pd.DataFrame:
    folder = public / "vanvliet-app-review-sentences"
    frame = pd.read_csv(folder / "data.csv", dtype=str, keep_default_na=False)
    return frame[["id", "text", "label"]]


def hand_labelled(source: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows a person read and labelled (training/data/labelled/, LABELLING_GUIDE.md) take that
    topic instead of the dataset's own label's mapping; every other row keeps its label."""
    path = LABELLED / f"{DATASETS[source]}.csv"
    if not path.exists():
        return frame
    labels = pd.read_csv(path, dtype=str, keep_default_na=False).drop_duplicates("id", keep="last")
    topic = frame["id"].map(dict(zip(labels["id"], labels["topic"], strict=True)))
    frame = frame.copy()
    frame["label"] = np.where(topic.notna(), "hand:" + topic.fillna(""), frame["label"])
    return frame


def load_banking77(public: Path) -> pd.DataFrame:
    frame = pd.read_csv(public / "banking77" / "data.csv", dtype=str, keep_default_na=False)
    # Only the official train split: its test split stays clean for benchmarks.
    return frame[frame["split"] == "train"][["id", "text", "label"]]


def load_bitext(public: Path) -> pd.DataFrame:
    folder = public / "bitext-customer-support"
    frame = pd.read_csv(folder / "data.csv", dtype=str, keep_default_na=False)
    test = pd.read_csv(folder / "data_8k_sample.csv", dtype=str, keep_default_na=False)
    # Texts also in the 8K release (the Bitext benchmark's test file) stay out.
    frame = frame[~frame["text"].map(fold).isin(set(test["text"].map(fold)))]
    # A hacked account is not a forgotten password with the cause on the user's side.
    frame = frame[~((frame["label"] == "recover_password") & frame["text"].str.contains("hack"))]
    return frame[["id", "text", "label"]]


def sample_public(source: str, frame: pd.DataFrame, reference: pd.Series) -> pd.DataFrame:
    """Mapped, deduplicated, capped rows of one public source.

    ``reference`` holds every text already in the corpus (all written messages, held-out ones
    included, and the public rows taken so far): nothing near-identical to one (cosine, or one
    text inside the other) is taken.
    """
    frame = hand_labelled(source, frame)
    hand = {
        label: ("", label.removeprefix("hand:"), HAND_CAP)
        for label in frame["label"].unique()
        if label.startswith("hand:")
    }
    mapping = {**MAPPING[source], **hand}
    frame = frame[frame["label"].isin(mapping)].copy()
    frame["text"] = frame["text"].str.strip()
    frame = frame[frame["text"] != ""]
    before = len(frame)
    frame = frame[~frame["text"].map(fold).duplicated()].reset_index(drop=True)
    repeats = before - len(frame)

    vec = vectorizer().fit(pd.concat([reference, frame["text"]]))
    pool = vec.transform(frame["text"])
    near_reference = np.asarray((pool @ vec.transform(reference).T).max(axis=1).todense())
    near_reference = near_reference.ravel() >= NEAR

    rng = np.random.default_rng(SEED)
    chosen: list[int] = []
    near_same = near_contained = 0
    pool_text = frame["text"].to_numpy()
    contained = Containment(reference)
    per_app: dict[str, int] = {}
    for label in sorted(mapping, key=lambda label: (mapping[label][2], label)):  # small first
        quota = mapping[label][2]
        taken = 0
        for i in rng.permutation(np.flatnonzero(frame["label"].to_numpy() == label)):
            if taken == quota:
                break
            if near_reference[i] or contained(pool_text[i]):
                near_contained += 1
                continue
            if chosen and (pool[i] @ pool[chosen].T).max() >= NEAR:
                near_same += 1
                continue
            if source == "urr" and not frame.at[i, "label"].startswith("hand:"):
                app = frame.at[i, "app"]
                if per_app.get(app, 0) >= URR_APP_CAP:
                    continue
                per_app[app] = per_app.get(app, 0) + 1
            chosen.append(int(i))
            taken += 1
    picked = frame.loc[sorted(chosen)]
    print(
        f"{source}: {before} mapped rows, {repeats} case-folded repeats dropped, "
        f"{near_contained} near-identical to (or contained in) a message already in the corpus, "
        f"{near_same} skipped as near-identical to a row already taken, {len(picked)} kept"
    )
    teams = picked["label"].map(lambda label: mapping[label][0])
    topics = picked["label"].map(lambda label: mapping[label][1])
    return pd.DataFrame(
        {
            "id": picked["id"],
            "text": picked["text"],
            "team": teams,
            "topic": topics,
            "source": source,
        }
    )


# ---------------------------------------------------------------- main


def check_minimums(train_written: pd.DataFrame) -> None:
    """Print the written training counts per topic and team; stop if one is below its minimum."""
    print(f"written training part: {len(train_written)} messages")
    short = []
    for axis, minimum in (("topic", MIN_TOPIC), ("team", MIN_TEAM)):
        for tag, count in train_written[axis].value_counts().sort_index().items():
            ok = count >= minimum
            short += [] if ok else [tag]
            print(f"  {axis:5} {tag:18} {count:4}  (>= {minimum}: {'ok' if ok else 'NO'})")
    if short:
        raise SystemExit(f"below the minimum: {', '.join(short)}; nothing written")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--written", type=Path, required=True, help="folder of <team>.jsonl files")
    parser.add_argument("--public", type=Path, required=True, help="folder of the public datasets")
    args = parser.parse_args()

    written = load_written(args.written)
    kept, log = dedupe_written(written)
    print(f"written: {len(written)} messages, {log['dropped_id'].nunique()} dropped as duplicates")
    for rule in ("exact", "tfidf-cosine", "first-8-words"):
        group = log[log["rule"] == rule]
        print(f"  {rule}: {len(group)} pairs ({int(group['same_file'].sum())} within one file)")

    heldout_mask = split_written(kept)
    train_written = kept[~heldout_mask].assign(source="written")
    heldout = kept[heldout_mask]
    check_minimums(train_written)
    print(f"held-out: {len(heldout)} messages -> {HELDOUT_CSV.relative_to(ROOT)}")

    public: list[pd.DataFrame] = []
    loaders = (
        ("urr", load_urr),
        ("minibar", load_minibar),
        ("vanvliet", load_vanvliet),
        ("banking77", load_banking77),
        ("bitext", load_bitext),
    )
    for source, load in loaders:
        reference = pd.concat([kept["text"], *(frame["text"] for frame in public)])
        public.append(sample_public(source, load(args.public), reference))
    train = pd.concat([train_written, *public], ignore_index=True)
    train = train[["id", "text", "team", "topic", "source"]]
    assert train["id"].is_unique and not train["text"].map(fold).duplicated().any()

    write_csv(train, TRAIN_CSV)
    write_csv(heldout[["id", "text", "team", "topic"]], HELDOUT_CSV)
    write_csv(log, DEDUPE_LOG)
    print(f"train: {len(train)} rows -> {TRAIN_CSV.relative_to(ROOT)}")
    print(train.groupby("source").size().to_string())


if __name__ == "__main__":
    main()
