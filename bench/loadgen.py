"""A small HTTP/1.1 load generator for loopback: `python -m bench.loadgen URL --requests N`.

Keep-alive connections on one asyncio loop, each posting consultation requests with a unique
email and phone; it prints one JSON line (requests, seconds, rate, status counts, latency
percentiles). It is deliberately thin, so that on a 2-core machine the server, not the
client, is what gets measured. Bounded: N requests, and `--timeout-s` in all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from urllib.parse import urlsplit

AREA_CODES = ("617", "212", "415", "312", "202", "305", "206", "713", "303", "404")


def body_for(n: int, seed: int) -> bytes:
    """A consultation request whose email and phone no other (seed, n) pair has."""
    k = seed * 1_000_000 + n
    area = AREA_CODES[k % len(AREA_CODES)]
    exchange = 200 + (k // len(AREA_CODES)) // 10_000 % 700
    line = (k // len(AREA_CODES)) % 10_000
    data = {
        "first_name": "Lee",
        "email": f"lg{seed}-{n}@bench.example",
        "phone": f"+1{area}{exchange}{line:04d}",
        "concern": "outer hip pain",
        "message": "It hurts on the side when I walk.",
        "timezone": "America/New_York",
    }
    return json.dumps(data).encode()


async def _client(
    host: str, port: int, path: str, key: str, jobs: asyncio.Queue[int], seed: int, out: dict
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                n = jobs.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = body_for(n, seed)
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            out["latency"].append(time.perf_counter() - started)
            out["status"][status_line.split(b" ")[1].decode() if status_line else "eof"] += 1
    finally:
        writer.close()


async def _main(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for n in range(args.requests):
        jobs.put_nowait(n)
    out: dict = {"latency": [], "status": Counter()}
    started = time.perf_counter()
    clients = [
        _client(
            url.hostname or "127.0.0.1", url.port or 80, url.path, args.key, jobs, args.seed, out
        )
        for _ in range(args.concurrency)
    ]
    await asyncio.wait_for(asyncio.gather(*clients), timeout=args.timeout_s)
    elapsed = time.perf_counter() - started
    latency = sorted(out["latency"])
    return {
        "requests": len(latency),
        "seconds": elapsed,
        "rate": len(latency) / elapsed,
        "status": dict(out["status"]),
        "p50_ms": statistics.median(latency) * 1000,
        "p99_ms": latency[min(len(latency) - 1, int(len(latency) * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--key", default="bench-key")
    parser.add_argument("--seed", type=int, default=0, help="varies the emails and phones")
    parser.add_argument("--timeout-s", type=float, default=300.0)
    print(json.dumps(asyncio.run(_main(parser.parse_args()))))


if __name__ == "__main__":
    main()
