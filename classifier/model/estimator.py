"""The tag classifier: shared text features, one single-label linear head per axis.

One softmax per axis makes the tags of an axis exclusive by construction: every message gets
exactly one. Each head is one or two linear models (``head="svc"``, ``"lr"`` or ``"svc+lr"``)
whose scores are turned into probabilities by temperature scaling fitted on out-of-fold scores;
``svc+lr`` averages the two calibrated distributions. The same out-of-fold probabilities choose a
confidence threshold per tag for the target precision (``classifier.model.thresholds``).

Out-of-fold predictions reuse the features fitted on all texts (unsupervised: vocabulary and
idf only); only the heads are refitted per fold, which keeps training on 10k messages to seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from classifier.model.features import TextFeatures
from classifier.model.heads import fit_axis_heads, labels_frame
from classifier.model.predictor import AxisPredictions
from classifier.model.suggestion import Alternative, AxisSuggestion, Suggestion

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Progress = Callable[[int, int], None]
FEATURE_PARAMS = (
    "word_ngrams",
    "char_ngrams",
    "sublinear_tf",
    "min_df",
    "char_weight",
    "tokenizer",
    "mask_urls",
    "mask_emails",
    "mask_numbers",
)


class TagClassifier(BaseEstimator):
    """Suggest one tag per axis for short messages, with calibrated confidence.

    Parameters
    ----------
    word_ngrams, char_ngrams, sublinear_tf, min_df, char_weight, tokenizer, mask_urls, \
mask_emails, mask_numbers
        Passed to :class:`classifier.features.TextFeatures`.
    head : {"svc", "lr", "svc+lr"}
        Linear model(s) per axis: ``LinearSVC`` (fast), multinomial ``LogisticRegression``,
        or the average of both calibrated distributions.
    C : float
        Inverse regularisation of ``LinearSVC``.
    lr_C : float
        Inverse regularisation of ``LogisticRegression``.
    folds : int
        Cross-validation folds for calibration, thresholds and the report (at least 2).
    target_precision : float
        Precision a tag's auto-accepted suggestions must reach out of fold; a tag that never
        does gets no threshold and is always ``review``.
    min_support : int
        Fewest out-of-fold suggestions of a tag a threshold may rest on.
    never_suggest : dict of str to list of str, optional
        Per axis, tag ids never to suggest (human-only or retired); their probability is
        removed and the rest renormalised. ``classifier.store.load_model`` sets it from the
        current taxonomy.
    random_state : int
        Seed of the folds and of ``LinearSVC``.
    n_jobs : int or None
        Parallel fits (threads); ``None`` means 1, ``-1`` all cores.

    Attributes
    ----------
    features_ : TextFeatures
    axes_ : list of str
    heads_ : dict of str to Head
        Per axis: ``classes`` (tag ids), the linear members and their temperatures.
    thresholds_ : dict of str to dict of str to float or None
    cv_report_ : dict of str to dict
        Out-of-fold metrics per axis (``classifier.evaluate.axis_report``).
    n_rows_ : dict of str to int
        Rows that trained each axis (rows without exactly one tag on it are left out).
    """

    def __init__(
        self,
        *,
        word_ngrams: tuple[int, int] | None = (1, 2),
        char_ngrams: tuple[int, int] | None = (1, 5),
        sublinear_tf: bool = True,
        min_df: int = 1,
        char_weight: float = 1.0,
        tokenizer: str = "spacy",
        mask_urls: bool = True,
        mask_emails: bool = True,
        mask_numbers: bool = True,
        head: str = "svc",
        C: float = 1.0,
        lr_C: float = 30.0,
        folds: int = 5,
        target_precision: float = 0.9,
        min_support: int = 5,
        never_suggest: Mapping[str, Sequence[str]] | None = None,
        random_state: int = 0,
        n_jobs: int | None = None,
    ):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.char_weight = char_weight
        self.tokenizer = tokenizer
        self.mask_urls = mask_urls
        self.mask_emails = mask_emails
        self.mask_numbers = mask_numbers
        self.head = head
        self.C = C
        self.lr_C = lr_C
        self.folds = folds
        self.target_precision = target_precision
        self.min_support = min_support
        self.never_suggest = never_suggest
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Sequence[str], y: Any, *, progress: Progress | None = None) -> TagClassifier:
        """Fit features and one head per axis.

        Parameters
        ----------
        X : sequence of str
            Message texts.
        y : DataFrame, mapping of axis to sequence, or 1-D sequence
            One column per axis holding a tag id per message; ``None``/NaN/empty (or a tuple
            of several tags) leaves that message out of that axis only. A 1-D ``y`` is one
            axis named ``label``.
        progress : callable, optional
            Called as ``progress(done, total)`` after each of the (folds + 1) x axes fits.
        """
        import numpy as np

        self._check_params()
        texts = list(X)
        frame = labels_frame(y, len(texts))
        self.features_ = TextFeatures(**{p: getattr(self, p) for p in FEATURE_PARAMS})
        matrix = self.features_.fit_transform(texts)
        fitted = fit_axis_heads(matrix, frame, self._head_options(), final=True, progress=progress)
        self.axes_ = list(frame.columns)
        self.heads_ = {axis: result.head for axis, result in fitted.items()}
        self.n_rows_ = {axis: int(result.rows.size) for axis, result in fitted.items()}
        self._check_suggestable()
        self.thresholds_ = {}
        self.cv_report_ = {}
        from classifier.model.metrics import axis_report
        from classifier.model.thresholds import choose_thresholds

        for axis, result in fitted.items():
            head = self.heads_[axis]
            proba = self._masked(axis, result.oof_proba)
            pred = proba.argmax(axis=1)
            conf = proba[np.arange(len(pred)), pred] if len(pred) else proba[:, 0]
            self.thresholds_[axis] = choose_thresholds(
                head.classes, result.codes, pred, conf, self.target_precision, self.min_support
            )
            tags = head.classes[pred]
            auto = self._auto(axis, tags, conf)
            self.cv_report_[axis] = axis_report(head.classes[result.codes], tags, conf, auto)
        return self

    def _head_options(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "C": self.C,
            "lr_C": self.lr_C,
            "folds": self.folds,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def _check_params(self) -> None:
        if self.head not in ("svc", "lr", "svc+lr"):
            raise ValueError(f"head must be 'svc', 'lr' or 'svc+lr', not {self.head!r}")
        if int(self.folds) < 2:
            raise ValueError(f"folds must be at least 2, not {self.folds}")
        if not 0.0 < float(self.target_precision) <= 1.0:
            raise ValueError(f"target_precision must be in (0, 1], not {self.target_precision}")

    def _check_suggestable(self) -> None:
        from classifier.errors import ModelError

        for axis in self.axes_:
            if not self._allowed(axis).any():
                raise ModelError(
                    f"axis '{axis}': every tag the model knows is human-only or retired, "
                    "so there is nothing it may suggest"
                )

    # --------------------------------------------------------------- predicting
    def predict_proba(self, X: Sequence[str]) -> dict[str, np.ndarray]:
        """Calibrated probabilities per axis over ``heads_[axis].classes`` (nothing masked)."""
        check_is_fitted(self, "heads_")
        matrix = self.features_.transform(list(X))
        return {axis: self.heads_[axis].proba(matrix) for axis in self.axes_}

    def predict_axes(self, X: Sequence[str], top: int = 3) -> dict[str, AxisPredictions]:
        """Suggestions for many texts, columnar: the fast path for files."""
        import numpy as np

        check_is_fitted(self, "heads_")
        matrix = self.features_.transform(list(X))
        result = {}
        for axis in self.axes_:
            head = self.heads_[axis]
            proba = self._masked(axis, head.proba(matrix))
            k = min(max(int(top), 1), int(self._allowed(axis).sum()))
            order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
            top_conf = np.take_along_axis(proba, order, axis=1)
            tags = head.classes[order[:, 0]]
            conf = top_conf[:, 0]
            result[axis] = AxisPredictions(
                axis=axis,
                tags=tags,
                confidence=conf,
                auto=self._auto(axis, tags, conf),
                threshold=self._threshold_array(axis, tags),
                top_tags=head.classes[order],
                top_confidence=top_conf,
            )
        return result

    def predict(self, X: Sequence[str]) -> pd.DataFrame:
        """The suggested tag id per axis (one column each)."""
        import pandas as pd

        return pd.DataFrame({a: p.tags for a, p in self.predict_axes(X, top=1).items()})

    def suggest_table(self, X: Sequence[str]) -> pd.DataFrame:
        """Per axis ``AXIS``, ``AXIS_confidence``, ``AXIS_status``; then ``status``.

        ``status`` is ``auto`` only when every axis is ``auto``.
        """
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {}
        every = None
        for axis, p in self.predict_axes(X, top=1).items():
            columns[axis] = p.tags
            columns[f"{axis}_confidence"] = p.confidence
            columns[f"{axis}_status"] = np.where(p.auto, "auto", "review")
            every = p.auto if every is None else every & p.auto
        columns["status"] = np.where(every, "auto", "review")
        return pd.DataFrame(columns)

    def suggest(self, X: Sequence[str], top: int = 3) -> list[Suggestion]:
        """One :class:`Suggestion` per text, with up to ``top - 1`` alternatives per axis."""
        predicted = self.predict_axes(X, top=top)
        n = len(next(iter(predicted.values())).tags)
        return [
            Suggestion({axis: _axis_suggestion(p, i) for axis, p in predicted.items()})
            for i in range(n)
        ]

    def suggest_one(self, text: str, top: int = 3) -> Suggestion:
        """Suggestion for a single text without building sparse matrices (about 0.1 ms)."""
        import numpy as np

        check_is_fitted(self, "heads_")
        columns, values = self.features_.sparse_row(text)
        axes = {}
        for axis in self.axes_:
            head = self.heads_[axis]
            proba = self._masked(axis, head.proba_row(columns, values)[None, :])[0]
            k = min(max(int(top), 1), int(self._allowed(axis).sum()))
            order = np.argsort(-proba, kind="stable")[:k]
            tag = str(head.classes[order[0]])
            confidence = float(proba[order[0]])
            threshold = self.thresholds_[axis].get(tag)
            axes[axis] = AxisSuggestion(
                axis=axis,
                tag=tag,
                confidence=confidence,
                status=_status(confidence, threshold),
                threshold=threshold,
                alternatives=tuple(
                    Alternative(str(head.classes[j]), float(proba[j])) for j in order[1:]
                ),
            )
        return Suggestion(axes)

    def score(self, X: Sequence[str], y: Any) -> float:
        """Mean over axes of the accuracy on messages with exactly one tag on that axis."""
        import numpy as np

        frame = labels_frame(y, len(X))
        predicted = self.predict(X)
        scores = []
        for axis in self.axes_:
            known = frame[axis].notna().to_numpy()
            if known.any():
                truth = frame[axis].to_numpy()[known]
                scores.append(float(np.mean(predicted[axis].to_numpy()[known] == truth)))
        return float(np.mean(scores)) if scores else float("nan")

    # ----------------------------------------------------------------- helpers
    def _allowed(self, axis: str) -> np.ndarray:
        import numpy as np

        banned = set((self.never_suggest or {}).get(axis, ()))
        return np.array([tag not in banned for tag in self.heads_[axis].classes], dtype=bool)

    def _masked(self, axis: str, proba: np.ndarray) -> np.ndarray:
        """Zero the tags never to suggest and renormalise each row to sum to 1."""
        import numpy as np

        allowed = self._allowed(axis)
        if allowed.all():
            return proba
        masked = np.where(allowed, proba, 0.0)
        total = masked.sum(axis=1, keepdims=True)
        # A row whose whole mass sat on banned tags: spread it evenly over the allowed ones.
        even = allowed / allowed.sum()
        return np.where(total > 0, masked / np.where(total > 0, total, 1.0), even)

    def _threshold_array(self, axis: str, tags: np.ndarray) -> np.ndarray:
        import numpy as np

        table = self.thresholds_[axis]
        lookup = {t: (np.inf if v is None else v) for t, v in table.items()}
        return np.array([lookup.get(t, np.inf) for t in tags], dtype=float)

    def _auto(self, axis: str, tags: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        return confidence >= self._threshold_array(axis, tags)


def _status(confidence: float, threshold: float | None) -> str:
    return "auto" if threshold is not None and confidence >= threshold else "review"


def _axis_suggestion(p: AxisPredictions, i: int) -> AxisSuggestion:
    import math

    threshold = float(p.threshold[i])
    confidence = float(p.confidence[i])
    return AxisSuggestion(
        axis=p.axis,
        tag=str(p.tags[i]),
        confidence=confidence,
        status="auto" if bool(p.auto[i]) else "review",
        threshold=None if math.isinf(threshold) else threshold,
        alternatives=tuple(
            Alternative(str(t), float(c))
            for t, c in zip(p.top_tags[i, 1:], p.top_confidence[i, 1:], strict=True)
        ),
    )


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold predictions of one axis: each message scored by heads that never saw it.

    ``rows`` are positions in the input of the messages with exactly one tag on the axis;
    ``labels`` their true class indices into ``classes``; ``proba`` (rows x classes) the
    calibrated probabilities, nothing masked.
    """

    axis: str
    rows: np.ndarray
    classes: np.ndarray
    labels: np.ndarray
    proba: np.ndarray


def out_of_fold_proba(
    texts: Sequence[str],
    labels: Any,
    *,
    folds: int = 5,
    random_state: int = 0,
    n_jobs: int | None = None,
    progress: Progress | None = None,
    **params: Any,
) -> dict[str, OutOfFold]:
    """Cross-validated probabilities per axis, as ``cross_val_predict(method="predict_proba")``.

    Same features, heads and calibration as :meth:`TagClassifier.fit` (``params`` are its
    parameters), without the final fit. The text features are fitted once on all texts
    (vocabulary and idf only; no labels), the heads once per fold. The temperature is fitted
    on the out-of-fold scores themselves (one parameter per linear member).
    """
    settings = TagClassifier(folds=folds, random_state=random_state, n_jobs=n_jobs, **params)
    settings._check_params()
    texts = list(texts)
    frame = labels_frame(labels, len(texts))
    features = TextFeatures(**{p: getattr(settings, p) for p in FEATURE_PARAMS})
    matrix = features.fit_transform(texts)
    fitted = fit_axis_heads(matrix, frame, settings._head_options(), final=False, progress=progress)
    return {
        axis: OutOfFold(axis, r.rows, r.classes, r.codes, r.oof_proba) for axis, r in fitted.items()
    }


__all__ = ["AxisPredictions", "OutOfFold", "TagClassifier", "out_of_fold_proba"]
