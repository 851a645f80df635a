"""Tag trends per week and the weeks where a tag spikes.

The rule, in one sentence: a week is a spike for a tag when it has at least ``min_count``
contacts with that tag and a Poisson count with the mean of the tag's previous ``baseline_weeks``
weeks would reach that many with probability below ``p`` (so 1 -> 3 is no alarm, 10 -> 40 is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import pdtrc

from classifier.stats.frame import SPECIAL, Contacts
from classifier.stats.metrics import week_label
from classifier.stats.results import Trend


@dataclass(frozen=True)
class SpikeRule:
    """How far above its trailing mean a tag's week must be to be flagged."""

    baseline_weeks: int = 4
    min_count: int = 5
    p: float = 0.001

    def describe(self) -> str:
        return (
            f"spike: at least {self.min_count} contacts and P(Poisson(mean of the previous "
            f"{self.baseline_weeks} weeks) >= count) < {self.p:g}"
        )


def weekly_counts(data: Contacts, axis: str) -> pd.DataFrame:
    """Contacts per week (rows, every week of the period) and tag (columns) on ``axis``."""
    week = data.weeks.get_indexer(data.contacts["week"])
    tag, tags = pd.factorize(data.contacts[axis])
    cells = np.bincount(week * len(tags) + tag, minlength=len(data.weeks) * len(tags))
    table = pd.DataFrame(
        cells.reshape(len(data.weeks), len(tags)), index=data.weeks, columns=tags.astype(str)
    )
    return table[sorted(table.columns, key=lambda tag: (tag in SPECIAL, tag))]


def trends(data: Contacts, rule: SpikeRule | None = None, axes: tuple[str, ...] | None = None):
    """One ``Trend`` per (axis, tag seen in the period, week), with its baseline and spike flag.

    The baseline is the mean of the previous ``baseline_weeks`` weeks; the first weeks, which
    have fewer before them, get none and are never spikes.
    """
    rule = rule or SpikeRule()
    result: list[Trend] = []
    labels = [week_label(monday) for monday in data.weeks]
    for axis in axes or data.axes:
        counts = weekly_counts(data, axis)
        baseline = counts.shift(1).rolling(rule.baseline_weeks).mean()
        values = counts.to_numpy()
        means = baseline.to_numpy()
        # P(X >= count) for X ~ Poisson(mean): pdtrc(k, m) is P(X > k).
        tail = np.where(values > 0, pdtrc(np.maximum(values - 1, 0), np.nan_to_num(means)), 1.0)
        p_values = np.where(np.isnan(means), np.nan, tail)
        spikes = (values >= rule.min_count) & (p_values < rule.p)
        for j, tag in enumerate(counts.columns):
            for i, week in enumerate(labels):
                mean = means[i, j]
                result.append(
                    Trend(
                        axis=axis,
                        tag=tag,
                        week=week,
                        contacts=int(values[i, j]),
                        baseline=None if np.isnan(mean) else round(float(mean), 4),
                        p_value=None if np.isnan(mean) else float(p_values[i, j]),
                        spike=bool(spikes[i, j]),
                    )
                )
    return result
