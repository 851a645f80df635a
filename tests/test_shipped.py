"""The shipped taxonomy and default model: found wherever feedtag runs, and consistent."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.model.store import default_model_path, load_model, read_meta
from classifier.taxonomy import default_taxonomy_path, load_taxonomy

MESSAGE = "Since this morning the messenger won't load for any of our customers"


def test_shipped_model_fits_the_shipped_taxonomy():
    taxonomy = load_taxonomy(default_taxonomy_path())
    meta = read_meta(default_model_path())
    assert meta["taxonomy"]["sha256"] == taxonomy.sha256
    model = load_model(default_model_path(), taxonomy)
    suggestion = model.suggest_one(MESSAGE)
    for axis in taxonomy.axes:
        assert suggestion[axis].tag in taxonomy.suggestable(axis)
        assert 0.0 <= suggestion[axis].confidence <= 1.0


def test_installed_command_finds_taxonomy_and_model_from_any_directory(tmp_path):
    script = shutil.which("feedtag", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("feedtag is not installed in this environment")
    done = subprocess.run(
        [script, "suggest", MESSAGE, "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    axes = json.loads(done.stdout)["axes"]
    taxonomy = load_taxonomy(default_taxonomy_path())
    assert set(axes) == set(taxonomy.axes)
    assert all(axes[axis]["tag"] in taxonomy.suggestable(axis) for axis in axes)
