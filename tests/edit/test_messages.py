"""`edit.messages`: which files a step's channel is edited in, a draft that does not parse
refused naming its field and line (nothing saved), and the older HTML + text emails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nurture.core.states import Channel
from nurture.edit.drafts import Conflict, Drafts
from nurture.edit.files import CatalogFiles
from nurture.edit.messages import (
    MessageRefused,
    message_files,
    read_message,
    save_message,
    syntax_problem,
    tidy,
)
from tests.conftest import ROOT

HIP = "hip-pain/booking"


def _on_disk(*paths: str):  # type: ignore[no-untyped-def]
    texts = {p: "text" for p in paths}
    return texts.get


def test_an_email_is_edited_as_its_subject_and_markdown_and_an_sms_as_its_sms_file() -> None:
    email = message_files(HIP, Channel.EMAIL, _on_disk())
    assert email.subject == "templates/hip-pain/booking.subject.j2"
    assert email.body == "templates/hip-pain/booking.md.j2"
    assert email.parts == ()
    sms = message_files(HIP, Channel.SMS, _on_disk())
    assert (sms.subject, sms.body) == (None, "templates/hip-pain/booking.sms.j2")
    assert sms.paths == ("templates/hip-pain/booking.sms.j2",)


def test_an_email_written_as_html_and_text_has_no_markdown_file_to_edit() -> None:
    older = message_files(
        "old/step",
        Channel.EMAIL,
        _on_disk("templates/old/step.html.j2", "templates/old/step.txt.j2"),
    )
    assert older.body is None
    assert older.subject == "templates/old/step.subject.j2"
    assert older.parts == ("templates/old/step.html.j2", "templates/old/step.txt.j2")
    # Both forms on disk (an error the lint names): the Markdown file is the one edited.
    both = message_files(
        "old/step",
        Channel.EMAIL,
        _on_disk("templates/old/step.md.j2", "templates/old/step.html.j2"),
    )
    assert both.body == "templates/old/step.md.j2"


def test_a_template_that_does_not_parse_is_named_with_its_line() -> None:
    problem = syntax_problem("sms", "Hi {{ contact.first_name }},\nsee {{ links.booking }\n")
    assert problem is not None
    assert problem.field == "sms" and problem.line == 2
    assert problem.message.startswith("the text message, line 2:")
    unclosed = syntax_problem("body", "Hi\n\n{% if contact.email %}\nonly some\n")
    assert unclosed is not None and "endif" in unclosed.message
    assert syntax_problem("subject", "Hello {{ contact.first_name }}") is None


def test_a_browsers_line_ends_and_final_newlines_change_nothing() -> None:
    assert tidy("a\r\nb", "a\nb\n") == "a\nb\n"
    assert tidy("a\r\nb\r\n\r\n", "a\nb") == "a\nb"  # the file had no final newline
    assert tidy("a\nc", "a\nb\n") == "a\nc\n"


@pytest.fixture
def drafts(db: str, tmp_path: Path) -> Drafts:
    """Drafts over a copy of the shipped templates (a test may change a file on disk)."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    return Drafts(CatalogFiles(ROOT / "schedules", templates))


def test_saving_an_sms_makes_a_draft_and_leaves_the_file(drafts: Drafts) -> None:
    path = "templates/hip-pain/booking.sms.j2"
    before = drafts.files.read(path)
    saved = save_message(
        drafts, HIP, Channel.SMS, subject=None, body="New words {{ links.booking }}", by="m@x.org"
    )
    assert saved == [path]
    assert drafts.files.read(path) == before
    assert drafts.text(path) == "New words {{ links.booking }}\n"
    shown = read_message(drafts, HIP, Channel.SMS)
    assert shown.body == "New words {{ links.booking }}\n"
    assert [d.saved_by for d in shown.drafts] == ["m@x.org"]
    # Saving the file's own text again drops the draft: nothing is left to publish.
    assert save_message(drafts, HIP, Channel.SMS, subject=None, body=before or "", by="m") == []
    assert drafts.all() == []


def test_a_field_that_does_not_parse_refuses_the_whole_save(drafts: Drafts) -> None:
    with pytest.raises(MessageRefused) as refused:
        save_message(
            drafts,
            HIP,
            Channel.EMAIL,
            subject="Fine {{ contact.first_name }}",
            body="Hello\n\n{{ links.booking ",
            by="m",
        )
    [problem] = refused.value.problems
    assert problem.field == "body" and problem.line == 3
    assert drafts.all() == []  # not even the subject, which parsed


def test_an_sms_has_no_subject_and_an_empty_field_is_refused(drafts: Drafts) -> None:
    with pytest.raises(MessageRefused) as refused:
        save_message(drafts, HIP, Channel.SMS, subject="Hi", body="  \n", by="m")
    fields = sorted(p.field for p in refused.value.problems)
    assert fields == ["sms", "subject"]
    assert drafts.all() == []


def test_the_body_of_an_html_and_text_email_is_refused_its_subject_saved(drafts: Drafts) -> None:
    folder = drafts.files.templates_dir / "old"
    folder.mkdir()
    (folder / "step.subject.j2").write_text("Old subject\n")
    (folder / "step.html.j2").write_text("<p>Hello {{ contact.first_name }}</p>\n")
    (folder / "step.txt.j2").write_text("Hello {{ contact.first_name }}\n")
    shown = read_message(drafts, "old/step", Channel.EMAIL)
    assert shown.body is None
    assert shown.parts["templates/old/step.txt.j2"] == "Hello {{ contact.first_name }}\n"
    with pytest.raises(MessageRefused) as refused:
        save_message(drafts, "old/step", Channel.EMAIL, subject=None, body="# Hi", by="m")
    assert "read-only" in str(refused.value)
    saved = save_message(
        drafts, "old/step", Channel.EMAIL, subject="New subject", body=None, by="m"
    )
    assert saved == ["templates/old/step.subject.j2"]


def test_a_file_changed_on_disk_since_its_draft_began_is_a_conflict(drafts: Drafts) -> None:
    save_message(drafts, HIP, Channel.SMS, subject=None, body="Draft one", by="m")
    drafts.files.location("templates/hip-pain/booking.sms.j2").write_text("Edited on the server\n")
    with pytest.raises(Conflict) as conflict:
        save_message(drafts, HIP, Channel.SMS, subject=None, body="Draft two", by="m")
    assert conflict.value.paths == ["templates/hip-pain/booking.sms.j2"]
    assert drafts.text("templates/hip-pain/booking.sms.j2") == "Draft one\n"


def test_a_step_whose_files_do_not_exist_yet_gets_new_files_as_drafts(drafts: Drafts) -> None:
    shown = read_message(drafts, "new/step", Channel.EMAIL)
    assert (shown.subject, shown.body) == (None, None)
    saved = save_message(drafts, "new/step", Channel.EMAIL, subject="Welcome", body="Hello", by="m")
    assert saved == ["templates/new/step.subject.j2", "templates/new/step.md.j2"]
    assert all(d.creates for d in drafts.all())
    assert drafts.files.read("templates/new/step.md.j2") is None
