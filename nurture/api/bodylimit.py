"""Refusing request bodies before the app reads them: over NURTURE_MAX_BODY_BYTES, or (for
every body that is not a form post) JSON nested deeper than `MAX_JSON_DEPTH`.

This runs before any route, so before any authentication: a body no route could read is
refused the same way whoever sends it, and Python's recursive JSON parser never meets it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nurture.core.inputs import MAX_JSON_DEPTH, json_depth_over

#: Form posts are parsed as fields, never as JSON (a field that holds JSON is read with
#: `load_json`, which has the same depth limit).
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_LENGTH = re.compile(r"[0-9]{1,18}")
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class BodyLimit:
    """A declared Content-Length over the limit is a 413 at once (a malformed one a 400); a
    body is otherwise read here, refused once over the limit or nested too deep (400), else
    handed on whole.

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
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not _LENGTH.fullmatch(length.strip()):
                await _refuse(400, "bad Content-Length", scope, receive, send)
                return
            if int(length) > limit:
                await _refuse(413, f"body over {limit} bytes", scope, receive, send)
                return
        if scope["method"] in _BODY_METHODS and length != "0":
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
            content_type = headers.get("content-type", "").lower()
            if not content_type.startswith(_FORM_TYPES) and json_depth_over(bytes(body)):
                detail = f"the body: JSON nested deeper than {MAX_JSON_DEPTH} levels"
                await _refuse(400, detail, scope, receive, send)
                return
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
