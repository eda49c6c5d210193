"""Sample prospects the studio, previews and test sends render for: one of each kind a
clinic must see its messages as (both channels, one channel, a long non-ASCII name that
forces UCS-2 SMS, a Florida number with its stricter SMS hours)."""

from __future__ import annotations

from nurture.content.context import SAMPLE_CONTACT, ContactView

SAMPLES: dict[str, ContactView] = {
    "email-and-phone": SAMPLE_CONTACT,
    "email-only": ContactView(
        id=0,
        first_name="Jordan",
        last_name="Example",
        email="jordan@example.com",
        phone=None,
        concern="hip pain",
        booked=False,
        timezone="America/Chicago",
    ),
    "phone-only": ContactView(
        id=0,
        first_name="Sam",
        last_name=None,
        email=None,
        phone="+16175550124",
        concern=None,
        booked=False,
        timezone="America/New_York",
    ),
    "long-non-ascii-name": ContactView(
        id=0,
        first_name="Zoë-Anastasía Łucja",
        last_name="Wiśniewska-Øvergård",
        email="zoe@example.com",
        phone="+16175550125",
        concern="hip",
        booked=False,
        timezone="America/New_York",
    ),
    "florida": ContactView(
        id=0,
        first_name="Maria",
        last_name="Sample",
        email="maria@example.com",
        phone="+13055550126",
        concern="outer hip pain",
        booked=False,
        timezone="America/New_York",
    ),
}
DEFAULT_SAMPLE = "email-and-phone"
