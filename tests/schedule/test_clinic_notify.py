"""`clinic.yaml: notify`: staff addresses told of replies, checked when the files load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nurture.errors import ScheduleError
from nurture.schedule.catalog import load_catalog
from tests.conftest import ROOT


def _schedules(tmp_path: Path, notify: str) -> Path:
    folder = tmp_path / "schedules"
    shutil.copytree(ROOT / "schedules", folder)
    clinic = folder / "clinic.yaml"
    clinic.write_text(clinic.read_text() + notify)
    return folder


def test_notify_lists_staff_emails_and_phones(tmp_path: Path) -> None:
    folder = _schedules(
        tmp_path, "notify:\n  email: [desk@clinic.example]\n  sms: ['+16175550142']\n"
    )
    notify = load_catalog(folder).clinic.notify
    assert [str(e) for e in notify.email] == ["desk@clinic.example"]
    assert notify.sms == ["+16175550142"]


def test_without_notify_nobody_is_told(tmp_path: Path) -> None:
    notify = load_catalog(_schedules(tmp_path, "")).clinic.notify
    assert notify.email == [] and notify.sms == []


@pytest.mark.parametrize(
    ("notify", "says"),
    [
        ("notify:\n  sms: ['617 555 0142']\n", "E.164"),
        ("notify:\n  email: [not-an-address]\n", "notify.email"),
        ("notify:\n  pager: [x]\n", "unknown field"),
    ],
)
def test_a_wrong_notify_entry_names_the_field(tmp_path: Path, notify: str, says: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        load_catalog(_schedules(tmp_path, notify))
    assert "clinic.yaml" in str(caught.value) and says in str(caught.value)
