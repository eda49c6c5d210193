"""Drafts: an edit waits in the database and never touches the files; an edit made on disk
since a draft began is a conflict, never overwritten; writes are atomic."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from nurture.edit.drafts import Conflict, Drafts
from nurture.edit.files import BadPath, CatalogFiles, check_path
from nurture.edit.proposed import proposed_folders, prune
from nurture.edit.yamltext import dump, load
from nurture.errors import ScheduleError
from tests.conftest import ROOT

SMS = "templates/hip-pain/booking.sms.j2"
CLINIC = "schedules/clinic.yaml"


@pytest.fixture
def files(tmp_path: Path, schedules_dir: Path) -> CatalogFiles:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    return CatalogFiles(schedules_dir, templates)


def test_a_draft_changes_no_file_and_shows_in_the_proposed_set(
    db: str, files: CatalogFiles
) -> None:
    drafts = Drafts(files)
    before = files.read(SMS)
    assert before is not None
    draft = drafts.save(SMS, "New text {{ links.booking }}", by="manager@clinic.test")
    assert draft is not None and draft.saved_by == "manager@clinic.test" and not draft.creates
    assert files.read(SMS) == before, "a draft never writes the file"
    assert drafts.text(SMS) == "New text {{ links.booking }}"
    assert drafts.proposed()[SMS] == "New text {{ links.booking }}"
    assert [d.path for d in drafts.all()] == [SMS]


def test_a_draft_equal_to_the_file_is_dropped(db: str, files: CatalogFiles) -> None:
    drafts = Drafts(files)
    drafts.save(SMS, "Changed", by="m")
    assert drafts.save(SMS, files.read(SMS), by="m") is None
    assert drafts.all() == []


def test_a_file_changed_on_disk_since_the_draft_began_is_a_conflict(
    db: str, files: CatalogFiles
) -> None:
    drafts = Drafts(files)
    drafts.save(SMS, "Mine", by="m")
    files.location(SMS).write_text("Edited on the server", encoding="utf-8")
    assert drafts.conflicts() == [SMS]
    with pytest.raises(Conflict, match=r"booking\.sms\.j2 changed on disk"):
        drafts.save(SMS, "Mine again", by="m")
    assert drafts.text(SMS) == "Mine", "the refused save keeps the draft as it was"
    assert files.read(SMS) == "Edited on the server", "and never overwrites the file"


def test_new_and_deleted_files(db: str, files: CatalogFiles) -> None:
    drafts = Drafts(files)
    new = "templates/hip-pain/extra.sms.j2"
    created = drafts.save(new, "Hello", by="m")
    assert created is not None and created.creates
    drafts.save(SMS, None, by="m")
    proposed = drafts.proposed()
    assert proposed[new] == "Hello" and SMS not in proposed
    assert drafts.discard([new]) == 1
    assert [d.path for d in drafts.all()] == [SMS]
    assert drafts.discard() == 1 and drafts.all() == []


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "schedules/../../x.yaml",
        "schedules/sub/x.yaml",
        "schedules/x.txt",
        "templates/x.py",
        "templates/.hidden/x.j2",
        "var/nurture.db",
        "schedules",
    ],
)
def test_only_schedule_and_template_files_are_edited(path: str) -> None:
    with pytest.raises(BadPath):
        check_path(path)


def test_a_write_replaces_the_file_whole(files: CatalogFiles) -> None:
    target = files.location(SMS)
    inode = target.stat().st_ino
    files.write(SMS, "Whole")
    assert target.read_text() == "Whole"
    assert target.stat().st_ino != inode, "written beside it and renamed over it"
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    files.write(SMS, None)
    assert not target.exists()
    assert os.stat(target.parent).st_mode


def test_the_proposed_folders_hold_the_drafts(db: str, files: CatalogFiles, var_dir: Path) -> None:
    drafts = Drafts(files)
    drafts.save(SMS, "Proposed", by="m")
    schedules, templates = proposed_folders(drafts, var_dir / "studio")
    assert (templates / "hip-pain" / "booking.sms.j2").read_text() == "Proposed"
    assert (schedules / "clinic.yaml").read_text() == files.read(CLINIC)


def test_round_trip_yaml_keeps_every_comment(files: CatalogFiles) -> None:
    text = files.read(CLINIC)
    assert text is not None
    document = load(text, name="clinic.yaml")
    assert dump(document) == text
    document["phone"] = "+1 617 555 0199"
    changed = dump(document)
    assert [line for line in changed.splitlines() if line.startswith("#")] == [
        line for line in text.splitlines() if line.startswith("#")
    ]
    assert 'phone: "+1 617 555 0199"' in changed


def test_a_broken_yaml_names_the_file_and_line() -> None:
    with pytest.raises(ScheduleError, match=r"clinic.yaml line \d"):
        load("name: x\nphone: [unclosed\n", name="clinic.yaml")


def test_old_proposed_sets_are_pruned_but_recent_ones_stay(tmp_path: Path) -> None:
    root = tmp_path / "studio"
    root.mkdir()
    (root / "publish.lock").write_text("")
    folders = []
    for n in range(5):
        folder = root / f"{n:016x}"
        folder.mkdir()
        os.utime(folder, (1_000_000 + n, 1_000_000 + n))
        folders.append(folder)
    (root / f"{9:016x}").mkdir()  # new: too young to go, whatever its rank
    assert prune(root, keep=2, older_than_s=60) == 4, "the newest two stay"
    assert sorted(p.name for p in root.iterdir()) == [
        "0000000000000004",
        "0000000000000009",
        "publish.lock",
    ]
    assert prune(root, keep=0, older_than_s=60) == 1, "a set still in use is never removed"
    assert sorted(p.name for p in root.iterdir()) == ["0000000000000009", "publish.lock"]
