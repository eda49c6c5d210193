"""Publish and rollback: drafts become the files that are sent, as numbered versions; a
draft that breaks validation or meets an edit made on disk is refused with nothing written."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from nurture.config import get_settings
from nurture.db import session_scope
from nurture.db.tables import AuditRow, User
from nurture.edit.drafts import Conflict
from nurture.edit.history import EditedOnDisk, UnknownVersion, rollback, versions
from nurture.edit.publish import NothingToPublish, Refused, publish, publish_drafts
from nurture.people.actor import Actor
from tests.support.people import add_person
from tests.support.studio import (
    HIP_FILE,
    HIP_SMS,
    HIP_SUBJECT,
    NECK_SMS,
    replaced,
    studio_files,
)

MANAGER = Actor(kind="person", id=None, name="ann@example.com", role="manager")


def audit_rows(action: str) -> list[AuditRow]:
    with session_scope() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.action == action)).all()
        session.expunge_all()
        return list(rows)


def test_a_publish_writes_the_drafts_records_the_version_and_its_audit_row_and_drops_the_drafts(
    own_templates: Path,
) -> None:
    files, drafts = studio_files()
    sms = replaced(files, HIP_SMS, "simple self-check", "quick self-check")
    subject = "Book a visit, or a short call first"
    drafts.save(HIP_SMS, sms, by="ann@example.com")
    drafts.save(HIP_SUBJECT, subject + "\n", by="ann@example.com")
    assert files.read(HIP_SMS) != sms  # a draft changes nothing that is sent

    version = publish(files, drafts, actor=MANAGER, note="Friendlier wording")

    assert version == 2  # version 1 is the files as found
    assert files.read(HIP_SMS) == sms and files.read(HIP_SUBJECT) == subject + "\n"
    assert drafts.all() == []
    history = versions()
    assert [v.version for v in history] == [2, 1]
    assert history[0].files == [HIP_SUBJECT, HIP_SMS]
    assert history[0].by == "ann@example.com" and history[0].note == "Friendlier wording"
    assert history[1].by == "nurture" and history[1].files == []
    (row,) = audit_rows("publish")
    assert row.target == "version 2" and row.detail == {"files": 2}
    assert row.actor_name == "ann@example.com"
    # No temporary file is left beside the published ones.
    assert not list((own_templates / "hip-pain").glob(".*.tmp"))


def test_a_publish_is_refused_with_every_error_in_every_file_and_writes_nothing(
    own_templates: Path,
) -> None:
    files, drafts = studio_files()
    before = files.all()
    broken_yaml = replaced(files, HIP_FILE, "after: 1d", "after: 1x")
    broken_sms = replaced(files, NECK_SMS, "{{ links.booking }}", "{{ links.booking ")
    drafts.save(HIP_FILE, broken_yaml, by="ann@example.com")
    drafts.save(NECK_SMS, broken_sms, by="ann@example.com")

    with pytest.raises(Refused) as refused:
        publish(files, drafts, actor=MANAGER, note=None)

    errors = refused.value.errors
    by_file = {f.file for f in errors}
    assert HIP_FILE in by_file and NECK_SMS in by_file, [f.line_text() for f in errors]
    hip = next(f for f in errors if f.file == HIP_FILE)
    assert hip.line == 20 and "1x" in hip.message
    assert files.all() == before
    assert len(drafts.all()) == 2
    assert versions() == [] and audit_rows("publish") == []


def test_warnings_alone_do_not_refuse_a_publish(own_templates: Path) -> None:
    files, drafts = studio_files()
    # The shipped clinic.yaml still holds CHANGE-ME values: warnings, not errors.
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "couple of minutes"), by="a")
    assert publish(files, drafts, actor=MANAGER, note=None) == 2


def test_a_file_changed_on_disk_after_its_draft_began_refuses_the_publish(
    own_templates: Path,
) -> None:
    files, drafts = studio_files()
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "minute or two"), by="a")
    drafts.save(HIP_SUBJECT, "A new subject\n", by="a")
    on_server = replaced(files, HIP_SMS, "at home", "in your living room")
    files.location(HIP_SMS).write_text(on_server, encoding="utf-8")
    subject_before = files.read(HIP_SUBJECT)

    with pytest.raises(Conflict) as conflict:
        publish(files, drafts, actor=MANAGER, note=None)

    assert conflict.value.paths == [HIP_SMS]
    assert HIP_SMS in str(conflict.value)
    assert files.read(HIP_SMS) == on_server and files.read(HIP_SUBJECT) == subject_before
    assert len(drafts.all()) == 2 and versions() == []


def test_with_no_draft_there_is_nothing_to_publish(own_templates: Path) -> None:
    files, drafts = studio_files()
    with pytest.raises(NothingToPublish):
        publish(files, drafts, actor=MANAGER, note=None)


def test_a_rollback_makes_a_new_version_equal_to_the_old_one_and_is_audited(
    own_templates: Path,
) -> None:
    files, drafts = studio_files()
    original = files.read(HIP_SMS)
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "minute or two"), by="a")
    drafts.save("templates/hip-pain/extra.sms.j2", "A new file\n", by="a")
    publish(files, drafts, actor=MANAGER, note="v2")

    done = rollback(1, MANAGER)

    assert done.version == 3 and done.changed == ["templates/hip-pain/extra.sms.j2", HIP_SMS]
    assert files.read(HIP_SMS) == original
    assert files.read("templates/hip-pain/extra.sms.j2") is None  # v1 lacked it: removed
    top = versions()[0]
    assert top.rollback_of == 1 and top.note == "Rollback to version 1"
    (row,) = audit_rows("rollback")
    assert row.target == "version 3" and row.detail == {"files": 2, "of": 1}
    with pytest.raises(NothingToPublish):
        rollback(1, MANAGER)  # the files already are version 1


def test_a_rollback_to_a_version_that_does_not_exist_names_the_versions_there_are(
    own_templates: Path,
) -> None:
    with pytest.raises(UnknownVersion, match="nothing was published"):
        rollback(4, MANAGER)
    files, drafts = studio_files()
    drafts.save(HIP_SUBJECT, "New\n", by="a")
    publish(files, drafts, actor=MANAGER, note=None)
    with pytest.raises(UnknownVersion, match="versions 1 to 2"):
        rollback(9, MANAGER)


def test_a_rollback_never_overwrites_a_file_edited_on_disk_since_the_last_version(
    own_templates: Path,
) -> None:
    files, drafts = studio_files()
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "minute or two"), by="a")
    publish(files, drafts, actor=MANAGER, note=None)
    edited = replaced(files, HIP_SMS, "at home", "in the kitchen")
    files.location(HIP_SMS).write_text(edited, encoding="utf-8")

    with pytest.raises(EditedOnDisk) as refused:
        rollback(1, MANAGER)

    assert refused.value.paths == [HIP_SMS] and files.read(HIP_SMS) == edited
    assert len(versions()) == 2


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True
    ).stdout


def test_in_a_git_work_tree_a_publish_is_a_commit_by_the_manager_with_the_note(
    own_templates: Path, tmp_path: Path
) -> None:
    user_id = add_person(None, "ann@example.com", "manager")
    with session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.name = "Ann Lee"
    settings = get_settings()
    # One repository holding both folders, as a clinic would keep them.
    top = tmp_path
    git(top, "init", "-q")
    git(top, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A", "schedules", "templates")
    git(top, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    assert settings.schedules_dir.is_relative_to(top)
    files, drafts = studio_files()
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "minute or two"), by="a")
    drafts.save(HIP_FILE, replaced(files, HIP_FILE, "name: Outer hip", "name: Outer-hip"), by="a")
    actor = Actor(kind="person", id=user_id, name="ann@example.com", role="manager")

    done = publish_drafts(files, drafts, actor=actor, note="Shorter self-test text")

    assert done.git_problems == []
    log = git(top, "log", "-1", "--format=%an <%ae>%n%cn%n%B")
    assert log.startswith("Ann Lee <ann@example.com>\nnurture\nShorter self-test text\n")
    assert "version 2" in log
    shown = git(top, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(shown) == ["schedules/hip-pain-consultation.yaml", "templates/" + HIP_SMS[10:]]
    assert git(top, "status", "--porcelain", "--", "schedules", "templates") == ""

    rollback(1, actor)
    assert "a rollback to version 1" in git(top, "log", "-1", "--format=%B")


def test_a_git_failure_is_reported_and_never_undoes_the_publish(
    own_templates: Path, tmp_path: Path
) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / ".git" / "index.lock").write_text("")  # another git holds the index
    files, drafts = studio_files()
    sms = replaced(files, HIP_SMS, "few minutes", "minute or two")
    drafts.save(HIP_SMS, sms, by="a")

    done = publish_drafts(files, drafts, actor=MANAGER, note=None)

    assert done.version == 2 and files.read(HIP_SMS) == sms
    assert done.git_problems and "git commit" in done.git_problems[0]


def test_two_publishes_at_once_never_interleave(own_templates: Path) -> None:
    files, drafts = studio_files()
    drafts.save(HIP_SMS, replaced(files, HIP_SMS, "few minutes", "minute or two"), by="a")
    drafts.save(HIP_SUBJECT, "New subject\n", by="a")
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def one() -> None:
        start.wait()
        try:
            outcomes.append(publish(files, drafts, actor=MANAGER, note=None))
        except NothingToPublish as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(map(type, outcomes), key=str) == sorted([int, NothingToPublish], key=str)
    assert 2 in outcomes
    assert [v.version for v in versions()] == [2, 1] and len(audit_rows("publish")) == 1
