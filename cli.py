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
taxonomy_app = typer.Typer(help="Validate and show the taxonomy.", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")

out = Console(soft_wrap=False)
err = Console(stderr=True, soft_wrap=True)
state = {"debug": False}

TaxonomyOption = Annotated[
    Path | None,
    typer.Option(
        "--taxonomy",
        envvar="FEEDTAG_TAXONOMY",
        help="Taxonomy YAML file [default: the shipped taxonomy].",
        show_default=False,
    ),
]


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
        Path | None, typer.Argument(help="Taxonomy file [default: --taxonomy, or shipped].")
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
        Path | None, typer.Argument(help="Taxonomy file [default: --taxonomy, or shipped].")
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
