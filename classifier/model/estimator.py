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

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from classifier.model.features import TextFeatures
from classifier.model.heads import fit_axis_heads, labels_frame
from classifier.model.predictor import AxisPredictions, Predictor

if TYPE_CHECKING:
    pass

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


class TagClassifier(Predictor, BaseEstimator):
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
    class_weight : {None, "balanced"}
        ``"balanced"`` weighs each tag's messages by the inverse of its frequency, so a tag
        that dominates the training data (bug reports in app reviews) does not win by prior.
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
    encoder : str, EncoderSpec or encoder object, optional
        A sentence encoder whose embedding joins the TF-IDF features
        (``classifier.model.embedding``): a name from ``classifier.model.encoder.ENCODERS``
        (``"default"``: the recommended one; needs ``pip install 'feedtag[encoder]'``), its
        spec, or any object with ``spec`` and ``encode``. ``None`` (the default): TF-IDF only.
    encoder_weight : float, optional
        Scale of the embedding block against the TF-IDF block; ``None`` tunes it by
        cross-validation on the training data over ``embedding.ENCODER_WEIGHTS``.

    Attributes
    ----------
    features_ : TextFeatures
    axes_ : list of str
    heads_ : dict of str to Head
        Per axis: ``classes`` (tag ids), the linear members and their temperatures.
    thresholds_ : dict of str to dict of str to float or None
    cv_report_ : dict of str to dict
        Out-of-fold metrics per axis (``classifier.model.metrics.axis_report``); with group
        folds also ``random_folds`` and ``by_group``.
    calibration_ : dict of str to dict
        Per axis, where its temperature and thresholds come from: ``kind`` "training" (with
        ``folds`` "groups" or "random" and the ``groups``) or "team" (``classifier.model.
        calibration``: ``messages``, ``source``, ``at``).
    n_rows_ : dict of str to int
        Rows that trained each axis (rows without exactly one tag on it are left out).
    encoder_weight_ : float
        With an encoder only: the weight of the embedding block.
    encoder_tuning_ : dict of float to float
        With an encoder only: out-of-fold accuracy (mean over axes) of each weight tried.
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
        class_weight: str | None = None,
        folds: int = 5,
        target_precision: float = 0.9,
        min_support: int = 5,
        never_suggest: Mapping[str, Sequence[str]] | None = None,
        random_state: int = 0,
        n_jobs: int | None = None,
        encoder: Any = None,
        encoder_weight: float | None = None,
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
        self.class_weight = class_weight
        self.folds = folds
        self.target_precision = target_precision
        self.min_support = min_support
        self.never_suggest = never_suggest
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.encoder = encoder
        self.encoder_weight = encoder_weight

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Sequence[str],
        y: Any,
        *,
        groups: Sequence[Any] | None = None,
        progress: Progress | None = None,
    ) -> TagClassifier:
        """Fit features and one head per axis.

        Parameters
        ----------
        X : sequence of str
            Message texts.
        y : DataFrame, mapping of axis to sequence, or 1-D sequence
            One column per axis holding a tag id per message; ``None``/NaN/empty (or a tuple
            of several tags) leaves that message out of that axis only. A 1-D ``y`` is one
            axis named ``label``.
        groups : sequence, optional
            The source of each message. An axis labelled by at least three sources takes its
            temperature, thresholds and report from folds that hold out whole sources, so
            ``auto`` means what it will on a source the model has not seen; the report then
            also gives the random-fold figures and the figures per source.
        progress : callable, optional
            Called as ``progress(done, total)`` after each fit of each fold and axis.
        """
        self._check_params()
        texts = list(X)
        frame = labels_frame(y, len(texts))
        names = None if groups is None else _group_names(groups, len(texts))
        options = self._head_options()
        self.features_, matrix, fitted, tuning = _features_and_heads(
            self, texts, frame, final=True, progress=progress, groups=names
        )
        if tuning is not None:
            self.encoder_weight_, self.encoder_tuning_ = tuning
        self.axes_ = list(frame.columns)
        self.heads_ = {axis: result.head for axis, result in fitted.items()}
        self.n_rows_ = {axis: int(result.rows.size) for axis, result in fitted.items()}
        self._check_suggestable()
        held_out = [axis for axis, result in fitted.items() if result.folds == "groups"]
        random = {}
        if held_out:  # the random-fold figures beside them, for the report only
            random = fit_axis_heads(
                matrix, frame[held_out], options, final=False, progress=progress
            )
        self.thresholds_, self.cv_report_ = {}, {}
        for axis, result in fitted.items():
            self.thresholds_[axis], self.cv_report_[axis] = self._calibrated(axis, result)
            if axis in random:
                _, report = self._calibrated(axis, random[axis])
                self.cv_report_[axis]["random_folds"] = _summary(report)
                self.cv_report_[axis]["by_group"] = self._by_group(axis, result, names)
        sources = sorted(set(names.tolist())) if names is not None else []
        self.calibration_ = {
            axis: {"kind": "training", "folds": result.folds, "groups": sources}
            for axis, result in fitted.items()
        }
        return self

    def _calibrated(self, axis: str, result: Any) -> tuple[dict[str, float | None], dict]:
        """Thresholds chosen on an axis's out-of-fold predictions, and the report they give."""
        from classifier.model.metrics import axis_report
        from classifier.model.thresholds import choose_thresholds

        classes = self.heads_[axis].classes
        pred, conf = self._top(axis, result.oof_proba)
        tags = classes[pred]
        thresholds = choose_thresholds(
            classes, result.codes, pred, conf, self.target_precision, self.min_support
        )
        auto = conf >= _threshold_array(thresholds, tags)
        report = axis_report(classes[result.codes], tags, conf, auto)
        report["folds"] = result.folds
        return thresholds, report

    def _by_group(self, axis: str, result: Any, names: np.ndarray) -> dict[str, dict]:
        """Held-out figures of each source at the chosen thresholds."""
        from classifier.model.metrics import axis_report

        classes = self.heads_[axis].classes
        pred, conf = self._top(axis, result.oof_proba)
        tags, truth = classes[pred], classes[result.codes]
        auto = self._auto(axis, tags, conf)
        of_rows = names[result.rows]
        return {
            str(group): _summary(axis_report(truth[mine], tags[mine], conf[mine], auto[mine]))
            for group in sorted(set(of_rows.tolist()))
            for mine in [of_rows == group]
        }

    def _top(self, axis: str, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The best suggestable class index of each row and its confidence."""
        masked = self._masked(axis, proba)
        pred = masked.argmax(axis=1)
        return pred, masked[np.arange(len(pred)), pred] if len(pred) else masked[:, 0]

    def _head_options(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "C": self.C,
            "lr_C": self.lr_C,
            "class_weight": self.class_weight,
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
        if self.encoder_weight is not None and not float(self.encoder_weight) > 0.0:
            raise ValueError(f"encoder_weight must be positive, not {self.encoder_weight}")

    def _check_fitted(self) -> None:
        check_is_fitted(self, "heads_")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_content_cache", None)
        return state


def _threshold_array(table: Mapping[str, float | None], tags: np.ndarray) -> np.ndarray:
    lookup = {t: (np.inf if v is None else v) for t, v in table.items()}
    return np.array([lookup.get(t, np.inf) for t in tags], dtype=float)


def _group_names(groups: Sequence[Any], n: int) -> np.ndarray:
    """Group names as strings; a message without one is its own group of unnamed messages."""
    names = np.array(["" if g is None or g != g else str(g) for g in groups], dtype=object)
    if names.size != n:
        raise ValueError(f"{n} texts but {names.size} groups")
    return names


SUMMARY = ("rows", "accuracy", "macro_f1", "coverage", "accuracy_at_threshold")


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {key: report[key] for key in SUMMARY}


def _features_and_heads(
    settings: TagClassifier,
    texts: list[str],
    frame: Any,
    *,
    final: bool,
    progress: Progress | None,
    groups: np.ndarray | None = None,
) -> tuple[Any, Any, dict[str, Any], tuple[float, dict[float, float]] | None]:
    """Fitted features, their matrix over ``texts`` and the heads fitted on it; with an
    encoder also the chosen weight and the out-of-fold accuracy of each weight tried
    (``classifier.model.embedding.fit_joined``)."""
    text_features = TextFeatures(**{p: getattr(settings, p) for p in FEATURE_PARAMS})
    options = settings._head_options()
    if settings.encoder is not None:
        from classifier.model.embedding import fit_joined

        return fit_joined(
            settings.encoder,
            settings.encoder_weight,
            text_features,
            texts,
            frame,
            options,
            final=final,
            progress=progress,
            groups=groups,
        )
    matrix = text_features.fit_transform(texts)
    fitted = fit_axis_heads(matrix, frame, options, final=final, progress=progress, groups=groups)
    return text_features, matrix, fitted, None


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
    _, _, fitted, _ = _features_and_heads(settings, texts, frame, final=False, progress=progress)
    return {
        axis: OutOfFold(axis, r.rows, r.classes, r.codes, r.oof_proba) for axis, r in fitted.items()
    }


__all__ = ["AxisPredictions", "OutOfFold", "TagClassifier", "out_of_fold_proba"]
