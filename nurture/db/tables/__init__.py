"""The database schema: the source of truth for what is scheduled and what was sent.

Only the migrations change it (`nurture db upgrade`); a delivery's state only changes in
`nurture.db.transitions`. One module per concept, all on one `metadata` (`base`):

- `enrollments`: `Contact`, `Enrollment`, `Delivery`.
- `intake`: `ConsultationRequest`, `FormHit`, `FormOrigin`, `BookingEvent`.
- `consent`: `ConsentEvent`, `Suppression`, `ErasedAddress`.
- `events`: `DeliveryEvent`, `ProviderEvent`, `Heartbeat`.
- `messages`: `InboundMessage`, `StaffMessage`.
- `catalog`: `CatalogVersion`, the schedule and template files as they last validated.
- `audit`: `AuditRow`, `AuditHead`.
- `people`: `User`, `Invitation`, `StaffSession`, `MachineToken`, `LoginFailure`.
- `studio`: `Draft`, `StudioVersion`, the studio's unpublished edits and published versions.

Import tables from here; importing this package registers every table on `metadata`, which
the migrations compare against.
"""

from nurture.db.tables.audit import AuditHead, AuditRow
from nurture.db.tables.base import Base
from nurture.db.tables.catalog import CatalogVersion
from nurture.db.tables.consent import ConsentEvent, ErasedAddress, Suppression
from nurture.db.tables.enrollments import Contact, Delivery, Enrollment
from nurture.db.tables.events import DeliveryEvent, Heartbeat, ProviderEvent
from nurture.db.tables.intake import BookingEvent, ConsultationRequest, FormHit, FormOrigin
from nurture.db.tables.messages import InboundMessage, StaffMessage
from nurture.db.tables.people import Invitation, LoginFailure, MachineToken, StaffSession, User
from nurture.db.tables.studio import Draft, StudioVersion

metadata = Base.metadata

__all__ = [
    "AuditHead",
    "AuditRow",
    "Base",
    "BookingEvent",
    "CatalogVersion",
    "ConsentEvent",
    "ConsultationRequest",
    "Contact",
    "Delivery",
    "DeliveryEvent",
    "Draft",
    "Enrollment",
    "ErasedAddress",
    "FormHit",
    "FormOrigin",
    "Heartbeat",
    "InboundMessage",
    "Invitation",
    "LoginFailure",
    "MachineToken",
    "ProviderEvent",
    "StaffMessage",
    "StaffSession",
    "StudioVersion",
    "Suppression",
    "User",
    "metadata",
]
