"""The HTTP client under Twilio's SDK: its requests over a urllib3 pool of kept-alive
connections, to `NURTURE_TWILIO_API_BASE` when set.

The SDK takes any `twilio.http.HttpClient` (`Client(..., http_client=...)`). Its own
(`TwilioHttpClient`) sends each request through a `requests` session, which prepares,
merges settings and wraps every request and answer again: about a third of an SMS's CPU
in the worker. This one sends what the SDK asks for as `TwilioHttpClient` would (basic
auth, the form-encoded or JSON body, the query), with the proxy and CA settings `requests`
reads from the environment, read once (`pool.py`).

It turns each transport failure into a typed SendError, and 429 or 5xx answers too (the
SDK's exception would drop their Retry-After): a connection never made is `not_sent`, a
request written and not answered in full `maybe_sent`. No retries: a retried POST could
send a message twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import certifi
import urllib3
from twilio.http import HttpClient
from twilio.http.response import Response

from nurture.channels.errors import error_for_status, maybe_sent, not_sent
from nurture.channels.pool import provider_pool, send_once
from nurture.core.clock import utcnow

TWILIO_API = "https://api.twilio.com"
_JSON_TYPES = ("application/json", "application/scim+json")

# The SDK would log every request's URL and headers at INFO; nurture logs its own summary.
_http_log = logging.getLogger("nurture.channels.twilio.http")
_http_log.setLevel(logging.WARNING)


class PooledTwilioHttpClient(HttpClient):  # type: ignore[misc]  # untyped SDK
    """The SDK's requests, sent to `api_base` over kept-alive connections (thread-safe)."""

    def __init__(self, api_base: str, *, timeout_s: float, pool_size: int = 64) -> None:
        super().__init__(logger=_http_log, is_async=False, timeout=timeout_s)
        self.api_base = api_base.rstrip("/")
        # requests' CAs unless the environment names others: certifi's.
        self.pool = provider_pool(self.api_base, pool_size, default_ca=certifi.where())

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url.startswith(TWILIO_API):
            url = self.api_base + url[len(TWILIO_API) :]
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{_encoded(params)}"
        sent = dict(headers or {})
        if auth is not None:
            sent.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        body = None
        if data:
            if sent.get("Content-Type") in _JSON_TYPES:
                body = json.dumps(data).encode()
            else:
                body = _encoded(data).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            answer = send_once(
                self.pool,
                method.upper(),
                url,
                body=body,
                headers=sent,
                timeout=timeout or self.timeout,
                redirect=allow_redirects,
            )
        except urllib3.exceptions.NewConnectionError:
            raise not_sent("twilio", "connection refused") from None
        except urllib3.exceptions.ConnectTimeoutError:
            raise not_sent("twilio", "connect timeout") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise maybe_sent("twilio", "read timeout") from None
        except urllib3.exceptions.HTTPError:  # dropped mid-request, a broken answer
            raise maybe_sent("twilio", "connection dropped") from None
        text = answer.data.decode("utf-8", "replace")
        if answer.status == 429 or answer.status >= 500:
            raise error_for_status(
                "twilio",
                answer.status,
                message=twilio_message(text),
                code=twilio_code(text),
                headers=dict(answer.headers),
                now=utcnow(),
            )
        return Response(answer.status, text, answer.headers)

    def close(self) -> None:
        self.pool.clear()


def _encoded(values: dict[str, object]) -> str:
    """Form or query encoding as `requests` makes it: a list repeats its key, None is left out."""
    pairs: list[tuple[str, object]] = []
    for key, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, item) for item in items if item is not None)
    return urlencode(pairs)


def _twilio_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def twilio_message(text: str) -> str:
    """The `message` of a Twilio error answer; its start when it is not JSON."""
    return str(_twilio_json(text).get("message") or text[:200] or "no details")


def twilio_code(text: str) -> str | None:
    """The `code` of a Twilio error answer, if it has one."""
    code = _twilio_json(text).get("code")
    return str(code) if code is not None else None
