"""Secrets anyone can read (the defaults, the .env.example placeholders, empty, a short
SECRET_KEY) are refused by every process while nurture is reachable from other machines,
naming the variable; on loopback the defaults keep `make run` working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.cli.serving import uvicorn_options
from nurture.config import Settings, refuse_known_secrets
from nurture.db import upgrade
from nurture.errors import ConfigError
from tests.conftest import ROOT, use

STRONG = "k3Jx9QvB2mT7pL0sW4yZ8cF1hN6rD5aE"
PUBLIC = "https://nurture.clinic.example"


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({}, ["NURTURE_SECRET_KEY is the default", "NURTURE_API_KEY is the default"]),
        ({"api_key": STRONG + "x"}, ["NURTURE_SECRET_KEY is the default"]),
        ({"secret_key": STRONG}, ["NURTURE_API_KEY is the default"]),
        (
            {"secret_key": "change-me-to-a-long-random-string", "api_key": "change-me-too"},
            ["NURTURE_SECRET_KEY is still a placeholder", "NURTURE_API_KEY is still a placeholder"],
        ),
        ({"secret_key": " ", "api_key": STRONG + "x"}, ["NURTURE_SECRET_KEY is empty"]),
        ({"secret_key": "short-secret", "api_key": STRONG + "x"}, ["12 characters, fewer than"]),
        ({"secret_key": STRONG, "api_key": STRONG}, ["the same as NURTURE_API_KEY"]),
    ],
    ids=["defaults", "default-secret", "default-api-key", "placeholders", "empty", "short", "same"],
)
def test_secrets_anyone_knows_are_refused_off_loopback_naming_each_variable(
    values: dict[str, str], named: list[str]
) -> None:
    with pytest.raises(ConfigError) as refused:
        refuse_known_secrets(settings(public_url=PUBLIC, **values))
    message = str(refused.value)
    for words in named:
        assert words in message
    assert PUBLIC in message and "token_urlsafe" in message


@pytest.mark.parametrize(
    "public_url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
        "http://127.8.9.10",
        "http://nurture.localhost:8000",
    ],
)
def test_on_loopback_the_defaults_are_fine(public_url: str) -> None:
    refuse_known_secrets(settings(public_url=public_url), listen_host="127.0.0.1")


def test_long_random_secrets_are_fine_anywhere() -> None:
    refuse_known_secrets(
        settings(public_url=PUBLIC, secret_key=STRONG, api_key="another-" + STRONG),
        listen_host="0.0.0.0",
    )


def test_listening_beyond_loopback_with_the_defaults_is_refused(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, public_url="http://127.0.0.1:8000", secret_key="dev-secret-change-me")
    with pytest.raises(ConfigError, match=r"the API listens on 0\.0\.0\.0"):
        uvicorn_options("0.0.0.0")
    assert uvicorn_options("127.0.0.1")["proxy_headers"] is False


def test_the_app_itself_refuses_to_be_built(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served by any ASGI server, not only by `nurture api`."""
    use(env, monkeypatch, api_key="dev-api-key")
    with pytest.raises(ConfigError, match="NURTURE_API_KEY is the default"):
        create_app()


def test_make_run_on_loopback_works_with_the_defaults(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NURTURE_SECRET_KEY", "NURTURE_API_KEY"):
        monkeypatch.delenv(name)
    use(env, monkeypatch, public_url="http://127.0.0.1:8000")
    upgrade()
    with TestClient(create_app()) as client:
        assert client.get("/healthz").status_code == 200
        ops = client.get("/ops/status", headers={"Authorization": "Bearer dev-api-key"})
        assert ops.status_code == 200


def test_the_env_example_placeholders_are_refused_until_they_are_replaced() -> None:
    """What `cp .env.example .env` gives: its placeholders are public, so refused; with its
    secrets replaced as the file says, the same settings start."""
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.startswith("NURTURE_")
    )
    fields = {k.removeprefix("NURTURE_").lower(): v for k, v in values.items()}
    with pytest.raises(ConfigError, match="NURTURE_SECRET_KEY is still a placeholder"):
        refuse_known_secrets(settings(**fields))
    fields.update(secret_key=STRONG, api_key="another-" + STRONG)
    refuse_known_secrets(settings(**fields))


SERVICES = {
    "nurture api": ["-m", "nurture.cli", "api", "--port", "0"],
    "nurture run": ["-m", "nurture.cli", "run", "--port", "0"],
    "nurture worker": ["-m", "nurture.cli", "worker"],
    "nurture scheduler": ["-m", "nurture.cli", "scheduler"],
    "celery worker": ["-m", "celery", "-A", "nurture.worker", "worker", "--pool", "solo"],
    "celery beat": ["-m", "celery", "-A", "nurture.worker", "beat"],
}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("argv", SERVICES.values(), ids=SERVICES.keys())
def test_every_process_refuses_to_start_with_the_defaults_off_loopback(
    env: dict[str, str], tmp_path: Path, argv: list[str]
) -> None:
    child_env = {
        k: v for k, v in os.environ.items() if k not in ("NURTURE_SECRET_KEY", "NURTURE_API_KEY")
    }
    child_env.update(
        {k: v for k, v in env.items() if k not in child_env or k.startswith("NURTURE")}
    )
    for name in ("NURTURE_SECRET_KEY", "NURTURE_API_KEY"):
        child_env.pop(name, None)
    child_env["NURTURE_PUBLIC_URL"] = PUBLIC
    done = subprocess.run(
        [sys.executable, *argv],
        env=child_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-2000:]
    assert "refusing to start: NURTURE_SECRET_KEY is the default" in output, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
