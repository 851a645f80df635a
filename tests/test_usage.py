"""Usage errors are one ``error:`` line and exit 2; help and warnings read cleanly (issue 12)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize(
    ("args", "message", "command"),
    [
        (["audit"], "Missing argument 'corpus'.", "audit"),
        (["audit", "x.csv", "--bogus"], "No such option: --bogus", "audit"),
        (["export", "x.csv", "--out", "o"], "Missing option '--by'.", "export"),
        (
            ["audit", "x.csv", "--limit", "0"],
            "Invalid value for '--limit': Input should be greater than or equal to 1",
            "audit",
        ),
        (["taxonomy", "chek"], "No such command 'chek'. Did you mean 'check'?", "taxonomy"),
        (["nope"], "No such command 'nope'.", None),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message, command):
    line = f"error: {message} (see '{' '.join(filter(None, ['feedtag', command]))} --help')"
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_a_bad_choice_names_the_choices_in_one_line():
    result = runner.invoke(app, ["audit", "x.csv", "--format", "yaml"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: Invalid value for '--format' / '-f': ")
    assert "'table', 'json', 'csv', 'markdown'" in line


def test_an_unreadable_corpus_is_one_line(tmp_path, taxonomy_file):
    result = runner.invoke(app, ["audit", str(tmp_path), "--taxonomy", str(taxonomy_file)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: {tmp_path}: unknown file type ''; use one of .csv, "
        ".jsonl, .json, .ndjson, .parquet, .pq, .tab, .tsv\n"
        or result.stderr.count("\n") == 1
    )
    directory = tmp_path / "d.csv"
    directory.mkdir()
    result = runner.invoke(app, ["audit", str(directory), "--taxonomy", str(taxonomy_file)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {directory}: is a directory, not a corpus file\n"


def test_an_output_that_is_a_directory_is_one_line(tmp_path, taxonomy_file):
    corpus = tmp_path / "c.csv"
    corpus.write_text("id,text,tags\n1,hi,Web; Praise\n")
    target = tmp_path / "report.json"
    target.mkdir()
    args = ["audit", str(corpus), "--taxonomy", str(taxonomy_file), "-f", "json", "-o"]
    result = runner.invoke(app, [*args, str(target)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {target}: is a directory; name a file to write\n"


def test_help_shows_flags_without_a_value_and_the_axes_of_by():
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert top.exit_code == 0
    assert "<bool>" not in top.stdout
    assert re.search(r"--debug\s+Show tracebacks", top.stdout)
    export = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "120"})
    assert "<bool>" not in export.stdout
    assert re.search(
        r"--by\s+AXIS\s+Axis to split by, one file per tag: team or topic", export.stdout
    )
    assert "--force" in export.stdout


def test_a_warning_is_one_line_without_a_source_line(tiny_model, taxonomy_file, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    meta = json.loads((model / "meta.json").read_text())
    meta["versions"]["scikit-learn"] = "0.1"
    (model / "meta.json").write_text(json.dumps(meta))
    common = ["--model", str(model), "--taxonomy", str(taxonomy_file)]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        result = runner.invoke(app, ["suggest", "the page is broken", *common])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stderr.splitlines() if "0.1" in line]
    assert line.startswith("warning: ") and "saved with scikit-learn 0.1" in line
    assert "warnings.warn" not in result.stderr and "Warning:" not in result.stderr


def written_by_examples() -> list[str]:
    """Paths the README's and --help's example commands write, relative to the repo root."""
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")  # continued lines
    lines = [line.removeprefix("$ ") for line in text.splitlines()]
    lines = [line for line in lines if line.startswith("feedtag ")]
    lines += re.findall(r"Example: (feedtag .*)", (ROOT / "cli.py").read_text())
    found = []
    for line in lines:
        words = shlex.split(line.replace("|", " | "))
        for i, word in enumerate(words[:-1]):
            if word in ("--out", "--output", "-o", "--fix", ">") and words[i + 1].isascii():
                target = words[i + 1]
                if target.isupper() or target in ("OUT", "DIR", "FILE"):
                    continue  # a placeholder in a synopsis
                found.append(target)
    return found


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_examples_leave_nothing_untracked_in_a_clone():
    targets = written_by_examples()
    assert {"models/mine", "feedback", "suggestions.csv", "TAGS.md"} <= {
        t.rstrip("/") for t in targets
    }
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse"], capture_output=True)
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    for target in targets:
        tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--error-unmatch", target])
        if tracked.returncode == 0:
            continue  # a shipped example the command rebuilds as it is
        probe = target.rstrip("/") + ("/x" if not Path(target).suffix else "")
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", probe])
        assert ignored.returncode == 0, f"{target}: add it to .gitignore (an example writes it)"


def test_python_dash_m_cli_runs_every_command_defined_after_it(tmp_path):
    """``python -m cli`` runs the module as a script: helpers defined below the
    ``__main__`` guard would not exist yet (the Dask helpers once were)."""
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "cli", "audit", str(root / "examples" / "helpdesk-export.csv"),
         "--format", "json", "--fail-on", "never"],
        cwd=root, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["messages"] > 1000
