"""The values settings are written in: rates ("600/m"), limits ("5/15m"), networks and
origins. Pure parsing, shared by the settings' validators and the code that reads them."""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_network

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")


def parse_rate(text: str) -> float | None:
    """Messages per second from '1/s', '600/m' or '3600/h'; None for an empty string."""
    if not text.strip():
        return None
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"invalid rate {text!r}: use N/s, N/m or N/h, e.g. 1/s or 600/m")
    per = {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    return float(match.group(1)) / per


_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|m|h|d)\s*$")


def parse_limit(text: str) -> tuple[int, int]:
    """A count per window from '5/h' or '5/15m' (units s, m, h, d): (5, 3600), (5, 900)."""
    match = _LIMIT.match(text)
    if not match or int(match.group(1)) < 1 or int(match.group(2) or 1) < 1:
        raise ValueError(f"invalid limit {text!r}: use N/s, N/m, N/h or N/d, e.g. 5/h or 5/15m")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(3)]
    return int(match.group(1)), int(match.group(2) or 1) * unit


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or CIDRs ('10.0.0.0/8, ::1') as networks."""
    networks = []
    for part in text.split(","):
        if part.strip():
            try:
                networks.append(ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"invalid address or CIDR {part.strip()!r}") from None
    return tuple(networks)


def parse_origins(text: str) -> tuple[str, ...]:
    """Comma-separated origins ('https://clinic.example') as scheme://host[:port]."""
    origins = []
    for part in text.split(","):
        origin = part.strip().rstrip("/").lower()
        if not origin:
            continue
        if not re.fullmatch(r"https?://[a-z0-9.-]+(:\d+)?", origin):
            raise ValueError(f"invalid origin {part.strip()!r}: use e.g. https://clinic.example")
        origins.append(origin)
    return tuple(origins)
