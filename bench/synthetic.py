"""A synthetic help-desk export of any size, with the defects real exports have.

Shared by the audit and export benchmarks. Texts are short sentences drawn from a pool so the
file is realistic in size and shape; tags are spelled the way help desks export them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

WORDS = (
    "the messenger widget inbox campaign invoice seat api webhook sdk android ios login page "
    "slow down broken error please help thanks love cancel price plan team email push tour "
    "report export assign macro tag bot article search launcher customers our your not does"
).split()


def make_export(
    rows: int, seed: int = 0, taxonomy=None, *, start: int = 0, total: int | None = None
) -> pd.DataFrame:
    """``rows`` messages: ~5% without a team, ~3% with two topics, aliases, unknowns, duplicates.

    ``start`` and ``total``: this is the block of rows ``start..start+rows`` of an export of
    ``total`` rows (ids, conversations, times and users continue across blocks).
    """
    total = rows if total is None else total
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
    text = _texts(rng, rows)
    numbers = np.arange(start, start + rows)
    ids = np.char.add("m", numbers.astype(str)).astype(object)
    dup = rng.random(rows) < 0.01
    ids[dup] = ids[np.maximum(np.arange(rows)[dup] - 1, 0)]
    created = np.datetime64("2026-01-01T00:00:00") + (numbers * 30).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "id": ids,
            "conversation_id": np.char.add("c", (numbers // 3).astype(str)),
            "created_at": np.datetime_as_string(created, unit="s"),
            "agent": rng.choice(np.array(["ana", "ben", "chen", "dee", "eli"]), rows),
            "user_id": np.char.add("u", rng.integers(0, total // 5 + 1, rows).astype(str)),
            "text": text,
            "tags": tags,
        }
    )


def _texts(rng, rows):
    """4 to 29 words drawn from ``WORDS`` per message, joined by pyarrow (not row by row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = rng.integers(4, 30, rows)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    words = pa.array(WORDS).take(pa.array(rng.integers(0, len(WORDS), int(offsets[-1]))))
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), words), " ")
    return joined.to_numpy(zero_copy_only=False).astype(object)


def _pick(rng, names, aliases, rows):
    index = rng.integers(0, len(names), rows)
    return np.where(rng.random(rows) < 0.1, aliases[index], names[index]).astype(object)


BLOCK = 1_000_000  # rows generated at a time: a 30M-row export never sits in memory


def blocks(rows: int, seed: int = 0):
    """The export of ``rows`` messages as frames of ``BLOCK`` rows (block b seeded seed + b;
    an export of at most one block is ``make_export(rows, seed)``)."""
    for number, start in enumerate(range(0, rows, BLOCK)):
        size = min(BLOCK, rows - start)
        yield make_export(size, seed + number, start=start, total=rows)


def write_export(path: Path, rows: int, seed: int = 0) -> Path:
    """The export as one CSV, written block by block and renamed into place when complete
    (benchmarks of several sessions share the files under /work/bench-data)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        for number, frame in enumerate(blocks(rows, seed)):
            frame.to_csv(temp, index=False, header=number == 0, mode="w" if number == 0 else "a")
        os.replace(temp, path)
    return path


def write_parquet_dataset(folder: Path, csv: Path, files: int = 20) -> Path:
    """The rows of the export ``csv`` (every column as text) as ``files`` Parquet files."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not folder.exists():
        temp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        temp.mkdir(parents=True)
        names = pacsv.open_csv(csv).schema.names
        convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
        with open(csv, "rb") as lines:  # no cell of the export holds a line break
            rows = sum(1 for _ in lines) - 1
        per_file = -(-rows // files)
        reader = pacsv.open_csv(csv, convert_options=convert)
        pending, number = [], 0
        for batch in reader:
            pending.append(batch)
            while sum(len(b) for b in pending) >= per_file:
                table = pa.Table.from_batches(pending)
                pq.write_table(table.slice(0, per_file), temp / f"part-{number:05d}.parquet")
                number += 1
                rest = table.slice(per_file)
                pending = rest.to_batches() if len(rest) else []
        if pending:
            pq.write_table(pa.Table.from_batches(pending), temp / f"part-{number:05d}.parquet")
        os.replace(temp, folder)
    return folder
