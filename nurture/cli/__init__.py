"""The `nurture` command. A user's mistake exits 1 with one line, never a traceback."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from nurture.errors import NurtureError

app = typer.Typer(
    help="nurture: consultation requests in, follow-up email and SMS out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print one line to stderr and return the Exit(1) to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def main() -> None:
    from nurture.cli import admin, content, ops, replies, services  # noqa: F401 - register commands

    try:
        app()
    except NurtureError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
