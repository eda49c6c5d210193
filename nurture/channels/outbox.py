"""The outbox channels: each message becomes a file, for the embedded default and previews.

Email goes to `OUTBOX_DIR/email/*.eml` (a real RFC 5322 message with its headers), SMS to
`OUTBOX_DIR/sms/*.json`. Files are written atomically, so a reader never sees half a message.
"""

from __future__ import annotations

import json
import os
import uuid
from email import policy
from email.charset import QP, Charset
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

from nurture.channels.base import Answer, BaseChannel, Lookup, LookupQuery, SendResult
from nurture.content.message import OutgoingMessage
from nurture.content.sms import sms_segments
from nurture.core.states import Channel
from nurture.errors import TransientSendError

#: UTF-8 bodies as quoted-printable: an .eml stays readable in a text editor.
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP
#: SMTP line endings; long headers (List-Unsubscribe URLs) are kept on one line.
_SMTP = policy.compat32.clone(linesep="\r\n", max_line_length=998)


def _write_atomic(path: Path, data: bytes, provider: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        # Nothing was "sent": the file is not in the outbox, so a retry is safe.
        raise TransientSendError(
            f"outbox not writable: {exc.strerror}", provider=provider, code="outbox_io"
        ) from None


def _lookup(folder: Path, query: LookupQuery, suffix: str) -> tuple[Path | None, Lookup]:
    """The outbox always knows: a file named after the delivery is there or it is not."""
    try:
        found = sorted(folder.glob(f"{query.delivery_id:08d}-*{suffix}"))
    except OSError as exc:
        return None, Lookup(Answer.CANNOT_TELL, f"outbox unreadable: {exc.strerror}")
    if not found:
        return None, Lookup(Answer.ABSENT, f"no file for it in the outbox ({folder.name}/)")
    return found[0], Lookup(Answer.FOUND, f"outbox file {found[0].name}")


class OutboxEmailChannel(BaseChannel):
    """Writes each email as an .eml file."""

    provider = "outbox"
    remote = False
    channel = Channel.EMAIL

    def __init__(self, outbox_dir: Path) -> None:
        self.folder = outbox_dir / "email"

    def _send(self, message: OutgoingMessage) -> SendResult:
        # The `email.mime` classes with the compat32 policy: the same RFC 5322 message as
        # `EmailMessage` builds, at half its cost (a third of a send's CPU went on it).
        # MIMEText takes a Charset (typeshed only admits its name).
        text = MIMEText(message.text, "plain", _UTF8)  # type: ignore[arg-type]
        msg: Message = text
        if message.html:
            html = MIMEText(message.html, "html", _UTF8)  # type: ignore[arg-type]
            msg = MIMEMultipart("alternative", _subparts=[text, html])
        domain = (message.from_email or "nurture.local").rpartition("@")[2]
        message_id = make_msgid(idstring=f"d{message.delivery_id}", domain=domain)
        msg["From"] = formataddr((message.from_name or "", message.from_email or ""), "utf-8")
        msg["To"] = message.to
        msg["Subject"] = message.subject or ""
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = message_id
        if message.reply_to:
            msg["Reply-To"] = message.reply_to
        unsubscribe = [f"<{u}>" for u in (message.unsubscribe_url, message.unsubscribe_mailto) if u]
        if unsubscribe:
            msg["List-Unsubscribe"] = ", ".join(unsubscribe)
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        for key, value in message.metadata.items():
            msg[f"X-Nurture-{key.replace('_', '-').title()}"] = value
        name = f"{message.delivery_id:08d}-{uuid.uuid4().hex[:8]}.eml"
        _write_atomic(self.folder / name, msg.as_bytes(policy=_SMTP), self.provider)
        return SendResult(provider=self.provider, message_id=message_id.strip("<>"))

    def lookup(self, query: LookupQuery) -> Lookup:
        path, answer = _lookup(self.folder, query, ".eml")
        if path is None:
            return answer
        with open(path, "rb") as fh:  # the headers only: the Message-ID is the provider id
            headers = BytesParser(policy=_SMTP).parse(fh, headersonly=True)
        message_id = str(headers.get("Message-ID") or "").strip().strip("<>") or None
        return Lookup(Answer.FOUND, answer.evidence, message_id=message_id)


class OutboxSmsChannel(BaseChannel):
    """Writes each SMS as a JSON file."""

    provider = "outbox"
    remote = False
    channel = Channel.SMS

    def __init__(self, outbox_dir: Path, sender: str = "") -> None:
        self.folder = outbox_dir / "sms"
        self.sender = sender

    def _send(self, message: OutgoingMessage) -> SendResult:
        sid = f"OB{uuid.uuid4().hex}"
        record = {
            "sid": sid,
            "to": message.to,
            "from": self.sender,
            "body": message.text,
            "segments": sms_segments(message.text),
            "not_after": message.not_after.isoformat() if message.not_after else None,
            "metadata": message.metadata,
        }
        name = f"{message.delivery_id:08d}-{sid[2:10]}.json"
        _write_atomic(self.folder / name, json.dumps(record, indent=2).encode(), self.provider)
        return SendResult(provider=self.provider, message_id=sid)

    def lookup(self, query: LookupQuery) -> Lookup:
        path, answer = _lookup(self.folder, query, ".json")
        if path is None:
            return answer
        sid = str(json.loads(path.read_bytes()).get("sid") or "") or None
        return Lookup(Answer.FOUND, answer.evidence, message_id=sid)
