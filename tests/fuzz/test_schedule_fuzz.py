"""Any schedule file gives a valid sequence or a ScheduleError, never another exception."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nurture.errors import ScheduleError
from nurture.schedule.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "schedules" / "hip-pain-consultation.yaml").read_text()
CLINIC = (ROOT / "schedules" / "clinic.yaml").read_text()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "0m",
            "1d",
            "3bd",
            "-1d",
            "1.5h",
            "email",
            "sms",
            "09:00",
            "25:00",
            "mon",
            "hip-pain/booking",
            "not contact.booked",
            "{{",
            "default",
            "fax",
        ]
    ),
)
keys = st.sampled_from(
    [
        "id",
        "name",
        "match",
        "default",
        "stop_on",
        "send_window",
        "steps",
        "after",
        "channels",
        "template",
        "when",
        "start",
        "end",
        "days",
        "concern",
        "description",
        "extra",
    ]
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=25,
)


def _load(text: str, clinic: str = CLINIC) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        (path / "clinic.yaml").write_text(clinic)
        (path / "seq.yaml").write_text(text)
        try:
            catalog = load_catalog(path)
        except ScheduleError as exc:
            assert str(exc), "an error says what is wrong"
            return
        assert catalog.sequences


FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ
@given(documents)
def test_any_yaml_document_loads_or_is_refused_with_a_schedule_error(doc: object) -> None:
    _load(yaml.safe_dump(doc))


@FUZZ
@given(st.data())
def test_a_mangled_shipped_file_loads_or_is_refused_with_a_schedule_error(
    data: st.DataObject,
) -> None:
    lines = SHIPPED.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "replace", "indent", "value"]))
        if action == "delete":
            del lines[index]
        elif action == "replace":
            lines[index] = data.draw(st.text(max_size=30))
        elif action == "indent":
            lines[index] = " " * data.draw(st.integers(0, 6)) + lines[index].lstrip()
        else:
            head = lines[index].split(":", 1)[0]
            lines[index] = f"{head}: {data.draw(scalars)!s}"
        if not lines:
            break
    _load("\n".join(lines))


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_cleanly(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder)
        shutil.copy(ROOT / "schedules" / "clinic.yaml", path / "clinic.yaml")
        (path / "seq.yaml").write_bytes(blob)
        with contextlib.suppress(ScheduleError):
            load_catalog(path)
