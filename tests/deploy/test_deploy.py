"""docker-compose.yml, the Dockerfile and .env.example hold together: every service runs and is
checked by a real `nurture` command, Redis keeps task messages, one scheduler."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import nurture.cli.admin
import nurture.cli.content
import nurture.cli.ops
import nurture.cli.services  # noqa: F401 - with the three above, registers every command
from nurture.cli import app as nurture_app
from nurture.config import Settings
from tests.conftest import ROOT

NURTURE_SERVICES = {"api", "worker", "scheduler", "flower"}
REQUIRED = {"redis", "postgres", *NURTURE_SERVICES}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


class NotACommand(AssertionError):
    """The CLI would refuse this command line."""


def resolve(argv: list[str]) -> str:
    """The `nurture` command that `argv` names, its options parsed by the CLI itself (the
    trailing --help stops it before it runs); NotACommand if the CLI refuses the line."""
    assert argv[0] == "nurture", argv
    result = CliRunner().invoke(nurture_app, [*argv[1:], "--help"], prog_name="nurture")
    usage = re.search(r"Usage: nurture (.*?) \[OPTIONS\](.*)", result.output)
    if result.exit_code != 0 or usage is None or "COMMAND [ARGS]" in usage.group(2):
        raise NotACommand(f"{' '.join(argv)}: {result.output.strip()[:300]}")
    return usage.group(1)


def test_resolve_refuses_what_the_cli_would_refuse() -> None:
    assert resolve(["nurture", "health", "url", "http://x/readyz"]) == "health url"
    for wrong in (["nurture", "wroker"], ["nurture", "worker", "--concurency", "4"]):
        with pytest.raises(NotACommand):
            resolve(wrong)
    with pytest.raises(NotACommand):
        resolve(["nurture", "health"])  # a group, not a command


def test_the_compose_file_has_every_service_each_with_a_healthcheck(compose: dict) -> None:  # type: ignore[type-arg]
    services = compose["services"]
    assert services.keys() >= REQUIRED
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if service.get("restart") == "no":  # a one-shot step (migrate) has nothing to check
            assert check.get("disable") is True, name
            continue
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check.get("interval") and check.get("retries"), name


def test_every_nurture_service_and_healthcheck_runs_a_real_cli_command(compose: dict) -> None:  # type: ignore[type-arg]
    resolved = {}
    for name, service in compose["services"].items():
        if "build" in service:  # the nurture image (redis and postgres run their own)
            assert service["command"][0] == "nurture", f"{name}: {service['command']}"
            resolved[name] = resolve(service["command"])
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "nurture"]:
            resolve(test[1:])
    assert resolved == {
        "migrate": "db upgrade",
        "api": "api",
        "worker": "worker",
        "scheduler": "scheduler",
        "flower": "flower",
    }
    for name in NURTURE_SERVICES:
        assert compose["services"][name]["healthcheck"]["test"][1] == "nurture", name


def test_redis_keeps_task_messages(compose: dict) -> None:  # type: ignore[type-arg]
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command


def test_there_is_exactly_one_scheduler_and_the_nurture_services_share_one_setup(
    compose: dict,  # type: ignore[type-arg]
) -> None:
    services = compose["services"]
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert "deploy" not in services["worker"]  # workers scale: --scale worker=N
    for name in (*NURTURE_SERVICES, "migrate"):
        service = services[name]
        env = service["environment"]
        assert env["NURTURE_BROKER_URL"] == "redis://redis:6379/0", name
        assert env["NURTURE_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "nurture-var:/app/var" in service["volumes"], name  # metrics files are shared
    for name in NURTURE_SERVICES:
        waits = services[name]["depends_on"]
        assert waits["migrate"]["condition"] == "service_completed_successfully", name
        assert waits["redis"]["condition"] == waits["postgres"]["condition"] == "service_healthy"


def test_the_dockerfile_builds_the_package_with_the_clinics_files() -> None:
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM python:(\d+)\.(\d+)", text, re.M)
    assert base and (int(base.group(1)), int(base.group(2))) >= (3, 11)
    for line in ("COPY schedules ./schedules", "COPY templates ./templates", "USER nurture"):
        assert line in text
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd and resolve(yaml.safe_load(cmd.group(1))) == "api"


def test_every_variable_in_the_env_example_is_a_real_setting(compose: dict) -> None:  # type: ignore[type-arg]
    text = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*(NURTURE_[A-Z0-9_]+)=", text, re.M))
    fields = {f"NURTURE_{name.upper()}" for name in Settings.model_fields}
    assert names and names <= fields, names - fields
    referenced = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    defined = set(re.findall(r"^([A-Z_]+)=", text, re.M))
    assert referenced <= defined, referenced - defined


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    """Where Docker Compose is installed; the structural tests above run everywhere."""
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "docker compose is not installed here (no compose plugin); "
            "the structural checks of docker-compose.yml in this module ran instead"
        )
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        [*cli, "-f", "docker-compose.yml", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
