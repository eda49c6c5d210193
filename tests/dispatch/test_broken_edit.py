"""A broken edit never stops sending and never loses a request: with a real API process and
a real Celery worker on Redis, a schedule file broken on disk replaces nothing; fixed, the
new version goes out without a restart."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nurture.core.states import DeliveryStatus
from tests.conftest import ROOT, ApiProcess, midday_zone, use, wait_for
from tests.helpers import deliveries, outbox, read_sms

pytestmark = pytest.mark.slow

AUTH = {"Authorization": "Bearer test-key"}
LIVE = """
id: live
name: Live edits
match: {concern: [live]}
steps:
  - id: hello
    after: 0s
    channels: [sms]
    template: live/hello
  - id: later
    after: 6s
    channels: [sms]
    template: live/later
"""


@pytest.fixture
def stack(
    db: str,
    redis_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    start_worker: Any,
) -> Iterator[tuple[ApiProcess, Path, Path]]:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "live").mkdir()
    (templates / "live/hello.sms.j2").write_text("Hello {{ contact.first_name }}, version one.")
    (templates / "live/later.sms.j2").write_text("Later {{ contact.first_name }}, version one.")
    schedules = Path(env["NURTURE_SCHEDULES_DIR"])
    (schedules / "live.yaml").write_text(LIVE)
    use(
        env,
        monkeypatch,
        broker_url=redis_url,
        templates_dir=str(templates),
        lease_s="10",
        dispatch_interval_s="0.5",
    )
    start_worker()
    api = ApiProcess(env, tmp_path / "api.log")
    wait_for(lambda: _up(api), timeout_s=120, message="the API to answer /healthz")
    yield api, schedules, templates
    api.stop()


def _up(api: ApiProcess) -> bool:
    """/healthz answers (a loaded machine can take a minute to start the API)."""
    assert api.process.poll() is None, api.log()
    try:
        return httpx.get(f"{api.base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post(api: ApiProcess, name: str, phone: str) -> httpx.Response:
    body = {"first_name": name, "phone": phone, "concern": "live", "timezone": midday_zone()}
    body |= {"consent_sms": True}
    return httpx.post(f"{api.base}/v1/consultation-requests", json=body, headers=AUTH, timeout=30)


def _texts(to: str) -> list[str]:
    return [m["body"] for p in outbox("sms") if (m := read_sms(p))["to"] == to]


def _readyz(api: ApiProcess) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{api.base}/readyz", timeout=10).json()
    return answer


def test_a_schedule_file_broken_while_running_keeps_sending_and_enrolling_then_a_fix_is_used(
    stack: tuple[ApiProcess, Path, Path],
) -> None:
    api, schedules, templates = stack
    first = _post(api, "Ann", "+16175550101")
    assert first.status_code == 201, first.text
    wait_for(lambda: _texts("+16175550101"), timeout_s=30, message="Ann's first text")

    # Break the sequence file (an unknown key) and change a template in the same edit.
    (schedules / "live.yaml").write_text(LIVE + "colour: blue\n")
    (templates / "live/later.sms.j2").write_text("Later {{ contact.first_name }}, version two.")
    wait_for(lambda: _readyz(api)["status"] == "degraded", timeout_s=20, message="degraded")
    ready = _readyz(api)
    assert "live.yaml" in ready["catalog"] and "colour" in ready["catalog"]

    second = _post(api, "Bea", "+16175550102")
    assert second.status_code == 201, second.text
    assert [d["step"] for d in second.json()["schedule"]] == ["hello", "later"]
    texts = wait_for(
        lambda: t if len(t := _texts("+16175550101") + _texts("+16175550102")) == 4 else None,
        timeout_s=45,
        message="both prospects' two texts, sent while the file is broken",
    )
    assert isinstance(texts, list)
    assert all("version one" in t for t in texts), texts
    assert sorted(t.split(",")[0] for t in texts) == [
        "Hello Ann",
        "Hello Bea",
        "Later Ann",
        "Later Bea",
    ]

    # Fixed: the new version goes out, no restart.
    (schedules / "live.yaml").write_text(LIVE)
    wait_for(lambda: _readyz(api)["status"] == "ready", timeout_s=20, message="ready again")
    assert _post(api, "Cy", "+16175550103").status_code == 201
    later = wait_for(
        lambda: [t for t in _texts("+16175550103") if t.startswith("Later")],
        timeout_s=45,
        message="Cy's second text",
    )
    assert later == ["Later Cy, version two."]
    sent = [d for d in deliveries() if d.status is DeliveryStatus.SENT]
    assert len(sent) == 6
