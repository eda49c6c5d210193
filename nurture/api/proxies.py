"""Forwarded headers, believed only from a trusted proxy.

`X-Forwarded-For`, `X-Forwarded-Proto`, `-Host`, `-Port`, `Forwarded`, `X-Real-IP` and their
kin say whatever their sender wrote. When the connection's peer is in
NURTURE_TRUSTED_PROXIES, the client's address is read from X-Forwarded-For (from the right,
`core/clientip.py`) and the scheme from X-Forwarded-Proto; then, whoever the peer is, every
one of these headers is removed from the request, so no route, dependency or library can
believe one. This is the only place they are read: the HTTP server nurture starts never reads
them itself (`cli/serving.py` runs uvicorn with `proxy_headers=False`).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from nurture.core.clientip import Network, client_address, is_trusted

#: Every header a proxy (or anyone) may use to name the client, its scheme, host or port.
FORWARDED = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-protocol",
        b"x-forwarded-scheme",
        b"x-forwarded-ssl",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-server",
        b"x-real-ip",
        b"x-client-ip",
        b"x-cluster-client-ip",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-url-scheme",
        b"front-end-https",
    }
)
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


class ForwardedHeaders:
    """ASGI middleware: the client and scheme a trusted proxy forwarded, and no forwarded
    header left for anything after it."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self.believe(scope)
        await self.app(scope, receive, send)

    def believe(self, scope: Scope) -> Scope:
        """`scope` with the forwarded client and scheme when its peer is a trusted proxy,
        and without any forwarded header (changed in place: the middleware around this one
        reads what the app records in it, such as the route)."""
        headers = scope["headers"]
        kept = [(name, value) for name, value in headers if name.lower() not in FORWARDED]
        if len(kept) == len(headers):
            return scope
        scope["headers"] = kept
        client = scope.get("client")
        if not client or not is_trusted(client[0], self.trusted):
            return scope
        forwarded_for = [v.decode("latin-1") for n, v in headers if n.lower() == b"x-forwarded-for"]
        address = client_address(client[0], forwarded_for, self.trusted)
        if address is not None and address != client[0]:
            scope["client"] = (address, 0)
        protos = [v.decode("latin-1") for n, v in headers if n.lower() == b"x-forwarded-proto"]
        if protos:
            # The proxy nearest the client wrote the first entry: the scheme the client used.
            proto = protos[0].split(",")[0].strip().lower()
            if proto in _SCHEMES:
                scope["scheme"] = _SCHEMES[proto][scope["type"] == "websocket"]
        return scope
