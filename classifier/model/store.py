"""Model directories: ``model.joblib``, ``meta.json`` and ``card.md``, written and checked.

A joblib file runs code when it is loaded, so ``load_model`` hashes the bytes first and only
unpickles them when they match ``model_sha256`` in ``meta.json``; it unpickles those very bytes,
not a second read of the file. A model is refused when the current taxonomy lacks any of its
tags (naming them), and a scikit-learn version other than the one that trained it warns.
"""

from __future__ import annotations

import hashlib
import json
import platform
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import ModelError

if TYPE_CHECKING:
    from classifier.model.estimator import TagClassifier
    from classifier.taxonomy import Taxonomy

FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
CARD_FILE = "card.md"


class ModelVersionWarning(UserWarning):
    """The model was saved by another scikit-learn version: predictions may differ or fail."""


def never_suggest(taxonomy: Taxonomy) -> dict[str, list[str]]:
    """Per axis, the tag ids the classifier must not suggest: human-only and retired ones."""
    return {
        name: [tag.id for tag in axis.tags if not tag.suggestable]
        for name, axis in taxonomy.axes.items()
    }


def default_model_path() -> Path:
    """The shipped model: inside the installed package, or ``models/default`` in the source tree."""
    package = Path(__file__).parent.parent
    packaged = package / "_data" / "models" / "default"
    return packaged if packaged.is_dir() else package.parent / "models" / "default"


def versions() -> dict[str, str]:
    """Versions of what a saved model depends on."""
    import sklearn

    from classifier import __version__

    try:
        import spacy

        spacy_version = spacy.__version__
    except ImportError:  # pragma: no cover - spaCy is a dependency
        spacy_version = "missing"
    return {
        "feedtag": __version__,
        "scikit-learn": sklearn.__version__,
        "spacy": spacy_version,
        "python": platform.python_version(),
    }


def save_model(
    model: TagClassifier,
    directory: str | Path,
    taxonomy: Taxonomy,
    *,
    training: dict[str, Any] | None = None,
    team_calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``model.joblib``, ``meta.json`` and ``card.md`` into ``directory`` (atomically each).

    Parameters
    ----------
    model : TagClassifier
        A fitted model.
    directory : str or Path
        Created if missing; files already there are replaced.
    taxonomy : Taxonomy
        The taxonomy the model was trained with (name, content hash and tag ids are recorded).
    training : dict, optional
        What to record about the training data: ``rows``, ``data_sha256``, ``source``,
        ``left_out`` ...
    team_calibration : dict, optional
        The report of ``classifier.model.calibration.calibrate`` when the model was
        calibrated on a team's own data (shown in the card).

    Returns
    -------
    dict
        The metadata written to ``meta.json``.
    """
    import io

    import joblib
    from sklearn.utils.validation import check_is_fitted

    from classifier.output import write_atomic

    check_is_fitted(model, "heads_")
    directory = Path(directory)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    meta = {
        "format_version": FORMAT_VERSION,
        "versions": versions(),
        "taxonomy": {
            "name": taxonomy.name,
            "sha256": taxonomy.sha256,
            "tags": {axis: [str(t) for t in model.heads_[axis].classes] for axis in model.axes_},
        },
        "training": {
            "rows_per_axis": dict(model.n_rows_),
            **(training or {}),
        },
        "params": _jsonable(model.get_params()),
        "metrics": {"cross_validated": model.cv_report_},
        "thresholds": model.thresholds_,
        "calibration": getattr(model, "calibration_", None) or {},
        "team_calibration": team_calibration or {},
        "target_precision": model.target_precision,
        "model_sha256": hashlib.sha256(payload).hexdigest(),
    }
    write_atomic(directory / MODEL_FILE, payload)
    write_atomic(directory / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    from classifier.model.card import model_card

    write_atomic(directory / CARD_FILE, model_card(meta))
    return meta


def read_meta(directory: str | Path) -> dict[str, Any]:
    """``meta.json`` of a model directory, checked for the fields loading relies on."""
    directory = Path(directory)
    path = directory / META_FILE
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model directory (train one with: feedtag train)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: missing; not a model directory written by feedtag") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: expected a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version!r}; this feedtag reads version "
            f"{FORMAT_VERSION}: retrain the model"
        )
    for key in ("model_sha256", "taxonomy", "versions"):
        if key not in meta:
            raise ModelError(f"{path}: '{key}' is missing")
    return meta


def load_model(directory: str | Path, taxonomy: Taxonomy) -> TagClassifier:
    """Load a model directory after checking its hash and its tags against ``taxonomy``.

    Raises
    ------
    ModelError
        Missing or unreadable files, a ``model.joblib`` whose sha256 differs from
        ``meta.json`` (nothing is unpickled then), or tags the taxonomy lacks (named).

    Warns
    -----
    ModelVersionWarning
        When the model was saved by another scikit-learn version.
    """
    import io

    directory = Path(directory)
    meta = read_meta(directory)
    check_tags(meta, taxonomy, directory)
    path = directory / MODEL_FILE
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != meta["model_sha256"]:
        raise ModelError(
            f"{path}: sha256 {digest[:12]}... does not match meta.json "
            f"({str(meta['model_sha256'])[:12]}...); the file was changed after training. "
            "Not loading it: retrain or restore the model directory"
        )
    _warn_versions(meta, path)
    import joblib

    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as error:  # a verified file that still fails: wrong library versions
        raise ModelError(f"{path}: cannot be loaded ({type(error).__name__}: {error})") from None
    from classifier.model.estimator import TagClassifier

    if not isinstance(model, TagClassifier):
        raise ModelError(f"{path}: holds a {type(model).__name__}, not a feedtag model")
    model.set_params(never_suggest=never_suggest(taxonomy))
    model._check_suggestable()
    return model


def check_tags(meta: dict[str, Any], taxonomy: Taxonomy, directory: Path | str = "") -> None:
    """Refuse a model whose axes or tags the taxonomy lacks, naming every missing one."""
    missing = []
    for axis, tags in meta["taxonomy"].get("tags", {}).items():
        if axis not in taxonomy.axes:
            missing.append(f"axis '{axis}'")
            continue
        known = set(taxonomy.axes[axis].ids)
        missing += [f"{axis}:{tag}" for tag in tags if tag not in known]
    if missing:
        raise ModelError(
            f"{directory}: the model suggests tags the taxonomy '{taxonomy.name}' lacks: "
            f"{', '.join(missing)}. Retrain on this taxonomy, or use the one the model was "
            f"trained with ('{meta['taxonomy'].get('name')}')"
        )


def _warn_versions(meta: dict[str, Any], path: Path) -> None:
    import sklearn

    saved = meta["versions"].get("scikit-learn")
    if saved != sklearn.__version__:
        warnings.warn(
            f"{path}: saved with scikit-learn {saved}, running {sklearn.__version__}; "
            "suggestions may differ. Retrain with this version to be sure",
            ModelVersionWarning,
            stacklevel=3,
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
