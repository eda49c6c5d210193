"""How `nurture api` and `nurture run` serve HTTP: the options every uvicorn they start gets.

uvicorn believes `X-Forwarded-For` and `X-Forwarded-Proto` from 127.0.0.1 by default
(`proxy_headers`, `forwarded_allow_ips`): behind nothing, anyone on the machine, or a local
proxy passing the header along, would choose the client's address and scheme. nurture reads
forwarded headers in the app instead, from NURTURE_TRUSTED_PROXIES only
(`api/proxies.py`), so the server never does.
"""

from __future__ import annotations

from typing import Any

from nurture.config import get_settings, refuse_known_secrets


def uvicorn_options(host: str) -> dict[str, Any]:
    """uvicorn's keyword arguments for listening on `host`; ConfigError first when the
    secrets are ones anyone knows and `host` or PUBLIC_URL is not loopback."""
    refuse_known_secrets(get_settings(), listen_host=host)
    return {"proxy_headers": False, "forwarded_allow_ips": ""}
