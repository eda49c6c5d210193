"""The `nurture` command. A user's mistake exits 1 with one line, never a traceback."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from nurture.cli.tables import shown
from nurture.config import get_settings, refuse_known_secrets
from nurture.db import get_engine
from nurture.db.migrate import missing_migrations
from nurture.errors import NurtureError

app = typer.Typer(
    help="nurture: consultation requests in, follow-up email and SMS out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

#: Piped or captured output is this wide: no table cell is ever cut or folded there.
PIPED_WIDTH = 10_000


def _console(*, stderr: bool = False) -> Console:
    on_terminal = Console(stderr=stderr).is_terminal
    return Console(stderr=stderr, width=None if on_terminal else PIPED_WIDTH)


console = _console()
err_console = _console(stderr=True)

#: The commands that start a long-running process: each refuses secrets anyone knows while
#: nurture is reachable from elsewhere (the processes check again themselves).
SERVICES = frozenset({"run", "api", "worker", "scheduler"})


@app.callback()
def _before(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand in SERVICES:
        refuse_known_secrets(get_settings())


def fail(message: str) -> typer.Exit:
    """Print one line to stderr and return the Exit(1) to raise."""
    # What the message quotes may be anyone's text: shown as it is, never as markup.
    err_console.print("[red]error:[/red]", shown(message), highlight=False, soft_wrap=True)
    return typer.Exit(1)


def main() -> None:
    from nurture.cli import (  # noqa: F401 - register commands
        admin,
        audit,
        content,
        erase,
        forms,
        history,
        ops,
        people,
        reconcile,
        replies,
        report,
        services,
        studio,
    )

    try:
        app()
    except NurtureError as exc:
        err_console.print("[red]error:[/red]", shown(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(1)
    except DBAPIError as exc:
        # Most often a database nobody migrated yet: say what to run, not a traceback.
        try:
            missing = missing_migrations(get_engine())
        except Exception:
            missing = None
        reason = missing or f"the database refused the command ({type(exc.orig).__name__})"
        err_console.print(f"[red]error:[/red] {reason}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
