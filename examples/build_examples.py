"""Build the example corpora from the held-out written messages (seeded, reproducible).

Reads only files inside the repository: ``examples/source/heldout.csv`` (messages written for
feedtag and kept out of training, with their true team and topic), ``taxonomy.yaml`` (tag names
and aliases) and ``training/data/train.csv`` (for the overlap check). Writes:

- ``examples/helpdesk-export.csv``: a help-desk export (id, conversation_id, created_at, agent,
  user_id, text, tags) with the tagging defects real teams have, injected at known rates;
- ``examples/new-messages.csv``: untagged messages (id, text) for ``feedtag suggest --input``;
- ``examples/source/export_truth.csv``: for every export row, the true team and topic and the
  defect injected into it, so what the audit finds can be checked against what was put in.

Usage: python examples/build_examples.py
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HELDOUT = HERE / "source" / "heldout.csv"
TRAIN = ROOT / "training" / "data" / "train.csv"
EXPORT = HERE / "helpdesk-export.csv"
NEW_MESSAGES = HERE / "new-messages.csv"
TRUTH = HERE / "source" / "export_truth.csv"

SEED = 3
NEW_COUNT = 50
START = pd.Timestamp("2026-09-28T00:00:00Z")  # a Monday; the export covers eight weeks
WEEKS = 8
AGENTS = [
    "Amara Okafor",
    "Ben Fischer",
    "Chloé Martin",
    "Diego Alvarez",
    "Hana Suzuki",
    "Jonas Berg",
    "Priya Nair",
    "Tom Walsh",
]
CARELESS = "Tom Walsh"  # makes most of the wrong tags and leaves out the team more often
FOLLOW_UP = 0.12  # share of messages that are a later message in an earlier conversation

# Defects, as a share of the export's messages; each message gets at most one.
RATES = {
    "missing-team": 0.05,
    "two-topics": 0.03,
    "alias": 0.07,
    "retired-team": 0.01,  # "Team: Growth" on outbound messages
    "unknown-tag": 0.01,
    "wrong-tag": 0.03,
    "repeated-tag": 0.005,
    "exported-twice": 0.01,  # the same row a second time
    "conflicting-copy": 0.005,  # the same text sent again and tagged differently
}
EMPTY_TEXTS = 5  # extra messages with no text (an attachment or a sticker only)
# What a hurried agent picks instead of the right tag.
CONFUSABLE = {
    "bug-report": ["outage", "user-issue"],
    "outage": ["bug-report"],
    "unaware": ["confused", "feature-request"],
    "confused": ["unaware", "user-issue"],
    "user-issue": ["bug-report", "confused"],
    "feature-request": ["unaware"],
    "pricing-question": ["churn-feedback"],
    "churn-feedback": ["pricing-question"],
    "positive-feedback": ["feature-request"],
    "messenger": ["mobile", "inbox"],
    "mobile": ["messenger"],
    "inbox": ["messenger"],
    "outbound": ["messenger"],
    "platform": ["mobile", "infrastructure"],
    "billing": ["infrastructure"],
    "infrastructure": ["platform"],
}
MISSPELT = {  # tag id -> what a hurried agent typed (or a tag the help desk has, not the taxonomy)
    "bug-report": "Bug reprot",
    "positive-feedback": "Feedback",
    "messenger": "Mesenger",
    "user-issue": "Question",
    "billing": "Billing & Acounts",
    "pricing-question": "Pricng question",
    "feature-request": "Feature requets",
    "inbox": "Inbx",
    "outage": "Down",
}
SEPARATORS = ["; "] * 17 + [" | ", ", ", ","]


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words_key(text: str) -> str:
    return f" {' '.join(fold(text).split())} "


def one_inside_other(a: str, b: str) -> bool:
    """One text is the other plus a little ("how to delete my account" + "completely")."""
    short, long = sorted((a, b), key=len)
    return short in long and 2 * len(short) >= len(long)


class Tags:
    """Names and aliases of the shipped taxonomy, as a help desk writes them."""

    def __init__(self, path: Path) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.name: dict[str, str] = {}
        self.aliases: dict[str, list[str]] = {}
        for body in data["axes"].values():
            for tag in body["tags"]:
                self.name[tag["id"]] = tag["name"]
                # An alias that folds to the tag's id ("Mobile" for mobile) reads as the id.
                self.aliases[tag["id"]] = [
                    alias
                    for alias in tag.get("aliases") or []
                    if re.sub(r"[\W_]+", "", alias.casefold()) != tag["id"].replace("-", "")
                ]


def spread_times(rng: np.random.Generator, n: int) -> pd.Series:
    """Creation times over eight weeks: weekdays busier, mostly 07:00-20:00 UTC."""
    days = np.arange(WEEKS * 7)
    weight = np.where(days % 7 < 5, 1.0, 0.25)
    day = rng.choice(days, size=n, p=weight / weight.sum())
    hour = np.clip(rng.normal(13.5, 3.5, size=n), 0, 23.99)
    seconds = day * 86400 + (hour * 3600).astype(int)
    return pd.Series(START + pd.to_timedelta(np.sort(seconds), unit="s"))


def build_messages(rng: np.random.Generator, heldout: pd.DataFrame) -> pd.DataFrame:
    """One row per message: time, agent, customer, conversation and true tags (no defects yet)."""
    n = len(heldout)
    frame = heldout.iloc[rng.permutation(n)].reset_index(drop=True)
    frame["created"] = spread_times(rng, n)
    frame["key"] = np.arange(n)  # one key per message; a row exported twice repeats it
    frame["agent"] = rng.choice(AGENTS, size=n)
    users = [f"usr_{u:05d}" for u in rng.choice(90_000, size=int(n * 0.7), replace=False) + 10_000]
    user, conversation = [], []
    for i in range(n):
        if i > 20 and rng.random() < FOLLOW_UP:  # the same customer writes again later
            earlier = int(rng.integers(max(0, i - 40), i))
            user.append(user[earlier])
            conversation.append(conversation[earlier])
        else:
            user.append(users[int(rng.integers(len(users)))])
            conversation.append(str(71_200_000 + 13 * i))
    frame["user_id"], frame["conversation_id"] = user, conversation
    return frame


def tag_cell(rng: np.random.Generator, team: str | None, topics: list[str]) -> str:
    names = ([team] if team else []) + topics
    if rng.random() < 0.1:  # some agents pick the topic first
        names = names[::-1]
    return rng.choice(SEPARATORS).join(names)


def inject(rng: np.random.Generator, messages: pd.DataFrame, tags: Tags) -> pd.DataFrame:
    """Give each message its tags cell, with a defect on the share RATES says."""
    n = len(messages)
    defect = pd.Series("", index=messages.index)
    order = list(rng.permutation(n))
    # Defects tied to a tag first. The retired Growth team's work moved to outbound, so only
    # outbound messages get it; each misspelling goes on a message that has the tag it misspells.
    outbound = [i for i in order if messages.at[i, "team"] == "outbound"]
    for i in outbound[: round(RATES["retired-team"] * n)]:
        defect[i] = "retired-team"
    misspelt = list(MISSPELT)
    messages["misspelt"] = ""
    for k in range(round(RATES["unknown-tag"] * n)):
        tag = misspelt[k % len(misspelt)]
        i = next(
            i
            for i in order
            if defect[i] == "" and tag in (messages.at[i, "team"], messages.at[i, "topic"])
        )
        defect[i] = "unknown-tag"
        messages.at[i, "misspelt"] = tag
    free = [i for i in order if defect[i] == ""]
    start = 0
    for name, rate in RATES.items():
        if name in ("retired-team", "unknown-tag"):
            continue
        count = round(rate * n)
        for i in free[start : start + count]:
            defect[i] = name
        start += count

    cells = []
    seen = {"missing-team": 0, "wrong-tag": 0}  # the careless agent: 2 in 5 and 3 in 4 of these
    for i, row in messages.iterrows():
        team, topic = tags.name[row["team"]], tags.name[row["topic"]]
        kind = defect[i]
        topics = [topic]
        if kind in seen:
            seen[kind] += 1
            if seen[kind] % 5 in (1, 3) if kind == "missing-team" else seen[kind] % 4 != 0:
                messages.at[i, "agent"] = CARELESS
        if kind == "missing-team":
            team = None
        elif kind == "two-topics":
            topics.append(tags.name[rng.choice(CONFUSABLE[row["topic"]])])
        elif kind == "alias":
            if rng.random() < 0.6:
                team = rng.choice(tags.aliases[row["team"]])
            else:
                topics = [rng.choice(tags.aliases[row["topic"]])]
        elif kind == "retired-team":
            team = "Team: Growth"
        elif kind == "unknown-tag":
            if row["misspelt"] == row["topic"]:
                topics = [MISSPELT[row["topic"]]]
            else:
                team = MISSPELT[row["team"]]
        elif kind == "wrong-tag":
            axis = "topic" if rng.random() < 0.65 else "team"
            wrong = tags.name[rng.choice(CONFUSABLE[row[axis]])]
            team, topics = (team, [wrong]) if axis == "topic" else (wrong, topics)
        elif kind == "repeated-tag":
            topics.append(rng.choice([topic, *tags.aliases[row["topic"]][:2]]))
        cells.append(tag_cell(rng, team, topics))
    messages["tags"] = cells
    messages["defect"] = defect
    return messages


def add_copies(rng: np.random.Generator, messages: pd.DataFrame, tags: Tags) -> pd.DataFrame:
    """Rows exported twice, texts sent twice and tagged differently, and empty messages.

    The first row of a pair keeps its own (empty) defect; the copy carries the defect's name.
    """
    extra = []
    for _, row in messages[messages["defect"] == "exported-twice"].iterrows():
        extra.append(row.copy())  # same key, so the same id
    messages.loc[messages["defect"] == "exported-twice", "defect"] = ""
    conflicting = messages["defect"] == "conflicting-copy"
    for n, (_, row) in enumerate(messages[conflicting].iterrows()):
        copy = row.copy()
        copy["key"] = len(messages) + n
        copy["created"] = row["created"] + pd.Timedelta(minutes=int(rng.integers(2, 90)))
        copy["agent"] = rng.choice([a for a in AGENTS if a != row["agent"]])
        other = tags.name[rng.choice(CONFUSABLE[row["topic"]])]
        copy["tags"] = f"{tags.name[row['team']]}; {other}"
        extra.append(copy)
    messages.loc[conflicting, "defect"] = ""
    clean = np.flatnonzero(messages["defect"].to_numpy() == "")
    for n, i in enumerate(rng.choice(clean, size=EMPTY_TEXTS, replace=False)):
        copy = messages.iloc[i].copy()
        copy["key"] = 2 * len(messages) + n
        copy["created"] = copy["created"] + pd.Timedelta(minutes=int(rng.integers(1, 30)))
        copy["text"] = ""
        copy["defect"] = "empty-text"
        extra.append(copy)
    rows = pd.concat([messages, pd.DataFrame(extra)], ignore_index=True)
    rows["created"] = pd.to_datetime(rows["created"], utc=True)
    rows = rows.sort_values(["created", "key"], kind="stable").reset_index(drop=True)
    keys = rows["key"].drop_duplicates().to_numpy()
    ids = 4_810_000 + 7 * np.arange(len(keys)) + rng.integers(0, 7, size=len(keys))
    rows["id"] = rows["key"].map(dict(zip(keys, ids.astype(str), strict=True)))
    return rows


def check_overlap(texts: pd.Series, train: pd.DataFrame) -> None:
    """Stop unless no example text is in training, exactly or near-identically."""
    texts = texts[texts.str.strip() != ""].drop_duplicates()
    exact = texts.map(fold).isin(set(train["text"].map(fold)))
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, preprocessor=fold)
    vec.fit(pd.concat([texts, train["text"]]))
    sims = vec.transform(texts) @ vec.transform(train["text"]).T
    best = np.asarray(sims.max(axis=1).todense()).ravel()
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), preprocessor=fold)
    char.fit(pd.concat([texts, train["text"]]))
    csims = char.transform(texts) @ char.transform(train["text"]).T
    cbest = np.asarray(csims.max(axis=1).todense()).ravel()
    keys = [words_key(t) for t in train["text"]]
    inside = texts.map(lambda text: any(one_inside_other(words_key(text), k) for k in keys))
    print(
        f"overlap with training/data/train.csv ({len(train)} rows) for {len(texts)} example texts: "
        f"{int(exact.sum())} exact, {int((best >= 0.85).sum())} with word TF-IDF cosine >= 0.85 "
        f"(max {best.max():.3f}), {int((cbest >= 0.85).sum())} with char TF-IDF cosine >= 0.85 "
        f"(max {cbest.max():.3f}), {int(inside.sum())} contained in one another"
    )
    if exact.any() or (best >= 0.85).any() or (cbest >= 0.85).any() or inside.any():
        sys.exit("example texts overlap the training corpus")


def main() -> None:
    rng = np.random.default_rng(SEED)
    tags = Tags(ROOT / "taxonomy.yaml")
    heldout = pd.read_csv(HELDOUT, dtype=str, keep_default_na=False)
    train = pd.read_csv(TRAIN, dtype=str, keep_default_na=False)

    pick = rng.permutation(len(heldout))
    new = heldout.iloc[np.sort(pick[:NEW_COUNT])]
    messages = build_messages(rng, heldout.iloc[np.sort(pick[NEW_COUNT:])].reset_index(drop=True))
    rows = add_copies(rng, inject(rng, messages, tags), tags)
    rows["created_at"] = rows["created"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    new_frame = pd.DataFrame({"id": [f"new-{i:03d}" for i in range(1, len(new) + 1)]})
    new_frame["text"] = new["text"].to_numpy()
    check_overlap(pd.concat([rows["text"], new_frame["text"]]), train)

    columns = ["id", "conversation_id", "created_at", "agent", "user_id", "text", "tags"]
    rows[columns].to_csv(EXPORT, index=False, encoding="utf-8", lineterminator="\n")
    new_frame.to_csv(NEW_MESSAGES, index=False, encoding="utf-8", lineterminator="\n")
    truth = rows.rename(columns={"id": "export_id"})
    truth[["export_id", "team", "topic", "defect", "tags"]].to_csv(
        TRUTH, index=False, encoding="utf-8", lineterminator="\n"
    )

    print(f"{EXPORT.relative_to(ROOT)}: {len(rows)} rows ({len(messages)} distinct messages)")
    print(f"{NEW_MESSAGES.relative_to(ROOT)}: {len(new_frame)} rows")
    counts = rows["defect"].replace("", "none").value_counts()
    for name, count in counts.items():
        print(f"  {name:17} {count:5}  {count / len(rows):6.1%} of rows")


if __name__ == "__main__":
    main()
