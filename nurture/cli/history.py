"""For the clinic's studio: `nurture history [--json]`, `nurture rollback VERSION [--note]`
and `nurture publish [--note]` (the drafts saved in the browser), as on /studio/history."""

from __future__ import annotations

import json

import typer

from nurture.cli import app, console, fail
from nurture.config import get_settings
from nurture.edit.drafts import Drafts
from nurture.edit.files import CatalogFiles
from nurture.edit.history import rollback, versions
from nurture.edit.publish import Published, Refused, publish_drafts
from nurture.people.actor import Actor


@app.command("history")
def history_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON, newest first."),
) -> None:
    """Every version published from the studio, newest first, with the files it changed."""
    shown = versions()
    if as_json:
        console.print_json(json.dumps([v.to_json() for v in shown]))
        return
    if not shown:
        console.print("nothing was published from the studio yet", highlight=False)
        return
    for v in shown:
        extra = f" (rollback to {v.rollback_of})" if v.rollback_of else ""
        files = ", ".join(v.files) or "the files as found"
        note = f": {v.note}" if v.note else ""
        console.print(
            f"{v.version}  {v.at:%Y-%m-%d %H:%M} UTC  {v.by}{extra}{note}  [{files}]",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _said(done: Published, what: str) -> None:
    console.print(f"{what}: version {done.version} ({', '.join(done.changed)})", highlight=False)
    for problem in done.git_problems:
        console.print(f"warning: {problem}", highlight=False, markup=False)


@app.command("rollback")
def rollback_command(
    version: int = typer.Argument(..., help="The version to go back to (nurture history)."),
    note: str = typer.Option("", "--note", help="Why, kept in the history."),
) -> None:
    """Make a new version whose files equal VERSION's (validated and audited like a publish)."""
    try:
        done = rollback(version, Actor.cli(), note=note or None)
    except Refused as exc:
        raise fail(_every(exc)) from None
    _said(done, f"rolled back to version {version}")


@app.command("publish")
def publish_command(
    note: str = typer.Option("", "--note", help="What changed and why, kept in the history."),
) -> None:
    """Publish every draft saved in the studio (validated as `nurture validate` does)."""
    settings = get_settings()
    files = CatalogFiles.of(settings)
    try:
        done = publish_drafts(
            files, Drafts(files), actor=Actor.cli(), note=note or None, settings=settings
        )
    except Refused as exc:
        raise fail(_every(exc)) from None
    _said(done, "published")


def _every(exc: Refused) -> str:
    """The refusal and every error, one per line (the reason first, as every error's)."""
    return "\n".join([str(exc), *(f"  {f.line_text()}" for f in exc.errors)])
