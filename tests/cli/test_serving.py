"""The options every uvicorn nurture starts gets (`nurture/cli/serving.py`)."""

from __future__ import annotations

import uvicorn

from nurture.cli.serving import WORKER_HEALTHCHECK_S, uvicorn_options


def test_a_starting_worker_gets_time_to_answer_the_supervisors_ping(env: dict[str, str]) -> None:
    # uvicorn's default, 5 s, kills a worker still loading on a busy host, over and over.
    config = uvicorn.Config("nurture.api:create_app", factory=True, **uvicorn_options("127.0.0.1"))
    assert config.timeout_worker_healthcheck == WORKER_HEALTHCHECK_S >= 30
    assert config.proxy_headers is False
