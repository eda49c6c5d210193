"""The client's IP address behind trusted proxies. Pure: the caller passes the connection's
peer address and the `X-Forwarded-For` header.

Each proxy appends the address it received the request from, so the header is read from the
right: entries added by a trusted proxy are skipped, and the first address that is not a
trusted proxy is the client. Without trusted proxies the header counts for nothing (anyone
can send one): the client is the connection's peer.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def is_trusted(peer: str | None, trusted: Sequence[Network]) -> bool:
    """Whether the connection's peer is one of the trusted proxies."""
    address = _parse(peer) if peer else None
    return address is not None and _trusted(address, trusted)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the
    rightmost `X-Forwarded-For` entry that is not one (`forwarded_for`: every header line)."""
    if peer is None:
        return None
    current = _parse(peer)
    if current is None or not trusted or not _trusted(current, trusted):
        return peer
    entries = [e for line in forwarded_for for e in line.split(",") if e.strip()]
    for entry in reversed(entries):
        address = _parse(entry)
        if address is None:
            # A garbled entry: what lies left of it cannot be trusted either.
            return str(current)
        current = address
        if not _trusted(address, trusted):
            return str(address)
    # Every hop is a trusted proxy: the leftmost is as close to the client as we know.
    return str(current)
