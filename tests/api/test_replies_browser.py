"""The replies inbox in a real headless Chromium against a real `nurture api` server: a
signed text reply is listed, answered from the page, and the answer reaches the outbox.
Screenshots at desktop and phone width land in tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope, upgrade
from nurture.db.tables import StaffMessage
from nurture.dispatch.tick import dispatch_tick
from nurture.schedule.catalog import load_catalog
from nurture.send.pipeline import send_delivery
from nurture.send.staff import send_staff_messages
from nurture.track.email_inbound import apply_inbound_email
from nurture.track.events import InboundEmail
from tests.browser import ARTIFACTS
from tests.conftest import SECRET_KEY, TWILIO_AUTH_TOKEN, ApiProcess, midday_zone, use, wait_for
from tests.helpers import enroll, outbox, read_sms, send_context
from tests.signing import PUBLIC_URL, twilio_signature
from tests.support.people import add_person, fill_sign_in

pytestmark = pytest.mark.slow

PHONE = "+16175550199"
REPLY = "Hi, can I come in on Tuesday afternoon instead?"
ANSWER = "Yes, Tuesday at 3 pm works. See you then! - Front desk"


@pytest.fixture
def api_server(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    use(env, monkeypatch, twilio_auth_token=TWILIO_AUTH_TOKEN)
    upgrade()
    api = ApiProcess(env, tmp_path / "api.log").start()
    yield api.base
    api.stop()


def seed_replies(base: str) -> None:
    """Robin got the first step and texts back (a signed webhook); Sam's out-of-office
    answer and an email from a stranger are on record too."""
    now = utcnow()
    enroll(now, timezone=midday_zone())
    enroll(now, first_name="Sam", email="sam@example.com", phone="+16175550123")
    with session_scope() as s:
        ids = dispatch_tick(s, now=now, batch=100, lease=timedelta(seconds=300)).claimed
    ctx = send_context()
    for delivery_id in ids:
        send_delivery(ctx, delivery_id, now=now)
    params = {
        "MessageSid": "SM" + "c" * 32,
        "AccountSid": "AC" + "5" * 32,
        "From": PHONE,
        "To": "+16175550100",
        "Body": REPLY,
    }
    path = "/webhooks/twilio/inbound"
    signature = twilio_signature(f"{PUBLIC_URL}{path}", params)
    response = httpx.post(f"{base}{path}", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    catalog = load_catalog(get_settings().schedules_dir)
    for sender, subject, automatic in [
        ("sam@example.com", "Automatic reply: away until Monday", True),
        ("pat@example.net", "Question about prices", False),
    ]:
        with session_scope() as s:
            apply_inbound_email(
                s,
                InboundEmail(
                    message_key=f"e-{sender}",
                    sender=sender,
                    recipients=("front@clinic-mail.example",),
                    subject=subject,
                    text="I am away." if automatic else "How much is a first visit?",
                    automatic=automatic,
                ),
                catalog=catalog,
                secret=SECRET_KEY,
                domain="",
                public_url=PUBLIC_URL,
                now=utcnow() - timedelta(minutes=5),
            )


def test_a_reply_is_answered_from_the_inbox_and_the_answer_goes_out(
    api_server: str,
    browser: Any,
) -> None:
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    seed_replies(api_server)
    add_person(None, "manager@example.com", "manager")
    browser.get(f"{api_server}/ops/replies")
    fill_sign_in(browser, "manager@example.com")
    wait_for(lambda: browser.find_elements(By.ID, "replies"), timeout_s=10, message="the inbox")

    cards = browser.find_elements(By.CSS_SELECTOR, "li.reply")
    assert [c.get_attribute("data-waiting") for c in cards] == ["yes", "yes", "no"]
    robin = cards[0]
    robin_id = robin.get_attribute("data-reply-id")
    assert REPLY in robin.text and "fast" in robin.text and "doctor-first" in robin.text
    assert "texts yes" in robin.text
    assert "Unknown sender" in cards[1].text and "automatic reply" in cards[2].text
    browser.save_screenshot(str(ARTIFACTS / "ops-replies-1280.png"))

    robin.find_element(By.CSS_SELECTOR, "textarea").send_keys(ANSWER)
    robin.find_element(By.CSS_SELECTOR, 'button[data-action="answer"]').click()
    wait_for(lambda: "done=answer" in browser.current_url, timeout_s=10, message="the answer")
    assert "your answer is queued" in browser.find_element(By.ID, "flash").text
    with session_scope() as s:
        [queued] = s.scalars(select(StaffMessage).where(StaffMessage.kind == "answer"))
    assert queued.body == ANSWER and queued.address == PHONE and queued.status == "pending"

    send_staff_messages(send_context(), clock=utcnow)  # what the worker's next tick does
    texts = [read_sms(p) for p in outbox("sms")]
    assert [t["body"] for t in texts if t["to"] == PHONE and "Tuesday" in t["body"]] == [ANSWER]
    browser.get(f"{api_server}/ops/replies")
    robin = browser.find_element(By.ID, f"reply-{robin_id}")
    assert (
        robin.find_element(By.CSS_SELECTOR, "[data-answer-status]").get_attribute(
            "data-answer-status"
        )
        == "sent"
    )
    browser.save_screenshot(str(ARTIFACTS / "ops-replies-answered-1280.png"))
    robin.find_element(By.CSS_SELECTOR, "h2 a").click()
    wait_for(lambda: browser.find_elements(By.ID, "conversation"), timeout_s=10, message="history")
    conversation = browser.find_element(By.ID, "conversation").text
    assert (
        REPLY in conversation
        and ANSWER in conversation
        and "manager@example.com answered" in conversation
    )
    browser.save_screenshot(str(ARTIFACTS / "ops-contact-conversation-1280.png"))
    browser.set_window_size(390, 1800)
    browser.get(f"{api_server}/ops/replies")
    browser.save_screenshot(str(ARTIFACTS / "ops-replies-390.png"))
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px)"
