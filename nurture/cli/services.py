"""Long-running commands: run (all in one), api, worker, scheduler."""

from __future__ import annotations

import os
import sys

import typer

from nurture.channels import check_channels
from nurture.cli import app, console, fail
from nurture.cli.people import FIRST_OWNER, no_users_yet
from nurture.cli.serving import serve_and_say, supervise_until_stopped, uvicorn_options
from nurture.cli.supervise import Supervisor
from nurture.config import Settings, get_settings
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE
from nurture.errors import NurtureError
from nurture.schedule.catalog import load_catalog


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "nurture.worker", *args]


#: The queues `nurture worker --queues` may name: sends, and the dispatcher's tick (claims
#: and publishing, fired by the scheduler's beat, with staff messages and reconciliation).
WORKER_QUEUES = {"send": SEND_QUEUE, "dispatch": DISPATCH_QUEUE}


def _worker_args(
    concurrency: int, pool: str, beat: bool, node: str = "", queues: str = "send,dispatch"
) -> list[str]:
    settings = get_settings()
    args = [
        "worker",
        "--loglevel",
        settings.log_level,
        "-Q",
        worker_queues(queues),
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
    ]
    if node:
        args += ["-n", node]
    if beat:
        args += ["--beat", "--schedule", str(settings.var_dir / "celerybeat-schedule")]
    return _celery(*args)


def notify_hint(settings: Settings) -> str | None:
    """The line `run` says while clinic.yaml names nobody to tell of replies (#25): where
    to name them. None when someone is named, or the files do not load (`validate` says why)."""
    try:
        notify = load_catalog(settings.schedules_dir).clinic.notify
    except NurtureError:
        return None
    if notify.email or notify.sms:
        return None
    where = f"{settings.public_url.rstrip('/')}/studio/settings#notify"
    return f"nurture: nobody is told when a prospect writes back; say who at {where}"


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="Address the API listens on."),
    port: int = typer.Option(8000, help="Port the API listens on."),
    concurrency: int = typer.Option(4, help="Worker threads."),
) -> None:
    """API, worker and scheduler in one, on the embedded default (Ctrl-C stops all).

    The worker (with the scheduler) is a child process, started again if it dies
    (`cli/supervise.py`); the API runs in this process.
    """
    import uvicorn

    from nurture.db import upgrade

    settings = get_settings()
    server = uvicorn_options(host)  # before anything starts: it may refuse
    check_channels(settings)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade()
    console.print(f"nurture: database {settings.database_url} is up to date")
    if no_users_yet():
        console.print(f"nurture: {FIRST_OWNER}", highlight=False)
    hint = notify_hint(settings)
    if hint:
        console.print(hint, highlight=False, soft_wrap=True)
    children = Supervisor({"worker": _worker_args(concurrency, "threads", beat=True)})
    children.start()
    console.print(
        f"nurture: worker and scheduler started (pid {children.running()['worker']});"
        f" outbox: {settings.outbox_dir}"
    )
    config = uvicorn.Config(
        "nurture.api:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        **server,  # forwarded headers and known secrets: cli/serving.py
    )
    try:
        serve_and_say(
            uvicorn.Server(config), f"nurture: API on http://{host}:{port} (Ctrl-C to stop)"
        )
    finally:
        children.stop()
        console.print("nurture: stopped")


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
        **uvicorn_options(host),  # forwarded headers and known secrets: cli/serving.py
    )


@app.command()
def worker(
    concurrency: int = typer.Option(
        4,
        help="Threads per process (or processes with --pool prefork). Each runs a batch"
        " of up to SEND_CHUNK deliveries, whose calls go out at once when the provider is slow.",
    ),
    pool: str = typer.Option("threads", help="Celery pool: threads, prefork, gevent, solo."),
    processes: int = typer.Option(
        0,
        help="Worker processes, each with its own threads pool (0: one per CPU core)."
        " Only with --pool threads or gevent; prefork and solo run one.",
    ),
    beat: bool = typer.Option(False, "--beat", help="Also run the scheduler in this process."),
    queues: str = typer.Option(
        "send,dispatch",
        help="What these processes take on: send, dispatch, or both. With `send` only, another"
        " worker (or `nurture worker --queues dispatch`) must run the dispatcher's ticks.",
    ),
) -> None:
    """Celery workers that send due messages (also: celery -A nurture.worker worker).

    By default one process per CPU core, each with a pool of threads: the threads wait on
    the providers, the processes use every core (one Python process uses one).
    """
    check_channels(get_settings())
    try:
        worker_queues(queues)
    except ValueError as exc:
        raise fail(str(exc)) from None
    count = worker_processes(processes, pool)
    _pool_for_threads(concurrency, pool)
    # The first keeps Celery's default name (celery@host: `nurture health worker`).
    commands = {
        f"worker{n or ''}": _worker_args(
            concurrency, pool, beat and n == 0, f"celery{n or ''}@%h", queues
        )
        for n in range(count)
    }
    raise typer.Exit(supervise_until_stopped(Supervisor(commands)))


def _pool_for_threads(concurrency: int, pool: str) -> None:
    """Each thread holds a database connection while it sends a batch: the workers keep at
    least one per thread (and a few for the dispatcher), unless NURTURE_DB_POOL_SIZE says."""
    wanted = concurrency + 4
    told = "NURTURE_DB_POOL_SIZE" in os.environ
    if pool in ("threads", "gevent") and not told and get_settings().db_pool_size < wanted:
        os.environ["NURTURE_DB_POOL_SIZE"] = str(wanted)


def worker_queues(names: str) -> str:
    """Celery's `-Q` for `--queues` ("send", "dispatch" or both, comma-separated);
    ValueError naming what is not one of them."""
    asked = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in asked if n not in WORKER_QUEUES]
    if unknown or not asked:
        raise ValueError(f"--queues {names!r}: name send, dispatch or both (comma-separated)")
    return ",".join(WORKER_QUEUES[n] for n in dict.fromkeys(asked))


def worker_processes(asked: int, pool: str) -> int:
    """How many worker processes `nurture worker` starts: one per core unless told."""
    if pool in ("prefork", "solo"):
        return 1  # prefork forks its own processes (--concurrency); solo is one by design
    return asked if asked > 0 else max(1, os.cpu_count() or 1)


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
