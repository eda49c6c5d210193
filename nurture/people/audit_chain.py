"""The audit trail's hash chain: how a row and the chain's head are sealed.

Each row's `hash` is HMAC-SHA256, under a key derived from SECRET_KEY, of the canonical JSON
of the row (its id and every column but `hash`, `prev_hash` included). The head (`audit_head`)
keeps the count and the last hash with an HMAC over both, so removing the newest rows shows
too. Whoever lacks SECRET_KEY cannot forge a row or a head that verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The `prev_hash` of the first row.
GENESIS = "0" * 64
_KEY_LABEL = b"nurture:audit-chain:v1"


def chain_key(secret_key: str) -> bytes:
    """The HMAC key of the chain, derived from SECRET_KEY (never the secret itself)."""
    return hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers: sorted keys, no spaces, `at` as UTC ISO with µs."""
    fields = {name: value for name, value in row.items() if name != "hash"}
    at = fields["at"]
    if isinstance(at, datetime):
        fields["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(key: bytes, row: Mapping[str, Any]) -> str:
    """The hash a row must carry (hex)."""
    return hmac.new(key, canonical(row), hashlib.sha256).hexdigest()


def head_seal(key: bytes, count: int, last_hash: str) -> str:
    """The HMAC the head must carry for this count and last hash (hex)."""
    return hmac.new(key, f"head|{count}|{last_hash}".encode(), hashlib.sha256).hexdigest()
