"""`python -m bench [--only a,b] [--repeat N] [--scale full|tiny] [--provider outbox]`
(or `make bench ONLY=scheduler`): run the figures, print the table, write the JSON."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench.harness import RESULTS, SCALES, Figure, Run, machine, table, write_json
from bench.providers import make_provider
from bench.stack import PG_DSN, REDIS_URL, bench_stack
from nurture.config import get_settings
from nurture.logs import configure_logging

#: Figure key → module in `bench/`; each module has `run(Run) -> Figure`.
FIGURES = {
    "sdk": "bench.sdk",
    "dispatch": "bench.dispatch",
    "io": "bench.io",
    "scheduler": "bench.scheduler",
    "memory": "bench.memory",
    "lateness": "bench.lateness",
    "intake": "bench.intake",
    "render": "bench.render",
    "results": "bench.results_report",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(FIGURES)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median shown)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--provider", default="outbox", help="outbox or fake-http")
    parser.add_argument(
        "--sdk-messages", type=int, help="messages per run of the SDK figure (default 8000)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--redis-url", default=REDIS_URL, help="a database the bench may flush")
    parser.add_argument("--pg", default=PG_DSN, help="PostgreSQL; the bench uses its own schema")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # `kill` the bench: unwind, so each figure's workers, servers and schema go with it.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    keys = [k.strip() for k in args.only.split(",") if k.strip()] or list(FIGURES)
    unknown = [k for k in keys if k not in FIGURES]
    if unknown:
        print(f"unknown figure(s) {', '.join(unknown)}: use {', '.join(FIGURES)}", file=sys.stderr)
        return 1
    console = Console(width=None if sys.stdout.isatty() else 150)
    meta = {
        "started_at": datetime.now(UTC).isoformat(),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "scale": args.scale,
        "repeat": args.repeat,
        "provider": args.provider,
        "machine_at_start": machine(),
    }
    figures: list[Figure] = []
    failed = False
    for key in keys:
        started = time.monotonic()
        module = importlib.import_module(FIGURES[key])
        # Each figure gets a fresh schema and a flushed Redis database.
        with bench_stack(redis_url=args.redis_url, pg_dsn=args.pg) as stack:
            configure_logging(get_settings())  # as the workers: WARNING, no per-message lines
            scale = SCALES[args.scale]
            if args.sdk_messages:
                scale = replace(scale, sdk_messages=args.sdk_messages)
            run = Run(stack, scale, args.repeat, make_provider(args.provider), console)
            try:
                figure = module.run(run)
            except Exception as exc:
                failed = True
                console.print(f"[red]{key} failed: {exc}[/red]")
                traceback.print_exc()
                figure = Figure(key, key, skipped=f"failed: {type(exc).__name__}: {exc}"[:200])
        figures.append(figure)
        run.say(f"{key}: done in {time.monotonic() - started:.0f} s")
    console.print(table(figures))
    for figure in figures:
        # A figure's module may sum it up in one line under the table (`headline`).
        headline = getattr(importlib.import_module(FIGURES[figure.key]), "headline", None)
        line = headline(figure) if headline else None
        if line:
            console.print(line, soft_wrap=True)
    meta["finished_at"] = datetime.now(UTC).isoformat()
    write_json(args.out, figures, meta)
    console.print(f"written: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
