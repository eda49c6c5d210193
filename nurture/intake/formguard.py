"""The hosted form's guards against bots, without a captcha: the signed form token, the
honeypot, and where a post may come from. Pure: the caller passes `now` and the headers.

The token is the time the form was served, signed with NURTURE_SECRET_KEY under its own
salt. A person takes seconds to fill the form; a bot that posts at once, replays a day-old
page or makes up a token is caught here and answered as if it had succeeded. The token of a
confirmation page (a pasted form shown back) must wait as long as the form's: it is no
shortcut. Each token enrolls once (`intake/form.py` records its `token_id` as used).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from secrets import token_hex
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

#: The form field a person never sees or fills; bots fill every field they find.
HONEYPOT = "company_website"
TOKEN_FIELD = "form_token"
#: A form older than this is stale: served a day ago, or a replayed token.
MAX_AGE_S = 86400.0
_SALT = "nurture.form-token"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


def issue_token(secret: str, now: datetime, *, confirm: bool = False) -> str:
    """A token saying the form was served at `now` (`confirm`: as a confirmation page).
    Each is unique (a random `n`), so each can be used once (`token_id`)."""
    payload: dict[str, int | str] = {"t": int(now.timestamp() * 1000), "n": token_hex(8)}
    if confirm:
        payload["c"] = 1
    return str(_serializer(secret).dumps(payload))


def token_id(token: str, *, secret: str) -> str:
    """What records a genuine token as used: a hash of what it signs (when it was served
    and its random `n`), never of its text, which has more than one spelling."""
    payload = _serializer(secret).loads(token)
    signed = f"{payload.get('t')}:{payload.get('n')}:{payload.get('c')}"
    return hashlib.sha256(signed.encode()).hexdigest()[:40]


def is_confirmation(token: str, *, secret: str) -> bool:
    """Whether `token` (a genuine one) was issued with a confirmation page."""
    try:
        return bool(_serializer(secret).loads(token).get("c"))
    except (BadSignature, AttributeError):
        return False


def token_problem(
    token: str, *, secret: str, now: datetime, min_fill_s: float, max_age_s: float = MAX_AGE_S
) -> str | None:
    """Why `token` is not a person's (`forged`, `too_fresh`, `expired`), or None if it is."""
    try:
        payload = _serializer(secret).loads(token)
        served_ms = int(payload["t"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return "forged"
    age_s = now.timestamp() - served_ms / 1000
    if age_s < min_fill_s:
        return "too_fresh"
    if age_s > max_age_s:
        return "expired"
    return None


def origin_of(url: str | None) -> str | None:
    """`scheme://host[:port]` of a URL, lowercased; None for none or the opaque "null"."""
    if not url or url == "null":
        return None
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(
    origin: str | None, referer: str | None, *, own: Sequence[str], allowed: Sequence[str]
) -> bool:
    """Whether a post may come from where its `Origin` (else its `Referer`) says: our own
    site, or one of the clinic's listed sites. A post naming neither is allowed (older
    browsers and privacy tools send none); an opaque `Origin: null` is not."""
    if origin is not None:
        if origin.strip().lower() == "null":
            return False
        source = origin_of(origin)
    else:
        source = origin_of(referer)
        if source is None:
            return True
    return source is not None and (source in own or source in allowed)
