"""No command's output can be one of its inputs: a property over every registered command.

The commands, their path parameters and which of those are outputs come from the Typer app
itself (``cli.OUTPUT_OPTIONS`` is the one convention), so a command added later is covered
without being named here: it only needs a line in ``COMMANDS`` with arguments that run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import typer
from classifier_fixtures import tiny_corpus
from typer.testing import CliRunner

from classifier.errors import OutputError
from classifier.output import refuse_overwrite
from cli import OUTPUT_OPTIONS, app

runner = CliRunner()

# Minimal valid arguments per command, outputs left out (the test adds them). Placeholders
# name the workspace's files. A command that writes must be listed: add yours.
COMMANDS: dict[str, list[str]] = {
    "audit": ["{corpus}", "--taxonomy", "{taxonomy}", "--format", "csv", "--fail-on", "never"],
    "export": ["{corpus}", "--by", "team", "--taxonomy", "{taxonomy}"],
    "review": ["{corpus}", "--apply", "--db", "{db}", "--taxonomy", "{taxonomy}"],
    "train": ["{corpus}", "--taxonomy", "{taxonomy}", "--folds", "2"],
    "suggest": ["--input", "{corpus}", "--taxonomy", "{taxonomy}", "--model", "{model}"],
    "calibrate": ["{corpus}", "--taxonomy", "{taxonomy}", "--model", "{model}"],
    "stats": ["{corpus}", "--taxonomy", "{taxonomy}", "--format", "json"],
    "report": ["{corpus}", "--taxonomy", "{taxonomy}"],
    "model convert": ["{model}", "--trust"],
    "issues": [
        "{corpus}",
        "--taxonomy",
        "{taxonomy}",
        "--bug-topic",
        "bug",
        "--feature-topic",
        "praise",
    ]
    + ["-f", "json"],
    "sample": ["{corpus}", "--taxonomy", "{taxonomy}", "--n", "10"],
    "agreement": ["{corpus}", "{retagged}", "--taxonomy", "{taxonomy}", "-f", "json"],
    "taxonomy diff": ["{taxonomy}", "{taxonomy2}", "-f", "json"],
    "followups": ["{corpus}", "--taxonomy", "{taxonomy}", "--closed", "{closed}", "-f", "json"],
}
# The workspace file an input parameter gets when the test points an output at it (by
# parameter name); an input not named here gets a plain file of its own.
INPUT_FILES = {
    "corpus": "corpus",
    "input": "corpus",
    "taxonomy": "taxonomy",
    "file": "taxonomy",
    "model": "model",
    "db": "db",
    "decisions": "db",
    "source": "model",
    "closed": "closed",
    "original": "corpus",
    "retagged": "retagged",
    "old": "taxonomy",
    "new": "taxonomy2",
}
SPELLINGS = ("same", "dot", "symlink", "hardlink", "parent", "inside")


def commands(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def path_params(command):
    for param in command.params:
        if getattr(getattr(param, "type_descriptor", None), "is_path", False):
            yield param


def is_output(param) -> bool:
    return param.param_type_name == "option" and bool(set(param.opts) & set(OUTPUT_OPTIONS))


def flag(param) -> str:
    return max(param.opts, key=len)


ROOT = typer.main.get_command(app)
PAIRS = [
    (
        name,
        flag(output),
        input_param.name,
        flag(input_param) if input_param.param_type_name == "option" else None,
    )
    for name, command in commands(ROOT)
    for output in path_params(command)
    if is_output(output)
    for input_param in path_params(command)
    if not is_output(input_param)
]


def test_every_command_that_writes_has_arguments_to_run_with():
    writers = {name for name, *_ in PAIRS}
    missing = sorted(writers - set(COMMANDS))
    assert not missing, f"add {missing} to COMMANDS in tests/test_overwrite.py"


def test_path_options_that_look_like_outputs_are_declared_outputs():
    """A new ``--report-file`` would escape the guard: it must be named in OUTPUT_OPTIONS."""
    words = ("out", "write", "save", "dest", "target", "report", "dir")
    suspects = [
        f"{name} {flag(param)}"
        for name, command in commands(ROOT)
        for param in path_params(command)
        if param.param_type_name == "option" and not is_output(param)
        if any(word in flag(param) for word in words)
    ]
    assert not suspects, f"declare these in cli.OUTPUT_OPTIONS or rename them: {suspects}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_model):
    from conftest import FIXTURE_TAXONOMY

    from classifier.review.decisions import Decision, DecisionStore

    root = tmp_path_factory.mktemp("overwrite")
    files = {"taxonomy": root / "taxonomy.yaml", "corpus": root / "data" / "corpus.csv"}
    files["taxonomy"].write_text(FIXTURE_TAXONOMY, encoding="utf-8")
    files["corpus"].parent.mkdir()
    rows = pd.DataFrame(tiny_corpus(60))  # calibrate needs 50 labelled messages
    rows["created_at"] = pd.date_range("2026-11-02", periods=len(rows), freq="7h").astype(str)
    rows["issue"] = [f"acme/web#{i % 3}" if i % 2 else "" for i in range(len(rows))]
    rows.to_csv(files["corpus"], index=False)
    files["model"] = root / "model"
    shutil.copytree(tiny_model, files["model"])
    files["db"] = root / "decisions.sqlite"
    with DecisionStore(files["db"]) as store:
        store.record([Decision("m1", "team", "overridden", "web", suggested="api")])
    files["retagged"] = root / "retagged.csv"
    shutil.copy(files["corpus"], files["retagged"])
    files["taxonomy2"] = root / "taxonomy2.yaml"
    shutil.copy(files["taxonomy"], files["taxonomy2"])
    files["closed"] = root / "closed.csv"
    files["closed"].write_text("issue,closed_at\nacme/web#1,2026-12-20T00:00:00Z\n")
    files["other"] = root / "other.dat"
    files["other"].write_bytes(b"an input of a command this test does not know\n")
    return root, files


def arguments(command: str, files: dict[str, Path]) -> list[str]:
    return [arg.format(**{k: str(v) for k, v in files.items()}) for arg in COMMANDS[command]]


def snapshot(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def spelled(target: Path, spelling: str, scratch: Path) -> Path | None:
    """``target`` under another name: how a user (or an attacker) might point at it."""
    if spelling == "same":
        return target
    if spelling == "dot":
        return target.parent / "." / ".." / target.parent.name / target.name
    if spelling == "symlink":
        link = scratch / f"link-{target.name}"
        link.symlink_to(target)
        return link
    if spelling == "hardlink":
        if target.is_dir():
            return None
        link = scratch / f"hard-{target.name}"
        os.link(target, link)
        return link
    if spelling == "parent":
        return target.parent
    if spelling == "inside":
        return next(target.iterdir()) if target.is_dir() else None
    raise AssertionError(spelling)


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(("command", "output", "param", "option"), PAIRS)
def test_no_output_can_be_an_input(workspace, tmp_path, command, output, param, option, spelling):
    root, files = workspace
    assert command in COMMANDS, f"add '{command}' to COMMANDS in tests/test_overwrite.py"
    source = files[INPUT_FILES.get(param, "other")]
    target = spelled(source, spelling, tmp_path)
    if target is None:
        pytest.skip(f"no {spelling} of a {'directory' if source.is_dir() else 'file'}")
    args = [*command.split(), *arguments(command, files)]
    if option is not None:  # the input is an option: give it (again) with this value
        args += [option, str(source)]
    else:  # a positional input: the base arguments hold the workspace's file
        assert str(source) in args, f"COMMANDS['{command}'] must name {{{param}}}"
    before = snapshot(root)
    result = runner.invoke(app, [*args, output, str(target)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {target}: {output} ")
    assert "inputs are never overwritten" in line
    assert snapshot(root) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_table_runs_when_outputs_go_elsewhere(workspace, tmp_path, command):
    """The arguments in COMMANDS are valid: the refusals above are the guard's, nobody else's."""
    _, files = workspace
    if command == "model convert":
        pytest.skip("needs a format-1 model directory: tests/test_store.py converts one")
    outputs = {flag(p) for name, c in commands(ROOT) if name == command for p in path_params(c)}
    outputs = sorted(o for o in outputs if o in OUTPUT_OPTIONS)
    written = [arg for o in outputs for arg in (o, str(tmp_path / f"new{o.strip('-')}.csv"))]
    if command == "export":
        written = ["--out", str(tmp_path / "export")]
    if command in ("train", "calibrate"):
        written = ["--out", str(tmp_path / "model")]
    if command == "report":
        written = ["--out", str(tmp_path / "report.html")]
    result = runner.invoke(app, [*command.split(), *arguments(command, files), *written])
    assert result.exit_code == 0, result.output


def test_review_never_writes_its_decisions_into_an_input(workspace, tmp_path):
    root, files = workspace
    before = snapshot(root)
    args = ["review", str(files["corpus"]), "--taxonomy", str(files["taxonomy"])]
    result = runner.invoke(app, [*args, "--db", str(files["corpus"])])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {files['corpus']}: --db is the input CORPUS;")
    assert snapshot(root) == before


# --- the library's rule --------------------------------------------------------------------


def test_refuse_overwrite_names_output_option_and_input(tmp_path):
    corpus = tmp_path / "c.csv"
    corpus.write_text("id,text\n")
    with pytest.raises(OutputError) as caught:
        refuse_overwrite({"--output": f"{tmp_path}/../{tmp_path.name}/c.csv"}, {"CORPUS": corpus})
    assert str(caught.value) == (
        f"{tmp_path}/../{tmp_path.name}/c.csv: --output is the input CORPUS ({corpus}); "
        "inputs are never overwritten: write somewhere else"
    )


def test_refuse_overwrite_sees_hard_links_and_directories(tmp_path):
    corpus = tmp_path / "data" / "c.csv"
    corpus.parent.mkdir()
    corpus.write_text("id,text\n")
    os.link(corpus, tmp_path / "twin.csv")
    model = tmp_path / "model"
    model.mkdir()
    (model / "meta.json").write_text("{}")
    inputs = {"CORPUS": corpus, "--model": model}
    cases = {
        tmp_path / "twin.csv": "is the input CORPUS",
        tmp_path / "data": "is a directory holding the input CORPUS",
        tmp_path: "is a directory holding the input CORPUS",
        model / "meta.json": "is inside the input --model",
        model / "new.json": "is inside the input --model",
    }
    for target, problem in cases.items():
        with pytest.raises(OutputError, match=problem):
            refuse_overwrite({"--out": target}, inputs)


def test_refuse_overwrite_lets_other_paths_and_stdin_through(tmp_path):
    corpus = tmp_path / "c.csv"
    corpus.write_text("id,text\n")
    refuse_overwrite({"--output": tmp_path / "d.csv", "--fix": None}, {"CORPUS": corpus})
    refuse_overwrite({"--output": tmp_path / "d.csv"}, {"CORPUS": "-", "--model": None})
    refuse_overwrite({"--output": tmp_path / "c.csv.bak"}, {"CORPUS": [corpus]})


@pytest.mark.parametrize(
    ("command", "output"),
    [("audit", "--output"), ("audit", "--fix"), ("suggest", "--output"), ("review", "--out")],
)
def test_a_file_output_that_is_a_directory_is_one_line(workspace, tmp_path, command, output):
    _, files = workspace
    target = tmp_path / "taken.csv"
    target.mkdir()
    args = [*command.split(), *arguments(command, files), output, str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {target}: is a directory; name a file to write\n"


@pytest.mark.parametrize("command", ["train", "export"])
def test_a_directory_output_that_is_a_file_is_one_line(workspace, tmp_path, command):
    _, files = workspace
    target = tmp_path / "taken"
    target.write_text("not a directory\n")
    args = [command, *arguments(command, files), "--out", str(target)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {target}")
    assert target.read_text() == "not a directory\n"


def test_two_outputs_cannot_be_one_file(tmp_path):
    corpus = tmp_path / "c.csv"
    corpus.write_text("id,text\n")
    with pytest.raises(OutputError, match="--fix and --output name the same file; give two"):
        refuse_overwrite({"--output": tmp_path / "r.csv", "--fix": tmp_path / "r.csv"}, {})
