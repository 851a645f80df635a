"""``audit --cross-validate`` with its folds fitted on a Dask cluster's workers.

``classifier.audit.suspects.cross_validate`` fits every fold of every axis through joblib
(``classifier.model.heads.fit_axis_heads``); under joblib's Dask backend those fits become
tasks on the cluster, so the same function, unchanged, runs its folds in parallel there. The
folds' ids, texts and tags are held here, as on one machine (``audit.judges.CrossValidation``
with ``fit=partial(cross_validate_on, client)``): it is the folds' fits that scale out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

    from classifier.audit.suspects import Predictions
    from classifier.corpus import Corpus


def cross_validate_on(
    client: Client,
    corpus: Corpus,
    *,
    folds: int = 5,
    progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> Predictions:
    """``cross_validate(corpus, folds=folds)`` with its fits run as tasks on ``client``'s
    cluster: the same out-of-fold probabilities, fold for fold (the seeds are the same)."""
    import joblib

    from classifier.audit import suspects

    with client.as_current(), joblib.parallel_config(backend="dask"):
        return suspects.cross_validate(corpus, folds=folds, n_jobs=-1, progress=progress, **params)
