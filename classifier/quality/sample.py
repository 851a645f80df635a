"""``feedtag sample``: a reproducible stratified sample of a corpus for a lead to re-tag.

A simple random sample of 200 messages loses the rare tags a lead most needs to check (a tag
on 0.5% of messages shows up once, or not at all); a sample spread evenly over strata says
nothing about the corpus as a whole. The rule here does both: one message per stratum first,
then the rest in proportion to what each stratum has left (largest remainder).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from classifier.corpus import format_tags
from classifier.errors import UsageError
from classifier.output import csv_bytes, write_atomic

if TYPE_CHECKING:
    from classifier.corpus import Corpus

RULE = (
    "Strata are the combinations of the --stratify values (an axis's value is the message's "
    "one tag, '(none)' or '(several)'). Every stratum gets one message first, so no "
    "combination is lost however rare; the rest of --n is shared out in proportion to what "
    "each stratum has left, by largest remainder (ties: the larger stratum, then the first in "
    "sort order). Messages within a stratum are drawn at random with --seed, each message id "
    "once; the file lists them in random order, so the order hints at no tag."
)
NONE = "(none)"
SEVERAL = "(several)"


@dataclass(frozen=True)
class Stratum:
    """One combination of stratify values: how many messages it has and how many were drawn."""

    values: tuple[str, ...]
    messages: int
    sampled: int


@dataclass(frozen=True)
class Sample:
    """A drawn sample: the rows to write, and under ``blind`` the key kept aside.

    Attributes
    ----------
    positions : numpy.ndarray
        Positions of the sampled messages in the corpus, in the order written.
    rows : pandas.DataFrame
        What the sample file holds (text cells); under ``blind`` without tags or agent and with
        one empty column per axis for the re-tag.
    key : pandas.DataFrame or None
        Under ``blind``, the sampled rows as they were in the corpus (same order), so the key
        file reads as the ORIGINAL of ``feedtag agreement``.
    """

    source: str
    stratify: tuple[str, ...]
    seed: int
    blind: bool
    population: int
    repeated_ids: int
    strata: list[Stratum]
    positions: np.ndarray
    rows: pd.DataFrame
    key: pd.DataFrame | None

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "stratify": list(self.stratify),
            "seed": self.seed,
            "blind": self.blind,
            "population": self.population,
            "repeated_ids_left_out": self.repeated_ids,
            "sampled": len(self.positions),
            "rule": RULE,
            "strata": [
                {"values": dict(zip(self.stratify, s.values, strict=True))}
                | {"messages": s.messages, "sampled": s.sampled}
                for s in self.strata
            ],
        }


@dataclass(frozen=True)
class SampleFiles:
    sample: Path
    key: Path | None


def allocate(sizes: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """How many messages each stratum gets: one each, then the rest by largest remainder.

    The rest ``n - K`` is shared in proportion to ``size - 1`` (what a stratum has left after
    its first message), so no stratum is asked for more than it has. Integer arithmetic:
    the same sizes always give the same allocation.

    Raises
    ------
    UsageError
        When ``n`` is smaller than the number of strata: not every stratum could be represented.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(sizes.sum())
    if n >= total:
        return sizes.copy()
    if n < len(sizes):
        raise UsageError(
            f"--n {n} is fewer than the {len(sizes)} strata, so not every stratum could be "
            "represented; raise --n or stratify by fewer columns (--stratify)"
        )
    rest, left = n - len(sizes), sizes - 1
    spare = int(left.sum())
    base, remainder = np.divmod(rest * left, spare) if spare else (left * 0, left * 0)
    extra = rest - int(base.sum())
    order = np.lexsort((np.arange(len(sizes)), -sizes, -remainder))
    base[order[:extra]] += 1
    return 1 + base


def stratum_codes(corpus: Corpus, stratify: Sequence[str]) -> list[tuple[np.ndarray, list[str]]]:
    """Per stratify key, an integer per message and the names of the integers, sorted.

    An axis's value is the message's one tag, ``(none)`` or ``(several)``; the agent's is the
    agent, ``(none)`` where empty. Integers, not strings, so a million messages group fast.
    """
    found = []
    for key in stratify:
        if key in corpus.taxonomy.axes:
            code, names = _axis_codes(corpus, key)
        elif key == "agent":
            if "agent" not in corpus.messages:
                raise UsageError(
                    f"{corpus.path}: --stratify agent, but the file has no agent column"
                )
            code, unique = pd.factorize(corpus.messages["agent"])
            names = [str(agent) or NONE for agent in unique]
        else:
            known_keys = ", ".join(["agent", *corpus.taxonomy.axes])
            raise UsageError(f"--stratify '{key}': not a column to stratify by; use {known_keys}")
        order = np.argsort(names, kind="stable")
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(len(names))
        found.append((rank[code], [names[i] for i in order]))
    return found


def _axis_codes(corpus: Corpus, axis: str) -> tuple[np.ndarray, list[str]]:
    """Each message's one tag on ``axis`` as a category code, or the ``(none)`` / ``(several)``
    code. The smallest and largest code per message tell one tag (written once or repeated)
    from several, in one pass over the tag rows without hashing them."""
    tags = corpus.tags
    on = (tags["axis"] == axis).to_numpy()
    message = tags["message"].to_numpy()[on]
    codes = tags["tag"].cat.codes.to_numpy()[on].astype(np.int64)
    names = [*map(str, tags["tag"].cat.categories), NONE, SEVERAL]
    code = np.full(len(corpus), len(names) - 2, dtype=np.int64)
    if len(message):
        if (message[1:] < message[:-1]).any():
            order = np.argsort(message, kind="stable")
            message, codes = message[order], codes[order]
        starts = np.flatnonzero(np.r_[True, message[1:] != message[:-1]])
        low, high = np.minimum.reduceat(codes, starts), np.maximum.reduceat(codes, starts)
        code[message[starts]] = np.where(low == high, low, len(names) - 1)
    return code, names


def draw_sample(
    corpus: Corpus,
    n: int,
    *,
    stratify: Sequence[str] | None = None,
    seed: int = 0,
    blind: bool = False,
) -> Sample:
    """Draw the stratified sample (see ``RULE``); ``stratify`` defaults to the axes.

    A message id exported twice is drawn at most once (its first row), so the re-tag joins
    back on id without ambiguity.
    """
    if n < 1:
        raise UsageError(f"--n {n}: the sample needs at least one message")
    stratify = tuple(stratify or corpus.taxonomy.axes)
    if len(set(stratify)) < len(stratify):
        raise UsageError(f"--stratify {','.join(stratify)}: a column is named twice")
    eligible = np.flatnonzero(~corpus.messages["id"].duplicated().to_numpy())
    columns = stratum_codes(corpus, stratify)
    combined = np.zeros(len(eligible), dtype=np.int64)
    for code, names in columns:
        combined = combined * len(names) + code[eligible]
    keys, stratum = np.unique(combined, return_inverse=True)
    sizes = np.bincount(stratum, minlength=len(keys))
    take = allocate(sizes, n)

    # A random order of the messages, grouped by stratum (a stable sort keeps it random
    # within each); the first `take` of each stratum are drawn, then shuffled once more.
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(eligible))
    order = shuffled[np.argsort(stratum[shuffled], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.arange(len(order)) - starts[stratum[order]]
    chosen = order[rank < take[stratum[order]]]
    positions = eligible[chosen[rng.permutation(len(chosen))]]

    strata = []
    for combination, size, count in zip(keys.tolist(), sizes.tolist(), take.tolist(), strict=True):
        parts = []
        for _, names in reversed(columns):
            combination, code = divmod(combination, len(names))
            parts.append(names[code])
        strata.append(Stratum(tuple(reversed(parts)), size, count))
    rows, key_rows = _rows(corpus, positions, blind)
    return Sample(
        source=corpus.path,
        stratify=stratify,
        seed=seed,
        blind=blind,
        population=len(eligible),
        repeated_ids=len(corpus) - len(eligible),
        strata=strata,
        positions=positions,
        rows=rows,
        key=key_rows,
    )


def _rows(corpus: Corpus, positions: np.ndarray, blind: bool):
    """The sampled rows as text cells; under ``blind`` split into the re-tag file and the key."""
    frame = corpus.frame.iloc[positions].reset_index(drop=True)
    frame = pd.DataFrame({str(c): _text_cells(frame[c]) for c in frame.columns})
    if corpus.columns.id is None:
        frame.insert(0, "id", corpus.messages["id"].to_numpy()[positions])
    if not blind:
        return frame, None
    hidden = [corpus.columns.tags, *corpus.columns.axes.values(), corpus.columns.agent]
    hidden = [str(column) for column in hidden if column is not None]
    rows = frame.drop(columns=hidden)
    for axis in corpus.taxonomy.axes:
        if axis not in rows.columns:
            rows[axis] = ""
    return rows, frame


def _text_cells(values: pd.Series) -> np.ndarray:
    """A column as text a spreadsheet shows: tag lists (JSON, Parquet) as ``a; b``."""
    out = values.to_numpy(dtype=object).copy()
    for i, value in enumerate(out):
        if isinstance(value, str):
            continue
        if isinstance(value, list | tuple | np.ndarray):
            out[i] = format_tags([str(tag) for tag in value])
        else:
            out[i] = "" if value is None or value != value else str(value)
    return out.astype(str) if len(out) else out


def key_path(out: str | Path) -> Path:
    """The key file beside the sample: ``sample.csv`` -> ``sample.key.csv``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.key{out.suffix}")


def write_sample(sample: Sample, out: str | Path, inputs: Sequence[str | Path] = ()) -> SampleFiles:
    """Write the sample (and under ``blind`` its key) as CSV, atomically.

    Raises
    ------
    UsageError
        When the sample or its key would overwrite one of ``inputs`` (the corpus, the
        taxonomy), or the file is not named ``.csv``.
    """
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise UsageError(f"{out}: sample writes CSV (for a spreadsheet); name the file .csv")
    key = key_path(out) if sample.blind else None
    taken = {Path(p).resolve() for p in (sample.source, *inputs) if str(p) != "-"}
    for path in (out, key):
        if path is not None and path.resolve() in taken:
            raise UsageError(f"{path}: would overwrite an input of this command; name another file")
    write_atomic(out, csv_bytes(sample.rows))
    if key is not None and sample.key is not None:
        write_atomic(key, csv_bytes(sample.key))
    return SampleFiles(out, key)
