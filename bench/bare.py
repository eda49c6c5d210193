"""Bare Celery: the baselines. Same broker, same Celery settings as nurture's worker, but
tasks that do nothing (`bench.noop`), make one HTTP call (`bench.http`), or stand for the
naive design of one ETA task per future message (`bench.eta`).

Run a worker with `celery -A bench.bare worker -Q bench:noop`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from kombu import Queue

from nurture.config import get_settings
from nurture.dispatch.queue import TASK_EXCHANGE, celery_config

NOOP_QUEUE = "bench:noop"
ETA_QUEUE = "bench:eta"
SDK_QUEUE = "bench:sdk"


def create_app() -> Celery:
    config = celery_config(get_settings())
    config["task_queues"] = [
        Queue(q, TASK_EXCHANGE, routing_key=q) for q in (NOOP_QUEUE, ETA_QUEUE, SDK_QUEUE)
    ]
    config["task_default_queue"] = NOOP_QUEUE
    config["task_default_routing_key"] = NOOP_QUEUE
    config["task_routes"] = {}
    config["beat_schedule"] = {}
    celery = Celery("bench")
    celery.conf.update(config)
    return celery


app = create_app()
_http: Any = None


@app.task(name="bench.noop", ignore_result=True, acks_late=True)
def noop(*_: Any) -> None:
    """Nothing: what Celery itself costs per message."""


#: A SendGrid `mail/send` body the fake provider accepts, about the size of a real one.
MAIL = {
    "personalizations": [{"to": [{"email": "bench@example.com"}]}],
    "from": {"email": "care@example.com", "name": "Clinic"},
    "subject": "Your follow-up",
    "content": [
        {"type": "text/plain", "value": "Hello,\n" + "A line of a follow-up message.\n" * 40},
        {"type": "text/html", "value": "<p>Hello,</p>" + "<p>A line of a message.</p>" * 40},
    ],
}


@app.task(name="bench.http", ignore_result=True, acks_late=True)
def http(url: str, api_key: str, *_: Any) -> None:
    """One POST as a SendGrid send makes it (same server, same body size), pooled client."""
    global _http
    if _http is None:
        import httpx

        _http = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {api_key}"})
    _http.post(url, json=MAIL).raise_for_status()


@app.task(name="bench.eta", ignore_result=True, acks_late=True)
def eta(*_: Any) -> None:
    """The naive design's future message: never runs during the bench (its ETA is far off)."""


def publish(celery: Celery, task: str, queue: str, items: list[list[Any]]) -> float:
    """Publish one task per item as the dispatcher does; the CPU seconds it took here."""
    started = time.process_time()
    with celery.producer_or_acquire() as producer:
        for args in items:
            celery.send_task(task, args=args, queue=queue, producer=producer)
    return time.process_time() - started


def publish_eta(celery: Celery, count: int, *, days_ahead: float = 30.0) -> None:
    """`count` ETA tasks spread over the next `days_ahead` days: the naive design's schedule."""
    now = datetime.now(UTC)
    step = timedelta(days=days_ahead) / max(count, 1)
    with celery.producer_or_acquire() as producer:
        for n in range(count):
            celery.send_task(
                "bench.eta",
                args=[n],
                queue=ETA_QUEUE,
                eta=now + timedelta(hours=1) + step * n,
                producer=producer,
            )


#: The SDK clients of this process, built on first use (after a prefork pool's fork).
_sdk: dict[str, Any] = {}


def _sdk_clients(base: str) -> dict[str, Any]:
    if not _sdk:
        import os

        from sendgrid import SendGridAPIClient
        from twilio.rest import Client

        sendgrid = SendGridAPIClient(api_key="SG.bench", host=base)
        if os.environ.get("NURTURE_BENCH_SDK_KEEPALIVE"):
            # The same kept-alive transport nurture's SendGrid channel uses.
            import urllib3

            from nurture.channels.sendgrid import KeptAliveClient

            sdk = sendgrid.client
            sendgrid.client = KeptAliveClient(
                host=sdk.host,
                request_headers=sdk.request_headers,
                version=sdk._version,
                timeout=10,
                pool=urllib3.PoolManager(maxsize=64, block=False),
            )
        twilio = Client("AC" + "0" * 32, "bench", http_client=_routed_twilio_http_client(base))
        _sdk.update(sendgrid=sendgrid, twilio=twilio)
    return _sdk


def _routed_twilio_http_client(base: str) -> Any:
    """The SDK's own HTTP client (a kept-alive `requests` session), its requests sent to the
    fake provider at `base` instead of https://api.twilio.com. Tuned as nurture's was before
    it sent over urllib3 (PERFORMANCE.md): the environment's proxy settings read once, not
    on every request, and no retries."""
    from requests.adapters import HTTPAdapter
    from twilio.http.http_client import TwilioHttpClient

    class Routed(TwilioHttpClient):  # type: ignore[misc]  # untyped SDK
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = url.replace("https://api.twilio.com", base.rstrip("/"), 1)
            return super().request(method, url, *args, **kwargs)

    client = Routed(pool_connections=True, timeout=10)
    for scheme in ("http://", "https://"):
        client.session.mount(scheme, HTTPAdapter(pool_maxsize=64, max_retries=0))
    client.session.trust_env = False
    return client


@app.task(name="bench.sdk", ignore_result=True, acks_late=True)
def sdk(base: str, n: int) -> None:
    """The SDK call nurture makes, and nothing else: an email through SendGrid's SDK for an
    even `n`, an SMS through Twilio's for an odd one, to the fake provider at `base`."""
    from sendgrid.helpers.mail import Mail

    clients = _sdk_clients(base)
    if n % 2 == 0:
        mail = Mail(
            from_email="care@example.com",
            to_emails=f"p{n}@bench.example",
            subject="Your follow-up",
            plain_text_content=MAIL["content"][0]["value"],  # type: ignore[index]
            html_content=MAIL["content"][1]["value"],  # type: ignore[index]
        )
        clients["sendgrid"].send(mail)
    else:
        clients["twilio"].messages.create(
            to=f"+1555{n:07d}",
            from_="+15550001111",
            body="Hi Sam, a short follow-up from the clinic. Reply STOP to opt out",
            status_callback=f"https://nurture.bench/webhooks/twilio/status?d={n}",
        )
