"""A failure logged as JSON carries its traceback as text, whoever logs it (our code through
structlog, or a library such as Celery through the standard library)."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from nurture.config import get_settings
from nurture.logs import configure_logging
from tests.conftest import use


def test_json_logs_carry_the_traceback_of_a_failure(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(env, monkeypatch, log_format="json", log_level="INFO")
    configure_logging(get_settings())
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        structlog.get_logger("nurture.test").exception("ours.failed")
        logging.getLogger("celery.worker").critical("Unrecoverable error", exc_info=True)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    by_event = {line["event"]: line for line in lines}
    for event in ("ours.failed", "Unrecoverable error"):
        text = by_event[event]["exception"]
        assert "Traceback" in text and "ZeroDivisionError" in text, by_event[event]
