"""Email through SendGrid's official SDK (`SendGridAPIClient`, POST /v3/mail/send).

The message carries the clinic as sender, a text and an HTML part (CSS already inlined by the
renderer), one-click `List-Unsubscribe` headers, and `custom_args` with opaque ids only:
SendGrid keeps custom args for long and shows them to its staff, so no health detail goes
there. The SDK builds the request and reads the answer; `KeptAliveClient` carries it over
kept-alive connections, failing as urllib would, and how each failure maps to a SendError is
below.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import re
import urllib.error
from functools import lru_cache
from typing import Any

import python_http_client
import python_http_client.client
import urllib3
from python_http_client.exceptions import HTTPError, handle_error
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import From, ReplyTo, To

from nurture.channels.base import Answer, BaseChannel, Lookup, LookupQuery, SendResult
from nurture.channels.errors import error_for_status, maybe_sent, not_sent
from nurture.channels.pool import provider_pool, send_once
from nurture.content.message import OutgoingMessage
from nurture.core.clock import utcnow
from nurture.core.states import Channel

# The SDK logs whole payloads at DEBUG: keep bodies and addresses out even when ops debug.
logging.getLogger("python_http_client").setLevel(logging.WARNING)

_JSON = "application/json"
_OPAQUE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def opaque_args(metadata: dict[str, str]) -> dict[str, str]:
    """The `*_id` entries of a message's metadata whose values are bare ids."""
    return {
        key: value
        for key, value in metadata.items()
        if key.endswith("_id") and _OPAQUE.match(key) and _OPAQUE.match(value)
    }


def mail_body(message: OutgoingMessage) -> dict[str, Any]:
    """The SendGrid v3 `mail/send` body for one message, as the SDK's `Mail` helper builds
    it (`tests/channels/test_sendgrid_body.py` checks them against each other); the
    addresses go through the helper's own `From`/`To`/`ReplyTo`, which parse and quote them.
    """
    body: dict[str, Any] = {
        "from": _sender(message.from_email or "", message.from_name),
        "subject": message.subject,
        "personalizations": [{"to": [To(message.to).get()]}],
        "content": [
            {"type": "text/plain", "value": message.text},
            *([{"type": "text/html", "value": message.html}] if message.html is not None else []),
        ],
    }
    if message.reply_to:
        body["reply_to"] = ReplyTo(message.reply_to).get()
    targets = [f"<{u}>" for u in (message.unsubscribe_url, message.unsubscribe_mailto) if u]
    if targets:
        body["headers"] = {"List-Unsubscribe": ", ".join(targets)}
        if message.unsubscribe_url:
            body["headers"]["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    custom = opaque_args(message.metadata)
    if custom:
        body["custom_args"] = custom
    return body


@lru_cache(maxsize=16)  # the clinic's address: the same for every message
def _sender(email: str, name: str | None) -> dict[str, str]:
    return dict(From(email, name).get())


def _error_message(body: bytes | str | None) -> str:
    """SendGrid's `{"errors": [{"message": ...}]}`, joined; the raw text when it is not JSON."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return raw.strip()[:200] or "no details"
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        messages = [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
        if any(messages):
            return "; ".join(m for m in messages if m)
    return raw.strip()[:200] or "no details"


class KeptAliveClient(python_http_client.Client):  # type: ignore[misc]  # untyped SDK
    """The SDK's HTTP client, its requests sent over kept-alive connections (a urllib3 pool,
    thread-safe) instead of a new connection, and TLS handshake, for every request.

    It answers as the SDK's own does, and fails as urllib does, so the SDK and the mapping
    below see no difference: a connection that could not be made is urllib's `URLError`
    (nothing was sent); a request written and not answered, or answered on a connection that
    dropped, is `TimeoutError` or `ConnectionError` (it may have gone out). No retries here:
    a retried POST could send a message twice.
    """

    def __init__(self, *args: Any, pool: urllib3.PoolManager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool

    def _build_client(self, name: str | None = None) -> KeptAliveClient:
        # The SDK builds a client per URL segment (`client.mail.send`); each shares the pool.
        url_path = [*self._url_path, name] if name else self._url_path
        return KeptAliveClient(
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
            pool=self.pool,
        )

    def __getattr__(self, name: str) -> Any:
        """The SDK's call (`client.mail.send.post(...)`), built as the SDK builds it, minus
        the urllib opener it makes for every request (and the environment's proxy settings
        it reads for it, ~6% of a worker's CPU): the pool sends, not an opener."""
        if name not in self.methods:
            return super().__getattr__(name)
        method = name.upper()

        def http_request(
            request_body: Any = None,
            query_params: dict[str, Any] | None = None,
            request_headers: dict[str, str] | None = None,
            timeout: float | None = None,
            **_: Any,
        ) -> Any:
            if request_headers:
                self._update_headers(request_headers)
            data = None
            if request_body is not None:
                if self.request_headers.get("Content-Type", _JSON) != _JSON:
                    data = request_body.encode("utf-8")
                else:
                    self.request_headers.setdefault("Content-Type", _JSON)
                    data = json.dumps(request_body).encode("utf-8")
            url = self._build_url(query_params)
            answer = self._request(method, url, dict(self.request_headers), data, timeout)
            return python_http_client.client.Response(answer)

        return http_request

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> _Answer:
        try:
            response = send_once(
                self.pool, method, url, body=body, headers=headers, timeout=timeout or self.timeout
            )
        except urllib3.exceptions.ConnectTimeoutError as exc:  # and NewConnectionError
            raise urllib.error.URLError(str(exc)) from None
        except urllib3.exceptions.ReadTimeoutError:
            raise TimeoutError("no answer in time") from None
        except urllib3.exceptions.HTTPError as exc:  # dropped mid-request, a broken answer
            raise ConnectionError(type(exc).__name__) from None
        if response.status >= 400:
            error = urllib.error.HTTPError(
                url,
                response.status,
                response.reason or "",
                response.headers,  # type: ignore[arg-type]
                io.BytesIO(response.data),
            )
            raise handle_error(error)
        return _Answer(response)


class _Answer:
    """A urllib3 response as the SDK reads a urllib one."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.response = response

    def getcode(self) -> int:
        return self.response.status

    def read(self) -> bytes:
        return self.response.data

    def info(self) -> Any:
        return self.response.headers


class SendGridChannel(BaseChannel):
    """Sends email with SendGrid; the `X-Message-Id` it answers is the provider id."""

    provider = "sendgrid"
    channel = Channel.EMAIL

    def __init__(self, api_key: str, *, host: str, timeout_s: float, pool_size: int = 64) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        sdk = self.client.client
        self.pool = provider_pool(host, pool_size)
        self.client.client = KeptAliveClient(
            host=sdk.host,
            request_headers=sdk.request_headers,
            version=sdk._version,
            timeout=timeout_s,
            pool=self.pool,
        )

    def close(self) -> None:
        self.pool.clear()

    def _send(self, message: OutgoingMessage) -> SendResult:
        try:
            # The SDK's call for a body built without the Mail helper (`mail_body`).
            response = self.client.client.mail.send.post(request_body=mail_body(message))
        except HTTPError as exc:
            raise error_for_status(
                self.provider,
                int(exc.status_code),
                message=_error_message(exc.body),
                headers=dict(exc.headers.items()) if exc.headers else None,
                now=message.now or utcnow(),
            ) from None
        except urllib.error.URLError as exc:
            # urllib wraps only failures while connecting and writing the request.
            raise not_sent(self.provider, str(exc.reason)) from None
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            # The request was written; the answer never came (or came cut).
            raise maybe_sent(self.provider, type(exc).__name__) from None
        message_id = response.headers.get("X-Message-Id") or ""
        return SendResult(provider=self.provider, message_id=message_id)

    def lookup(self, query: LookupQuery) -> Lookup:
        """The Email Activity API, filtered on the delivery id nurture sends as a custom arg.

        Accounts without the add-on answer 403 (or 404): that cannot tell, it is not "not
        sent". The API is limited to 6 requests a minute: a 429 cannot tell either.
        """
        params = {"query": activity_query(query.delivery_id), "limit": 10}
        try:
            response = self.client.client.messages.get(query_params=params)
        except HTTPError as exc:
            return Lookup(Answer.CANNOT_TELL, f"activity api {int(exc.status_code)}")
        except urllib.error.URLError as exc:
            return Lookup(Answer.CANNOT_TELL, f"activity api unreachable: {exc.reason}")
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            return Lookup(Answer.CANNOT_TELL, f"activity api: {type(exc).__name__}")
        try:
            listed = json.loads(response.body or b"{}").get("messages")
        except (ValueError, AttributeError):
            listed = None
        if not isinstance(listed, list):
            return Lookup(Answer.CANNOT_TELL, "activity api: an answer without messages")
        if not listed:
            return Lookup(Answer.ABSENT, "activity api: 0 messages with this delivery_id")
        msg_id = str(listed[0].get("msg_id") or "") if isinstance(listed[0], dict) else ""
        return Lookup(
            Answer.FOUND,
            f"activity api: {len(listed)} message(s) with this delivery_id",
            # Its msg_id starts with the X-Message-Id the send answered.
            message_id=msg_id.split(".", 1)[0] or None,
        )


def activity_query(delivery_id: int) -> str:
    """The Email Activity query for the messages carrying this delivery id (custom arg)."""
    return f"unique_args['delivery_id']=\"{delivery_id}\""
