"""Model directories (format 2): data files, ``meta.json`` and ``card.md``, written and checked.

A model is stored as data only (``classifier.model.serialise``): ``model.json``,
``vocabulary.json``, ``arrays.npz`` and, for the spaCy tokenizer, ``tokenizer.json``. Loading
executes no code from the directory and imports neither scikit-learn nor spaCy. ``meta.json``
records the sha256 of each of those files (``files``) and ``model_sha256``, the sha256 of that
list, which names the model (decisions record it); every file is read once, hashed, and parsed
from those same bytes only when its hash matches. A model is refused when the current taxonomy
lacks any of its tags (naming them), and a scikit-learn version other than the one that
trained it warns (read from the installed package's metadata, without importing it).

Format 1 (``model.joblib``, a pickle) is refused: a pickle runs code when loaded, whatever its
checksum says. ``feedtag model convert DIR --out NEW --trust`` converts one whose origin the
user vouches for (``classifier.model.legacy``).
"""

from __future__ import annotations

import hashlib
import json
import platform
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classifier.errors import ModelError
from classifier.model.serialise import ARRAYS_FILE, MODEL_FILE, TOKENIZER_FILE, VOCABULARY_FILE

if TYPE_CHECKING:
    from classifier.model.estimator import TagClassifier
    from classifier.model.inference import LoadedModel
    from classifier.model.schema import Meta
    from classifier.taxonomy import Taxonomy

FORMAT_VERSION = 2
META_FILE = "meta.json"
CARD_FILE = "card.md"
LEGACY_FILE = "model.joblib"
DATA_FILES = (MODEL_FILE, VOCABULARY_FILE, ARRAYS_FILE, TOKENIZER_FILE)


class ModelVersionWarning(UserWarning):
    """The model was saved by another scikit-learn version: predictions may differ."""


def never_suggest(taxonomy: Taxonomy) -> dict[str, list[str]]:
    """Per axis, the tag ids the classifier must not suggest: human-only and retired ones."""
    return {
        name: [tag.id for tag in axis.tags if not tag.suggestable]
        for name, axis in taxonomy.axes.items()
    }


def default_model_path() -> Path:
    """The shipped model, inside the installed package or under ``models/`` in the source tree.

    ``default-encoder`` (TF-IDF joined with the sentence encoder: more topics right on sources
    it never saw, BENCHMARKS.md) where the encoder extra is installed, unless
    ``FEEDTAG_ENCODER=off``; else ``default``, TF-IDF alone, which needs no extra and is over
    100 times faster per message.
    """
    import os

    from classifier.model.encoder import installed

    package = Path(__file__).parent.parent
    packaged = package / "_data" / "models"
    shipped = packaged if packaged.is_dir() else package.parent / "models"
    wanted = os.environ.get("FEEDTAG_ENCODER", "").strip().lower() not in ("off", "0", "no")
    if wanted and installed() and (shipped / "default-encoder").is_dir():
        return shipped / "default-encoder"
    return shipped / "default"


def installed_version(distribution: str) -> str:
    """A distribution's version from its metadata (nothing imported), or ``missing``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "missing"


def versions() -> dict[str, str]:
    """Versions of what a saved model depends on."""
    from classifier import __version__

    return {
        "feedtag": __version__,
        "scikit-learn": installed_version("scikit-learn"),
        "spacy": installed_version("spacy"),
        "python": platform.python_version(),
    }


def manifest_sha256(files: dict[str, str]) -> str:
    """One sha256 for the whole model: of the ``sha256  name`` lines of its files, sorted."""
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def save_model(
    model: TagClassifier,
    directory: str | Path,
    taxonomy: Taxonomy,
    *,
    training: dict[str, Any] | None = None,
    team_calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the model's data files, ``meta.json`` and ``card.md`` into ``directory``.

    Parameters
    ----------
    model : TagClassifier
        A fitted model.
    directory : str or Path
        Created if missing; files already there are replaced (a format-1 ``model.joblib``
        is removed).
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
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "heads_")
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
        "params": _params(model),
        "metrics": {"cross_validated": model.cv_report_},
        "thresholds": model.thresholds_,
        "calibration": getattr(model, "calibration_", None) or {},
        "team_calibration": team_calibration or {},
        "target_precision": model.target_precision,
    }
    if model.encoder is not None:
        from classifier.model.embedding import record

        features = model.features_
        meta["encoder"] = {
            **record(features.encoder, features.weight),
            "weight_tuned": model.encoder_weight is None,
            "out_of_fold_accuracy": {str(w): a for w, a in model.encoder_tuning_.items()},
        }
    return write_model(model, directory, meta)


def _params(model: TagClassifier) -> dict[str, Any]:
    """The estimator's parameters as JSON; a model without an encoder records none of its
    parameters, so its ``meta.json`` is what it was before encoders existed."""
    params = model.get_params()
    if params.get("encoder") is None:
        params.pop("encoder", None)
        params.pop("encoder_weight", None)
    else:
        params["encoder"] = model.features_.encoder.spec.name
    return _jsonable(params)


def write_model(
    model: TagClassifier, directory: str | Path, meta: dict[str, Any]
) -> dict[str, Any]:
    """Write a fitted model's files with ``meta`` (completed with ``files`` and
    ``model_sha256``), then ``card.md``; each file atomically, ``meta.json`` after the data."""
    from classifier.model.serialise import model_files

    return _write_payloads(Path(directory), model_files(model), meta)


def _write_payloads(directory: Path, payloads: dict[str, bytes], meta: dict[str, Any]) -> dict:
    from classifier.model.card import model_card
    from classifier.output import write_atomic

    files = {name: hashlib.sha256(data).hexdigest() for name, data in payloads.items()}
    meta = {
        **{k: v for k, v in meta.items() if k not in ("files", "model_sha256")},
        "format_version": FORMAT_VERSION,
        "files": files,
        "model_sha256": manifest_sha256(files),
    }
    for name, data in payloads.items():
        write_atomic(directory / name, data)
    stale = [directory / n for n in (*DATA_FILES, LEGACY_FILE) if n not in payloads]
    for path in stale:
        if path.is_file():
            path.unlink()
    write_atomic(directory / META_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    write_atomic(directory / CARD_FILE, model_card(meta))
    return meta


def read_meta(directory: str | Path) -> dict[str, Any]:
    """``meta.json`` of a format-2 model directory, validated (``classifier.model.schema.Meta``).

    Returns the JSON object itself, unknown fields included.
    """
    raw, _ = _read_meta(Path(directory))
    return raw


def _read_meta(directory: Path) -> tuple[dict[str, Any], Meta]:
    from classifier.model.schema import Meta, describe

    path = directory / META_FILE
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model directory (train one with: feedtag train)")
    if not path.exists() and (directory / LEGACY_FILE).exists():
        raise ModelError(_legacy_message(directory))
    payload = _read_file(path)
    try:
        raw = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: expected a JSON object, found {type(raw).__name__}")
    version = raw.get("format_version")
    if version == 1:
        raise ModelError(_legacy_message(directory))
    if isinstance(version, int) and not isinstance(version, bool) and version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version}; this feedtag reads version "
            f"{FORMAT_VERSION}: retrain the model with it"
        )
    from pydantic import ValidationError

    try:
        meta = Meta.model_validate_json(payload)
    except ValidationError as error:
        raise ModelError(f"{path}: {describe(error)}") from None
    unknown = sorted(set(meta.files) - set(DATA_FILES))
    if unknown:
        raise ModelError(f"{path}: field 'files' names '{unknown[0]}', not a model file")
    if manifest_sha256(meta.files) != meta.model_sha256:
        raise ModelError(
            f"{path}: 'model_sha256' does not match 'files'; the file was edited by hand: "
            "retrain or restore the model directory"
        )
    return raw, meta


def _legacy_message(directory: Path) -> str:
    return (
        f"{directory}: a format-1 model (model.joblib, a pickle that runs code when loaded), "
        f"which this feedtag no longer loads; if you trust its origin, convert it: feedtag "
        f"model convert {directory} --out NEW_DIR --trust; or retrain: feedtag train"
    )


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: missing; not a complete model directory") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory, expected a file") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot be read ({error.strerror or error})") from None


def load_model(directory: str | Path, taxonomy: Taxonomy) -> LoadedModel:
    """Load a model directory after checking every file's hash and its tags against ``taxonomy``.

    Raises
    ------
    ModelError
        Missing, unreadable or malformed files (naming the file and field), a file whose
        sha256 differs from ``meta.json`` (it is not parsed then), a format-1 directory, or
        tags the taxonomy lacks (named).
    EncoderError
        The model needs a sentence encoder that is not installed, or differs from the one it
        was trained with (``classifier.model.embedding.open_recorded``).

    Warns
    -----
    ModelVersionWarning
        When the model was saved by another scikit-learn version.
    """
    from classifier.model.serialise import model_from_files

    directory = Path(directory)
    raw, meta = _read_meta(directory)
    check_tags(raw, taxonomy, directory)
    payloads = _verified_payloads(directory, meta)
    _warn_versions(raw, directory / META_FILE)
    model = model_from_files(payloads, meta, directory, never_suggest(taxonomy))
    model.calibration_ = raw.get("calibration") or {}
    model._check_suggestable()
    return model


def _verified_payloads(directory: Path, meta: Meta) -> dict[str, bytes]:
    """Every data file of a model directory, each checked against its sha256 in meta.json."""
    required = {MODEL_FILE, VOCABULARY_FILE, ARRAYS_FILE}
    missing = sorted(required - set(meta.files))
    if missing:
        raise ModelError(f"{directory / META_FILE}: field 'files.{missing[0]}' is missing")
    payloads = {}
    for name, expected in meta.files.items():
        path = directory / name
        payload = _read_file(path)
        digest = hashlib.sha256(payload).hexdigest()
        if digest != expected:
            raise ModelError(
                f"{path}: sha256 {digest[:12]}... does not match meta.json ({expected[:12]}...); "
                "the file was changed after training. Not loading it: retrain or restore the "
                "model directory"
            )
        payloads[name] = payload
    return payloads


def save_calibrated(
    model: LoadedModel,
    source: str | Path,
    directory: str | Path,
    *,
    team_calibration: dict[str, Any],
) -> dict[str, Any]:
    """Write ``model``, a copy of the model in ``source`` with refitted temperatures and
    thresholds (``classifier.model.calibration``), to ``directory``.

    The vocabulary, weights and tokenizer files are the source's, byte for byte; only
    ``model.json`` (the temperatures), ``meta.json`` and ``card.md`` change.
    """
    source = Path(source)
    raw, meta = _read_meta(source)
    payloads = _verified_payloads(source, meta)
    spec = json.loads(payloads[MODEL_FILE])
    for axis, head in model.heads_.items():
        members = spec["heads"][axis]["members"]
        for saved, member in zip(members, head.members, strict=True):
            saved["temperature"] = float(member.temperature)
    payloads[MODEL_FILE] = (json.dumps(spec, indent=2) + "\n").encode()
    raw = {
        **raw,
        "thresholds": model.thresholds_,
        "calibration": model.calibration_,
        "team_calibration": team_calibration,
    }
    return _write_payloads(Path(directory), payloads, raw)


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
    saved = meta["versions"].get("scikit-learn")
    running = installed_version("scikit-learn")
    if saved != running:
        warnings.warn(
            f"{path}: saved with scikit-learn {saved}, running {running}; "
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
