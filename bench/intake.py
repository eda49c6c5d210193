"""Figure 6, intake: consultation requests per second through the HTTP API on PostgreSQL
(target at least 300/s), against a FastAPI route returning a constant, served the same way.

Both servers run as `uvicorn --workers 2` on loopback; the load generator is a second
process (`bench.loadgen`) with keep-alive connections; the 2 cores are shared by the
server's processes, the client and PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx

from bench.harness import Figure, Run, Target
from bench.stack import ROOT, Proc, Stack

CONCURRENCY = 16
#: uvicorn processes for both servers: one per core.
WORKERS = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(stack: Stack, name: str, factory: str) -> tuple[Proc, str]:
    port = _free_port()
    proc = stack.spawn(
        name,
        [
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{proc.log()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer on {base}")


def _load(stack: Stack, base: str, requests: int, seed: int) -> dict[str, object]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            f"{base}/v1/consultation-requests",
            "--requests",
            str(requests),
            "--concurrency",
            str(CONCURRENCY),
            "--key",
            stack.env["NURTURE_API_KEY"],
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def run(run: Run) -> Figure:
    fig = Figure("intake", "6 intake (HTTP API, PostgreSQL)")
    count = run.scale.intake_requests
    api, api_base = _serve(run.stack, "api", "nurture.api:create_app")
    ceiling, ceiling_base = _serve(run.stack, "ceiling", "bench.ceiling:create_app")
    ours = fig.add(
        "nurture POST /v1/consultation-requests",
        "req/s",
        baseline="constant FastAPI route",
        target=Target(">=", 300),
        note=f"{CONCURRENCY} connections",
    )
    base = fig.add("constant FastAPI route", "req/s", note="the ceiling")
    p99 = fig.add("nurture latency p99", "ms")
    try:
        _load(run.stack, api_base, min(count, 100), seed=99)  # warm: connections, caches
        for i in range(run.repeat):
            result = _load(run.stack, api_base, count, seed=i)
            if result["status"] != {"201": count}:
                raise RuntimeError(f"intake answered {result['status']}; see {api.log_path}")
            ours.runs.append(float(result["rate"]))  # type: ignore[arg-type]
            p99.runs.append(float(result["p99_ms"]))  # type: ignore[arg-type]
            ceiling_result = _load(run.stack, ceiling_base, count, seed=i)
            base.runs.append(float(ceiling_result["rate"]))  # type: ignore[arg-type]
            run.say(
                f"intake #{i + 1}: {ours.runs[-1]:.0f} req/s, ceiling {base.runs[-1]:.0f} req/s"
            )
    finally:
        api.stop()
        ceiling.stop()
    return fig
