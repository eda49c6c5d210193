"""The body limit, as plain ASGI: what it refuses and what it hands on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from nurture.api.bodylimit import BodyLimit


class _App:
    """Records the body it reads."""

    def __init__(self) -> None:
        self.body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.body = body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(
    headers: dict[str, str], chunks: list[bytes], *, path: str = "/v1/x", method: str = "POST"
) -> tuple[int, Any, _App, int]:
    app = _App()
    limit = BodyLimit(app, limit=10, larger={"/big": 100})
    messages: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(limit(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], (json.loads(body) if body != b"ok" else body), app, read


def test_a_malformed_content_length_is_a_400() -> None:
    status, body, app, _ = _call({"content-length": "ten"}, [b"x"])
    assert (status, body, app.body) == (400, {"detail": "bad Content-Length"}, None)


def test_a_declared_length_over_the_limit_is_a_413_before_any_read() -> None:
    status, body, app, read = _call({"content-length": "11"}, [b"x" * 11])
    assert (status, body, app.body, read) == (413, {"detail": "body over 10 bytes"}, None, 0)


def test_a_path_with_a_larger_limit_takes_more() -> None:
    status, _, app, _ = _call({"content-length": "50"}, [b"x" * 50], path="/big")
    assert (status, app.body) == (200, b"x" * 50)


def test_a_chunked_body_is_refused_once_over_without_reading_the_rest() -> None:
    status, body, app, read = _call({}, [b"x" * 6, b"x" * 6, b"x" * 6, b"x" * 6])
    assert (status, body, app.body, read) == (413, {"detail": "body over 10 bytes"}, None, 2)


def test_a_chunked_body_under_the_limit_reaches_the_app_whole() -> None:
    status, _, app, _ = _call({}, [b"abc", b"def", b"g"])
    assert (status, app.body) == (200, b"abcdefg")


def test_a_get_without_a_length_is_not_read() -> None:
    status, _, app, read = _call({}, [b""], method="GET")
    assert (status, app.body, read) == (200, b"", 1)  # the app's own read, not the limit's
