"""The feedtag command line: parse options, call one ``classifier`` function, render the result.

Data goes to stdout, diagnostics and progress to stderr. Library errors become one red line
each on stderr and exit code 2 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import functools
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from classifier import __version__

app = typer.Typer(
    name="feedtag",
    help="Keep customer-feedback tags honest: one team and one topic per message.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
taxonomy_app = typer.Typer(help="Validate, show and diff the taxonomy.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")

out = Console(soft_wrap=False)
err = Console(stderr=True, soft_wrap=True)
state = {"debug": False}

TaxonomyOption = Annotated[
    Path | None,
    typer.Option(
        "--taxonomy",
        envvar="FEEDTAG_TAXONOMY",
        help="Taxonomy YAML file (default: the shipped taxonomy).",
        show_default=False,
    ),
]


CorpusArgument = Annotated[
    Path, typer.Argument(help="Corpus file (csv, tsv, jsonl, json, parquet, - for stdin).")
]
IdColumn = Annotated[str | None, typer.Option("--id-column", help="Column with message ids.")]
TextColumn = Annotated[
    str | None, typer.Option("--text-column", help="Column with the message text.")
]
TagsColumn = Annotated[
    str | None, typer.Option("--tags-column", help="Column with all tags in one cell.")
]
AxisColumn = Annotated[
    list[str] | None,
    typer.Option("--axis-column", help="AXIS=COLUMN: a column holding one axis's tags."),
]


def _columns(id_column, text_column, tags_column, axis_column):
    from classifier.corpus import Columns
    from classifier.errors import UsageError

    axes = {}
    for item in axis_column or []:
        axis, sep, column = item.partition("=")
        if not sep or not axis or not column:
            raise UsageError(f"--axis-column '{item}': write it as AXIS=COLUMN, e.g. team=Team")
        axes[axis.strip()] = column.strip()
    return Columns(id=id_column, text=text_column, tags=tags_column, axes=axes)


def _load(path, taxonomy, columns, *, require_tags=False):
    """Read a corpus with a status line on stderr, since a big export takes a few seconds."""
    from classifier.corpus import load_corpus

    with err.status(f"reading {path}", spinner="dots"):
        return load_corpus(str(path), taxonomy, columns, require_tags=require_tags)


def _stdout() -> Console:
    """The stdout console, for commands whose ``--out`` option shadows ``out``."""
    return out


def _emit(text: str, output: Path | None) -> None:
    """Data to stdout, or atomically to --output."""
    if output is None:
        typer.echo(text, nl=False)
    else:
        from classifier.output import write_atomic

        write_atomic(output, text)
        err.print(f"wrote {output}", highlight=False)


class ShowFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def handles_errors(command):
    """Render library errors as one line each on stderr with exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from classifier.errors import FeedtagError

        try:
            return command(*args, **kwargs)
        except FeedtagError as error:
            if state["debug"]:
                raise
            for line in str(error).splitlines() or [type(error).__name__]:
                err.print(f"[red]error:[/red] {line}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"feedtag {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Keep customer-feedback tags honest: one team and one topic per message."""
    state["debug"] = debug


@taxonomy_app.command("check")
@handles_errors
def taxonomy_check(
    file: Annotated[
        Path | None, typer.Argument(help="Taxonomy file (default: --taxonomy, or shipped).")
    ] = None,
    taxonomy: TaxonomyOption = None,
) -> None:
    """Validate a taxonomy and list its axes and tags.

    Every problem is reported at once as FILE:LINE: message; exit 2 if any.

    Example: feedtag taxonomy check taxonomy.yaml
    """
    from classifier.taxonomy import default_taxonomy_path, load_taxonomy

    path = file or taxonomy or default_taxonomy_path()
    loaded = load_taxonomy(path)
    out.print(_taxonomy_table(loaded))
    count = sum(len(axis.tags) for axis in loaded.axes.values())
    err.print(
        f"[green]valid:[/green] {path}: '{loaded.name}', {len(loaded.axes)} axes, {count} tags",
        highlight=False,
    )


@taxonomy_app.command("show")
@handles_errors
def taxonomy_show(
    file: Annotated[
        Path | None, typer.Argument(help="Taxonomy file (default: --taxonomy, or shipped).")
    ] = None,
    format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.table,
    taxonomy: TaxonomyOption = None,
) -> None:
    """Print the taxonomy as a table, JSON (mirroring the YAML) or Markdown.

    Example: feedtag taxonomy show --format markdown > TAGS.md
    """
    from classifier.taxonomy import load_taxonomy

    loaded = load_taxonomy(file or taxonomy)
    if format is ShowFormat.json:
        typer.echo(json.dumps(loaded.model_dump(mode="json"), indent=2, ensure_ascii=False))
    elif format is ShowFormat.markdown:
        typer.echo(_taxonomy_markdown(loaded), nl=False)
    else:
        out.print(_taxonomy_table(loaded))


@taxonomy_app.command("diff")
@handles_errors
def taxonomy_diff(
    old: Annotated[Path, typer.Argument(help="The taxonomy file before the change.")],
    new: Annotated[Path, typer.Argument(help="The taxonomy file after the change.")],
    corpus: Annotated[
        Path | None,
        typer.Option("--corpus", help="A tagged corpus (read with OLD) to measure the impact on."),
    ] = None,
    format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """What changed between two taxonomy files, and what it does to a corpus's tags.

    Tags added, removed, renamed (id kept, or the old spellings now aliases of a new id),
    merged (replaced_by), split (the old tag's spellings now lead to several tags), retired,
    aliases, descriptions, human-only flips.

    With --corpus: per change, the messages it touches, those that resolve by themselves
    (auto: audit --fix rewrites a renamed or merged tag) and those a person must re-tag
    (person: a split, a removal without successor, a dropped alias); and messages per tag
    before and after. Exit 1 when the change leaves messages without a valid tag (with
    --corpus: counted; without: any spelling of a live tag that stops resolving), so CI can
    gate taxonomy edits.

    Example: feedtag taxonomy diff taxonomy.yaml new.yaml --corpus export.csv --format markdown
    """
    from classifier.errors import UsageError
    from classifier.quality.taxonomy_diff import corpus_impact, diff_taxonomies, verdict
    from classifier.taxonomy import load_taxonomy

    if output is not None and format is ShowFormat.table:
        raise UsageError("--output needs --format json or markdown")
    inputs = [p for p in (old, new, corpus) if p is not None]
    if output is not None and output.resolve() in {p.resolve() for p in inputs}:
        raise UsageError(f"{output}: would overwrite an input of this command; name another file")
    before, after = load_taxonomy(old), load_taxonomy(new)
    result = diff_taxonomies(before, after, str(old), str(new))
    if corpus is not None:
        columns = _columns(id_column, text_column, tags_column, axis_column)
        data = _load(corpus, before, columns, require_tags=True)
        result = corpus_impact(result, data, after)
    if format is ShowFormat.json:
        _emit(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", output)
    elif format is ShowFormat.markdown:
        _emit(result.to_markdown(), output)
    else:
        _print_taxonomy_diff(result)
    line = verdict(result)
    err.print(line, style="red" if result.fails else "green", highlight=False, markup=False)
    if result.fails:
        raise typer.Exit(1)


def _print_taxonomy_diff(result) -> None:
    if not result.changes:
        out.print(
            f"no changes from {result.old} to {result.new}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        impact = result.corpus is not None
        changes = Table(title=f"changes from {result.old} to {result.new}", title_justify="left")
        columns = ["change", "axis", "tag", "into", "detail"]
        columns += ["messages", "auto", "person"] if impact else []
        for column in columns:
            numeric = column in ("messages", "auto", "person")
            changes.add_column(column, justify="right" if numeric else "left", overflow="fold")
        for c in result.changes:
            cells = [c.kind, c.axis, c.tag, ", ".join(c.into), c.detail]
            cells += [str(c.messages), str(c.automatic), str(c.person)] if impact else []
            changes.add_row(*cells, style="red" if c.breaking else None)
        out.print(changes, markup=False)
    if result.per_tag is not None:
        table = Table(title=f"messages per tag in {result.corpus}", title_justify="left")
        for column in ("axis", "tag", "before", "after", "change"):
            table.add_column(column, justify="left" if column in ("axis", "tag") else "right")
        for axis, group in result.per_tag.groupby("axis", sort=False):
            for row in group.itertuples(index=False):
                table.add_row(axis, row.tag, str(row.before), str(row.after), row.change)
            table.add_section()
        out.print(table, markup=False)


class DataFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"
    never = "never"


@app.command()
@handles_errors
def audit(
    corpus: CorpusArgument,
    taxonomy: TaxonomyOption = None,
    format: Annotated[DataFormat, typer.Option("--format", "-f")] = DataFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this.")
    ] = FailOn.error,
    fix: Annotated[
        Path | None,
        typer.Option("--fix", help="Write a corrected copy (aliases, retired and repeated tags)."),
    ] = None,
    checks: Annotated[
        str | None, typer.Option("--checks", help="Comma-separated checks to run (default: all).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Findings shown per check in table/markdown.")
    ] = 10,
    cross_validate: Annotated[
        bool,
        typer.Option(
            "--cross-validate",
            help="Fit the classifier on the corpus itself, fold by fold, to find suspect tags "
            "and confusable tags.",
        ),
    ] = False,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Folds for --cross-validate.")] = 5,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Judge the tags with this model directory instead of --cross-validate."
        ),
    ] = None,
    rare_below: Annotated[
        int, typer.Option("--rare-below", min=1, help="A tag on fewer messages is rare.")
    ] = 20,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Audit a tagged corpus: every message exactly one tag per axis, recorded once.

    With --cross-validate (or --model DIR) the classifier also judges every tag: suspect-tag
    findings name the tag it prefers, worst first, and taxonomy health reports rare, unused,
    confusable and catch-all tags. Exit 0 when clean, 1 when a finding is at or above
    --fail-on, 2 on bad input.

    Example: feedtag audit examples/helpdesk-export.csv --cross-validate --fail-on warning
    """
    from classifier.audit import run_audit
    from classifier.audit.fix import write_fixed
    from classifier.audit.health import HealthSettings
    from classifier.errors import UsageError
    from classifier.taxonomy import load_taxonomy

    if output is not None and format is DataFormat.table:
        raise UsageError("--output needs --format json, csv or markdown")
    if cross_validate and model is not None:
        raise UsageError("use --cross-validate or --model, not both")
    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, columns, require_tags=True)
    predictions = _audit_predictions(data, cross_validate, folds, model)
    settings = HealthSettings(rare_below=rare_below)
    report = run_audit(data, checks.split(",") if checks else None, predictions, settings)
    if format is DataFormat.json:
        _emit(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", output)
    elif format is DataFormat.csv:
        from classifier.output import csv_text

        _emit(csv_text(report.findings), output)
    elif format is DataFormat.markdown:
        _emit(report.to_markdown(limit), output)
    else:
        _print_audit(report, limit)
    if fix is not None:
        fixed = write_fixed(data, fix)
        err.print(
            f"fixed {fixed.cells_changed} tag cells in {fixed.messages_changed} messages: "
            f"wrote {fixed.path}",
            highlight=False,
        )
    if report.fails(fail_on.value):
        raise typer.Exit(1)


def _audit_predictions(data, cross_validate: bool, folds: int, model: Path | None):
    """The model's view of every tag for the audit: out of fold, or an existing model's."""
    from classifier.audit import suspects

    if model is not None:
        with err.status("loading the model", spinner="dots"):
            predictions = suspects.model_predictions(data, model)
        if predictions.trained_on_this_corpus:
            err.print(
                f"[yellow]warning:[/yellow] {model} was trained on this very corpus (same data "
                "sha256): its opinions on its own training rows are not evidence; "
                "use --cross-validate",
                highlight=False,
            )
    elif cross_validate:
        bar, tick = _progress(f"cross-validating {len(data)} messages, {folds} folds")
        with bar:
            predictions = suspects.cross_validate(data, folds=folds, progress=tick)
    else:
        return None
    for axis, why in predictions.skipped.items():
        err.print(f"[yellow]note:[/yellow] axis '{axis}' not judged: {why}", highlight=False)
    return predictions


def _print_audit(report, limit: int) -> None:
    from rich.panel import Panel

    summary = report.summary
    severity = summary.by_severity
    out.print(
        Panel.fit(
            f"[bold]{summary.messages}[/bold] messages, "
            f"[bold]{summary.complete_share:.1%}[/bold] complete (one tag on every axis)\n"
            f"[red]{severity['error']} errors[/red], "
            f"[yellow]{severity['warning']} warnings[/yellow], {severity['info']} info",
            title=f"audit of {summary.source}",
        )
    )
    if summary.by_check:
        checks = Table(title="findings by check")
        checks.add_column("check")
        checks.add_column("findings", justify="right")
        for check, count in summary.by_check.items():
            checks.add_row(check, str(count))
        out.print(checks)
    if summary.agents:
        agents = Table(title="by agent")
        for column in ("agent", "messages", "complete", "errors", "warnings"):
            agents.add_column(column, justify="left" if column == "agent" else "right")
        for agent in summary.agents:
            agents.add_row(
                agent.agent,
                str(agent.messages),
                f"{agent.complete_share:.1%}",
                str(agent.errors),
                str(agent.warnings),
            )
        out.print(agents)
    out.print("[bold]messages per tag[/bold] (exactly one tag on the axis)")
    for axis, counts in summary.tags.items():
        spread = " · ".join(f"{tag} {count}" for tag, count in counts.items())
        out.print(f"  {axis}: {spread}", highlight=False, soft_wrap=True)
    if summary.model:
        out.print(f"[bold]tags judged by[/bold] {summary.model}", highlight=False)
    if summary.health:
        from classifier.audit.report import health_line

        out.print("[bold]taxonomy health[/bold]")
        for axis, figures in summary.health.items():
            out.print(f"  {axis}: {health_line(figures)}", highlight=False, soft_wrap=True)
    import pandas as pd

    for check, group in report.by_check():
        table = Table(title=f"{check} ({len(group)})", title_justify="left")
        scored = int(group["score"].notna().any())
        for column in ("row", "id", "axis", "tags", "message", "fix", *(("score",) * scored)):
            table.add_column(column, overflow="fold")
        for finding in group.head(limit).itertuples(index=False):
            table.add_row(
                "" if pd.isna(finding.row) else str(finding.row),
                finding.id,
                finding.axis,
                finding.tags,
                finding.message,
                finding.fix,
                *((f"{finding.score:.3f}",) * scored),
                style="red" if finding.severity == "error" else None,
            )
        out.print(table, markup=False)
        if len(group) > limit:
            out.print(f"... and {len(group) - limit} more", highlight=False)


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    markdown = "markdown"


@app.command()
@handles_errors
def export(
    ctx: typer.Context,
    corpus: CorpusArgument,
    by: Annotated[str, typer.Option("--by", help="Axis to split by: one file per tag.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write (created if missing).")],
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    since: Annotated[
        str | None, typer.Option("--since", help="Only messages created on or after this date.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only messages created on or before this date.")
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Only this topic (repeat for more).")
    ] = None,
    suggest: Annotated[
        bool, typer.Option("--suggest", help="Fill missing tags with the model's suggestions.")
    ] = False,
    model: Annotated[
        Path | None,
        typer.Option("--model", envvar="FEEDTAG_MODEL", help="Model directory for --suggest."),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            "--min-confidence", help="Lowest confidence a suggestion needs (default 0.8)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty DIR, replacing an export there.")
    ] = False,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Export messages by team (or topic): one file per tag, an index, and _needs-review.

    Every message lands in exactly one file; those without exactly one tag per axis go to
    _needs-review with the reason. Dates are ISO (YYYY-MM-DD), inclusive.

    Example: feedtag export examples/helpdesk-export.csv --by team --out feedback/
    """
    from classifier.errors import UsageError
    from classifier.export.teams import DEFAULT_MIN_CONFIDENCE, check_out_dir, export_corpus, select
    from classifier.taxonomy import load_taxonomy

    # Compared by name: typer may vendor its own click, so the enum class can differ.
    source = ctx.get_parameter_source("model")
    explicit_model = getattr(source, "name", None) == "COMMANDLINE"
    if not suggest and (min_confidence is not None or explicit_model):
        raise UsageError("--model and --min-confidence only apply with --suggest")
    loaded = load_taxonomy(taxonomy)
    confidence = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    chosen = select(loaded, by, since=since, until=until, topics=topic, min_confidence=confidence)
    check_out_dir(out, force)
    suggester = _suggester(model, loaded) if suggest else None
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, columns, require_tags=not suggest)
    with err.status(f"writing {out}", spinner="dots"):
        done = export_corpus(data, chosen, out, format=format.value, force=force, suggest=suggester)
    _print_export(done, out)


def _suggester(model, taxonomy):
    """The model's suggestions as export wants them: texts in, (tag, confidence) per axis out."""
    from classifier.export.teams import model_suggester
    from classifier.model.store import default_model_path, load_model

    with err.status("loading the model", spinner="dots"):
        return model_suggester(load_model(model or default_model_path(), taxonomy))


def _print_export(done, directory: Path) -> None:
    from classifier.export.teams import REVIEW

    files = Table(title=f"{done.by} files in {directory}")
    files.add_column("file")
    files.add_column("messages", justify="right")
    sizes = done.rows["file"].value_counts()
    suffix = done.paths[0].suffix if done.paths else ""
    for stem in [*done.files, REVIEW]:
        files.add_row(stem + suffix, str(int(sizes.get(stem, 0))))
    out.print(files, markup=False)
    counts = done.counts
    err.print(
        f"exported {counts.exported} of {counts.input} messages to {len(done.files)} {done.by} "
        f"files in {directory}; {counts.needs_review} need review ({REVIEW})",
        highlight=False,
        markup=False,
    )
    if done.selection.since is not None or done.selection.until is not None:
        err.print(
            f"left out {counts.outside_dates} outside --since/--until "
            f"({counts.undated} without a readable created_at)",
            highlight=False,
        )
    if done.selection.topics is not None:
        err.print(f"left out {counts.other_topics} with other topics than --topic", highlight=False)
    if done.suggested:
        err.print(f"{counts.suggested} messages carry a suggested tag", highlight=False)


class ReviewOnly(StrEnum):
    incomplete = "incomplete"
    all = "all"
    suspect = "suspect"
    review = "review"


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


@app.command()
@handles_errors
def review(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Argument(help="Corpus file (csv, tsv, jsonl, json, parquet).")],
    model: Annotated[
        Path | None,
        typer.Option("--model", envvar="FEEDTAG_MODEL", help="Model directory for suggestions."),
    ] = None,
    only: Annotated[
        ReviewOnly,
        typer.Option(
            "--only",
            help="incomplete: not one tag per axis; suspect: the model disagrees with a tag; "
            "review: the model is unsure; all.",
        ),
    ] = ReviewOnly.incomplete,
    agent: Annotated[
        str | None, typer.Option("--agent", help="Who decides (default: $USER).")
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Decisions file (default: CORPUS.decisions.sqlite beside it)."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the corpus with decisions applied to --out.")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Where --apply writes.")] = None,
    stats: Annotated[
        bool, typer.Option("--stats", help="Acceptance per axis, tag and agent; top overrides.")
    ] = False,
    format: Annotated[TableOrJson, typer.Option("--format", "-f")] = TableOrJson.table,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Accept or override suggested tags, one keypress each; every decision saved at once.

    Keys: enter accept, t/p choose team/topic, 1-3 alternative, s skip, u undo, ? help, q quit.
    Run it again to resume at the first undecided message. --apply --out writes a copy of the
    corpus with the decisions in it; --stats shows how often suggestions were accepted.

    Example: feedtag review examples/helpdesk-export.csv --only suspect
    """
    import os

    from classifier.errors import UsageError
    from classifier.review.decisions import default_db_path
    from classifier.taxonomy import load_taxonomy

    def given(name: str) -> bool:  # by name: typer may vendor its own click
        return getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"

    if apply and stats:
        raise UsageError("--apply and --stats do one thing each; run them separately")
    if out is not None and not apply:
        raise UsageError("--out goes with --apply")
    if given("format") and not stats:
        raise UsageError("--format goes with --stats")
    db = db or default_db_path(corpus)
    if stats:
        from classifier.review.decisions import decision_stats

        _print_review_stats(decision_stats(db), format)
        return
    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    if apply:
        from classifier.review.decisions import apply_decisions

        if out is None:
            raise UsageError("--apply needs --out FILE: the corpus itself is never modified")
        done = apply_decisions(_load(corpus, loaded, columns), db, out)
        err.print(
            f"applied {done.decisions_applied} decisions to {done.messages_changed} messages: "
            f"wrote {done.path}",
            highlight=False,
        )
        if done.unmatched:
            err.print(
                f"[yellow]{done.unmatched} decided message ids are not in {corpus}[/yellow]",
                highlight=False,
            )
        return
    if not _interactive():
        raise UsageError(
            "review is a full-screen app and needs a terminal (stdin or stdout is redirected); "
            "use --apply or --stats for output to a file or a pipe"
        )
    suggest, version = _review_suggester(model, loaded)
    data = _load(corpus, loaded, columns)
    _run_review(data, db, suggest, version, agent or os.environ.get("USER") or "agent", only)


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def _review_suggester(model, taxonomy):
    """The model's suggestions in review's shape (classifier.review.Suggest), and its version."""
    from classifier.model.store import default_model_path
    from classifier.review import load_suggester

    with err.status("loading the model", spinner="dots"):
        return load_suggester(model or default_model_path(), taxonomy)


def _run_review(data, db, suggest, version, agent, only) -> None:
    from classifier.review import ReviewSession
    from classifier.review.app import ReviewApp
    from classifier.review.decisions import DecisionStore

    with DecisionStore(db) as store:
        session = ReviewSession(
            data, store, suggest, agent=agent, model_version=version, only=only.value
        )
        session.current  # noqa: B018  (the first batch of suggestions: fail before the screen)
        failed = ReviewApp(session).run()
        _, total, decided = session.progress
    err.print(f"{decided} of {total} messages decided; decisions in {db}", highlight=False)
    if failed is not None:
        raise failed


def _print_review_stats(stats, format) -> None:
    if format is TableOrJson.json:
        typer.echo(json.dumps(stats.to_dict(), indent=2, ensure_ascii=False))
        return

    def rate(item) -> str:
        return "-" if item.rate is None else f"{item.rate:.1%}"

    def table(title: str, keys: list[str], items) -> Table:
        shown = Table(title=title, title_justify="left")
        for column in [*keys, "accepted", "overridden", "skipped", "acceptance"]:
            shown.add_column(column, justify="left" if column in keys else "right")
        for item in items:
            counts = (item.accepted, item.overridden, item.skipped)
            shown.add_row(*(item.group[k] for k in keys), *map(str, counts), rate(item))
        return shown

    overall = stats.overall
    out.print(
        f"{_count(stats.messages, 'message')} decided in {stats.source}: "
        f"{overall.accepted} accepted, {overall.overridden} overridden, {overall.skipped} "
        f"skipped (decisions per axis); acceptance {rate(overall)} "
        f"({_count(stats.undone, 'undone decision')} left out)",
        highlight=False,
        markup=False,
    )
    out.print(table("by axis", ["axis"], stats.by_axis), markup=False)
    out.print(table("by agent", ["agent"], stats.by_agent), markup=False)
    out.print(table("by suggested tag", ["axis", "suggested"], stats.by_tag), markup=False)
    overrides = Table(title="most frequent overrides", title_justify="left")
    for column in ("axis", "suggested", "chosen", "count"):
        overrides.add_column(column, justify="right" if column == "count" else "left")
    for item in stats.overrides:
        overrides.add_row(item.axis, item.suggested, item.chosen, str(item.count))
    out.print(overrides, markup=False)


ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        envvar="FEEDTAG_MODEL",
        help="Model directory (default: the shipped model).",
        show_default=False,
    ),
]


def _load_model(model, taxonomy):
    """Load a model directory (hash and tags checked) with a status line on stderr."""
    from classifier.model.store import default_model_path, load_model

    with err.status("loading the model", spinner="dots"):
        return load_model(model or default_model_path(), taxonomy)


def _progress(description: str):
    """A rich progress bar on stderr and the ``progress(done, total)`` callback feeding it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(description, total=None)

    def tick(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, tick


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


@app.command()
@handles_errors
def train(
    corpus: CorpusArgument,
    out_dir: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    taxonomy: TaxonomyOption = None,
    folds: Annotated[
        int, typer.Option("--folds", min=2, help="Cross-validation folds (calibration, report).")
    ] = 5,
    target_precision: Annotated[
        float,
        typer.Option(
            "--target-precision",
            min=0.01,
            max=1.0,
            help="Precision each tag's auto-accepted suggestions must reach out of fold.",
        ),
    ] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the folds and the models.")] = 0,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions", help="Review decisions (SQLite) whose tags override the corpus's."
        ),
    ] = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Train a model on a tagged corpus and write model.joblib, meta.json and card.md.

    Rows without exactly one tag on an axis are left out of that axis (and counted). Ends
    with the cross-validated report per axis.

    Example: feedtag train examples/helpdesk-export.csv --out models/mine
    """
    from classifier.model.training import train as train_corpus
    from classifier.taxonomy import load_taxonomy

    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, columns, require_tags=True)
    bar, tick = _progress(f"training on {len(data)} messages")
    with bar:
        result = train_corpus(
            data,
            out_dir,
            folds=folds,
            target_precision=target_precision,
            seed=seed,
            progress=tick,
            decisions=decisions,
        )
    table = Table(
        title=f"cross-validated report ({folds} folds), target precision {target_precision}"
    )
    for column in (
        "axis",
        "rows",
        "left out",
        "accuracy",
        "macro-F1",
        "auto share",
        "auto accuracy",
    ):
        table.add_column(column, justify="left" if column == "axis" else "right")
    for axis, report in result.report.items():
        left = result.left_out[axis]
        table.add_row(
            axis,
            str(report["rows"]),
            f"{left['missing']} missing, {left['multiple']} multiple",
            _pct(report["accuracy"]),
            _pct(report["macro_f1"]),
            _pct(report["coverage"]),
            _pct(report["accuracy_at_threshold"]),
        )
    out.print(table, markup=False)
    err.print(f"wrote {result.directory} (model.joblib, meta.json, card.md)", highlight=False)


@app.command()
@handles_errors
def evaluate(
    corpus: CorpusArgument,
    model: ModelOption = None,
    taxonomy: TaxonomyOption = None,
    format: Annotated[TableOrJson, typer.Option("--format", "-f")] = TableOrJson.table,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Measure a model on a tagged corpus: accuracy, macro-F1, per-tag precision/recall,
    the most confused pairs and the coverage/accuracy table at thresholds 0.5 ... 0.95.

    Example: feedtag evaluate examples/helpdesk-export.csv --format json
    """
    from classifier.model.evaluate import evaluate_corpus
    from classifier.taxonomy import load_taxonomy

    loaded = load_taxonomy(taxonomy)
    fitted = _load_model(model, loaded)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, columns, require_tags=True)
    result = evaluate_corpus(fitted, data)
    if format is TableOrJson.json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    _print_evaluation(result)


def _print_evaluation(result) -> None:
    summary = Table(title=f"evaluation on {result.rows} messages")
    for column in ("axis", "rows", "accuracy", "macro-F1", "auto share", "auto accuracy", "ECE"):
        summary.add_column(column, justify="left" if column == "axis" else "right")
    for axis, r in result.axes.items():
        summary.add_row(
            axis,
            str(r["rows"]),
            _pct(r["accuracy"]),
            _pct(r["macro_f1"]),
            _pct(r["coverage"]),
            _pct(r["accuracy_at_threshold"]),
            _pct(r["ece"]),
        )
    out.print(summary, markup=False)
    for axis, r in result.axes.items():
        tags = Table(title=f"{axis}: per tag")
        for column in ("tag", "precision", "recall", "support"):
            tags.add_column(column, justify="left" if column == "tag" else "right")
        for tag, stats in r["per_tag"].items():
            tags.add_row(
                tag, _pct(stats["precision"]), _pct(stats["recall"]), str(stats["support"])
            )
        out.print(tags, markup=False)
        if r["confused"]:
            confused = Table(title=f"{axis}: most confused (true -> predicted)")
            for column in ("true", "predicted", "count"):
                confused.add_column(column, justify="right" if column == "count" else "left")
            for pair in r["confused"]:
                confused.add_row(pair["true"], pair["predicted"], str(pair["count"]))
            out.print(confused, markup=False)
        sweep = Table(title=f"{axis}: by threshold")
        for column in ("threshold", "coverage", "accuracy"):
            sweep.add_column(column, justify="right")
        for row in r["sweep"]:
            sweep.add_row(f"{row['threshold']:.2f}", _pct(row["coverage"]), _pct(row["accuracy"]))
        out.print(sweep, markup=False)


class SuggestFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    jsonl = "jsonl"


@app.command()
@handles_errors
def suggest(
    text: Annotated[str | None, typer.Argument(help="A message to tag.")] = None,
    input: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="Suggest for every message of a file (- for stdin)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the file's suggestions here.")
    ] = None,
    model: ModelOption = None,
    taxonomy: TaxonomyOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Tags shown per axis.")] = 3,
    format: Annotated[
        SuggestFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="table or json for TEXT; csv or jsonl for --input.",
            show_default=False,
        ),
    ] = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
) -> None:
    """Suggest one tag per axis, with confidence and status (auto or review).

    Example: feedtag suggest "The widget does not load on Safari"
    Example: feedtag suggest --input messages.csv --output suggestions.csv
    """
    from classifier.errors import UsageError
    from classifier.taxonomy import load_taxonomy

    if (text is None) == (input is None):
        raise UsageError("give either TEXT or --input FILE")
    if text is not None:
        chosen = format or SuggestFormat.table
        if chosen not in (SuggestFormat.table, SuggestFormat.json) or output is not None:
            raise UsageError("for TEXT use --format table or json (and no --output)")
    else:
        chosen = format or SuggestFormat.csv
        if chosen not in (SuggestFormat.csv, SuggestFormat.jsonl):
            raise UsageError("with --input use --format csv or jsonl")
    loaded = load_taxonomy(taxonomy)
    fitted = _load_model(model, loaded)
    if text is not None:
        result = fitted.suggest_one(text, top=top)
        if chosen is SuggestFormat.json:
            typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        else:
            _print_suggestion(result)
        return
    from classifier.model.suggest import suggest_corpus

    data = _load(input, loaded, _columns(id_column, text_column, None, None))
    bar, tick = _progress(f"suggesting for {len(data)} messages")
    with bar:
        suggested = suggest_corpus(fitted, data, top=top, progress=tick)
    _emit(suggested.to_csv() if chosen is SuggestFormat.csv else suggested.to_jsonl(), output)


@app.command()
@handles_errors
def sample(
    corpus: CorpusArgument,
    out: Annotated[Path, typer.Option("--out", help="Sample file to write (.csv).")],
    n: Annotated[int, typer.Option("--n", min=1, help="Messages to draw.")] = 200,
    stratify: Annotated[
        str | None,
        typer.Option(
            "--stratify", help="Comma-separated: agent and/or axes (default: every axis)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The same seed draws the same sample.")] = 0,
    blind: Annotated[
        bool,
        typer.Option(
            "--blind",
            help="Leave out the tags and the agent; keep them in OUT's key file (sample.key.csv).",
        ),
    ] = False,
    format: Annotated[TableOrJson, typer.Option("--format", "-f")] = TableOrJson.table,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Draw a reproducible stratified sample of a corpus for a lead to re-tag.

    The rule: strata are the combinations of the --stratify values (an axis's value is the
    message's one tag, '(none)' or '(several)'). Every stratum gets one message first, so no
    combination is lost however rare; the rest of --n is shared out in proportion to what
    each stratum has left, by largest remainder (ties: the larger stratum, then the first in
    sort order). Messages within a stratum are drawn at random with --seed, each message id
    once; the file lists them in random order, so the order hints at no tag. An --n below the
    number of strata is refused.

    With --blind the sample has an empty column per axis to fill in a spreadsheet (or with
    feedtag review SAMPLE); the original rows go to the key file beside it, which is the
    ORIGINAL for feedtag agreement. Prints the strata (messages, sampled).

    Example: feedtag sample examples/helpdesk-export.csv --n 200 --blind --out sample.csv
    """
    from classifier.quality.sample import draw_sample, write_sample
    from classifier.taxonomy import load_taxonomy

    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, columns, require_tags=True)
    keys = [part.strip() for part in stratify.split(",")] if stratify else None
    drawn = draw_sample(data, n, stratify=keys, seed=seed, blind=blind)
    files = write_sample(drawn, out, [p for p in (taxonomy,) if p is not None])
    if format is TableOrJson.json:
        typer.echo(json.dumps(drawn.to_dict(), indent=2, ensure_ascii=False))
    else:
        table = Table(title=f"strata of {', '.join(drawn.stratify)}", title_justify="left")
        for column in (*drawn.stratify, "messages", "sampled"):
            table.add_column(
                column, justify="right" if column in ("messages", "sampled") else "left"
            )
        for stratum in drawn.strata:
            table.add_row(*stratum.values, str(stratum.messages), str(stratum.sampled))
        _stdout().print(table, markup=False)
    repeated = (
        f" ({_count(drawn.repeated_ids, 'repeated id')} left out)" if drawn.repeated_ids else ""
    )
    err.print(
        f"drew {len(drawn.positions)} of {drawn.population} messages{repeated} from "
        f"{len(drawn.strata)} strata, seed {seed}: wrote {files.sample}"
        + (f"; key: {files.key}" if files.key else ""),
        highlight=False,
        markup=False,
    )


class Breakdown(StrEnum):
    agent = "agent"
    tag = "tag"


@app.command()
@handles_errors
def agreement(
    original: Annotated[
        Path, typer.Argument(help="The originally tagged corpus (or a sample key).")
    ],
    retagged: Annotated[
        list[Path], typer.Argument(help="One or more re-tagged files of the same messages.")
    ],
    by: Annotated[
        list[Breakdown] | None,
        typer.Option("--by", help="Breakdowns to show: agent, tag (repeat; default both)."),
    ] = None,
    tagger_column: Annotated[
        str | None,
        typer.Option(
            "--tagger-column",
            help="RETAGGED is one long file with a row per message and tagger; this column names "
            "the tagger.",
        ),
    ] = None,
    format: Annotated[DataFormat, typer.Option("--format", "-f")] = DataFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    resamples: Annotated[
        int, typer.Option("--resamples", min=100, help="Bootstrap resamples per interval.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    top: Annotated[int, typer.Option("--top", min=1, help="Disagreements shown per axis.")] = 10,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """How often the original tags agree with a re-tag: kappa per axis, agent and tag.

    Per axis, Cohen's kappa and raw agreement with 95% bootstrap intervals; kappa per agent;
    precision and recall of every original tag against the re-tag; the most frequent
    disagreements with two example messages.

    Messages are joined on id; those with exactly one tag on an axis in both files are
    compared there (the others are counted); retired tags count as their successor. Ids in
    one file only are counted and named. With several re-tags (several files, or one file
    and --tagger-column) also Fleiss' kappa over all taggers (statsmodels), on the messages
    every tagger tagged. JSON carries every breakdown whatever --by says.

    Example: feedtag agreement sample.key.csv sample-retagged.csv --by agent
    """
    from classifier.errors import UsageError
    from classifier.quality.agreement import compare, tagging, taggings_by
    from classifier.taxonomy import load_taxonomy

    if output is not None and format is DataFormat.table:
        raise UsageError("--output needs --format json, csv or markdown")
    if tagger_column is not None and len(retagged) != 1:
        raise UsageError("--tagger-column reads one long RETAGGED file; give exactly one")
    if output is not None and output.resolve() in {p.resolve() for p in (original, *retagged)}:
        raise UsageError(f"{output}: would overwrite an input of this command; name another file")
    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    first = tagging(_load(original, loaded, columns, require_tags=True), str(original))
    others = []
    for path in retagged:
        data = _load(path, loaded, columns, require_tags=True)
        others += taggings_by(data, tagger_column) if tagger_column else [tagging(data, str(path))]
    report = compare(first, others, resamples=resamples, seed=seed, top=top)
    shown = [b.value for b in by] if by else ["agent", "tag"]
    if format is DataFormat.json:
        _emit(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", output)
    elif format is DataFormat.csv:
        from classifier.output import csv_text
        from classifier.quality.agreement_report import to_rows

        _emit(csv_text(to_rows(report, shown)), output)
    elif format is DataFormat.markdown:
        from classifier.quality.agreement_report import to_markdown

        _emit(to_markdown(report, shown, top), output)
    else:
        _print_agreement(report, shown, top)


def _print_agreement(report, by: list[str], top: int) -> None:
    from classifier.quality import agreement_report as show

    for pair in report.pairs:
        out.print(
            f"{pair.original} vs {pair.retagged}", style="bold", highlight=False, markup=False
        )
        out.print(show.summary_line(pair), highlight=False, markup=False)
        for side, ids in (("original", pair.only_original), ("re-tag", pair.only_retagged)):
            if ids:
                out.print(f"only in the {side}: {show.named(ids)}", highlight=False, markup=False)
        axes = Table(title="agreement per axis (95% bootstrap intervals)", title_justify="left")
        for column in ("axis", "compared", "kappa", "agreement", "not compared"):
            axes.add_column(column, justify="right" if column == "compared" else "left")
        for axis, r in pair.axes.items():
            axes.add_row(
                axis,
                str(r.overall.compared),
                show.interval(r.overall.kappa),
                show.interval(r.overall.agreement),
                show.not_compared(r.not_compared),
            )
        out.print(axes, markup=False)
        for axis, r in pair.axes.items():
            if "agent" in by and r.by_agent:
                agents = Table(title=f"{axis}: kappa per agent", title_justify="left")
                for column in ("agent", "compared", "kappa", "agreement"):
                    agents.add_column(column, justify="right" if column == "compared" else "left")
                for agent, s in r.by_agent.items():
                    agents.add_row(
                        agent, str(s.compared), show.interval(s.kappa), show.interval(s.agreement)
                    )
                out.print(agents, markup=False)
            if "tag" in by:
                tags = Table(
                    title=f"{axis}: per tag, original against the re-tag", title_justify="left"
                )
                for column in ("tag", "original", "re-tag", "both", "precision", "recall"):
                    tags.add_column(column, justify="left" if column == "tag" else "right")
                for t in r.by_tag:
                    tags.add_row(
                        t.tag,
                        str(t.original),
                        str(t.retagged),
                        str(t.both),
                        show.number(t.precision),
                        show.number(t.recall),
                    )
                out.print(tags, markup=False)
            if r.disagreements:
                wrong = Table(title=f"{axis}: most frequent disagreements", title_justify="left")
                for column in ("original", "re-tag", "count", "examples"):
                    wrong.add_column(column, justify="right" if column == "count" else "left")
                for d in r.disagreements[:top]:
                    wrong.add_row(
                        d.original, d.retagged, str(d.count), show.examples(d.examples, 60)
                    )
                out.print(wrong, markup=False)
    if report.many:
        many = Table(title="Fleiss' kappa over all taggers", title_justify="left")
        for column in ("axis", "taggers", "compared", "left out", "Fleiss' kappa"):
            many.add_column(
                column, justify="left" if column in ("axis", "Fleiss' kappa") else "right"
            )
        for axis, m in report.many.items():
            many.add_row(
                axis, str(m.taggers), str(m.compared), str(m.left_out), show.interval(m.kappa)
            )
        out.print(many, markup=False)


def _print_suggestion(result) -> None:
    table = Table(title=f"suggestion: {result.status}")
    for column in ("axis", "tag", "confidence", "status", "threshold", "alternatives"):
        table.add_column(
            column, justify="right" if column in ("confidence", "threshold") else "left"
        )
    for axis, s in result.axes.items():
        table.add_row(
            axis,
            s.tag,
            f"{s.confidence:.3f}",
            s.status,
            "never auto" if s.threshold is None else f"{s.threshold:.3f}",
            ", ".join(f"{a.tag} {a.confidence:.3f}" for a in s.alternatives),
            style="green" if s.status == "auto" else "yellow",
        )
    out.print(table, markup=False)


def _taxonomy_table(taxonomy) -> Table:
    table = Table(title=f"{taxonomy.name} (taxonomy format v{taxonomy.version})")
    for column in ("axis", "id", "name", "status", "aliases"):
        table.add_column(column, overflow="fold")
    for axis_name, axis in taxonomy.axes.items():
        for tag in axis.tags:
            table.add_row(axis_name, tag.id, tag.name, _status(tag), ", ".join(tag.aliases))
        table.add_section()
    return table


def _status(tag) -> str:
    if tag.deprecated:
        return f"deprecated -> {tag.replaced_by}" if tag.replaced_by else "deprecated"
    return "human only" if tag.human_only else "active"


def _taxonomy_markdown(taxonomy) -> str:
    from classifier.output import escape_markdown, markdown_table

    parts = [f"# {escape_markdown(taxonomy.name)}\n"]
    for axis_name, axis in taxonomy.axes.items():
        parts.append(
            f"\n## {escape_markdown(axis_name)}\n\n{escape_markdown(axis.description)}\n\n"
        )
        rows = [
            (tag.id, tag.name, _status(tag), tag.description, ", ".join(tag.aliases))
            for tag in axis.tags
        ]
        parts.append(markdown_table(("id", "name", "status", "description", "aliases"), rows))
    return "".join(parts)


if __name__ == "__main__":
    app()
