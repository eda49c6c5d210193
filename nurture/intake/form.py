"""A post of the hosted form, from its fields to an enrollment or a refusal.

The checks run cheapest and most telling first: where the post comes from, the client's
rate, the honeypot, the fields (a person's mistake comes back to them, stored nowhere), the
token (a bot is answered as if it had succeeded and nothing is stored), the address's rate
(one mailbox however it is spelled: `core/addressing.py: email_identity`), the token's
single use, and then the same `submit()` as the API. Nothing here knows HTTP: `api/forms/`
translates.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import structlog
from pydantic import ValidationError

from nurture.config import Settings, parse_limit
from nurture.core.addressing import email_identity
from nurture.core.keys import form_hits_key
from nurture.core.states import Channel
from nurture.core.zones import check_zone
from nurture.db.hits import count_hit, forget_use, use_once
from nurture.errors import InvalidValueError
from nurture.intake.formguard import (
    HONEYPOT,
    MAX_AGE_S,
    TOKEN_FIELD,
    is_confirmation,
    origin_allowed,
    token_id,
    token_problem,
)
from nurture.intake.origins import allowed_origins
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.service import EnrollOutcome, submit
from nurture.schedule import Catalog
from nurture.schedule.form import concern_of
from nurture.schedule.wording import ShownWording

log = structlog.get_logger(__name__)

#: The fields a person fills, kept and shown again when something needs fixing.
FIELDS = ("first_name", "last_name", "email", "phone", "concern", "message")
CONSENTS = ("consent_email", "consent_sms")

#: What each field needs, said to the person who filled it.
_FIELD_HELP = {
    "first_name": "Enter your first name.",
    "last_name": "Enter your last name in at most 100 characters.",
    "email": "Enter an email address like name@example.com.",
    "phone": "Enter a phone number with its area code, like (617) 555-0134.",
    "concern": "Choose what you would like help with.",
    "message": "Keep your message under 5,000 characters.",
}
_NAMES = {"first_name": "first name", "last_name": "last name"}
_REACHABLE = "Give an email address or a phone number, so we can answer you."

Outcome = Literal["enrolled", "bot", "refused", "limited", "confirm", "invalid", "used"]


@dataclass(frozen=True)
class FormPost:
    """A form post as it arrived: its fields and what the request said about itself."""

    fields: Mapping[str, str]
    ip: str | None
    user_agent: str | None
    origin: str | None
    referer: str | None
    #: Our own origins (the public URL's and the request's), always allowed to post.
    own_origins: tuple[str, ...]
    #: The form's own address, the page URL of consent when no Referer says another.
    form_url: str


@dataclass(frozen=True)
class FormResult:
    """What became of a post; `errors` (field -> message) and `values` for the form again."""

    outcome: Outcome
    reason: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    enrollment: EnrollOutcome | None = None


def version_field(channel: Channel) -> str:
    """The hidden field carrying the version of the consent wording a page showed."""
    return f"consent_version_{channel.value}"


def _hashed(settings: Settings, value: str) -> str:
    # Counter keys are stored: an IP or an address goes in as a keyed hash, never as itself.
    digest = hmac.new(settings.secret_key.encode(), value.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _over(settings: Settings, kind: str, value: str, limit: str, now: datetime) -> bool:
    count, window_s = parse_limit(limit)
    key = form_hits_key(kind, _hashed(settings, value))
    return count_hit(settings, key, window_s=window_s, now=now) > count


def kept_values(fields: Mapping[str, str]) -> dict[str, str]:
    """The person's own input, to fill the form again (never the honeypot or the token)."""
    values = {name: str(fields.get(name, ""))[:5000] for name in FIELDS}
    for name in CONSENTS:
        values[name] = "yes" if fields.get(name) else ""
    return values


def _request_of(fields: Mapping[str, str]) -> ConsultationRequestIn | dict[str, str]:
    """The fields as a request, or what to fix (field -> message)."""
    data: dict[str, object] = {name: fields.get(name) for name in FIELDS}
    data["concern"] = concern_of(fields.get("concern"))
    # An unticked box is not sent at all: here it is an explicit no.
    for name in CONSENTS:
        data[name] = bool(fields.get(name))
    zone = (fields.get("timezone") or "").strip()
    try:
        data["timezone"] = check_zone(zone) if zone else None
    except InvalidValueError:
        data["timezone"] = None  # the browser's guess is a convenience, never an error
    try:
        return ConsultationRequestIn.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors(include_url=False, include_input=False):
            name = str(err["loc"][0]) if err["loc"] else "email"
            message = _FIELD_HELP.get(name, err["msg"]) if err["loc"] else _REACHABLE
            if name in _NAMES and err["type"] == "value_error":
                # What is wrong with a name (a link, a number) is said as it is.
                problem = str(err["msg"]).removeprefix("Value error, ").removeprefix(name)
                message = f"Enter only your {_NAMES[name]}: it{problem}."
            errors.setdefault(name, message)
        return errors


def receive_form(
    post: FormPost,
    *,
    settings: Settings,
    catalog: Catalog,
    wording: Mapping[Channel, ShownWording],
    now: datetime,
) -> FormResult:
    """Decide what a form post becomes, and enroll the prospect when it is a person's."""
    fields = post.fields
    values = kept_values(fields)
    allowed = allowed_origins(settings)
    if not origin_allowed(post.origin, post.referer, own=post.own_origins, allowed=allowed):
        return _rejected("refused", "origin")
    if post.ip and _over(settings, "ip", post.ip, settings.form_rate, now):
        return _rejected("limited", "ip_rate", values=values)
    if fields.get(HONEYPOT, "").strip():
        return _rejected("bot", "honeypot")
    token = (fields.get(TOKEN_FIELD) or "").strip()
    request = _request_of(fields)
    stale = any(fields.get(version_field(c)) != w.version for c, w in wording.items())
    if not token or stale:
        # A form pasted into the clinic's site carries no token, and a page served before
        # the clinic changed its consent wording shows the old one: show the form back,
        # filled in, with a token and today's wording; store nothing until Send again.
        errors = request if isinstance(request, dict) else {}
        return FormResult(
            outcome="confirm", reason="stale" if token else None, values=values, errors=errors
        )
    secret = settings.secret_key
    problem = token_problem(token, secret=secret, now=now, min_fill_s=settings.form_min_fill_s)
    if isinstance(request, dict):
        # Mistakes go back to whoever made them, whatever the token: nothing is stored.
        # `reason` says whether the token may be kept (None, too_fresh) or a new one is due.
        return FormResult(outcome="invalid", reason=problem, values=values, errors=request)
    if problem == "too_fresh" and is_confirmation(token, secret=secret):
        # A confirmation page waits as long as the form: shown again, its token kept.
        return FormResult(outcome="confirm", reason="too_fresh", values=values)
    if problem is not None:
        return _rejected("bot", problem)
    for address in (request.email and email_identity(request.email), request.phone):
        if address and _over(settings, "address", address, settings.form_address_rate, now):
            return _rejected("limited", "address_rate", values=values)
    # Each token enrolls once: recorded before the enrollment, forgotten if it fails.
    used = form_hits_key("token", token_id(token, secret=secret))
    if not use_once(used, until=now + timedelta(seconds=MAX_AGE_S), now=now):
        return _rejected("used", "token_used")
    meta = RequestMeta(
        source="form",
        ip=post.ip,
        user_agent=(post.user_agent or "")[:400] or None,
        page_url=(post.referer or post.form_url)[:500],
        wording_versions=tuple((c.value, w.version) for c, w in wording.items()),
    )
    try:
        outcome = submit(request, catalog=catalog, now=now, meta=meta)
    except Exception:
        forget_use(used)
        raise
    log.info(
        "form.enrolled",
        request_id=outcome.response.get("request_id"),
        sequence=outcome.response.get("enrollment", {}).get("sequence"),
    )
    return FormResult(outcome="enrolled", enrollment=outcome)


def _rejected(outcome: Outcome, reason: str, values: dict[str, str] | None = None) -> FormResult:
    log.info("form.rejected", reason=reason)  # never a field's value
    return FormResult(outcome=outcome, reason=reason, values=values or {})
