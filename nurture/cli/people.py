"""`nurture users …` and `nurture tokens …`: people's accounts and machine tokens. What a
command changes is written to the audit trail as done by the CLI's operating-system user."""

from __future__ import annotations

import json

import typer

from nurture.cli import app, console
from nurture.cli.tables import Table
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.people.accounts import (
    Invited,
    add_user,
    disable_user,
    has_users,
    list_users,
    reset_user,
    set_role,
)
from nurture.people.actor import Actor
from nurture.people.roles import parse_role, parse_scope
from nurture.people.tokens import create_token, list_tokens, revoke_token

users_app = typer.Typer(help="People's accounts: invite, list, change role, disable, reset.")
tokens_app = typer.Typer(help="Machine tokens for scripts: create, list, revoke.")
app.add_typer(users_app, name="users", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens", no_args_is_help=True)

#: What `nurture run` says while nobody has an account.
FIRST_OWNER = (
    "nobody has an account yet: create the clinic owner's with\n"
    "  nurture users add you@clinic.example --role owner\n"
    "and open the link it prints to set a password."
)


def no_users_yet() -> bool:
    with session_scope() as db:
        return not has_users(db)


def _print_invitation(invited: Invited) -> None:
    url = f"{get_settings().public_url.rstrip('/')}/invite/{invited.token}"
    console.print(f"invitation for {invited.email} (valid 72 hours, works once):")
    console.print(url, soft_wrap=True, highlight=False)


@users_app.command("add")
def users_add(
    email: str,
    role: str = typer.Option(..., "--role", help="owner, manager, front-desk or viewer."),
    name: str = typer.Option("", "--name", help="How pages show the person."),
) -> None:
    """Create an account and print its invitation link."""
    with session_scope() as db:
        invited = add_user(db, email, parse_role(role), name=name, by=Actor.cli(), now=utcnow())
    _print_invitation(invited)


@users_app.command("list")
def users_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Everyone with an account: email, name, role, state, two-step sign-in."""
    with session_scope() as db:
        rows = [
            {
                "email": u.email,
                "name": u.name,
                "role": u.role,
                "state": "disabled"
                if u.disabled_at
                else ("invited" if u.password_hash is None else "active"),
                "totp": u.totp_secret is not None,
            }
            for u in list_users(db)
        ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("email", "name", "role", "state", "totp")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("email", "name", "role", "state", "totp")))
    console.print(table)


@users_app.command("role")
def users_role(email: str, role: str) -> None:
    """Change a person's role (it applies from their next request)."""
    with session_scope() as db:
        user = set_role(db, email, parse_role(role), by=Actor.cli(), now=utcnow())
        console.print(f"{user.email} is now {user.role}")


@users_app.command("disable")
def users_disable(email: str) -> None:
    """Stop a person signing in; their open sessions end at once."""
    with session_scope() as db:
        user = disable_user(db, email, by=Actor.cli(), now=utcnow())
        console.print(f"{user.email} is disabled")


@users_app.command("reset")
def users_reset(email: str) -> None:
    """Remove a person's password and two-step sign-in; print a new invitation link."""
    with session_scope() as db:
        invited = reset_user(db, email, by=Actor.cli(), now=utcnow())
    _print_invitation(invited)


@tokens_app.command("create")
def tokens_create(
    name: str,
    scope: str = typer.Option(..., "--scope", help="intake, bookings, read or admin."),
) -> None:
    """Create a token and print it, once (only its digest is kept)."""
    with session_scope() as db:
        token = create_token(db, name, parse_scope(scope), by=Actor.cli(), now=utcnow())
    console.print(token, soft_wrap=True, highlight=False)


@tokens_app.command("list")
def tokens_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every token: name, scope, created, last used, revoked."""
    with session_scope() as db:
        rows = [
            {
                "name": t.name,
                "scope": t.scope,
                "created": t.created_at.isoformat(),
                "last_used": t.last_used_at.isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in list_tokens(db)
        ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("name", "scope", "created", "last used", "revoked")
    # "last used" is noted at most once a minute per token.
    for row in rows:
        table.add_row(
            *(str(row[k] or "") for k in ("name", "scope", "created", "last_used", "revoked"))
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(name: str) -> None:
    """Revoke a token: it is refused from the next request."""
    with session_scope() as db:
        revoke_token(db, name, by=Actor.cli(), now=utcnow())
    console.print(f"token {name} is revoked")
