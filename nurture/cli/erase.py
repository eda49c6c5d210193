"""`nurture erase --email|--phone`: a prospect's personal data erased, never contacted again."""

from __future__ import annotations

import typer

from nurture.cli import app, console, fail
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.steering.contacts import find_contact
from nurture.steering.erase import erase_contact


@app.command()
def erase(
    email: str | None = typer.Option(None, "--email"),
    phone: str | None = typer.Option(None, "--phone"),
) -> None:
    """Erase a prospect: their data leaves every table and the outbox; each address is kept
    only as a keyed hash, so a new request from it is accepted but never contacted."""
    if not email and not phone:
        raise fail("give --email or --phone")
    settings = get_settings()
    with session_scope() as session:
        contact = find_contact(session, email=email, phone=phone)
        erased = erase_contact(session, contact, secret_key=settings.secret_key, now=utcnow())
    files = erased.remove_files(settings.outbox_dir)
    console.print(
        f"contact {erased.contact_id} erased: {len(erased.deliveries)} message record(s) and "
        f"{files} outbox file(s) removed; the consent ledger keeps only dates"
    )
