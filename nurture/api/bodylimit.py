"""Refusing request bodies over NURTURE_MAX_BODY_BYTES before the app reads them."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """A declared Content-Length over the limit is a 413 at once (a malformed one a 400); a
    chunked POST/PUT/PATCH body is read here, refused once over, else handed on whole.

    `larger` raises the limit for some paths (SendGrid posts event batches of megabytes).
    """

    def __init__(self, app: ASGIApp, *, limit: int, larger: Mapping[str, int]) -> None:
        self.app = app
        self.limit = limit
        self.larger = dict(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max(self.limit, self.larger.get(scope["path"], 0))
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await _refuse(400, "bad Content-Length", scope, receive, send)
                return
            if int(length) > limit:
                await _refuse(413, f"body over {limit} bytes", scope, receive, send)
                return
        elif scope["method"] in ("POST", "PUT", "PATCH"):
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    break
                body += message.get("body", b"")
                if len(body) > limit:
                    await _refuse(413, f"body over {limit} bytes", scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(bytes(body), receive)
        await self.app(scope, receive, send)


async def _refuse(status: int, detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse(status_code=status, content={"detail": detail})(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then the server's own messages."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
