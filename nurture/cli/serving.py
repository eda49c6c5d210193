"""How `nurture api` and `nurture run` serve HTTP: the options every uvicorn they start gets.

uvicorn believes `X-Forwarded-For` and `X-Forwarded-Proto` from 127.0.0.1 by default
(`proxy_headers`, `forwarded_allow_ips`): behind nothing, anyone on the machine, or a local
proxy passing the header along, would choose the client's address and scheme. nurture reads
forwarded headers in the app instead, from NURTURE_TRUSTED_PROXIES only
(`api/proxies.py`), so the server never does.

With `--workers N`, uvicorn's supervisor pings each worker process and kills one that does
not answer within `timeout_worker_healthcheck` (5 s by default), then starts another. A
worker answers from a thread it starts only once its imports are done, and the API's
startup loads the phone geocoder's tables (seconds of CPU holding the interpreter): on a
busy host a starting worker misses the ping, is killed, and its replacement starts over,
for ever. WORKER_HEALTHCHECK_S leaves a starting worker time; a hung one is still replaced.
"""

from __future__ import annotations

from typing import Any

from nurture.config import get_settings, refuse_known_secrets

#: How long uvicorn's supervisor waits for a worker process to answer its ping.
WORKER_HEALTHCHECK_S = 60


def uvicorn_options(host: str) -> dict[str, Any]:
    """uvicorn's keyword arguments for listening on `host`; ConfigError first when the
    secrets are ones anyone knows and `host` or PUBLIC_URL is not loopback."""
    refuse_known_secrets(get_settings(), listen_host=host)
    return {
        "proxy_headers": False,
        "forwarded_allow_ips": "",
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }
