"""The Dask engine on a real local cluster (2 worker processes): its results equal the
single-machine results on the same partitioned Parquet dataset.

Needs the extra: ``pip install -e '.[dask]'``; skipped without it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from classifier_fixtures import tiny_corpus
from typer.testing import CliRunner

pytest.importorskip("distributed")

from cli import app

runner = CliRunner()
CHUNK = 40  # rows per chunk: several chunks per file, so chunk and file boundaries both show


def _messy(seed: int = 0) -> pd.DataFrame:
    """The tiny corpus with what the audit looks for, much of it across file boundaries:
    repeated ids and texts, conflicting tags, aliases, retired, unknown and missing tags."""
    rng = random.Random(seed)
    rows = tiny_corpus(150, seed)
    for i, row in enumerate(rows):
        row["conversation_id"] = f"c{i // 4}"
        row["user_id"] = f"u{i % 23}"
        row["agent"] = rng.choice(["ana", "ben", "chen", ""])
        row["created_at"] = f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:00:00"
        kind = rng.random()
        if kind < 0.06:
            row["team"] = ""
        elif kind < 0.10:
            row["topic"] = "bug; praise"
        elif kind < 0.14:
            row["team"] = "Team: Web"
        elif kind < 0.17:
            row["team"] = "legacy"
        elif kind < 0.20:
            row["topic"] = "Misc"
        elif kind < 0.23:
            row["text"] = ""
    for later, earlier in ((40, 3), (77, 41), (120, 119), (149, 5)):
        rows[later]["id"] = rows[earlier]["id"]
    for later, earlier in ((60, 10), (101, 30), (130, 129), (88, 87)):
        rows[later]["text"] = rows[earlier]["text"]
        rows[later]["conversation_id"] = rows[earlier]["conversation_id"]
        rows[later]["topic"] = "pricing" if rows[earlier]["topic"] != "pricing" else "bug"
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five Parquet files of uneven sizes, two in Hive-style partitions, and an empty one."""
    root = tmp_path_factory.mktemp("dataset") / "export"
    frame = _messy()
    cuts = [0, 23, 61, 62, 110, 150]
    names = [
        "month=01/part-0.parquet",
        "month=01/part-1.parquet",
        "month=02/part-0.parquet",
        "month=02/part-1.parquet",
        "month=03/part-0.parquet",
    ]
    for name, start, stop in zip(names, cuts, cuts[1:], strict=False):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        frame.iloc[start:stop].to_parquet(root / name, index=False)
    frame.iloc[0:0].to_parquet(root / "month=03/part-1.parquet", index=False)
    return root


@pytest.fixture(scope="session")
def client():
    """A real cluster: a scheduler and two single-threaded worker processes, shut at the end."""
    from classifier.engine import engine_client

    with engine_client(workers=2, memory_limit="1GiB") as client:
        yield client


def _parts(directory: Path) -> pd.DataFrame:
    files = sorted(directory.glob("part-*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_suggest_equals_the_single_machine_table(client, dataset, tiny_model, taxonomy, tmp_path):
    from classifier.corpus import load_corpus
    from classifier.engine import distributed_suggest
    from classifier.model.store import load_model
    from classifier.model.suggest import suggest_corpus

    model = load_model(tiny_model, taxonomy)
    done = distributed_suggest(
        client, str(dataset), model, taxonomy, None, tmp_path / "out", chunk_rows=CHUNK
    )
    local = suggest_corpus(model, load_corpus(dataset, taxonomy)).table
    assert (done.messages, done.parts) == (150, 5)
    pd.testing.assert_frame_equal(_parts(tmp_path / "out"), local)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left


def test_audit_equals_the_single_machine_report(client, dataset, taxonomy, tmp_path):
    from classifier.audit import run_audit
    from classifier.audit.stream import audit_dataset
    from classifier.corpus import load_corpus
    from classifier.engine import distributed_audit

    done = distributed_audit(
        client, str(dataset), taxonomy, out=tmp_path / "findings", chunk_rows=CHUNK, buckets=3
    )
    narrow = distributed_audit(client, str(dataset), taxonomy, chunk_rows=CHUNK, buckets=1)
    streamed = audit_dataset(str(dataset), taxonomy, chunk_rows=CHUNK)
    whole = run_audit(load_corpus(dataset, taxonomy, require_tags=True))
    checks = set(done.report.findings["check"])
    assert {"duplicate-message", "conflicting-duplicates", "missing-tag", "alias-tag"} <= checks
    for local in (streamed, whole, narrow.report):
        pd.testing.assert_frame_equal(done.report.findings, local.findings)
        assert done.report.to_dict() == local.to_dict()
    written = _parts(tmp_path / "findings")
    pd.testing.assert_frame_equal(
        written.astype({"row": "Int64"}), done.report.findings, check_dtype=False
    )


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("suggest", [False, True])
def test_export_writes_the_single_machine_files(
    client, dataset, tiny_model, taxonomy, suggest, tmp_path
):
    """Duplicate ids across files, aliases, missing tags and suggestions: the same bytes."""
    from classifier.dataset import iter_chunks
    from classifier.engine import distributed_export
    from classifier.export.teams import export_chunks, model_suggester, select
    from classifier.model.store import load_model

    model = load_model(tiny_model, taxonomy) if suggest else None
    chosen = select(taxonomy, "team", min_confidence=0.0 if suggest else 0.8)
    done = distributed_export(
        client, str(dataset), taxonomy, None, chosen, tmp_path / "remote", model=model,
        chunk_rows=CHUNK,
    )  # fmt: skip
    chunks = iter_chunks(str(dataset), taxonomy, require_tags=not suggest, chunk_rows=CHUNK)
    local = export_chunks(
        chunks, chosen, tmp_path / "local", suggest=model and model_suggester(model)
    )
    assert done.counts == local.counts and done.counts.input == 150
    assert "duplicate id" in (tmp_path / "local" / "_needs-review.csv").read_text()
    assert (done.counts.suggested > 0) is suggest
    assert _files(tmp_path / "remote") == _files(tmp_path / "local")


def test_cli_on_an_existing_cluster_matches_the_local_commands(
    client, dataset, tiny_model, taxonomy_file, tmp_path
):
    """``--scheduler ADDRESS`` runs on the cluster already there; the audit JSON and the
    suggestions are those of ``--engine local``."""
    address = ["--engine", "dask", "--scheduler", client.scheduler.address]
    common = ["--taxonomy", str(taxonomy_file)]
    audit = [str(dataset), *common, "--format", "json", "--fail-on", "never"]
    local = runner.invoke(app, ["audit", *audit])
    remote = runner.invoke(app, ["audit", *audit, *address])
    assert (local.exit_code, remote.exit_code) == (0, 0), remote.output
    assert remote.stdout == local.stdout
    assert "2 workers on " + client.scheduler.address in remote.stderr

    model = ["--model", str(tiny_model)]
    out = tmp_path / "suggested"
    run = ["suggest", "--input", str(dataset), *model, *common]
    done = runner.invoke(app, [*run, "--output", str(out), *address])
    assert done.exit_code == 0, done.output
    assert "wrote " + str(out) + ": 150 messages in 5 Parquet parts" in done.stderr
    csv = runner.invoke(app, [*run, "--output", str(tmp_path / "local.csv")])
    expected = pd.read_csv(tmp_path / "local.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(_parts(out).round(4), expected, check_dtype=False)

    again = runner.invoke(app, [*run, "--output", str(out), *address])
    assert again.exit_code == 2
    assert again.stderr.startswith(f"error: {out}: already exists") and csv.exit_code == 0

    export = ["export", str(dataset), "--by", "topic", "--format", "jsonl", *common]
    remote = runner.invoke(app, [*export, "--out", str(tmp_path / "by-topic"), *address])
    local = runner.invoke(app, [*export, "--out", str(tmp_path / "by-topic-local")])
    assert (remote.exit_code, local.exit_code) == (0, 0), remote.output
    summary = [line for line in local.stderr.splitlines() if line.startswith("exported")]
    assert summary and summary[0].replace("-local", "") in remote.stderr
    assert _files(tmp_path / "by-topic") == _files(tmp_path / "by-topic-local")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:8786"], "error: --scheduler needs --engine dask\n"),
        (["--engine", "dask", "--fix", "{tmp}/fixed.csv"], "error: --fix runs with --engine local"),
        (["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"], "no Dask scheduler answered"),
    ],
)
def test_engine_usage_errors_are_one_line(options, message, dataset, taxonomy_file, tmp_path):
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    result = runner.invoke(app, ["audit", str(dataset), "--taxonomy", str(taxonomy_file), *options])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_without_the_extra_the_engine_names_it(monkeypatch, dataset, taxonomy_file):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    result = runner.invoke(
        app, ["audit", str(dataset), "--taxonomy", str(taxonomy_file), "--engine", "dask"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --engine dask needs Dask distributed: pip install 'feedtag[dask]'\n"
    )


def test_cross_validation_folds_on_the_workers_give_the_local_predictions(client, taxonomy):
    import numpy as np

    from classifier.audit.suspects import cross_validate
    from classifier.corpus import corpus_from_frame
    from classifier.engine import cross_validate_on

    corpus = corpus_from_frame(pd.DataFrame(tiny_corpus(80)), taxonomy, require_tags=True)
    before = {w: s["executing"] for w, s in _tasks_done(client).items()}
    remote = cross_validate_on(client, corpus, folds=2)
    local = cross_validate(corpus, folds=2, n_jobs=1)
    assert _tasks_done(client) != before  # the fits ran as tasks on the cluster
    assert remote.axes.keys() == local.axes.keys()
    for axis, fold in local.axes.items():
        np.testing.assert_array_equal(remote.axes[axis].rows, fold.rows)
        np.testing.assert_allclose(remote.axes[axis].proba, fold.proba)


def _tasks_done(client) -> dict:
    return client.run(lambda dask_worker: {"executing": dask_worker.state.transition_counter})


def test_cli_cross_validates_on_the_cluster_as_on_this_machine(client, dataset, taxonomy_file):
    """``--cross-validate --engine dask``: the rule checks stream here, the folds are fitted
    on the workers; the report is the local one."""
    args = ["audit", str(dataset), "--taxonomy", str(taxonomy_file), "--cross-validate"]
    args += ["--folds", "2", "--format", "json", "--fail-on", "never"]
    local = runner.invoke(app, args)
    address = ["--engine", "dask", "--scheduler", client.scheduler.address]
    remote = runner.invoke(app, [*args, *address])
    assert (local.exit_code, remote.exit_code) == (0, 0), remote.output
    assert json.loads(remote.stdout)["summary"]["model"] == "cross-validation (2 folds)"
    assert remote.stdout == local.stdout
