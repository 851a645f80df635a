from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("feedtag ")


def test_check_prints_table_and_summary(taxonomy_file):
    result = runner.invoke(app, ["taxonomy", "check", str(taxonomy_file)])
    assert result.exit_code == 0
    assert "deprecated -> web" in result.stdout
    assert "human only" in result.stdout
    assert result.stderr == f"valid: {taxonomy_file}: 'fixture', 2 axes, 7 tags\n"


def test_check_reads_the_environment_variable(taxonomy_file):
    result = runner.invoke(app, ["taxonomy", "check"], env={"FEEDTAG_TAXONOMY": str(taxonomy_file)})
    assert result.exit_code == 0
    assert "'fixture'" in result.stderr


def test_invalid_taxonomy_lists_every_problem_and_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nname: x\naxes:\n  a:\n    tags:\n"
        "      - {id: a, name: A, colour: red}\n      - {id: a, name: B}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["taxonomy", "check", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {path}:6: unknown key 'colour'\nerror: {path}:7: duplicate id 'a'\n"
    )


def test_missing_taxonomy_is_one_line_without_traceback(tmp_path):
    result = runner.invoke(app, ["taxonomy", "show", "--taxonomy", str(tmp_path / "no.yaml")])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'no.yaml'}: no such file; pass --taxonomy FILE\n"
    assert "Traceback" not in result.output


def test_show_json_mirrors_the_yaml(taxonomy_file):
    import yaml

    result = runner.invoke(app, ["taxonomy", "show", str(taxonomy_file), "--format", "json"])
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    source = yaml.safe_load(taxonomy_file.read_text())
    assert shown["name"] == source["name"]
    for axis, body in source["axes"].items():
        assert [t["id"] for t in shown["axes"][axis]["tags"]] == [t["id"] for t in body["tags"]]
        assert shown["axes"][axis]["description"] == body["description"]


def test_show_markdown_is_a_table_per_axis(taxonomy_file):
    result = runner.invoke(app, ["taxonomy", "show", str(taxonomy_file), "-f", "markdown"])
    assert result.exit_code == 0
    assert "## team" in result.stdout
    assert "| legacy | Legacy | deprecated -&gt; web |  |  |" in result.stdout


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from typer.testing import CliRunner; from cli import app;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0;"
        "print(sorted(m for m in ('sklearn', 'spacy', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
