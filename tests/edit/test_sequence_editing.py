"""The sequence editor's changes applied to the shipped files' text: comments, order and
quoting kept, only what was edited changed, every bad value refused naming its field."""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from nurture.core.states import Channel
from nurture.edit.copying import copy_sequence, sequence_paths
from nurture.edit.files import CatalogFiles
from nurture.edit.sequence_form import (
    EditError,
    SequenceFields,
    StepFields,
    field_words,
    fields_of,
    read_form,
)
from nurture.edit.sequences import edit_sequence
from nurture.edit.starters import STARTERS
from nurture.schedule.sequence import Sequence
from tests.conftest import ROOT

HIP = "schedules/hip-pain-consultation.yaml"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    """The shipped schedules and templates, by version path."""
    return CatalogFiles(ROOT / "schedules", ROOT / "templates").all()


@pytest.fixture(scope="module")
def shipped(files: dict[str, str]) -> SequenceFields:
    return fields_of(files[HIP], name=HIP)


def changed_lines(before: str, after: str) -> list[str]:
    """The lines removed (-) and added (+), without the diff's headers."""
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def step(fields: SequenceFields, step_id: str) -> StepFields:
    return next(s for s in fields.steps if s.id == step_id)


def with_step(fields: SequenceFields, step_id: str, **values: object) -> SequenceFields:
    steps = tuple(replace(s, **values) if s.id == step_id else s for s in fields.steps)  # type: ignore[arg-type]
    return replace(fields, steps=steps)


def test_saving_the_form_unchanged_gives_the_file_back_byte_for_byte(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    edit = edit_sequence(files, HIP, shipped)
    assert edit.errors == {}
    assert edit.texts == {HIP: files[HIP]}  # every template exists: no starter


def test_each_change_touches_only_its_own_line_and_keeps_every_comment(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    fields = replace(
        shipped,
        name="Hip: the spring follow-up",
        concern="hip, outer hip\ngluteus medius,  hip ",
        stop_on=("booked", "unsubscribed", "replied"),
        window_start="10:00",
        window_end="18:30",
        window_days=("mon", "wed", "fri"),
    )
    fields = with_step(fields, "self-test", after="2bd", when="contact.email", channels=("email",))
    fields = with_step(fields, "booking", when="", description="Book a visit")
    edit = edit_sequence(files, HIP, fields)
    assert edit.errors == {}
    text = edit.texts[HIP]
    assert changed_lines(files[HIP], text) == [
        "-name: Outer hip pain consultation follow-up",
        '+name: "Hip: the spring follow-up"',
        "-  concern: [hip, hips, hip pain, outer hip, gluteus, gluteus medius, glute]",
        "-stop_on: [booked, unsubscribed]",
        '-send_window: {start: "09:00", end: "19:00", days: [mon, tue, wed, thu, fri, sat]}',
        "+  concern: [hip, outer hip, gluteus medius]",
        "+stop_on: [booked, unsubscribed, replied]",
        '+send_window: {start: "10:00", end: "18:30", days: [mon, wed, fri]}',
        "-    after: 1d",
        "-    channels: [email, sms]",
        "+    after: 2bd",
        "+    channels: [email]",
        '+    when: "contact.email"',
        '-    description: "Invitation to book a visit, a free phone consultation, or a remote '
        'evaluation"',
        '+    description: "Book a visit"',
        '-    when: "not contact.booked"',
    ]
    comments = [line for line in files[HIP].splitlines() if line.lstrip().startswith("#")]
    assert comments and all(c in text.splitlines() for c in comments)
    loaded = Sequence.model_validate(yaml.safe_load(text))
    assert loaded.window is not None and str(loaded.window) == "10:00-18:30 mon,wed,fri"
    assert loaded.step("self-test").when == "contact.email"


def test_moving_a_step_up_swaps_it_with_the_one_before_keeping_the_blank_lines(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    edit = edit_sequence(files, HIP, shipped, "up:booking")
    text = edit.texts[HIP]
    assert [s.id for s in edit.fields.steps] == [
        "doctor-first",
        "self-test",
        "booking",
        "exercise-videos",
    ]
    assert text.count("\n\n  - id:") == 3 and text.endswith("template: hip-pain/exercise-videos\n")
    # The same lines, only in another order.
    assert sorted(text.splitlines()) == sorted(files[HIP].splitlines())
    assert edit.sequence is not None and edit.sequence.steps[2].id == "booking"


def test_a_comment_above_a_step_moves_with_the_step() -> None:
    text = (
        "id: s\nname: S\nmatch: {concern: [knee]}\nsteps:\n"
        "  # first: says hello\n"
        "  - id: hello\n    after: 0m\n    channels: [email]\n    template: s/hello  # inline\n"
        "\n"
        "  # second: the reminder\n"
        "  - id: remind\n    after: 1d\n    channels: [email]\n    template: s/remind\n"
        "# the end\n"
    )
    files = {"schedules/s.yaml": text}
    edit = edit_sequence(files, "schedules/s.yaml", fields_of(text), "down:hello")
    assert edit.errors == {}
    assert edit.texts["schedules/s.yaml"] == (
        "id: s\nname: S\nmatch: {concern: [knee]}\nsteps:\n"
        "  # second: the reminder\n"
        "  - id: remind\n    after: 1d\n    channels: [email]\n    template: s/remind\n"
        "\n"
        "  # first: says hello\n"
        "  - id: hello\n    after: 0m\n    channels: [email]\n    template: s/hello  # inline\n"
        "# the end\n"
    )


def test_removing_a_step_cuts_its_lines_and_nothing_else(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    edit = edit_sequence(files, HIP, shipped, "remove:self-test")
    assert edit.errors == {}
    removed = changed_lines(files[HIP], edit.texts[HIP])
    assert all(line.startswith("-") for line in removed) and len(removed) == 6
    assert "-  - id: self-test" in removed
    assert [s.id for s in edit.fields.steps] == ["doctor-first", "exercise-videos", "booking"]


def test_adding_a_step_appends_it_with_starter_messages_that_validate(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    new = StepFields("week-two", "Checking in a week later", "7d", ("email", "sms"), "")
    edit = edit_sequence(files, HIP, replace(shipped, new=new), "add")
    assert edit.errors == {} and edit.added == "week-two"
    assert changed_lines(files[HIP], edit.texts[HIP]) == [
        "+",
        "+  - id: week-two",
        '+    description: "Checking in a week later"',
        "+    after: 7d",
        "+    channels: [email, sms]",
        "+    template: hip-pain/week-two",
    ]
    assert set(edit.texts) == {
        HIP,
        "templates/hip-pain/week-two.subject.j2",
        "templates/hip-pain/week-two.md.j2",
        "templates/hip-pain/week-two.sms.j2",
    }
    assert edit.texts["templates/hip-pain/week-two.sms.j2"] == STARTERS[Channel.SMS]["sms"]


def test_ticking_a_channel_a_step_had_no_template_for_adds_a_starter_for_it_only() -> None:
    text = (
        "id: s\nname: S\nmatch: {concern: [knee]}\nsteps:\n"
        "  - id: hello\n    after: 0m\n    channels: [email]\n    template: s/hello\n"
    )
    files = {
        "schedules/s.yaml": text,
        "templates/s/hello.subject.j2": "Hi",
        "templates/s/hello.md.j2": "Hello",
    }
    fields = with_step(fields_of(text), "hello", channels=("email", "sms"))
    edit = edit_sequence(files, "schedules/s.yaml", fields)
    assert set(edit.texts) == {"schedules/s.yaml", "templates/s/hello.sms.j2"}


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"name": ""}, "name", "give the sequence a name"),
        ({"concern": "hip, !!!"}, "concern", "'!!!' has no letters or digits"),
        ({"stop_on": ("booked", "moved")}, "stop_on", "unknown reason to stop 'moved'"),
        ({"window_start": "9am"}, "window_start", "invalid time '9am'"),
        ({"window_end": "08:00"}, "window_end", "ends (08:00) before it starts (09:00)"),
        ({"window_days": ()}, "window_days", "tick at least one day"),
        ({"window_start": "22:00", "window_end": "23:00"}, "window_start", "no time for SMS"),
    ],
)
def test_a_bad_sequence_value_is_refused_naming_its_field(
    files: dict[str, str],
    shipped: SequenceFields,
    change: dict[str, object],
    field: str,
    says: str,
) -> None:
    edit = edit_sequence(files, HIP, replace(shipped, **change))  # type: ignore[arg-type]
    assert says in edit.errors[field], edit.errors
    assert edit.texts == {}


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"after": "2 days"}, "step.self-test.after", "invalid delay '2 days'"),
        ({"after": "-1d"}, "step.self-test.after", "invalid delay"),
        ({"channels": ()}, "step.self-test.channels", "tick at least one"),
        ({"channels": ("fax",)}, "step.self-test.channels", "unknown channel 'fax'"),
        ({"when": "contact.booked and"}, "step.self-test.when", "invalid expression"),
    ],
)
def test_a_bad_step_value_is_refused_naming_the_step_and_field(
    files: dict[str, str],
    shipped: SequenceFields,
    change: dict[str, object],
    field: str,
    says: str,
) -> None:
    edit = edit_sequence(files, HIP, with_step(shipped, "self-test", **change))
    assert says in edit.errors[field], edit.errors
    assert edit.texts == {}


@pytest.mark.parametrize(
    ("new", "says"),
    [
        (StepFields("", after="1d", channels=("sms",)), "give the new step an id"),
        (StepFields("Week Two", after="1d", channels=("sms",)), "lower-case letters"),
        (StepFields("booking", after="1d", channels=("sms",)), "already in this sequence"),
    ],
)
def test_a_new_step_needs_an_id_of_its_own(
    files: dict[str, str], shipped: SequenceFields, new: StepFields, says: str
) -> None:
    edit = edit_sequence(files, HIP, replace(shipped, new=new), "add")
    assert says in edit.errors["new.id"]


def test_the_last_step_cannot_be_removed_and_an_unknown_step_or_button_is_refused(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    one = (
        "id: s\nname: S\nmatch: {concern: [knee]}\n"
        "steps:\n  - {id: a, after: 0m, channels: [email], template: s/a}\n"
    )
    edit = edit_sequence({"schedules/s.yaml": one}, "schedules/s.yaml", fields_of(one), "remove:a")
    assert "at least one step" in edit.errors["steps"]
    assert "no step 'nope'" in edit_sequence(files, HIP, shipped, "up:nope").errors["steps"]
    assert "unknown button" in edit_sequence(files, HIP, shipped, "explode").errors["steps"]


def test_a_form_opened_before_the_steps_changed_is_refused_not_applied(
    files: dict[str, str], shipped: SequenceFields
) -> None:
    stale = replace(shipped, steps=shipped.steps[:3])  # the file has a step the form lacks
    edit = edit_sequence(files, HIP, stale)
    assert "changed since this page was opened" in edit.errors["steps"]


def test_the_form_posted_reads_every_field_and_multiple_values() -> None:
    fields = read_form(
        {
            "name": [" Knee "],
            "concern": ["knee, kneecap"],
            "stop_on": ["booked", "replied"],
            "window_start": ["09:00"],
            "window_end": ["17:00"],
            "window_days": ["mon", "tue"],
            "steps": ["a", "b"],
            "step.a.after": ["0m"],
            "step.a.channels": ["email", "sms"],
            "step.b.after": ["1d"],
            "step.b.when": ["not contact.booked"],
            "new.id": ["c"],
        }
    )
    assert fields.name == "Knee" and fields.terms == ["knee", "kneecap"]
    assert [s.id for s in fields.steps] == ["a", "b"]
    assert fields.steps[0].channels == ("email", "sms") and fields.steps[1].when
    assert fields.new.id == "c" and not fields.new.blank


def test_a_copy_is_a_new_file_with_copied_templates_and_no_matching_words(
    files: dict[str, str],
) -> None:
    texts = copy_sequence(files, "hip-pain-consultation", "hip-spring", "Hip pain: spring")
    schedule = texts.pop("schedules/hip-spring.yaml")
    data = yaml.safe_load(schedule)
    assert data["id"] == "hip-spring" and data["name"] == "Hip pain: spring"
    assert data["match"] == {"concern": []}
    assert [s["template"] for s in data["steps"]] == [
        f"hip-spring/{s['id']}" for s in data["steps"]
    ]
    assert len(texts) == 12
    for path, text in texts.items():
        original = path.replace("templates/hip-spring/", "templates/hip-pain/")
        assert files[original] == text
    # The original's comments are kept; the copy loads as a sequence.
    assert "# Follow-up for prospects who asked about pain on the outside of the hip." in schedule
    Sequence.model_validate(data)


def test_a_copy_of_the_default_sequence_is_not_the_default(files: dict[str, str]) -> None:
    texts = copy_sequence(files, "chronic-pain-default", "general-2", "General, again")
    data = yaml.safe_load(texts["schedules/general-2.yaml"])
    assert "default" not in data and data["match"] == {"concern": []}


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        (("nope", "x", "X"), "from", "no sequence 'nope'"),
        (("hip-pain-consultation", "neck-pain", "X"), "id", "taken by schedules/neck-pain.yaml"),
        (("hip-pain-consultation", "hip-pain", "X"), "id", "templates/hip-pain/ is taken"),
        (("hip-pain-consultation", "Hip Two", "X"), "id", "lower-case letters"),
        (("hip-pain-consultation", "hip-two", " "), "name", "give the copy a name"),
    ],
)
def test_a_copy_under_a_taken_or_bad_id_is_refused(
    files: dict[str, str], args: tuple[str, str, str], field: str, says: str
) -> None:
    with pytest.raises(EditError) as refused:
        copy_sequence(files, *args)
    assert says in refused.value.errors[field]


def test_a_taken_file_name_is_refused_even_under_another_id(files: dict[str, str]) -> None:
    odd = {**files, "schedules/knee.yaml": files[HIP].replace("id: hip-pain-consultation", "id: x")}
    with pytest.raises(EditError) as refused:
        copy_sequence(odd, "hip-pain-consultation", "knee", "Knee")
    assert "schedules/knee.yaml already exists" in refused.value.errors["id"]
    assert sequence_paths(odd)["x"] == "schedules/knee.yaml"


def test_every_shipped_sequence_round_trips_through_its_form(files: dict[str, str]) -> None:
    for sequence_id, path in sequence_paths(files).items():
        edit = edit_sequence(files, path, fields_of(files[path]))
        assert edit.texts == {path: files[path]}, sequence_id
    assert Path(ROOT / "schedules").is_dir()


def test_the_list_of_what_to_fix_names_fields_as_the_page_labels_them() -> None:
    assert field_words("step.self-test.after") == "Step self-test: goes out after"
    assert field_words("new.id") == "New step: its id"
    assert field_words("window_end") == "Send window: until"
