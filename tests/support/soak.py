"""The soak: `nurture run` on the embedded default under steady use, every part watched.

Each second: `/ops` reloaded, one consultation request posted (the `fast` sequence: three
steps, email and SMS, within 8 s); every 5 s `/readyz`. At the end every delivery is sent
exactly once, and no part died: the same worker process all along, no restart, no
unrecoverable error in the log.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from nurture.core.states import DeliveryStatus
from tests.conftest import ApiProcess, wait_for
from tests.helpers import deliveries
from tests.support.running import AUTH, post_request, readyz, worker_pid

#: What must never appear in the log of a healthy run.
DEATHS = ("Unrecoverable error", "supervisor.child_died", "Traceback", "broker.bad_message")


@dataclass
class SoakResult:
    posted: int = 0
    ops_loads: int = 0
    readyz_503: int = 0
    slowest_ops_s: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)


def soak(env: dict[str, str], log_path: Path, duration_s: float) -> SoakResult:
    """Run the soak for `duration_s`; fails the test on the first part that dies."""
    run = ApiProcess(env, log_path, command=("run",)).start(timeout_s=150)
    result = SoakResult()
    try:
        wait_for(lambda: readyz(run)[0] == 200, timeout_s=90, message="a worker reporting")
        worker = worker_pid(run)
        end = time.monotonic() + duration_s
        with httpx.Client(base_url=run.base, headers=AUTH, timeout=30, trust_env=False) as ops:
            while (tick := time.monotonic()) < end:
                assert post_request(run, result.posted).status_code == 201, run.log()[-3000:]
                result.posted += 1
                page = ops.get("/ops", headers={"Accept": "text/html"})
                assert page.status_code == 200, page.text[:500]
                result.ops_loads += 1
                result.slowest_ops_s = max(result.slowest_ops_s, time.monotonic() - tick)
                if result.posted % 5 == 0:
                    result.readyz_503 += readyz(run)[0] != 200
                assert run.process.poll() is None, run.log()[-3000:]
                assert worker_pid(run) == worker, "the worker was replaced: it died"
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

        def settled() -> bool:
            result.statuses = Counter(d.status.value for d in deliveries())
            return result.statuses[DeliveryStatus.SENT.value] == result.posted * 6

        wait_for(settled, timeout_s=120, message="every delivery of every request sent")
        assert worker_pid(run) == worker
        log = run.log()
        assert not [d for d in DEATHS if d in log], [d for d in DEATHS if d in log]
        return result
    finally:
        run.stop()
