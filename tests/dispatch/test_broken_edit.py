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
from sqlalchemy import func, select

from nurture.core.states import DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, ConsultationRequest, Enrollment
from tests.conftest import ROOT, ApiProcess, midday_zone, use, wait_for
from tests.helpers import deliveries, outbox, read_sms

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

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
def files(
    db: str, redis_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[Path, Path]:
    """The schedules (with the `live` sequence) and a copy of the templates, on Redis."""
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
    return schedules, templates


@pytest.fixture
def start_stack(
    files: tuple[Path, Path], env: dict[str, str], tmp_path: Path, start_worker: Any
) -> Iterator[Any]:
    """Start a real worker (with its scheduler) and a real API process."""
    apis: list[ApiProcess] = []

    def start() -> ApiProcess:
        start_worker()
        api = ApiProcess(env, tmp_path / "api.log")
        apis.append(api)
        wait_for(lambda: _up(api), timeout_s=120, message="the API to answer /healthz")
        return api

    yield start
    for api in apis:
        api.stop()


@pytest.fixture
def stack(files: tuple[Path, Path], start_stack: Any) -> tuple[ApiProcess, Path, Path]:
    return start_stack(), *files


def _up(api: ApiProcess) -> bool:
    """/healthz answers (a loaded machine can take a minute to start the API)."""
    assert api.process.poll() is None, api.log()
    try:
        return httpx.get(f"{api.base}/healthz", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _post(api: ApiProcess, name: str, phone: str) -> httpx.Response:
    body = {"first_name": name, "phone": phone, "concern": "live", "timezone": midday_zone()}
    body |= {"consent_sms": True}
    return httpx.post(
        f"{api.base}/v1/consultation-requests", json=body, headers=AUTH, timeout=30, trust_env=False
    )


def _texts(to: str) -> list[str]:
    return [m["body"] for p in outbox("sms") if (m := read_sms(p))["to"] == to]


def _readyz(api: ApiProcess) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{api.base}/readyz", timeout=10, trust_env=False).json()
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
    status = httpx.get(f"{api.base}/ops/status", headers=AUTH, timeout=30, trust_env=False)
    catalog = status.json()["catalog"]
    assert catalog["ok"] is False and catalog["loaded"] is True and "live" in catalog["sequences"]
    assert catalog["problems"][0]["file"].endswith("live.yaml")
    assert any("schedule files have 1 error(s)" in p for p in status.json()["problems"])

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


def test_a_request_posted_to_an_api_that_started_on_broken_files_is_stored_then_enrolled(
    files: tuple[Path, Path], start_stack: Any
) -> None:
    schedules, _ = files
    (schedules / "live.yaml").write_text(LIVE.replace("after: 6s", "after: soon"))
    api = start_stack()
    ready = _readyz(api)
    assert ready["status"] == "degraded" and "after" in ready["catalog"]
    answer = _post(api, "Dee", "+16175550104")
    assert answer.status_code == 202, answer.text
    assert answer.json()["pending"] is True
    with session_scope() as session:
        stored = session.get(ConsultationRequest, answer.json()["request_id"])
        assert stored is not None and stored.pending_enrollment
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) >= 1
        assert session.scalar(select(func.count()).select_from(Enrollment)) == 0

    (schedules / "live.yaml").write_text(LIVE)  # fixed: enrolled and sent, no restart
    texts = wait_for(
        lambda: t if len(t := _texts("+16175550104")) == 2 else None,
        timeout_s=60,
        message="Dee's two texts after the fix",
    )
    assert isinstance(texts, list) and texts[0].startswith("Hello Dee, version one.")
    with session_scope() as session:
        stored = session.get(ConsultationRequest, answer.json()["request_id"])
        assert stored is not None and not stored.pending_enrollment
        enrollment = session.scalar(select(Enrollment))
        assert enrollment is not None and enrollment.request_id == stored.id
