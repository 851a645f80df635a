"""Converting a format-1 model directory (``model.joblib``) to format 2, on the user's word.

A pickle runs code when it is loaded, and a matching sha256 in ``meta.json`` proves only that
the file is the one ``meta.json`` describes, not that it is harmless: whoever wrote one can
write the other. So ``load_model`` refuses format 1, and only ``convert_model(..., trust=True)``
(``feedtag model convert DIR --out NEW --trust``) unpickles one, after checking its sha256, to
write it out again as data. What the old ``meta.json`` recorded (versions it was trained with,
taxonomy, training data, metrics, thresholds) is kept, with ``converted_from`` added.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from classifier.errors import ModelError, UsageError
from classifier.model.store import LEGACY_FILE, META_FILE, write_model


def convert_model(source: str | Path, out: str | Path, *, trust: bool) -> dict[str, Any]:
    """Write the format-1 model in ``source`` as a format-2 directory ``out``.

    Parameters
    ----------
    source : str or Path
        A format-1 model directory: ``meta.json`` and ``model.joblib``.
    out : str or Path
        The new directory; must not be ``source``.
    trust : bool
        The user vouches for the origin of ``model.joblib``; without it nothing is unpickled.

    Returns
    -------
    dict
        The new ``meta.json``.
    """
    source, out = Path(source), Path(out)
    if not trust:
        raise UsageError(
            f"{source / LEGACY_FILE}: converting unpickles it, which runs any code it holds; "
            "add --trust only if you trust where this model came from, or retrain it"
        )
    if not source.is_dir():
        raise ModelError(f"{source}: no such model directory")
    if out.exists() and out.resolve() == source.resolve():
        raise UsageError(f"--out {out}: is the directory being converted; choose a new one")
    meta = _legacy_meta(source / META_FILE)
    path = source / LEGACY_FILE
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: missing; not a format-1 model directory") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot be read ({error.strerror or error})") from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != meta["model_sha256"]:
        raise ModelError(
            f"{path}: sha256 {digest[:12]}... does not match meta.json "
            f"({str(meta['model_sha256'])[:12]}...); the file was changed after training. "
            "Not loading it: retrain or restore the model directory"
        )
    import joblib

    from classifier.model.estimator import TagClassifier

    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as error:  # a verified file that still fails: other library versions
        raise ModelError(f"{path}: cannot be loaded ({type(error).__name__}: {error})") from None
    if not isinstance(model, TagClassifier):
        raise ModelError(f"{path}: holds a {type(model).__name__}, not a feedtag model")
    converted = {
        **meta,
        "converted_from": {"format_version": 1, "model_sha256": meta["model_sha256"]},
    }
    return write_model(model, out, converted)


def _legacy_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: missing; not a model directory written by feedtag") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: expected a JSON object")
    if meta.get("format_version") != 1:
        raise ModelError(
            f"{path}: format version {meta.get('format_version')!r}, not 1: nothing to convert"
        )
    for key in ("model_sha256", "taxonomy", "versions", "thresholds", "metrics"):
        if key not in meta:
            raise ModelError(f"{path}: field '{key}' is missing")
    if not isinstance(meta["model_sha256"], str):
        raise ModelError(f"{path}: field 'model_sha256': expected a string")
    return meta
