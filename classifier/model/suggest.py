"""Suggestions for whole files: one row per message, in CSV or JSON Lines.

CSV columns: ``id``, then per axis ``AXIS``, ``AXIS_confidence``, ``AXIS_status``, then
``status`` (``auto`` only when every axis is ``auto``). JSON Lines carry the same per message
plus the alternatives of each axis.

A file or dataset of any size is suggested for chunk by chunk: :func:`suggest_corpus` is a
pure function of one chunk (the unit an engine such as Dask maps over partitions), and
:func:`write_suggestions` is the combine step, writing each chunk's rows in order as they
come, so memory follows the chunk, not the input. One chunk or many write the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from classifier.corpus import Corpus
    from classifier.model.estimator import AxisPredictions, TagClassifier

CHUNK = 4096


@dataclass(frozen=True)
class SuggestedFile:
    """Suggestions for a corpus: the CSV table and, per axis, the ranked alternatives."""

    table: pd.DataFrame
    top_tags: dict[str, Any]
    top_confidence: dict[str, Any]

    def to_csv(self, *, header: bool = True) -> str:
        """The CSV rows; ``header=False`` for a chunk after the first."""
        from classifier.output import csv_bytes

        return csv_bytes(self.table.round(4), header=header).decode("utf-8")

    def to_jsonl(self) -> str:
        lines = []
        axes = list(self.top_tags)
        records = self.table.to_dict("records")
        for i, record in enumerate(records):
            item: dict[str, Any] = {"id": record["id"]}
            for axis in axes:
                item[axis] = {
                    "tag": record[axis],
                    "confidence": round(float(record[f"{axis}_confidence"]), 4),
                    "status": record[f"{axis}_status"],
                    "alternatives": [
                        {"tag": str(t), "confidence": round(float(c), 4)}
                        for t, c in zip(
                            self.top_tags[axis][i, 1:],
                            self.top_confidence[axis][i, 1:],
                            strict=True,
                        )
                    ],
                }
            item["status"] = record["status"]
            lines.append(json.dumps(item, ensure_ascii=False))
        return "\n".join(lines) + ("\n" if lines else "")


def suggest_corpus(
    model: TagClassifier,
    corpus: Corpus,
    *,
    top: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> SuggestedFile:
    """Suggest tags for every message of a corpus (or of one chunk of a dataset).

    Pure: the result depends only on the model and the chunk's messages, so chunks can be
    suggested for in any order or in parallel and put end to end by :func:`write_suggestions`.
    The model predicts ``CHUNK`` texts at a time so ``progress(done, total)`` can tick.
    """
    import numpy as np
    import pandas as pd

    texts = corpus.messages["text"].tolist()
    parts: list[dict[str, AxisPredictions]] = []
    for start in range(0, len(texts), CHUNK):
        parts.append(model.predict_axes(texts[start : start + CHUNK], top=top))
        if progress is not None:
            progress(min(start + CHUNK, len(texts)), len(texts))
    columns: dict[str, Any] = {"id": corpus.messages["id"].tolist()}
    every = np.ones(len(texts), dtype=bool)
    top_tags, top_confidence = {}, {}
    for axis in model.axes_:
        tags = np.concatenate([p[axis].tags for p in parts])
        auto = np.concatenate([p[axis].auto for p in parts])
        columns[axis] = tags
        columns[f"{axis}_confidence"] = np.concatenate([p[axis].confidence for p in parts])
        columns[f"{axis}_status"] = np.where(auto, "auto", "review")
        top_tags[axis] = np.concatenate([p[axis].top_tags for p in parts])
        top_confidence[axis] = np.concatenate([p[axis].top_confidence for p in parts])
        every &= auto
    columns["status"] = np.where(every, "auto", "review")
    return SuggestedFile(pd.DataFrame(columns), top_tags, top_confidence)


def write_suggestions(
    model: TagClassifier,
    chunks: Iterable[Corpus],
    write: Callable[[bytes], Any],
    *,
    format: str = "csv",
    top: int = 3,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """Suggest for each chunk in turn and ``write`` its rows (the combine step); the row count.

    ``format`` is ``csv`` (the header once, before the first chunk's rows) or ``jsonl``.
    ``progress(done, None)`` ticks with the rows done so far: the total of a dataset read in
    chunks is not known in advance.
    """
    done = 0
    for number, chunk in enumerate(chunks):

        def tick(rows: int, _total: int, before: int = done) -> None:
            if progress is not None:
                progress(before + rows, None)

        part = suggest_corpus(model, chunk, top=top, progress=tick)
        text = part.to_csv(header=number == 0) if format == "csv" else part.to_jsonl()
        write(text.encode("utf-8"))
        done += len(chunk)
    return done
