"""The feedtag command line: parse options, call one ``classifier`` function, render the result.

Data goes to stdout, diagnostics and progress to stderr. Library errors become one red line
each on stderr and exit code 2 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from classifier import __version__

# Which path parameters a command writes. Every path-typed option named here is an output;
# every other path-typed parameter (arguments included) is an input. Before any command
# runs, ``handles_errors`` refuses an output that is, holds or lies inside one of the
# command's inputs (``classifier.output.refuse_overwrite``), and tests/test_overwrite.py
# tries that on every command registered here. A new option that writes a file or a
# directory must use one of these names (or be added here).
OUTPUT_OPTIONS = ("--output", "--out", "--fix", "--apply", "--labels-out")


def _default_taxonomy() -> Path:
    from classifier.taxonomy import default_taxonomy_path

    return default_taxonomy_path()


def _default_model() -> Path:
    from classifier.model.store import default_model_path

    return default_model_path()


# Inputs a command reads from a default when the option is left out (by parameter name).
DEFAULT_INPUTS = {"taxonomy": _default_taxonomy, "model": _default_model}


def _click() -> Any:
    """The click that typer runs on: typer 0.2x vendors its own copy."""
    try:
        from typer import _click as click
    except ImportError:  # pragma: no cover - a typer that uses the real click
        import click
    return click


class FeedtagGroup(TyperGroup):
    """The root command: usage errors as one ``error:`` line, warnings as one line each.

    Click prints a usage block and a boxed message for a missing argument or a bad option;
    feedtag's promise is one line on stderr and exit code 2 for any bad usage or input.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _hide_flag_types()
        import warnings

        warnings.showwarning = _show_warning
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        click = _click()
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            sys.exit(error.exit_code)  # the help is already printed
        except click.exceptions.ClickException as error:
            command = getattr(getattr(error, "ctx", None), "command_path", None)
            hint = f" (see '{command} --help')" if command else ""
            _error_lines(f"{error.format_message()}{hint}")
            sys.exit(2)
        except typer.Abort:
            err.print("aborted", highlight=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _hide_flag_types() -> None:
    """``--help`` lists a flag as ``--debug``, not ``--debug <bool>``: it takes no value."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "feedtag", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich.feedtag = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning as one ``warning:`` line, without the source line Python adds."""
    text = " ".join(str(message).split())
    say(err, ("warning:", "yellow"), f" {text}", soft_wrap=True)


app = typer.Typer(
    name="feedtag",
    cls=FeedtagGroup,
    help="Keep customer-feedback tags honest: one team and one topic per message.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
taxonomy_app = typer.Typer(help="Validate, show and diff the taxonomy.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")
model_app = typer.Typer(help="Convert model directories.", no_args_is_help=True)
app.add_typer(model_app, name="model")

# Markup off: everything printed may hold user text (tags, agents, paths, messages), and a
# ``[/x]`` in it must print as written. Styled text goes through ``say`` or ``Text``.
out = Console(soft_wrap=False, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)
state = {"debug": False}


def say(console: Console, *parts: str | tuple[str, str], **options: Any) -> None:
    """Print one line of parts, never read as markup: ``"text"`` or ``("text", "style")``.

    The one way to print a styled line holding user text, e.g.
    ``say(err, ("warning:", "yellow"), f" {path} is empty")``.
    """
    options.setdefault("highlight", False)
    console.print(Text.assemble(*parts), **options)


def _error_lines(message: str) -> None:
    """An error as red ``error:`` lines on stderr, one per line of the message."""
    for line in message.splitlines() or ["unknown error"]:
        say(err, ("error:", "red"), f" {line}", soft_wrap=True)


def _spinner(message: str):
    """A spinner on stderr; its text is data (a path may hold ``[``), never markup."""
    return err.status(Text(message), spinner="dots")


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
GroupColumn = Annotated[
    str | None,
    typer.Option(
        "--group-column",
        help="Column naming each message's source (default: a 'source' column if any).",
        show_default=False,
    ),
]
AxisColumn = Annotated[
    list[str] | None,
    typer.Option("--axis-column", help="AXIS=COLUMN: a column holding one axis's tags."),
]


def _columns(id_column, text_column, tags_column, axis_column, group_column=None):
    from classifier.corpus import Columns
    from classifier.errors import UsageError

    axes = {}
    for item in axis_column or []:
        axis, sep, column = item.partition("=")
        if not sep or not axis or not column:
            raise UsageError(f"--axis-column '{item}': write it as AXIS=COLUMN, e.g. team=Team")
        axes[axis.strip()] = column.strip()
    return Columns(id=id_column, text=text_column, tags=tags_column, axes=axes, group=group_column)


def _load(path, taxonomy, columns, *, require_tags=False):
    """Read a corpus with a status line on stderr, since a big export takes a few seconds."""
    from classifier.corpus import load_corpus

    with _spinner(f"reading {path}"):
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
    """Run a command safely: outputs checked against inputs first, library errors as one
    line each on stderr with exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from classifier.errors import FeedtagError

        try:
            refuse_overwrite()
            return command(*args, **kwargs)
        except FeedtagError as error:
            if state["debug"]:
                raise
            _error_lines(str(error) or type(error).__name__)
            raise typer.Exit(2) from None

    return wrapper


def refuse_overwrite(**outputs: Path | None) -> None:
    """Refuse, before any work, an output of the running command that is one of its inputs.

    Outputs and inputs come from the command's own parameters (see ``OUTPUT_OPTIONS``);
    ``outputs`` adds paths a command writes under another name (``review`` writes ``--db``),
    e.g. ``refuse_overwrite(**{"--db": db})``.
    """
    from typer.main import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is None:
        return
    found: dict[str, Any] = dict(outputs)
    inputs: dict[str, Any] = {}
    for param in ctx.command.params:
        if not getattr(getattr(param, "type_descriptor", None), "is_path", False):
            continue
        value = ctx.params.get(param.name)
        if param.param_type_name == "option":
            label = max(param.opts, key=len)
            if set(param.opts) & set(OUTPUT_OPTIONS):
                found[label] = value
                continue
        else:
            label = (param.name or "").upper()
        if value is None and param.name in DEFAULT_INPUTS:
            value = DEFAULT_INPUTS[param.name]()
        if label not in found:
            inputs[label] = value
    if any(value is not None for value in found.values()):
        from classifier.output import refuse_overwrite as refuse

        refuse(found, inputs)


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
    say(
        err,
        ("valid:", "green"),
        f" {path}: '{loaded.name}', {len(loaded.axes)} axes, {count} tags",
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


class Engine(StrEnum):
    local = "local"
    dask = "dask"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="local: stream on this machine. dask: run on a Dask cluster (--scheduler, or a "
        "local cluster of one worker per core); needs the extra: pip install 'feedtag\\[dask]'.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        envvar="FEEDTAG_SCHEDULER",
        help="Address of an existing Dask scheduler (tcp://HOST:8786), with --engine dask.",
        show_default=False,
    ),
]


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
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
) -> None:
    """Audit a tagged corpus: every message exactly one tag per axis, recorded once.

    With --cross-validate (or --model DIR) the classifier also judges every tag: suspect-tag
    findings name the tag it prefers, worst first, and taxonomy health reports rare, unused,
    confusable and catch-all tags. Exit 0 when clean, 1 when a finding is at or above
    --fail-on, 2 on bad input.

    Example: feedtag audit examples/helpdesk-export.csv --cross-validate --fail-on warning
    """
    from contextlib import nullcontext

    from classifier.audit.fix import ChunkedFix
    from classifier.audit.health import HealthSettings
    from classifier.audit.stream import audit_dataset
    from classifier.errors import UsageError
    from classifier.taxonomy import load_taxonomy

    if _engine(engine, scheduler):  # the Dask engine (issue 17): see the end of this file
        args = (corpus, taxonomy, format, output, fail_on, fix, checks, limit, cross_validate)
        columns = _columns(id_column, text_column, tags_column, axis_column)
        return _audit_on_dask(scheduler, *args, folds, model, rare_below, columns)
    if output is not None and format is DataFormat.table:
        raise UsageError("--output needs --format json, csv or markdown")
    if cross_validate and model is not None:
        raise UsageError("use --cross-validate or --model, not both")
    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    settings = HealthSettings(rare_below=rare_below)
    chosen = checks.split(",") if checks else None
    judge = _audit_judge(loaded, cross_validate, folds, model)
    fixer = ChunkedFix(str(corpus), fix) if fix is not None else None
    with fixer or nullcontext():
        with _judging(corpus, judge, folds):
            report = audit_dataset(
                str(corpus), loaded, columns, chosen, settings=settings, judge=judge, fix=fixer
            )
        _judge_notes(judge, model)
        _audit_outputs(report, format, output, limit)
        if fixer is not None:
            _said_fixed(fixer.commit())
    if report.fails(fail_on.value):
        raise typer.Exit(1)


def _said_fixed(fixed) -> None:
    err.print(
        f"fixed {fixed.cells_changed} tag cells in {fixed.messages_changed} messages: "
        f"wrote {fixed.path}",
        highlight=False,
    )


def _audit_outputs(report, format: DataFormat, output: Path | None, limit: int) -> None:
    if format is DataFormat.json:
        from itertools import chain

        _emit_chunks(chain(report.json_chunks(), "\n"), output)  # a batch at a time
    elif format is DataFormat.csv and output is not None:
        report.write_csv(output)  # in slices: a large audit's CSV is not held twice
        err.print(f"wrote {output}", highlight=False)
    elif format is DataFormat.csv:
        _emit_chunks(report.csv_chunks(), None)
    elif format is DataFormat.markdown:
        _emit(report.to_markdown(limit), output)
    else:
        _print_audit(report, limit)


def _emit_chunks(chunks, output: Path | None) -> None:
    """Text made piece by piece, to stdout or atomically to --output."""
    if output is None:
        for chunk in chunks:
            typer.echo(chunk, nl=False)
        return
    from classifier.output import atomic_stream

    with atomic_stream(output) as stream:
        for chunk in chunks:
            stream.write(chunk.encode("utf-8"))
    err.print(f"wrote {output}", highlight=False)


def _audit_judge(taxonomy, cross_validate: bool, folds: int, model: Path | None, fit=None):
    """Who judges the tags in the audit: an existing model (loaded and checked now, before
    the corpus is read), the corpus's own folds (``fit`` runs them elsewhere), or nobody."""
    from classifier.audit.judges import CrossValidation, ModelJudge

    if model is not None:
        with _spinner("loading the model"):
            return ModelJudge.load(model, taxonomy)
    if cross_validate:
        return CrossValidation(folds=folds, **({} if fit is None else {"fit": fit}))
    return None


@contextlib.contextmanager
def _judging(corpus, judge, folds: int, doing: str = "reading"):
    """A spinner while the corpus is read; with --cross-validate, then a bar of the folds'
    fits, which start after the last chunk (the spinner stops at the first fit)."""
    from classifier.audit.judges import CrossValidation

    status = _spinner(f"{doing} {corpus}")
    shown: list = []
    if isinstance(judge, CrossValidation):

        def tick(done: int, total: int) -> None:
            if not shown:
                status.stop()
                label = f"cross-validating {judge.messages} messages, {folds} folds"
                shown.extend(_progress(label))
                shown[0].start()
            shown[1](done, total)

        judge.progress = tick
    try:
        with status:
            yield
    finally:
        if shown:
            shown[0].stop()


def _judge_notes(judge, model: Path | None) -> None:
    """What the judge said besides its view: a model trained on this corpus, axes not judged."""
    if judge is None:
        return
    if judge.trained_on_this_corpus:
        say(
            err,
            ("warning:", "yellow"),
            f" {model} was trained on this very corpus (same data sha256): its opinions "
            "on its own training rows are not evidence; use --cross-validate",
        )
    for axis, why in judge.skipped.items():
        say(err, ("note:", "yellow"), f" axis '{axis}' not judged: {why}")


def _print_audit(report, limit: int) -> None:
    from rich.panel import Panel

    summary = report.summary
    severity = summary.by_severity
    out.print(
        Panel.fit(
            Text.assemble(
                (str(summary.messages), "bold"),
                " messages, ",
                (f"{summary.complete_share:.1%}", "bold"),
                " complete (one tag on every axis)\n",
                (f"{severity['error']} errors", "red"),
                ", ",
                (f"{severity['warning']} warnings", "yellow"),
                f", {severity['info']} info",
            ),
            title=Text(f"audit of {summary.source}"),
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
    say(out, ("messages per tag", "bold"), " (exactly one tag on the axis)")
    for axis, counts in summary.tags.items():
        spread = " · ".join(f"{tag} {count}" for tag, count in counts.items())
        out.print(f"  {axis}: {spread}", highlight=False, soft_wrap=True)
    if summary.model:
        say(out, ("tags judged by", "bold"), f" {summary.model}")
    if summary.health:
        from classifier.audit.report import health_line

        say(out, ("taxonomy health", "bold"))
        for axis, figures in summary.health.items():
            out.print(f"  {axis}: {health_line(figures)}", highlight=False, soft_wrap=True)
    import pandas as pd

    for check, group in report.by_check(limit):
        count = summary.by_check[check]
        table = Table(title=f"{check} ({count})", title_justify="left")
        scored = int(group["score"].notna().any())
        for column in ("row", "id", "axis", "tags", "message", "fix", *(("score",) * scored)):
            table.add_column(column, overflow="fold")
        for finding in group.itertuples(index=False):
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
        if count > len(group):
            out.print(f"... and {count - len(group)} more", highlight=False)


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    markdown = "markdown"


@app.command()
@handles_errors
def export(
    ctx: typer.Context,
    corpus: CorpusArgument,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="AXIS",
            help="Axis to split by, one file per tag: team or topic (any axis of the taxonomy).",
        ),
    ],
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
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
) -> None:
    """Export messages by team (or topic): one file per tag, an index, and _needs-review.

    Every message lands in exactly one file; those without exactly one tag per axis go to
    _needs-review with the reason. Dates are ISO (YYYY-MM-DD), inclusive.

    Example: feedtag export examples/helpdesk-export.csv --by team --out feedback/
    """
    from classifier.dataset import iter_chunks
    from classifier.errors import UsageError
    from classifier.export.teams import DEFAULT_MIN_CONFIDENCE, check_out_dir, export_chunks, select
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
    columns = _columns(id_column, text_column, tags_column, axis_column)
    if _engine(engine, scheduler):  # the Dask engine (issue 17): see the end of this file
        fitted = _load_model(model, loaded) if suggest else None
        args = (corpus, loaded, columns, chosen, out, format, force, fitted)
        return _export_on_dask(scheduler, *args)
    suggester = _suggester(model, loaded) if suggest else None
    chunks = iter_chunks(str(corpus), loaded, columns, require_tags=not suggest)
    with _spinner(f"exporting {corpus} to {out}"):
        done = export_chunks(
            chunks, chosen, out, format=format.value, force=force, suggest=suggester
        )
    _print_export(done, out)


def _suggester(model, taxonomy):
    """The model's suggestions as export wants them: texts in, (tag, confidence) per axis out."""
    from classifier.export.teams import model_suggester
    from classifier.model.store import default_model_path, load_model

    with _spinner("loading the model"):
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
    if not (stats or apply):
        refuse_overwrite(**{"--db": db})  # the review session writes its decisions there
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
            say(err, (f"{done.unmatched} decided message ids are not in {corpus}", "yellow"))
        return
    if not _interactive():
        raise UsageError(
            "review is a full-screen app and needs a terminal (stdin or stdout is redirected); "
            "use --apply or --stats for output to a file or a pipe"
        )
    suggest, version = _review_suggester(model, loaded)
    data = _load(corpus, loaded, columns)
    agent = agent or os.environ.get("USER") or "agent"
    _run_review(data, db, suggest, version, agent, only, _calibration(model))


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty()


def _review_suggester(model, taxonomy):
    """The model's suggestions in review's shape (classifier.review.Suggest), and its version."""
    from classifier.model.store import default_model_path
    from classifier.review import load_suggester

    with _spinner("loading the model"):
        return load_suggester(model or default_model_path(), taxonomy)


def _calibration(model) -> str:
    """Where the model's confidence comes from, in one line (from its meta.json)."""
    from classifier.model.card import describe
    from classifier.model.store import default_model_path, read_meta

    return describe(read_meta(model or default_model_path()).get("calibration"))


def _run_review(data, db, suggest, version, agent, only, calibration=None) -> None:
    from classifier.review import ReviewSession
    from classifier.review.app import ReviewApp
    from classifier.review.decisions import DecisionStore

    with DecisionStore(db) as store:
        session = ReviewSession(
            data,
            store,
            suggest,
            agent=agent,
            model_version=version,
            only=only.value,
            calibration=calibration,
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

    with _spinner("loading the model"):
        return load_model(model or default_model_path(), taxonomy)


def _progress(description: str):
    """A rich progress bar on stderr and the ``progress(done, total)`` callback feeding it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # no bar, and no blank line it leaves, in a pipe
    )
    task = bar.add_task(description, total=None)

    def tick(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, tick


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


StatsAxis = Annotated[
    str | None, typer.Option("--by", help="Trends on this axis only (team or topic).")
]
UsersOption = Annotated[
    Path | None,
    typer.Option("--users", help="user_id, signed_up_at: for first-week and life figures."),
]
ActiveUsersOption = Annotated[
    Path | None,
    typer.Option("--active-users", help="week (YYYY-Www or a date in it), active_users."),
]
TimezoneOption = Annotated[
    str,
    typer.Option("--timezone", help="IANA zone for weeks, hours and weekdays (DST included)."),
]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="First day counted (YYYY-MM-DD, in --timezone).")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Last day counted, inclusive (YYYY-MM-DD).")
]
SkipBadDates = Annotated[
    bool,
    typer.Option(
        "--skip-bad-dates", help="Count and leave out unreadable times instead of stopping."
    ),
]
SpikeMin = Annotated[
    int, typer.Option("--spike-min", min=1, help="Fewest contacts in a week that can be a spike.")
]


def _stats_inputs(taxonomy, users, active_users, timezone, since, until, by, skip, spike_min):
    """The taxonomy, options and side files of stats and report, read and checked before
    the corpus is."""
    from classifier.stats import SpikeRule, StatsOptions
    from classifier.stats.frame import zone_of
    from classifier.stats.users import read_active_users, read_users
    from classifier.taxonomy import load_taxonomy

    loaded = load_taxonomy(taxonomy)
    options = StatsOptions(
        timezone=timezone,
        since=since,
        until=until,
        by=by,
        skip_bad_dates=skip,
        spike=SpikeRule(min_count=spike_min),
    )
    zone_of(timezone)  # a bad zone is a usage error before any file is read
    signups = None if users is None else read_users(str(users), skip_bad_dates=skip)
    active = None if active_users is None else read_active_users(str(active_users))
    return loaded, options, signups, active


@app.command()
@handles_errors
def stats(
    corpus: CorpusArgument,
    users: UsersOption = None,
    active_users: ActiveUsersOption = None,
    timezone: TimezoneOption = "UTC",
    since: SinceOption = None,
    until: UntilOption = None,
    by: StatsAxis = None,
    format: Annotated[DataFormat, typer.Option("--format", "-f")] = DataFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the figures here, not stdout.")
    ] = None,
    fail_on_spike: Annotated[
        bool, typer.Option("--fail-on-spike", help="Exit 1 when a tag spikes in the last week.")
    ] = False,
    skip_bad_dates: SkipBadDates = False,
    spike_min: SpikeMin = 5,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """The support team's health figures: load per week, hour x weekday, per active user,
    time to first response, new users' first week, repeat contacts, tag trends and spikes.

    A contact is a conversation, counted once in the ISO week (in --timezone) of its first
    message. Time to first response is shown per week and per team, never per agent: a
    per-agent figure is easy to game. A week is a spike for a tag when it has at least
    --spike-min contacts and a Poisson count with the mean of the previous 4 weeks would
    reach that many with probability below 0.001. csv writes the weekly table; json has
    everything. Exit 1 with --fail-on-spike when a tag spikes in the last week; 2 on bad input.

    Example: feedtag stats examples/support-history.csv --users examples/users.csv
    --active-users examples/active-users.csv --timezone Europe/Berlin
    """
    from classifier.errors import UsageError
    from classifier.stats import render

    if output is not None and format is DataFormat.table:
        raise UsageError("--output needs --format json, csv or markdown")
    from classifier.dataset import iter_chunks
    from classifier.stats import stats_of_chunks

    columns = _columns(id_column, text_column, tags_column, axis_column)
    loaded, options, signups, active = _stats_inputs(
        taxonomy, users, active_users, timezone, since, until, by, skip_bad_dates, spike_min
    )
    with _spinner(f"counting {corpus}"):
        chunks = iter_chunks(str(corpus), loaded, columns)
        result = stats_of_chunks(chunks, options, signups, active)
    if format is DataFormat.json:
        _emit(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", output)
    elif format is DataFormat.csv:
        from classifier.output import csv_text

        _emit(csv_text(render.weeks_frame(result)), output)
    elif format is DataFormat.markdown:
        _emit(render.to_markdown(result), output)
    else:
        _print_stats(result)
    for line in render.skip_lines(result):
        err.print(line.removeprefix("- "), highlight=False, markup=False)
    if fail_on_spike and result.spike_in_last_week():
        raise typer.Exit(1)


def _rows_table(title: str, header, rows, *, left: int = 1) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i < left else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def _print_stats(result) -> None:
    from rich.panel import Panel

    from classifier.stats import render

    out.print(
        Panel.fit(
            Text.assemble(
                (str(result.messages), "bold"),
                " messages, ",
                (str(result.contacts), "bold"),
                f" contacts, {len(result.weeks)} weeks (ISO weeks in {result.timezone})\n",
                result.spike_rule,
            ),
            title=Text(f"stats of {result.source}"),
        )
    )
    if result.spikes:
        out.print(
            _rows_table(
                f"spikes ({len(result.spikes)})",
                render.SPIKE_HEADER,
                render.spike_rows(result),
                left=3,
            ),
            markup=False,
            style="red",
        )
    else:
        out.print("no spikes", highlight=False)
    out.print(
        _rows_table("contacts per week", render.WEEK_HEADER, render.week_rows(result), left=2),
        markup=False,
    )
    hours = Table(title="contacts per hour and weekday", title_justify="left", box=None)
    for column in ("", *(f"{h:02d}" for h in range(24)), "total"):
        hours.add_column(column, justify="right", min_width=2, no_wrap=True)
    for row in render.hour_rows(result):
        hours.add_row(*row)
    out.print(hours, markup=False)
    if result.first_response_by_team is not None:
        out.print(
            _rows_table(
                "time to first response per team",
                ("team", "answered", "unanswered", "median", "p90"),
                (
                    (
                        t.team,
                        t.answered,
                        t.unanswered,
                        render.duration(t.median_s),
                        render.duration(t.p90_s),
                    )
                    for t in result.first_response_by_team
                ),
            ),
            markup=False,
        )
    if result.first_week is not None:
        out.print(
            _rows_table(
                "new users contacting in their first week",
                ("signup week", "new users", "contacted", "share"),
                (
                    (c.week, c.new_users, c.contacted_first_week, render.share(c.share))
                    for c in result.first_week.cohorts
                ),
            ),
            markup=False,
        )
        out.print(
            _rows_table(
                "contacts over the life of a customer",
                ("weeks since signup", "users at risk", "contacts", "per user"),
                (
                    (
                        render.life_label(x.weeks_since_signup),
                        x.users_at_risk,
                        x.contacts,
                        render.number(x.contacts_per_user),
                    )
                    for x in render.life_rows(result.first_week.life)
                ),
            ),
            markup=False,
        )
    if result.repeat_contacts is not None:
        repeats = result.repeat_contacts
        out.print(
            _rows_table(
                f"next-contact avoidance: {render.share(repeats.share)} of {repeats.contacts} "
                "contacts followed by another within 7 days",
                ("topic", "contacts", "followed", "share"),
                (
                    (t.topic, t.contacts, t.followed, render.share(t.share))
                    for t in repeats.by_topic
                ),
            ),
            markup=False,
        )
    for axis in dict.fromkeys(t.axis for t in result.trends):
        header, rows = render.trend_table(result, axis)
        out.print(_rows_table(f"{axis} trend (* = spike)", header, rows), markup=False)


@app.command()
@handles_errors
def report(
    corpus: CorpusArgument,
    out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    users: UsersOption = None,
    active_users: ActiveUsersOption = None,
    timezone: TimezoneOption = "UTC",
    since: SinceOption = None,
    until: UntilOption = None,
    skip_bad_dates: SkipBadDates = False,
    spike_min: SpikeMin = 5,
    cross_validate: Annotated[
        bool,
        typer.Option("--cross-validate", help="Judge the tags out of fold: taxonomy health."),
    ] = False,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Folds for --cross-validate.")] = 5,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Judge the tags with this model directory: suspect counts."),
    ] = None,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """One self-contained HTML report a lead opens offline or mails: the figures of
    feedtag stats as charts (weekly load, per active user, hour x weekday, first-week
    cohorts, contacts over a customer's life, tag trends with spikes marked, first
    response), the tagging audit, and with --model DIR or --cross-validate the taxonomy
    health and suspect tags. No network: the charts are inline SVG.

    Example: feedtag report examples/support-history.csv --users examples/users.csv
    --active-users examples/active-users.csv --timezone Europe/Berlin --out report.html
    """
    from classifier.errors import UsageError
    from classifier.output import write_atomic
    from classifier.stats.report import render_report, report_dataset

    if cross_validate and model is not None:
        raise UsageError("use --cross-validate or --model, not both")
    columns = _columns(id_column, text_column, tags_column, axis_column)
    loaded, options, signups, active = _stats_inputs(
        taxonomy, users, active_users, timezone, since, until, None, skip_bad_dates, spike_min
    )
    judge = _audit_judge(loaded, cross_validate, folds, model)
    with _judging(corpus, judge, folds, doing="counting and auditing"):
        result, audited = report_dataset(
            str(corpus), loaded, columns, options, signups, active, judge=judge
        )
    _judge_notes(judge, model)
    with _spinner(f"drawing {out_file}"):
        page = render_report(result, audited)
    write_atomic(out_file, page)
    err.print(
        f"wrote {out_file} ({len(page.encode()) // 1024} KiB): {_count(result.contacts, 'contact')}"
        f" in {_count(len(result.weeks), 'week')}, {_count(len(result.spikes), 'spike')}",
        highlight=False,
        markup=False,
    )


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
    group_column: GroupColumn = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            "--encoder",
            help="Join a sentence encoder's embedding to the TF-IDF features ('default': the "
            "recommended one). Needs the extra: pip install 'feedtag[encoder]'; the model then "
            "needs it wherever it is loaded.",
        ),
    ] = None,
    encoder_weight: Annotated[
        float | None,
        typer.Option(
            "--encoder-weight",
            min=0.001,
            help="Weight of the embedding against TF-IDF (default: tuned by cross-validation).",
        ),
    ] = None,
) -> None:
    """Train a model on a tagged corpus and write its model directory.

    The directory holds the model as data (no pickle), meta.json and card.md. Rows without
    exactly one tag on an axis are left out of that axis (and counted). When the corpus says
    where each message came from (a 'source' column, or --group-column), an axis labelled by
    three or more sources takes its confidence and thresholds from folds that hold out whole
    sources, so 'auto' means what it will on a new source. Ends with the report per axis:
    held out by source and random folds side by side, then per source.

    Example: feedtag train examples/helpdesk-export.csv --out models/mine
    """
    from classifier.errors import UsageError
    from classifier.model.embedding import open_encoder
    from classifier.model.training import train as train_corpus
    from classifier.taxonomy import load_taxonomy

    if encoder_weight is not None and encoder is None:
        raise UsageError("--encoder-weight needs --encoder")
    opened = None if encoder is None else open_encoder(encoder)  # missing extra: fail first

    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column, group_column)
    data = _load_training(corpus, loaded, columns)
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
            **({} if opened is None else {"encoder": opened, "encoder_weight": encoder_weight}),
        )
    _print_training_report(result, target_precision)
    err.print(f"wrote {result.directory} (model data, meta.json, card.md)", highlight=False)


def _load_training(path, taxonomy, columns):
    """What train reads of a corpus: ids, texts, sources and known tags, read in chunks."""
    from classifier.dataset import read_compact

    with _spinner(f"reading {path}"):
        return read_compact(
            str(path), taxonomy, columns, roles=("id", "text", "group"), require_tags=True
        )


def _print_training_report(result, target_precision: float) -> None:
    table = Table(
        title=f"out-of-fold report, target precision {target_precision}",
        caption="folds: sources = each holds out whole sources; random = mixed",
    )
    columns = ("axis", "folds", "rows", "missing", "multiple", "accuracy")
    for column in (*columns, "auto share", "auto accuracy"):
        table.add_column(column, justify="left" if column in ("axis", "folds") else "right")
    groups = Table(title="each source held out in turn")
    for column in ("axis", "held-out source", "rows", "accuracy", "auto share", "auto accuracy"):
        groups.add_column(
            column, justify="left" if column in ("axis", "held-out source") else "right"
        )
    for axis, report in result.report.items():
        left = result.left_out[axis]
        held = report.get("folds") == "groups"
        rows = [(("sources" if held else "random"), report)]
        rows += [("random", report["random_folds"])] if "random_folds" in report else []
        for folds, figures in rows:
            table.add_row(
                axis,
                folds,
                str(figures["rows"]),
                str(left["missing"]),
                str(left["multiple"]),
                _pct(figures["accuracy"]),
                _pct(figures["coverage"]),
                _pct(figures["accuracy_at_threshold"]),
            )
        for name, figures in report.get("by_group", {}).items():
            groups.add_row(
                axis,
                name,
                str(figures["rows"]),
                _pct(figures["accuracy"]),
                _pct(figures["coverage"]),
                _pct(figures["accuracy_at_threshold"]),
            )
    out.print(table, markup=False)
    if groups.row_count:
        out.print(groups, markup=False)


@app.command()
@handles_errors
def calibrate(
    corpus: CorpusArgument,
    out_dir: Annotated[Path, typer.Option("--out", help="Calibrated model directory to write.")],
    model: ModelOption = None,
    taxonomy: TaxonomyOption = None,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="Review decisions (SQLite) on CORPUS: their tags label the messages.",
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option("--folds", min=2, help="Folds of the before/after figures.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the folds.")] = 0,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Fit the model's confidence and thresholds to your team's own labelled messages.

    Only the calibration (temperature) and per-tag thresholds are refitted, on a few hundred
    messages your team tagged or reviewed; features and weights stay as trained. A sample may
    label one axis only: the other keeps its calibration. Prints the auto share and auto
    accuracy before and after, cross-validated on the sample (never judged on the rows it
    was fitted on), then writes the calibrated model to --out.

    Example: feedtag calibrate reviewed.csv --out models/ours
    Example: feedtag calibrate export.csv --decisions export.decisions.sqlite --out models/ours
    """
    from classifier.model.store import default_model_path
    from classifier.model.training import calibrate_directory
    from classifier.taxonomy import load_taxonomy

    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, columns, require_tags=decisions is None)
    with _spinner("calibrating"):
        result = calibrate_directory(
            data,
            model or default_model_path(),
            out_dir,
            decisions=decisions,
            folds=folds,
            seed=seed,
        )
    table = Table(title=f"auto suggestions before and after ({folds}-fold cross-validated)")
    for column in ("axis", "messages", "", "accuracy", "auto share", "auto accuracy"):
        table.add_column(column, justify="left" if column in ("axis", "") else "right")
    for axis, report in result.report.items():
        for when in ("before", "after"):
            figures = report[when]
            table.add_row(
                axis if when == "before" else "",
                str(report["messages"]) if when == "before" else "",
                when,
                _pct(figures["accuracy"]),
                f"{_pct(figures['auto_share'])} ({figures['auto']})",
                _pct(figures["auto_accuracy"]),
            )
    out.print(table, markup=False)
    err.print(f"wrote {result.directory} (calibrated model)", markup=False, highlight=False)


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


@model_app.command("convert")
@handles_errors
def model_convert(
    source: Annotated[Path, typer.Argument(help="A format-1 model directory (model.joblib).")],
    out_dir: Annotated[Path, typer.Option("--out", help="The format-2 directory to write.")],
    trust: Annotated[
        bool,
        typer.Option(
            "--trust", help="Unpickle model.joblib: only for a model whose origin you trust."
        ),
    ] = False,
) -> None:
    """Rewrite an old model directory (model.joblib, a pickle) as data that loads safely.

    Unpickling runs whatever code the file holds, so nothing is read without --trust; the
    file's sha256 must match its meta.json. The new directory suggests exactly as the old one.

    Example: feedtag model convert models/old --out models/old-v2 --trust
    """
    from classifier.model.legacy import convert_model

    meta = convert_model(source, out_dir, trust=trust)
    files = ", ".join(sorted(meta["files"]))
    err.print(
        f"wrote {out_dir} ({files}, meta.json, card.md); model sha256 {meta['model_sha256'][:12]}",
        highlight=False,
        markup=False,
    )


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
    engine: EngineOption = Engine.local,
    scheduler: SchedulerOption = None,
) -> None:
    """Suggest one tag per axis, with confidence and status (auto or review).

    Example: feedtag suggest "The widget does not load on Safari"
    Example: feedtag suggest --input messages.csv --output suggestions.csv
    Example: feedtag suggest --input export/ --output suggested/ --engine dask
    """
    from classifier.errors import UsageError
    from classifier.taxonomy import load_taxonomy

    if _engine(engine, scheduler):  # the Dask engine (issue 17): see the end of this file
        columns = _columns(id_column, text_column, None, None)
        args = (text, input, output, model, taxonomy, top, format, columns)
        return _suggest_on_dask(scheduler, *args)

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
    calibration = f"calibration: {_calibration(model)}"
    if text is not None:
        result = fitted.suggest_one(text, top=top)
        if chosen is SuggestFormat.json:
            typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        else:
            _print_suggestion(result)
        say(err, (calibration, "dim"))
        return
    from classifier.dataset import iter_chunks
    from classifier.model.suggest import write_suggestions

    chunks = iter_chunks(str(input), loaded, _columns(id_column, text_column, None, None))
    bar, tick = _progress(f"suggesting for {input}")
    with bar, _sink(output) as write:
        write_suggestions(fitted, chunks, write, format=chosen.value, top=top, progress=tick)
    if output is not None:
        err.print(f"wrote {output}", highlight=False)
    say(err, (calibration, "dim"))


@contextlib.contextmanager
def _sink(output: Path | None):
    """Where data written in pieces goes: stdout, or an atomic file renamed when whole."""
    if output is None:
        yield lambda data: typer.echo(data.decode("utf-8"), nl=False)
        return
    from classifier.output import atomic_stream

    with atomic_stream(output) as stream:
        yield stream.write


@app.command()
@handles_errors
def serve(
    model: ModelOption = None,
    taxonomy: TaxonomyOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; off loopback a token is required.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    db: Annotated[
        Path,
        typer.Option("--db", help="Decisions file, shared with review, calibrate and train."),
    ] = Path("feedtag.decisions.sqlite"),
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes; each loads the model.")
    ] = 1,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer token clients must send (else $FEEDTAG_TOKEN).",
            show_default=False,
        ),
    ] = None,
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, help="Messages one request may carry.")
    ] = 1000,
    max_body: Annotated[
        int, typer.Option("--max-body", min=1024, help="Bytes one request body may have.")
    ] = 2 * 1024 * 1024,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request on stderr.")
    ] = False,
) -> None:
    """Serve suggestions, decisions and audits over HTTP for help-desk integrations.

    POST /v1/suggest, /v1/decisions, /v1/audit; GET /v1/taxonomy, /v1/model, /healthz,
    /metrics (Prometheus) and /openapi.json. Binds to 127.0.0.1; any other --host needs a
    bearer token (--token-file or FEEDTAG_TOKEN). SIGTERM finishes requests in flight first.

    Example: feedtag serve --port 8000 --db decisions.sqlite
    """
    from classifier.model.store import default_model_path
    from classifier.serve import ServeConfig, run

    config = ServeConfig(
        model=model or default_model_path(),
        taxonomy=taxonomy,
        db=db,
        host=host,
        port=port,
        workers=workers,
        token_file=token_file,
        max_batch=max_batch,
        max_body=max_body,
        access_log=access_log,
    )
    run(config)


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


class IssuesFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    gh = "gh"


LinkColumn = Annotated[
    str | None,
    typer.Option(
        "--link-column", help="Column with issue links (default: issue, issues, links, ...)."
    ),
]


@app.command()
@handles_errors
def issues(
    corpus: CorpusArgument,
    link_column: LinkColumn = None,
    format: Annotated[IssuesFormat, typer.Option("--format", "-f")] = IssuesFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    labels_out: Annotated[
        Path | None,
        typer.Option("--labels-out", help="Write the label changes per issue as JSON Lines."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Count frequency back from this date (default: newest message)."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only messages created on or after this date.")
    ] = None,
    daily_days: Annotated[
        int, typer.Option("--daily-days", help="N: daily when reported on N of the last 7 days.")
    ] = 4,
    weekly_weeks: Annotated[
        int, typer.Option("--weekly-weeks", help="M: weekly when reported in each of M weeks.")
    ] = 4,
    similarity: Annotated[
        float,
        typer.Option("--similarity", help="TF-IDF cosine at which unlinked reports group."),
    ] = 0.4,
    bug_topic: Annotated[
        str, typer.Option("--bug-topic", help="Topic id of bug reports.")
    ] = "bug-report",
    feature_topic: Annotated[
        str, typer.Option("--feature-topic", help="Topic id of feature requests.")
    ] = "feature-request",
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Issues and groups shown in table/markdown.")
    ] = 20,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """Bug reports per tracker issue: team and frequency labels, findings, unlinked reports.

    Links (GitHub, GitLab or Jira URLs, owner/repo#N, Jira keys; several per cell) become one
    key per issue; other cells are reported by row. A report is one conversation linked to an
    issue. Team: the majority of its reports (a tie or a disagreement is a finding). Frequency,
    in UTC days counted back from --as-of (default: the newest message): daily when reported
    on at least N (--daily-days, default 4) distinct days of the last 7; otherwise weekly when
    reported in each of the last M (--weekly-weeks, default 4) weeks; otherwise none. Unlinked
    bug reports are grouped by team and near-duplicates. --format gh prints gh issue/pr edit
    commands for GitHub issues (GitLab and Jira ones are counted in a comment); --labels-out
    writes every tracker's changes as JSON Lines. feedtag makes no network call.

    Example: feedtag issues examples/helpdesk-links.csv --link-column issue --format gh
    """
    from classifier.export.labels import gh_commands, label_changes, labels_jsonl
    from classifier.export.tracker import build_issues, issue_settings
    from classifier.output import write_atomic
    from classifier.taxonomy import load_taxonomy

    if output is not None and format is IssuesFormat.table:
        raise _usage("--output needs --format json, csv, markdown or gh")
    loaded = load_taxonomy(taxonomy)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, _with_links(columns, link_column), require_tags=True)
    settings = issue_settings(
        data,
        daily_days=daily_days,
        weekly_weeks=weekly_weeks,
        as_of=as_of,
        since=since,
        bug_topic=bug_topic,
        feature_topic=feature_topic,
        similarity=similarity,
    )
    with err.status("linking reports to issues", spinner="dots"):
        report = build_issues(data, settings)
    if format is IssuesFormat.json:
        _emit(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", output)
    elif format is IssuesFormat.csv:
        from classifier.output import csv_text

        _emit(csv_text(report.issues.drop(columns="ref")), output)
    elif format is IssuesFormat.markdown:
        from classifier.export.tracker_markdown import issues_markdown

        _emit(issues_markdown(report, limit), output)
    elif format is IssuesFormat.gh:
        _emit(gh_commands(label_changes(report)), output)
    else:
        _print_issues(report, limit)
    if labels_out is not None:
        write_atomic(labels_out, labels_jsonl(label_changes(report)))
        err.print(f"wrote {labels_out}", highlight=False, markup=False)
    _issues_summary(report)


def _usage(message: str):
    from classifier.errors import UsageError

    return UsageError(message)


def _with_links(columns, link_column):
    from dataclasses import replace

    return replace(columns, links=link_column)


def _issues_summary(report) -> None:
    unreadable = report.unreadable
    err.print(
        f"{_count(len(report.issues), 'issue')} from {_count(report.reports, 'report')}, "
        f"{_count(len(report.findings), 'finding')}, "
        f"{_count(len(report.unlinked), 'unlinked bug report')} in "
        f"{_count(report.unlinked['group'].nunique(), 'group')}",
        highlight=False,
        markup=False,
    )
    if len(unreadable):
        rows = ", ".join(str(row) for row in unreadable["row"].head(10))
        more = "" if len(unreadable) <= 10 else f" and {len(unreadable) - 10} more"
        err.print(
            f"warning: {_count(len(unreadable), 'row')} with a link that is not an issue "
            f"reference: row {rows}{more}",
            highlight=False,
            markup=False,
        )


def _print_issues(report, limit: int) -> None:
    settings = report.settings
    as_of = "-" if report.as_of is None else report.as_of.strftime("%Y-%m-%d %H:%M UTC")
    table = Table(
        title=f"issues as of {as_of}\n(daily: {settings.daily_days} of the last 7 days; "
        f"weekly: each of the last {settings.weekly_weeks} weeks)"
    )
    table.add_column("issue", no_wrap=True)
    for column in ("reports", "users"):
        table.add_column(column, justify="right")
    for column in ("last", "team", "freq.", "findings"):
        table.add_column(column)
    for row in report.issues.head(limit).itertuples():
        share = "" if row.team_share != row.team_share else f" {row.team_share:.0%}"
        table.add_row(
            row.issue,
            str(row.conversations),
            str(row.users),
            (row.last_report or "")[:10],
            (row.team + share) if row.team else "",
            row.frequency,
            row.findings,
        )
    out.print(table, markup=False)
    if len(report.issues) > limit:
        out.print(f"... and {len(report.issues) - limit} more issues (--limit)", markup=False)
    if len(report.findings):
        findings = Table(title="findings")
        for column in ("issue", "check", "message"):
            findings.add_column(column)
        for row in report.findings.itertuples():
            findings.add_row(row.issue, row.check, row.message)
        out.print(findings, markup=False)
    if len(report.unreadable):
        unreadable = Table(title="links that are not issue references")
        for column in ("row", "id", "value"):
            unreadable.add_column(column)
        for row in report.unreadable.itertuples():
            unreadable.add_row(str(row.row), row.id, row.value)
        out.print(unreadable, markup=False)
    _print_unlinked(report.unlinked, limit)


def _print_unlinked(unlinked, limit: int) -> None:
    """Groups largest first (the ones worth one issue each), then the rest up to ``limit``."""
    groups = unlinked.drop_duplicates("group")
    table = Table(title=f"unlinked bug reports: {len(unlinked)} in {len(groups)} groups")
    for column in ("team", "group", "reports", "rows", "text of the first"):
        table.add_column(column, justify="right" if column in ("group", "reports") else "left")
    rows = unlinked.groupby("group", sort=False)["row"].agg(list)
    shown = groups.sort_values(["group_size", "group"], ascending=[False, True]).head(limit)
    for row in shown.itertuples():
        text = row.text if len(row.text) <= 50 else row.text[:47] + "..."
        members = rows[row.group]
        listed = ", ".join(map(str, members[:4])) + (", ..." if len(members) > 4 else "")
        table.add_row(row.team or "(no team)", str(row.group), str(row.group_size), listed, text)
    out.print(table, markup=False)
    if len(groups) > limit:
        out.print(f"... and {len(groups) - limit} more groups (--limit)", markup=False)


class FollowupsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


@app.command()
@handles_errors
def followups(
    corpus: CorpusArgument,
    closed: Annotated[
        Path,
        typer.Option(
            "--closed",
            help="Closed issues: CSV/JSON/... with an issue reference and a close time "
            "(e.g. gh issue list --state closed --json url,closedAt).",
        ),
    ],
    link_column: LinkColumn = None,
    issue_column: Annotated[
        str | None, typer.Option("--issue-column", help="Issue column of --closed.")
    ] = None,
    closed_column: Annotated[
        str | None, typer.Option("--closed-column", help="Close-time column of --closed.")
    ] = None,
    format: Annotated[FollowupsFormat, typer.Option("--format", "-f")] = FollowupsFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the list here instead of stdout.")
    ] = None,
    taxonomy: TaxonomyOption = None,
    id_column: IdColumn = None,
    text_column: TextColumn = None,
    tags_column: TagsColumn = None,
    axis_column: AxisColumn = None,
) -> None:
    """The customers to get back to: conversations linked to issues closed since their last
    message, with user, team and issue, oldest first.

    Example: feedtag followups examples/helpdesk-links.csv --closed examples/closed-issues.csv
    """
    from classifier.export.followups import build_followups, read_closed
    from classifier.taxonomy import load_taxonomy

    if output is not None and format is FollowupsFormat.table:
        raise _usage("--output needs --format json, csv or markdown")
    loaded = load_taxonomy(taxonomy)
    shut = read_closed(str(closed), issue_column, closed_column)
    columns = _columns(id_column, text_column, tags_column, axis_column)
    data = _load(corpus, loaded, _with_links(columns, link_column))
    found = build_followups(data, shut)
    if format is FollowupsFormat.json:
        _emit(json.dumps(found.to_dict(), indent=2, ensure_ascii=False) + "\n", output)
    elif format is FollowupsFormat.csv:
        from classifier.output import csv_text

        _emit(csv_text(found.rows), output)
    elif format is FollowupsFormat.markdown:
        from classifier.export.tracker_markdown import followups_markdown

        _emit(followups_markdown(found), output)
    else:
        table = Table(title=f"customers to get back to: {len(found.rows)}")
        table.add_column("conversation", no_wrap=True)
        for column in ("user", "team", "issue", "closed", "last message"):
            table.add_column(column)
        for row in found.rows.itertuples():
            table.add_row(
                row.conversation_id,
                row.user_id,
                row.team,
                row.issue,
                row.closed_at[:10],
                row.last_message[:10],
            )
        out.print(table, markup=False)
    err.print(
        f"{_count(len(found.rows), 'conversation')} to get back to, of "
        f"{found.linked_conversations} linked to {_count(len(shut.closed), 'closed issue')}",
        highlight=False,
        markup=False,
    )
    if found.undated:
        err.print(f"note: {found.undated} without a dated message not judged", highlight=False)
    for bad in shut.unreadable.itertuples():
        err.print(
            f"warning: {closed}: row {bad.row}: {bad.reason}: {bad.value}",
            highlight=False,
            markup=False,
        )


# The Dask engine (issue 17): ``--engine dask [--scheduler ADDRESS]`` on audit, suggest, export.
# The library does the work (classifier.engine); these check options and render the results.


def _engine(engine: Engine, scheduler: str | None) -> bool:
    """Whether the command runs on Dask; a usage error for --scheduler alone or a missing extra."""
    from classifier.errors import UsageError

    if engine is not Engine.dask:
        if scheduler is not None:
            raise UsageError("--scheduler needs --engine dask")
        return False
    from classifier.engine import require_dask

    require_dask()
    return True


@contextlib.contextmanager
def _cluster(scheduler: str | None):
    """The Dask client, with one line on stderr saying which cluster runs the work."""
    from classifier.engine import engine_client

    where = f"connecting to {scheduler}" if scheduler else "starting a local Dask cluster"
    with contextlib.ExitStack() as stack:
        with _spinner(where):
            client = stack.enter_context(engine_client(scheduler))
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        place = scheduler or f"a local cluster at {client.scheduler.address}"
        say(err, ("dask:", "dim"), f" {_count(workers, 'worker')} on {place}")
        yield client


def _suggest_on_dask(scheduler, text, input, output, model, taxonomy, top, format, columns):
    from classifier.engine import distributed_suggest
    from classifier.engine.partitions import check_target
    from classifier.errors import UsageError
    from classifier.taxonomy import load_taxonomy

    if text is not None or input is None or output is None:
        raise UsageError("--engine dask suggests for a dataset: give --input DATASET --output DIR")
    if format is not None:
        raise UsageError("--engine dask writes a directory of Parquet parts: leave out --format")
    check_target(output)  # before the model loads and the cluster starts
    loaded = load_taxonomy(taxonomy)
    fitted = _load_model(model, loaded)
    with _cluster(scheduler) as client:
        bar, tick = _progress(f"suggesting for {input} (files done)")
        with bar:
            done = distributed_suggest(
                client, str(input), fitted, loaded, columns, output, top=top, progress=tick
            )
    err.print(
        f"wrote {output}: {_count(done.messages, 'message')} in "
        f"{_count(done.parts, 'Parquet part')}",
        highlight=False,
    )
    say(err, (f"calibration: {_calibration(model)}", "dim"))


def _export_on_dask(scheduler, corpus, taxonomy, columns, chosen, out, format, force, model):
    from classifier.engine import distributed_export

    with _cluster(scheduler) as client:
        bar, tick = _progress(f"exporting {corpus} to {out} (files done)")
        with bar:
            done = distributed_export(
                client, str(corpus), taxonomy, columns, chosen, out,
                format=format.value, force=force, model=model, progress=tick,
            )  # fmt: skip
    _print_export(done, out)


def _audit_on_dask(
    scheduler, corpus, taxonomy, format, output, fail_on, fix, checks, limit, cross_validate,
    folds, model, rare_below, columns,
):  # fmt: skip
    from classifier.audit.health import HealthSettings
    from classifier.engine.partitions import check_target
    from classifier.errors import UsageError
    from classifier.taxonomy import load_taxonomy

    if fix is not None:
        raise UsageError("--fix runs with --engine local (it copies the corpus in row order)")
    if model is not None:
        raise UsageError("--model runs with --engine local; --cross-validate runs on the cluster")
    if output is not None and (cross_validate or format is not DataFormat.table):
        raise UsageError(
            "with --engine dask, --output is a directory of Parquet parts of the findings "
            "(no --format, no --cross-validate)"
        )
    if output is not None:
        check_target(output)
    loaded = load_taxonomy(taxonomy)
    settings = HealthSettings(rare_below=rare_below)
    chosen = checks.split(",") if checks else None
    with _cluster(scheduler) as client:
        if cross_validate:  # the rule checks stream here; the folds are fitted there
            from classifier.audit.stream import audit_dataset
            from classifier.engine import cross_validate_on

            fit = functools.partial(cross_validate_on, client)
            judge = _audit_judge(loaded, True, folds, None, fit=fit)
            with _judging(corpus, judge, folds):
                report = audit_dataset(
                    str(corpus), loaded, columns, chosen, settings=settings, judge=judge
                )
            _judge_notes(judge, None)
        else:
            from classifier.engine import distributed_audit

            bar, tick = _progress(f"auditing {corpus} (files done)")
            with bar:
                done = distributed_audit(
                    client, str(corpus), loaded, columns, output, checks=chosen,
                    settings=settings, progress=tick,
                )  # fmt: skip
            report = done.report
    if output is not None:
        err.print(
            f"wrote {output}: {_count(len(report.findings), 'finding')} in "
            f"{_count(done.parts, 'Parquet part')}",
            highlight=False,
        )
    else:
        _audit_outputs(report, format, None, limit)
    if report.fails(fail_on.value):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
