"""The ``feedtag`` console script: the Typer app of ``cli.py``, wherever it was installed.

The source tree keeps ``cli.py`` at the top (``import cli`` in tests, ``python cli.py``); the
wheel ships the same file inside the package as ``classifier/_cli.py``, so installing feedtag
adds no top-level ``cli`` module to site-packages. An editable install has no
``classifier/_cli.py`` and finds ``cli.py`` on its path instead.
"""

from __future__ import annotations


def main() -> None:
    """Run the command line."""
    try:
        from classifier._cli import app
    except ModuleNotFoundError as error:
        if error.name != "classifier._cli":
            raise
        from cli import app
    app()
