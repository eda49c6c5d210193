"""What staff read instead of codes: the consent ledger in sentences, a message's state and
why it was skipped, in words a clinic uses."""

from __future__ import annotations

from typing import Any

from nurture.db.tables import ConsentEvent

CHANNEL = {"email": "emails", "sms": "texts"}
#: How the consent was given or withdrawn, by the ledger's `source`.
HOW = {
    "form": "on the website form",
    "api": "with the request sent to nurture",
    "cli": "entered by staff at the command line",
    "keyword": "by text message",
    "link": "with the unsubscribe link in an email",
    "webhook": "reported by the provider",
    "provider": "reported by the provider",
    "ops": "by staff",
}


def consent_words(event: ConsentEvent) -> str:
    """One sentence: what they agreed to or refused, how, and on what evidence."""
    what = CHANNEL.get(event.channel.value, event.channel.value)
    verb = "Agreed to" if event.action == "opt_in" else "Said no to"
    said = f"{verb} {what} {HOW.get(event.source, event.source)}"
    details = _details(event.evidence or {})
    if event.wording_version:
        details.append(f"consent wording version {event.wording_version}")
    if event.page_url:
        details.append(f"on the page {event.page_url}")
    if event.ip:
        details.append(f"from IP address {event.ip}")
    return said + (f" ({'; '.join(details)})" if details else "") + "."


def _details(evidence: dict[str, Any]) -> list[str]:
    details: list[str] = []
    basis = evidence.get("basis")
    if basis == "explicit":
        details.append("ticked the box themselves")
    elif basis == "request":
        details.append("gave the address asking to be contacted")
    if evidence.get("keyword"):
        details.append(f"texted {evidence['keyword']}")
    if evidence.get("link") == "unsubscribe":
        details.append("one click from their mail program" if evidence.get("one_click") else "")
    if evidence.get("event"):
        details.append(f"{evidence.get('provider') or 'provider'} event: {evidence['event']}")
    if evidence.get("code"):
        details.append(f"{evidence.get('provider') or 'provider'} error {evidence['code']}")
    if evidence.get("request_id"):
        details.append(f"request #{evidence['request_id']}")
    return [d for d in details if d]


#: A message's state, as staff say it.
DELIVERY = {
    "scheduled": "waiting for its time",
    "queued": "about to go",
    "sending": "going out",
    "retrying": "will try again",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "could not be delivered",
    "bounced": "bounced (address refused it)",
    "skipped": "not sent",
    "canceled": "canceled by staff",
    "failed": "failed",
    "unknown": "may or may not have gone: check",
}
#: Why a message was not sent, by its code.
REASON = {
    "booked": "they booked",
    "no_consent": "no consent for this channel",
    "no_address": "no address for this channel",
    "suppressed": "on the do-not-contact list",
    "condition_false": "the step did not apply to them",
    "sequence_removed": "its sequence was removed",
    "step_removed": "the step was removed from its sequence",
    "enrollment_stopped": "their sequence was stopped",
    "enrollment_paused": "waiting: they wrote back",
    "held_for_window": "held for the send window",
}


def delivery_words(status: str, code: str | None) -> str:
    """A message's state in words, with why it was not sent where that is known."""
    said = DELIVERY.get(status, status)
    if code and status in ("skipped", "scheduled", "failed", "canceled"):
        reason = REASON.get(code)
        if reason is None and code.startswith("stopped:"):
            reason = f"stopped: {code.removeprefix('stopped:').replace('_', ' ')}"
        if reason:
            said += f" ({reason})"
    return said


#: A sequence run's state, as staff say it.
ENROLLMENT = {
    "active": "getting messages",
    "paused": "paused: they wrote back",
    "stopped": "stopped",
    "completed": "finished",
}
