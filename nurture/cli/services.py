"""Long-running commands: run (all in one), api, worker, scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import typer

from nurture.channels import check_channels
from nurture.cli import app, console, fail
from nurture.config import get_settings
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "nurture.worker", *args]


def _worker_args(concurrency: int, pool: str, beat: bool) -> list[str]:
    settings = get_settings()
    args = [
        "worker",
        "--loglevel",
        settings.log_level,
        "-Q",
        f"{SEND_QUEUE},{DISPATCH_QUEUE}",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
    ]
    if beat:
        args += ["--beat", "--schedule", str(settings.var_dir / "celerybeat-schedule")]
    return _celery(*args)


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="Address the API listens on."),
    port: int = typer.Option(8000, help="Port the API listens on."),
    concurrency: int = typer.Option(4, help="Worker threads."),
) -> None:
    """API, worker and scheduler in one, on the embedded default (Ctrl-C stops all)."""
    import uvicorn

    from nurture.db import upgrade

    settings = get_settings()
    check_channels(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade()
    console.print(f"nurture: database {settings.database_url} is up to date")
    worker = subprocess.Popen(_worker_args(concurrency, "threads", beat=True))
    console.print(
        f"nurture: worker and scheduler started (pid {worker.pid}); outbox: {settings.outbox_dir}"
    )
    console.print(f"nurture: API on http://{host}:{port} (Ctrl-C to stop)")
    try:
        uvicorn.run(
            "nurture.api:create_app", factory=True, host=host, port=port, log_level="warning"
        )
    finally:
        _stop(worker)
        console.print("nurture: stopped")


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # Celery's warm shutdown: finish running tasks
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Uvicorn worker processes."),
) -> None:
    """The HTTP API only."""
    import uvicorn

    uvicorn.run(
        "nurture.api:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=get_settings().log_level.lower(),
        # nurture's own structured log: one line per request with the route, not the URL.
        log_config=None,
        access_log=False,
    )


@app.command()
def worker(
    concurrency: int = typer.Option(16, help="Threads (or processes with --pool prefork)."),
    pool: str = typer.Option("threads", help="Celery pool: threads, prefork, gevent, solo."),
    beat: bool = typer.Option(False, "--beat", help="Also run the scheduler in this process."),
) -> None:
    """A Celery worker that sends due messages (also: celery -A nurture.worker worker)."""
    check_channels(get_settings())
    os.execv(sys.executable, _worker_args(concurrency, pool, beat))


@app.command()
def scheduler() -> None:
    """The scheduler: fires the dispatcher every second. Run exactly one."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    os.execv(
        sys.executable,
        _celery(
            "beat",
            "--loglevel",
            settings.log_level,
            "--schedule",
            str(settings.var_dir / "celerybeat-schedule"),
        ),
    )


@app.command()
def flower(
    port: int = typer.Option(5555, help="Port of Flower's web UI."),
    address: str = typer.Option("127.0.0.1", help="Address to listen on."),
) -> None:
    """Flower, Celery's web monitor, on this deployment's broker (pip install 'nurture[flower]')."""
    import importlib.util

    if importlib.util.find_spec("flower") is None:
        raise fail("flower is not installed: pip install 'nurture[flower]'")
    if get_settings().embedded_broker:
        raise fail(
            "Flower needs a Redis broker (NURTURE_BROKER_URL); the embedded one has no events"
        )
    os.execv(sys.executable, _celery("flower", f"--port={port}", f"--address={address}"))
