"""Who judges the tags in a model-assisted audit, fed the corpus a chunk at a time.

``audit_dataset`` hands every chunk to its judge (``add``) and, after the last one, asks for
the model's view of every tag (``judge``): the ``Predictions`` the model-assisted checks
read, and the ``JudgedRows`` they quote from. Two judges:

- ``ModelJudge``, an existing model: each chunk is predicted as it comes and its texts are
  let go. Kept across chunks is what the checks need: per axis the judged rows, their tags'
  codes and probabilities (float64, as the in-memory audit has them: about 8 bytes per tag
  of the axis and message), the ids (Arrow text), each judged row's tags on the axis, and
  the texts of the few messages ``confusable-tags`` may quote (``health.quote_candidates``).
- ``CrossValidation``, the corpus judging itself: every fold is fitted on most of the texts
  and the text features on all of them, so the texts are needed at once. It keeps only the
  ids, texts and known tags (``dataset.CompactCorpus``, what ``train`` keeps) and fits after
  the last chunk; the rule checks still run chunk by chunk on the same read.

Either way the checks and their findings are those of ``run_audit`` on the corpus read whole
(``tests/test_audit_judged.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from classifier.audit.health import quote_candidates
from classifier.audit.suspects import CorpusRows, JudgedRows, Predictions, cross_validate
from classifier.dataset import CompactCorpus
from classifier.model.training import DataHash, corpus_labels

PREDICT_ROWS = 10_000  # texts the model predicts at once (see ModelJudge._proba)

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pyarrow as pa

    from classifier.corpus import Corpus
    from classifier.model.estimator import OutOfFold
    from classifier.taxonomy import Taxonomy


class Judge(Protocol):
    """Takes the chunks in row order, then gives the model's view of every tag. After
    ``judge``: ``skipped`` (axis -> why not judged) and ``trained_on_this_corpus``."""

    skipped: dict[str, str]
    trained_on_this_corpus: bool

    def add(self, chunk: Corpus) -> None: ...

    def judge(self) -> tuple[Predictions, JudgedRows]: ...


class ModelJudge:
    """An existing model's probabilities (``suspects.model_predictions``), chunk by chunk.

    Messages whose tag the model does not know are left out of that axis; an axis on which
    no message carries a tag it knows is skipped. The model was trained on this very corpus
    when its training data hash equals the hash of all the chunks' texts and labels.
    """

    def __init__(self, model: Any, meta: dict[str, Any], detail: str) -> None:
        self.model, self.meta, self.detail = model, meta, detail
        self.skipped: dict[str, str] = {}
        self.trained_on_this_corpus = False
        self._hash = DataHash()
        self._axes: dict[str, _Axis] = {}
        self._labelled: list[str] = []
        self._ids: list[pa.Array] = []
        self._messages = 0
        self._first: Corpus | None = None

    @classmethod
    def load(cls, directory: str | Path, taxonomy: Taxonomy) -> ModelJudge:
        """The model directory's judge (hash and tags checked by ``load_model``).

        Raises
        ------
        ModelError
            As ``load_model``.
        """
        from classifier.model.store import load_model, read_meta

        model = load_model(directory, taxonomy)
        return cls(model, read_meta(directory), str(directory))

    def add(self, chunk: Corpus) -> None:
        import numpy as np
        import pyarrow as pa

        texts, labels, _ = corpus_labels(chunk)
        self._hash.update(texts, labels)
        if self._first is None:
            self._first = chunk
            self._labelled = list(labels.columns)
        self._ids.append(pa.array(chunk.messages["id"].to_numpy(dtype=object), pa.string()))
        offset, self._messages = self._messages, self._messages + len(chunk)
        if not len(chunk):
            return
        proba = self._proba(texts)
        quotable = chunk.messages["text"].to_numpy(dtype=object)
        for axis in self.model.axes_:
            if axis not in labels:
                continue
            classes = np.asarray(self.model.heads_[axis].classes, dtype=object)
            index = {tag: i for i, tag in enumerate(classes)}
            given = labels[axis].to_numpy(dtype=object)
            rows = np.flatnonzero([tag is not None and tag in index for tag in given])
            codes = np.array([index[tag] for tag in given[rows]], dtype=np.int64)
            kept = self._axes.setdefault(axis, _Axis(classes))
            signatures = chunk.signatures(axis).to_numpy(dtype=object)[rows]
            kept.add(rows + offset, codes, proba[axis][rows], signatures, quotable[rows])

    def _proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``predict_proba`` of ``PREDICT_ROWS`` texts at a time: a batch's feature rows
        take about 18 KB a message (TF-IDF word and character n-grams), too many for a
        chunk at once. Each message's probabilities are its own, whatever the batch."""
        import numpy as np

        parts = [
            self.model.predict_proba(texts[start : start + PREDICT_ROWS])
            for start in range(0, len(texts), PREDICT_ROWS)
        ]
        if len(parts) == 1:
            return parts[0]
        return {axis: np.concatenate([part[axis] for part in parts]) for axis in parts[0]}

    def judge(self) -> tuple[Predictions, JudgedRows]:
        """The predictions and the rows kept; the judge lets go of them."""
        import pyarrow as pa

        axes: dict[str, OutOfFold] = {}
        signatures, quoted = {}, {}
        for axis in self.model.axes_:
            if axis not in self._labelled:
                continue
            kept = self._axes.get(axis)
            if kept is None or kept.size == 0 or kept.classes.size < 2:
                self.skipped[axis] = "no message carries a tag the model knows"
                continue
            axes[axis] = kept.out_of_fold(axis)
            signatures[axis] = (axes[axis].rows, kept.joined(kept.signatures))
            quoted.update(kept.quoted())
        trained = self.meta.get("training", {}).get("data_sha256")
        self.trained_on_this_corpus = trained == self._hash.hexdigest()
        first = self._first
        assert first is not None, "judge before any chunk"
        rows = KeptRows(
            first.taxonomy,
            int(first.messages["row"].iat[0]) if len(first) else 1,
            pa.chunked_array(self._ids, pa.string()),
            signatures,
            quoted,
        )
        self._axes, self._ids = {}, []
        predictions = Predictions(
            "model",
            self.detail,
            axes,
            trained_on_this_corpus=self.trained_on_this_corpus,
            skipped=dict(self.skipped),
        )
        return predictions, rows


class _Axis:
    """What ``ModelJudge`` keeps of one axis: per chunk the judged rows (positions in the
    dataset), their codes, probabilities and tags as written; and the quote candidates."""

    def __init__(self, classes: np.ndarray) -> None:
        import numpy as np

        self.classes = classes
        self.size = 0
        self.rows: list[np.ndarray] = []
        self.codes: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []
        self.signatures: list[np.ndarray] = []
        empty = np.zeros(0, dtype=np.int64)
        # the candidates: their codes, probabilities, positions in the dataset, texts
        self._quotes = (empty, np.zeros((0, classes.size)), empty, np.zeros(0, dtype=object))

    def add(
        self,
        rows: np.ndarray,
        codes: np.ndarray,
        proba: np.ndarray,
        signatures: np.ndarray,
        texts: np.ndarray,
    ) -> None:
        import numpy as np

        for held, part in zip(
            (self.rows, self.codes, self.proba, self.signatures),
            (rows, codes, proba, signatures),
            strict=True,
        ):
            held.append(part)
        self.size += rows.size
        # The candidates of the rows so far are among the previous ones and this chunk's.
        union = [
            np.concatenate([held, new])
            for held, new in zip(self._quotes, (codes, proba, rows, texts), strict=True)
        ]
        keep = quote_candidates(union[0], union[1])
        self._quotes = tuple(part[keep] for part in union)

    @staticmethod
    def joined(parts: list[np.ndarray]) -> np.ndarray:
        import numpy as np

        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def out_of_fold(self, axis: str) -> OutOfFold:
        from classifier.model.estimator import OutOfFold

        rows, codes = self.joined(self.rows), self.joined(self.codes)
        proba = self.joined(self.proba)
        self.rows, self.codes, self.proba = [], [], []
        return OutOfFold(axis, rows, self.classes, codes, proba)

    def quoted(self) -> dict[int, str]:
        """Position in the dataset -> text, of the quote candidates."""
        _, _, positions, texts = self._quotes
        return dict(zip(positions.tolist(), texts.tolist(), strict=True))


@dataclass(frozen=True)
class KeptRows:
    """``JudgedRows`` of a dataset read in chunks (``ModelJudge``'s): row numbers follow the
    positions (``first_row`` on); ids of every message; per axis, the tags of its judged rows
    (positions, sorted, and their signatures); the texts of the quote candidates."""

    taxonomy: Taxonomy
    first_row: int
    id_values: pa.ChunkedArray
    judged: dict[str, tuple[np.ndarray, np.ndarray]]
    quoted: dict[int, str]

    def numbers(self, positions: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(positions, dtype=np.int64) + self.first_row

    def ids(self, positions: np.ndarray) -> np.ndarray:
        import numpy as np
        import pyarrow as pa

        taken = self.id_values.take(pa.array(np.asarray(positions, dtype=np.int64)))
        return np.array(taken.to_pylist(), dtype=object)

    def signatures(self, axis: str, positions: np.ndarray) -> np.ndarray:
        import numpy as np

        rows, signatures = self.judged[axis]
        at = np.searchsorted(rows, positions)
        if not np.array_equal(rows[np.minimum(at, rows.size - 1)], positions):
            raise AssertionError(f"signatures asked of rows not judged on '{axis}'")
        return signatures[at]

    def texts(self, positions: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.array([self.quoted[int(p)] for p in positions], dtype=object)


class CrossValidation:
    """The corpus judging itself, out of fold (``suspects.cross_validate``): the chunks'
    ids, texts and known tags are kept (``CompactCorpus``) and the folds fitted after the
    last chunk, as the folds need every text at once.

    ``fit`` runs the folds (default ``cross_validate``; ``engine.cross_validate_on`` fits them
    on a Dask cluster) with ``folds``, ``progress(done, total)`` and ``params``.
    """

    def __init__(
        self,
        *,
        folds: int = 5,
        progress: Callable[[int, int], None] | None = None,
        fit: Callable[..., Predictions] | None = None,
        **params: Any,
    ) -> None:
        self.folds, self.progress, self.params = folds, progress, params
        self.fit = fit or cross_validate
        self.skipped: dict[str, str] = {}
        self.trained_on_this_corpus = False
        self._compact = CompactCorpus(("id", "text"))

    @property
    def messages(self) -> int:
        """Messages added so far: the folds' corpus once every chunk is in."""
        return self._compact.messages

    def add(self, chunk: Corpus) -> None:
        self._compact.add(chunk)

    def judge(self) -> tuple[Predictions, JudgedRows]:
        """The out-of-fold predictions and the corpus they judged.

        Raises
        ------
        CorpusError
            As ``cross_validate``: too few tagged messages on every axis.
        """
        corpus = self._compact.corpus()
        predictions = self.fit(corpus, folds=self.folds, progress=self.progress, **self.params)
        self.skipped = dict(predictions.skipped)
        return predictions, CorpusRows(corpus)
