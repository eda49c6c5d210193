"""How `nurture api` and `nurture run` serve HTTP (the options every uvicorn they start gets;
the line that says the API answers), and how `nurture worker` waits on its children.

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

import contextlib
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from nurture.cli import console
from nurture.cli.supervise import Supervisor
from nurture.config import get_settings, refuse_known_secrets

if TYPE_CHECKING:
    import uvicorn

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


def serve_and_say(server: uvicorn.Server, line: str) -> None:
    """Run `server` here; print `line` once it answers (not before: on a busy machine the app
    can take many seconds to import and start)."""

    def say_when_up() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.1)
        if server.started:
            console.print(line)

    threading.Thread(target=say_when_up, name="say-when-up", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises Ctrl-C again after shutdown
        server.run()


def supervise_until_stopped(children: Supervisor) -> int:
    """Start `children` and keep them running until SIGTERM or SIGINT, which stops them all;
    the exit code (0, or the first child's failure)."""
    told = threading.Event()
    received: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signum)
        told.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children.start()
    while not told.is_set():
        told.wait(0.5)  # a timeout, so the signal handlers run promptly
    codes = children.stop(signum=received[0])
    return next((c if c > 0 else 128 - c for c in codes if c), 0)
