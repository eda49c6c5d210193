"""A never-seen prospect in one statement on PostgreSQL.

The contact, the request, the consent ledger (and an opt-out an explicit opt-in lifts), the
enrollment and its deliveries are one chain of data-modifying CTEs: one round trip instead of
one per table, and with no Idempotency-Key to answer later, no transaction around it either.
The rows are the ones `write.enroll_new_contact` writes (tested side by side).

The contact goes in with `ON CONFLICT DO NOTHING`, and only when neither address was
erased earlier (their keyed hashes are not in `erased_addresses`): when its email or phone
belongs to a known contact, or was erased, the rest of the chain selects from no row, nothing
is written, and the caller takes the path that counts an erased address's request or updates
the known contact. So a never-seen prospect costs one round trip, the erasure check included.
SQLite keeps that Core path for new prospects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence as Sequence_
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from nurture.core.states import Channel, EnrollmentStatus
from nurture.core.zones import region_for_phone, resolve_timezone
from nurture.intake.answer import new_enrollment_answer, schedule_row
from nurture.intake.consent import consent_rows, lifted
from nurture.intake.request import ConsultationRequestIn, RequestMeta
from nurture.intake.write import delivery_rows, new_contact_values, request_values
from nurture.schedule import Catalog, Sequence
from nurture.steering.consent import OPT_OUT

#: The keyed hash of each address a request gives, by channel (`address_digest`).
AddressDigests = Mapping[Channel, str]

# Fixed text whatever the request: psycopg prepares it on the server after a few executions.
# Rows go in as JSON arrays of objects: one text parameter each, cheaper for psycopg to send
# than an array parameter per column.
# A consent row's evidence starts with the request's id, known only inside the statement:
# it is spliced in front of the rest, giving the text `json.dumps` gives the Core path.
ENROLL_NEW = """
WITH contact AS (
    INSERT INTO contacts (email, phone, first_name, last_name, timezone, consent_email,
                          consent_sms, created_at, updated_at)
    SELECT %(email)s, %(phone)s, %(first_name)s, %(last_name)s, %(timezone)s,
           %(consent_email)s::boolean, %(consent_sms)s::boolean, %(created_at)s, %(updated_at)s
    WHERE NOT EXISTS (
        SELECT FROM erased_addresses WHERE digest IN (%(erased_email)s, %(erased_phone)s))
    ON CONFLICT DO NOTHING
    RETURNING id
), request AS (
    INSERT INTO consultation_requests (contact_id, received_at, idempotency_key, concern,
                                       message, source, ip, user_agent)
    SELECT id, %(received_at)s, %(idempotency_key)s, %(concern)s, %(message)s,
           %(source)s, %(ip)s, %(user_agent)s
    FROM contact
    RETURNING id, contact_id
), consent AS (
    INSERT INTO consent_events (contact_id, channel, action, source, evidence, at,
                                wording_version, page_url, ip, user_agent)
    SELECT request.contact_id, c.channel, c.action, %(consent_source)s,
           ('{"request_id": ' || request.id || ', ' || substr(c.evidence, 2))::json,
           %(received_at)s, c.wording_version, %(page_url)s, %(ip)s, %(user_agent)s
    FROM request,
         ROWS FROM (json_to_recordset(%(consent)s::json)
                    AS (channel text, action text, evidence text, wording_version text))
             WITH ORDINALITY AS c(channel, action, evidence, wording_version, n)
    ORDER BY c.n
), lifted AS (
    DELETE FROM suppressions
    WHERE reason = %(opt_out)s
      AND EXISTS (SELECT FROM contact)
      AND (channel, address) IN (
          SELECT * FROM json_to_recordset(%(lifts)s::json) AS (channel text, address text))
), enrollment AS (
    INSERT INTO enrollments (contact_id, request_id, sequence_id, status, timezone, region,
                             started_at)
    SELECT contact_id, id, %(sequence_id)s, %(status)s, %(timezone)s, %(region)s,
           %(received_at)s
    FROM request
    RETURNING id, contact_id, request_id
), delivery AS (
    INSERT INTO deliveries (enrollment_id, contact_id, step_id, step_index, channel, template,
                            due_at, status, attempts, error_code, updated_at)
    SELECT enrollment.id, enrollment.contact_id, d.step_id, d.step_index, d.channel,
           d.template, d.due_at, d.status, 0, d.error_code, %(received_at)s
    FROM enrollment,
         ROWS FROM (json_to_recordset(%(deliveries)s::json)
                    AS (step_id text, step_index int, channel text, template text,
                        due_at timestamptz, status text, error_code text))
             WITH ORDINALITY AS d(step_id, step_index, channel, template, due_at, status,
                                  error_code, n)
    ORDER BY d.n
    RETURNING id, step_id, channel
)
SELECT enrollment.request_id, enrollment.id, enrollment.contact_id,
       delivery.id, delivery.step_id, delivery.channel
FROM enrollment LEFT JOIN delivery ON true
"""


@dataclass(frozen=True)
class NewProspect:
    """A never-seen prospect's statement parameters, and what its answer is built from."""

    params: dict[str, Any]
    rows: list[dict[str, Any]]
    sequence: Sequence
    tz: ZoneInfo
    now: datetime


#: What the statement returns: (request, enrollment, contact, delivery, step, channel) rows;
#: none when it wrote nothing.
Written = Sequence_[tuple[Any, ...]]


def enroll_new_prospect(
    conn: Connection,
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    sequence: Sequence,
    now: datetime,
    meta: RequestMeta,
    idempotency_key: str | None,
    digests: AddressDigests,
) -> dict[str, Any] | None:
    """Write a never-seen prospect and its enrollment in one statement; the answer.

    None when the email or phone belongs to a known contact, or was erased earlier (one of
    `digests`, the keyed hashes of the request's addresses, is among the erased
    addresses): then nothing was written.
    """
    prospect = new_prospect(
        request,
        catalog=catalog,
        sequence=sequence,
        now=now,
        meta=meta,
        idempotency_key=idempotency_key,
        digests=digests,
    )
    return prospect_answer(prospect, write_prospect(conn, prospect))


def write_prospect(conn: Connection, prospect: NewProspect) -> Written:
    """Run `prospect`'s statement on `conn` (in its transaction, or committed on its own)."""
    return conn.exec_driver_sql(ENROLL_NEW, prospect.params).all()


def new_prospect(
    request: ConsultationRequestIn,
    *,
    catalog: Catalog,
    sequence: Sequence,
    now: datetime,
    meta: RequestMeta,
    idempotency_key: str | None,
    digests: AddressDigests,
) -> NewProspect:
    """The statement's parameters for `request`: its zone, consent rows and schedule."""
    tz = resolve_timezone(request.timezone, request.phone, catalog.clinic.timezone)
    region = region_for_phone(request.phone)
    # The request's id goes in when the statement knows it (0 is a stand-in, dropped here).
    consent, _ = consent_rows(request, contact_id=0, request_id=0, meta=meta, now=now)
    lifts = lifted(request)
    rows = delivery_rows(
        sequence=sequence,
        catalog=catalog,
        enrollment_id=None,
        contact_id=None,
        addresses={Channel.EMAIL: request.email, Channel.SMS: request.phone},
        tz=tz,
        region=region,
        now=now,
    )
    params: dict[str, Any] = {
        **new_contact_values(request, tz, now),
        **request_values(request, None, now, meta, idempotency_key),
        "consent_source": meta.source,
        "page_url": meta.page_url,
        "consent": json.dumps(
            [
                {
                    "channel": row["channel"].value,
                    "action": row["action"],
                    "evidence": _evidence_after_request_id(row["evidence"]),
                    "wording_version": row["wording_version"],
                }
                for row in consent
            ]
        ),
        "erased_email": digests.get(Channel.EMAIL),
        "erased_phone": digests.get(Channel.SMS),
        "opt_out": OPT_OUT,
        "lifts": json.dumps([{"channel": c.value, "address": a} for c, a in lifts]),
        "sequence_id": sequence.id,
        "status": EnrollmentStatus.ACTIVE.value,
        "region": region,
        "deliveries": json.dumps(
            [
                {
                    "step_id": row["step_id"],
                    "step_index": row["step_index"],
                    "channel": row["channel"].value,
                    "template": row["template"],
                    "due_at": row["due_at"].isoformat(),
                    "status": row["status"].value,
                    "error_code": row["error_code"],
                }
                for row in rows
            ]
        ),
    }
    return NewProspect(params=params, rows=rows, sequence=sequence, tz=tz, now=now)


def prospect_answer(prospect: NewProspect, written: Written) -> dict[str, Any] | None:
    """The answer to a prospect its statement wrote; None when it wrote nothing."""
    if not written:
        return None
    request_id, enrollment_id, contact_id = written[0][:3]
    # Matched by (step, channel), unique in an enrollment: RETURNING promises no order. A
    # sequence without deliveries leaves one row of NULLs (the LEFT JOIN).
    ids = {
        (step, channel): delivery_id
        for *_, delivery_id, step, channel in written
        if delivery_id is not None
    }
    schedule = [
        schedule_row(ids[row["step_id"], row["channel"].value], row) for row in prospect.rows
    ]
    return new_enrollment_answer(
        request_id=request_id,
        enrollment_id=enrollment_id,
        contact_id=contact_id,
        sequence=prospect.sequence,
        tz=prospect.tz,
        now=prospect.now,
        schedule=schedule,
    )


def _evidence_after_request_id(evidence: dict[str, Any]) -> str:
    """The evidence's JSON text without its leading `request_id` (which must come first)."""
    first, *_ = evidence
    assert first == "request_id", evidence
    return json.dumps({k: v for k, v in evidence.items() if k != "request_id"})
