"""Every page shows times as the clinic reads them: in clinic.yaml's timezone, labelled with
its abbreviation, with the prospect's own time where it matters (a delivery's due time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.api.ops.render import environment
from tests.helpers import enroll

AUTH = {"Authorization": "Bearer test-key"}


def show(value: object, prospect_zone: str | None = None, clinic: str = "America/New_York") -> str:
    template = environment().from_string("{{ value | when(zone) }}")
    return template.render(value=value, zone=prospect_zone, clinic_zone=ZoneInfo(clinic))


def test_a_time_reads_in_the_clinics_zone_with_its_abbreviation_and_the_utc_instant_kept() -> None:
    html = show(datetime(2026, 3, 3, 14, 0, tzinfo=UTC))
    assert ">Tue 3 Mar 2026, 09:00 EST</time>" in html
    assert 'datetime="2026-03-03T14:00:00Z"' in html and 'title="2026-03-03 14:00:00 UTC"' in html
    assert ">Fri 3 Jul 2026, 10:00 EDT<" in show("2026-07-03T14:00:00+00:00")  # summer time


def test_the_prospects_own_time_is_added_when_their_zone_differs() -> None:
    html = show(datetime(2026, 3, 3, 14, 0, tzinfo=UTC), "America/Los_Angeles")
    assert "09:00 EST" in html and "(their time: 06:00 PST)" in html
    assert "their time" not in show(datetime(2026, 3, 3, 14, 0, tzinfo=UTC), "America/Detroit")
    late = show(datetime(2026, 3, 4, 3, 30, tzinfo=UTC), "America/Los_Angeles")
    assert "Tue 3 Mar 2026, 22:30 EST" in late and "(their time: 19:30 PST)" in late
    assert "Wed" not in late
    next_day = show(datetime(2026, 3, 4, 3, 30, tzinfo=UTC), "Europe/Paris")
    assert "(their time: 04:30 CET Wed)" in next_day


def test_nothing_and_bad_zones_never_break_a_page() -> None:
    assert show(None) == ""
    assert "their time" not in show(datetime(2026, 3, 3, 14, 0, tzinfo=UTC), "Mars/Olympus")


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="http://testserver") as test_client:
        yield test_client


def test_a_prospects_page_shows_due_times_in_clinic_time_and_theirs(client: TestClient) -> None:
    answer = enroll(
        datetime(2026, 3, 3, 15, 0, tzinfo=UTC),
        first_name="Lee",
        email="lee@example.com",
        phone="+14155550100",
        timezone="America/Los_Angeles",
        concern="outer hip pain",
    )
    contact_id = answer["enrollment"]["contact_id"]
    html = client.get(f"/ops/contacts/{contact_id}", headers=AUTH).text
    assert "(UTC)" not in html
    assert " EST</time>" in html and "(their time:" in html and " PST" in html
    dashboard = client.get("/ops", headers=AUTH).text
    assert "UTC</time>" not in dashboard and "</time></span></h1>" in dashboard


def test_the_dashboards_delivery_tables_show_clinic_time_too(client: TestClient) -> None:
    """Its tables come from an imported macro, which sees no page context."""
    from tests.ops_helpers import seed_now

    seed_now()
    dashboard = client.get("/ops", headers=AUTH).text
    assert "Failed" in dashboard and "Unknown" in dashboard
    assert " UTC</time>" not in dashboard
    assert " EST</time>" in dashboard or " EDT</time>" in dashboard
