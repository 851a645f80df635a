"""Per-axis linear heads: fitting, out-of-fold scores and temperature calibration.

A head is a list of linear members (``LinearSVC`` and/or ``LogisticRegression``), each with a
temperature fitted on its out-of-fold scores by minimising the negative log-likelihood; the
head's probability is the mean of the members' tempered softmax. All fits of all folds and
axes run in one thread pool (liblinear and lbfgs release the GIL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

MEMBERS = {"svc": ("svc",), "lr": ("lr",), "svc+lr": ("svc", "lr")}
ABSENT_SCORE = {"svc": -1.0, "lr": -10.0}  # a class missing from a fold's training rows
MIN_GROUPS = 3  # with two, holding one out leaves a single source to learn from
MAX_GROUP_FOLDS = 20


@dataclass
class Member:
    """One linear model: ``scores = X @ weights + bias``, probabilities ``softmax(T * scores)``."""

    kind: str
    weights: np.ndarray  # (n_features, n_classes), float32
    bias: np.ndarray  # (n_classes,)
    temperature: float = 1.0


@dataclass
class Head:
    """The classifier of one axis: its tag ids and calibrated linear members."""

    classes: np.ndarray
    members: list[Member]

    def proba(self, matrix: sp.csr_matrix) -> np.ndarray:
        import numpy as np

        if not self.members:  # a single class: always that tag
            return np.ones((matrix.shape[0], len(self.classes)))
        total = sum(softmax(m.temperature * (matrix @ m.weights + m.bias)) for m in self.members)
        return total / len(self.members)

    def proba_row(self, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        import numpy as np

        if not self.members:
            return np.ones(len(self.classes))
        total = sum(
            softmax(m.temperature * (values @ m.weights[columns] + m.bias)[None, :])[0]
            for m in self.members
        )
        return total / len(self.members)


@dataclass
class AxisFit:
    """What fitting one axis produced: rows used, their label codes, out-of-fold probabilities."""

    head: Head | None
    classes: np.ndarray
    rows: np.ndarray
    codes: np.ndarray
    oof_proba: np.ndarray
    folds: str = "random"  # "groups": out-of-fold scores come from folds holding out whole groups


def softmax(scores: np.ndarray) -> np.ndarray:
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    shifted = scores - scores.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def labels_frame(y: Any, n: int) -> pd.DataFrame:
    """Labels as a DataFrame with one object column per axis; ``None`` where not exactly one tag."""
    from collections.abc import Mapping

    import pandas as pd

    if isinstance(y, pd.DataFrame):
        frame = y.reset_index(drop=True)
    elif isinstance(y, Mapping):
        frame = pd.DataFrame({str(k): list(v) for k, v in y.items()})
    else:
        frame = pd.DataFrame({"label": list(y)})
    if len(frame) != n:
        raise ValueError(f"{n} texts but {len(frame)} label rows")
    if frame.shape[1] == 0:
        raise ValueError("no label columns")
    return pd.DataFrame(
        {str(axis): [_one_tag(v) for v in frame[axis].tolist()] for axis in frame.columns},
        dtype=object,
    )


def _one_tag(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return _one_tag(value[0]) if len(value) == 1 else None
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def fit_axis_heads(
    matrix: sp.csr_matrix,
    labels: pd.DataFrame,
    options: dict[str, Any],
    *,
    final: bool = True,
    progress: Callable[[int, int], None] | None = None,
    exclude: dict[str, np.ndarray] | None = None,
    groups: np.ndarray | None = None,
) -> dict[str, AxisFit]:
    """Cross-validate and (with ``final``) fit every axis's head on its labelled rows.

    ``options``: ``head``, ``C``, ``lr_C``, ``class_weight``, ``folds``, ``random_state``,
    ``n_jobs``.
    ``groups``: one group name per message (its source). An axis whose labelled rows come from
    at least ``MIN_GROUPS`` groups is cross-validated on folds that hold out whole groups
    (``group_splits``), so its out-of-fold scores say how the head does on an unseen source;
    ``AxisFit.folds`` says which folds an axis got.
    ``exclude``: per axis, a boolean mask over that axis's labelled rows (in ``AxisFit.rows``
    order) of rows to keep out of every fit and of the temperature, yet still score out of
    fold: the second pass of the model-assisted audit leaves its surest label issues out.
    """
    import numpy as np
    from joblib import Parallel, delayed

    kinds = MEMBERS[options["head"]]
    plans, jobs, kinds_of_folds = {}, [], {}
    for axis in labels.columns:
        column = labels[axis].to_numpy()
        rows = np.flatnonzero(np.array([v is not None for v in column], dtype=bool))
        if rows.size == 0:
            raise ValueError(f"axis '{axis}': no message has exactly one tag on it")
        classes, codes = np.unique(column[rows].astype(str), return_inverse=True)
        plans[axis] = (rows, classes, codes)
        if classes.size < 2:
            continue
        kept = _kept(exclude, axis, rows.size)
        axis_groups = None if groups is None else groups[rows]
        splits = _splits(codes, options, axis_groups)
        kinds_of_folds[axis] = "groups" if _enough_groups(axis_groups) else "random"
        for fold, (train, test) in enumerate(splits):
            train = train[kept[train]]
            jobs += [(axis, fold, kind, rows[train], codes[train], test) for kind in kinds]
        if final:
            jobs += [(axis, None, kind, rows[kept], codes[kept], None) for kind in kinds]

    def tasks():
        for job in jobs:
            axis, fold, _kind, train_rows, train_codes, test = job
            test_matrix = None if fold is None else matrix[plans[axis][0][test]]
            k = plans[axis][1].size
            yield delayed(_fit_job)(job, matrix[train_rows], train_codes, k, options, test_matrix)

    # Processes, not threads: liblinear draws from one process-wide C rand(), so concurrent
    # fits in threads interleave their draws and the same seed gives slightly different models.
    results = []
    parallel = Parallel(n_jobs=options.get("n_jobs"), return_as="generator")
    for done, result in enumerate(parallel(tasks()), start=1):
        results.append(result)
        if progress is not None:
            progress(done, len(jobs))

    fitted = {}
    for axis, (rows, classes, codes) in plans.items():
        if classes.size < 2:
            head = Head(classes.astype(object), []) if final else None
            fitted[axis] = AxisFit(
                head, classes.astype(object), rows, codes, np.ones((rows.size, 1)), "random"
            )
            continue
        members, oof = [], {}
        for kind in kinds:
            scores = np.zeros((rows.size, classes.size), dtype=np.float64)
            for (a, fold, kd, _, _, test), _member, s in results:
                if a == axis and kd == kind and fold is not None:
                    scores[test] = s
            kept = _kept(exclude, axis, rows.size)
            temperature = fit_temperature(scores[kept], codes[kept])
            oof[kind] = softmax(temperature * scores)
            if final:
                (member,) = [
                    m for (a, f, kd, *_), m, _ in results if a == axis and f is None and kd == kind
                ]
                member.temperature = temperature
                members.append(member)
        proba = sum(oof.values()) / len(kinds)
        head = Head(classes.astype(object), members) if final else None
        fitted[axis] = AxisFit(
            head, classes.astype(object), rows, codes, proba, kinds_of_folds[axis]
        )
    return fitted


def _fit_job(job: tuple, train: Any, codes: Any, k: int, options: dict, test: Any) -> tuple:
    member = fit_member(job[2], train, codes, k, options)
    return job, member, None if test is None else test @ member.weights + member.bias


def _kept(exclude: dict[str, np.ndarray] | None, axis: str, n: int) -> np.ndarray:
    import numpy as np

    if exclude is None or axis not in exclude:
        return np.ones(n, dtype=bool)
    return ~np.asarray(exclude[axis], dtype=bool)


def _enough_groups(groups: np.ndarray | None) -> bool:
    return groups is not None and len(set(groups.tolist())) >= MIN_GROUPS


def _splits(
    codes: np.ndarray, options: dict[str, Any], groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group folds where there are enough groups; else stratified folds where the classes
    allow it, plain shuffled folds otherwise."""
    import warnings

    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold

    if _enough_groups(groups):
        return group_splits(groups, int(options["folds"]))

    folds = min(int(options["folds"]), codes.size)
    seed = options["random_state"]
    if np.bincount(codes).max() >= folds:
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        return list(splitter.split(np.zeros(codes.size), codes))


def group_splits(groups: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that each hold out whole groups: one per group (leave-one-group-out) up to
    ``MAX_GROUP_FOLDS`` groups, ``folds`` balanced folds (``GroupKFold``) past that."""
    import numpy as np
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

    names = np.asarray([str(g) for g in groups], dtype=object)
    n_groups = len(set(names.tolist()))
    splitter: Any = LeaveOneGroupOut() if n_groups <= MAX_GROUP_FOLDS else GroupKFold(folds)
    return list(splitter.split(np.zeros(names.size), groups=names))


def fit_member(kind: str, X: sp.csr_matrix, codes: np.ndarray, k: int, options: dict) -> Member:
    """Fit one linear model on rows ``X`` with labels ``codes`` in ``range(k)``.

    Classes absent from ``codes`` get a constant low score; a single present class wins always.
    """
    import numpy as np

    present = np.unique(codes)
    weights = np.zeros((X.shape[1], k), dtype=np.float32)
    bias = np.full(k, ABSENT_SCORE[kind], dtype=np.float64)
    if present.size == 1:
        bias[present[0]] = 1.0
        return Member(kind, weights, bias)
    if kind == "svc":
        from sklearn.svm import LinearSVC

        model: Any = LinearSVC(
            C=options["C"],
            random_state=options["random_state"],
            class_weight=options.get("class_weight"),
        )
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(
            C=options["lr_C"], max_iter=1000, class_weight=options.get("class_weight")
        )
    model.fit(X, codes)
    coef, intercept = model.coef_, model.intercept_
    if coef.shape[0] == 1:  # binary: one score for the second class, 0 for the first
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]])
    weights[:, model.classes_] = coef.T
    bias[model.classes_] = intercept
    return Member(kind, np.ascontiguousarray(weights), bias)


def fit_temperature(scores: np.ndarray, codes: np.ndarray) -> float:
    """The temperature ``T`` minimising the negative log-likelihood of ``softmax(T * scores)``."""
    import numpy as np
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    picked = np.arange(codes.size)

    def nll(log_t: float) -> float:
        return float(-log_softmax(np.exp(log_t) * scores, axis=1)[picked, codes].mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-4.0, 6.0), method="bounded").x))
