"""A synthetic help-desk export of any size, with the defects real exports have.

Shared by the audit and export benchmarks. Texts are short sentences drawn from a pool so the
file is realistic in size and shape; tags are spelled the way help desks export them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

WORDS = (
    "the messenger widget inbox campaign invoice seat api webhook sdk android ios login page "
    "slow down broken error please help thanks love cancel price plan team email push tour "
    "report export assign macro tag bot article search launcher customers our your not does"
).split()


def make_export(rows: int, seed: int = 0, taxonomy=None) -> pd.DataFrame:
    """``rows`` messages: ~5% without a team, ~3% with two topics, aliases, unknowns, duplicates."""
    from classifier.taxonomy import load_taxonomy

    taxonomy = taxonomy or load_taxonomy()
    rng = np.random.default_rng(seed)
    spellings = {}
    for axis, body in taxonomy.axes.items():
        live = [t for t in body.tags if not t.deprecated]
        spellings[axis] = np.array([t.name for t in live], dtype=object)
        spellings[axis + "_alias"] = np.array(
            [t.aliases[0] if t.aliases else t.name for t in live], dtype=object
        )
    team = _pick(rng, spellings["team"], spellings["team_alias"], rows)
    topic = _pick(rng, spellings["topic"], spellings["topic_alias"], rows)
    second = rng.choice(spellings["topic"], rows)
    tags = np.where(rng.random(rows) < 0.05, topic, team + "; " + topic)
    tags = np.where(rng.random(rows) < 0.03, tags + "; " + second, tags)
    tags = np.where(rng.random(rows) < 0.01, tags + "; Misc", tags)
    words = np.array(WORDS, dtype=object)
    lengths = rng.integers(4, 30, rows)
    text = [" ".join(rng.choice(words, n)) for n in lengths]
    ids = np.char.add("m", np.arange(rows).astype(str)).astype(object)
    dup = rng.random(rows) < 0.01
    ids[dup] = ids[np.maximum(np.arange(rows)[dup] - 1, 0)]
    start = np.datetime64("2026-01-01T00:00:00")
    created = start + (np.arange(rows) * 30).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "id": ids,
            "conversation_id": np.char.add("c", (np.arange(rows) // 3).astype(str)),
            "created_at": np.datetime_as_string(created, unit="s"),
            "agent": rng.choice(np.array(["ana", "ben", "chen", "dee", "eli"]), rows),
            "user_id": np.char.add("u", rng.integers(0, rows // 5 + 1, rows).astype(str)),
            "text": text,
            "tags": tags,
        }
    )


def _pick(rng, names, aliases, rows):
    index = rng.integers(0, len(names), rows)
    return np.where(rng.random(rows) < 0.1, aliases[index], names[index]).astype(object)


def write_export(path: Path, rows: int, seed: int = 0) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        make_export(rows, seed).to_csv(path, index=False)
    return path
