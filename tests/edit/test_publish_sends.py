"""A publish reaches prospects already waiting, through a real worker: a draft changes no
message that goes out; once published the next step carries the new text (rendered at send
time, its time kept); a rollback brings the old text back for the step after."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from jinja2 import DictLoader
from sqlalchemy import update

from nurture.config import get_settings
from nurture.content.live import CHECK_INTERVAL_S, LiveCatalog
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.db.tables import Delivery
from nurture.edit.history import rollback
from nurture.edit.publish import publish
from nurture.people.actor import Actor
from tests.conftest import midday_zone, use, wait_for
from tests.helpers import deliveries, enroll, outbox, read_sms
from tests.support.studio import copy_templates, studio_files

# A real worker on a real broker: the database adds nothing here that tests/edit/test_publish.py
# does not test on both; PostgreSQL alone.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(480),
    pytest.mark.parametrize("db", ["postgresql"], indirect=True),
]

LIVE = """
id: live
name: Live edits
match: {concern: [live]}
steps:
  - id: first
    after: 0s
    channels: [sms]
    template: live/note
  - id: second
    after: 1h
    channels: [sms]
    template: live/note
  - id: third
    after: 2h
    channels: [sms]
    template: live/note
"""
NOTE = "templates/live/note.sms.j2"
ONE = "{{ step.id }}: hello {{ contact.first_name }}, version one."
TWO = "{{ step.id }}: hello {{ contact.first_name }}, version two."
PHONE = "+16175550111"
MANAGER = Actor(kind="person", id=None, name="ann@example.com", role="manager")


@pytest.fixture
def live_files(
    db: str, redis_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    templates = copy_templates(tmp_path / "templates")
    (templates / "live").mkdir()
    (templates / "live/note.sms.j2").write_text(ONE)
    (Path(env["NURTURE_SCHEDULES_DIR"]) / "live.yaml").write_text(LIVE)
    use(
        env,
        monkeypatch,
        broker_url=redis_url,
        templates_dir=str(templates),
        lease_s="10",
        dispatch_interval_s="0.5",
    )


def make_due(step_id: str) -> None:
    """The step falls due now: the test decides when, not a race with a loaded machine. Slept
    past the worker's check for changed files first, so the send reads what was published."""
    time.sleep(CHECK_INTERVAL_S + 0.5)
    with session_scope() as session:
        session.execute(update(Delivery).where(Delivery.step_id == step_id).values(due_at=utcnow()))


def texts() -> dict[str, str]:
    """Step id → the text the prospect got."""
    bodies = [m["body"] for p in outbox("sms") if (m := read_sms(p))["to"] == PHONE]
    return {body.split(":")[0]: body for body in bodies}


def test_a_published_text_reaches_the_next_send_and_a_rollback_brings_the_old_one_back(
    live_files: None, start_worker: Any
) -> None:
    files, drafts = studio_files()
    drafts.save(NOTE, TWO, by="ann@example.com")  # a draft: nothing sent changes
    live = LiveCatalog(get_settings()).refresh(now=True)
    assert live.current is not None and "live" in live.current.sequences
    start_worker()
    enroll_answer = enroll(
        utcnow(),
        first_name="Ann",
        email=None,
        phone=PHONE,
        concern="live",
        timezone=midday_zone(),
        consent_sms=True,
    )
    assert [s["step"] for s in enroll_answer["schedule"]] == ["first", "second", "third"]
    due = {d.step_id: d.due_at for d in deliveries()}
    first = wait_for(lambda: texts().get("first"), timeout_s=25, message="the first text")
    assert first.startswith("first: hello Ann, version one.")  # the draft was not sent

    assert publish(files, drafts, actor=MANAGER, note="version two") == 2
    # The schedule written at enrollment keeps its times through a publish.
    assert {d.step_id: d.due_at for d in deliveries()} == due
    assert "version two" in (files.read(NOTE) or "")
    # A running LiveCatalog (the one each process holds) takes the published files up.
    assert live.refresh(now=True).ok and live.renderer is not None
    assert isinstance(live.renderer.loader, DictLoader)
    assert live.renderer.loader.mapping["live/note.sms.j2"] == TWO
    make_due("second")
    second = wait_for(lambda: texts().get("second"), timeout_s=60, message="the second text")
    assert second == "second: hello Ann, version two."

    assert rollback(1, MANAGER).version == 3
    assert {d.step_id: d.due_at for d in deliveries()}["third"] == due["third"]  # and a rollback
    make_due("third")
    third = wait_for(lambda: texts().get("third"), timeout_s=60, message="the third text")
    assert third == "third: hello Ann, version one."
