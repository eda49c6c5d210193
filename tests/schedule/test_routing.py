"""Routing: the words a prospect types choose the sequence they enroll in.

The shipped sequences are routed with realistic phrasings; the rules that settle overlaps
(the concern before the source, the term named first, then the longer, then file order)
are pinned on small folders of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.schedule.catalog import Catalog, load_catalog
from nurture.schedule.routing import words

ROOT = Path(__file__).resolve().parents[2]
HIP, LOW_BACK, NECK = "hip-pain-consultation", "low-back-pain", "neck-pain"
SHOULDER, DEFAULT = "shoulder-pain", "chronic-pain-default"


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog(ROOT / "schedules")


@pytest.mark.parametrize(
    ("concern", "expected"),
    [
        # low back
        ("lower back", LOW_BACK),
        ("Low back pain", LOW_BACK),
        ("my back is killing me", LOW_BACK),
        ("lumbar", LOW_BACK),
        ("Lower-back pain for 3 years!!", LOW_BACK),
        ("backache", LOW_BACK),
        ("Back", LOW_BACK),
        ("threw out my back lifting a box", LOW_BACK),
        # neck
        ("my neck hurts", NECK),
        ("stiff neck", NECK),
        ("neck and arm pain", NECK),
        ("back of my neck", NECK),
        ("pain at the back of the neck", NECK),
        ("whiplash from a car accident", NECK),
        ("NECK", NECK),
        # shoulder
        ("frozen shoulder", SHOULDER),
        ("shoulder pain", SHOULDER),
        ("Frozen shoulder?", SHOULDER),
        ("both shoulders ache", SHOULDER),
        ("rotator cuff", SHOULDER),
        ("pain in the back of my shoulder", SHOULDER),
        # hip
        ("outer hip", HIP),
        ("hip pain", HIP),
        ("Outer hip pain", HIP),
        ("my GLUTEUS hurts", HIP),
        ("sore hips when I walk", HIP),
        # the default: nothing the clinic's posts cover for that part, or nothing at all
        ("sciatica?", DEFAULT),
        ("sciatica down my leg", DEFAULT),
        ("", DEFAULT),
        (None, DEFAULT),
        ("knee", DEFAULT),
        ("hippo bite", DEFAULT),  # whole words: "hip" is not in "hippo"
        ("elbow", DEFAULT),  # nor "low" in "elbow"
        ("feedback", DEFAULT),  # nor "back" in "feedback"
        ("upper back", DEFAULT),
        ("pain between my shoulder blades", DEFAULT),
        ("back of my knee", DEFAULT),
        # An arm that will not lift may be the shoulder, or pain referred from the neck; the
        # shoulder emails say "your shoulder", which this prospect did not: the default.
        ("can't lift my arm", DEFAULT),
        ("arm pain", DEFAULT),
    ],
)
def test_a_prospects_own_words_route_to_the_sequence_for_their_concern(
    shipped: Catalog, concern: str | None, expected: str
) -> None:
    assert shipped.route(concern).id == expected


@pytest.mark.parametrize(
    ("concern", "expected"),
    [
        ("hip and lower back", HIP),
        ("lower back and hip", LOW_BACK),
        ("neck and shoulder pain", NECK),
        ("shoulder and neck", SHOULDER),
        ("neck and back", NECK),
        ("back and neck", LOW_BACK),
        ("sciatica in my lower back", DEFAULT),
        ("lower back pain, maybe sciatica", LOW_BACK),
    ],
)
def test_when_two_concerns_are_named_the_first_named_decides(
    shipped: Catalog, concern: str, expected: str
) -> None:
    assert shipped.route(concern).id == expected


def test_every_term_of_every_shipped_sequence_routes_to_its_own_sequence(
    shipped: Catalog,
) -> None:
    for sequence in shipped.sequences.values():
        for term in (sequence.match or {}).get("concern", []):
            assert shipped.route(term).id == sequence.id, (sequence.id, term)
    assert not [w for w in shipped.warnings if "routes to" in w]


def test_a_sequences_name_and_id_route_to_itself(shipped: Catalog) -> None:
    """What a form's concern choice may send: the sequence's name or its id."""
    for sequence in shipped.sequences.values():
        assert shipped.route(sequence.name).id == sequence.id, sequence.name
        assert shipped.route(sequence.id).id == sequence.id, sequence.id


def test_words_are_lower_case_with_punctuation_and_hyphens_as_spaces() -> None:
    assert words("  Low-BACK pain?! (3 yrs)") == "low back pain 3 yrs"
    assert words(None) == ""


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "clinic.yaml").write_text((ROOT / "schedules" / "clinic.yaml").read_text())
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def _sequence(seq_id: str, match: str = "", default: bool = False) -> str:
    return (
        f"id: {seq_id}\nname: {seq_id}\n"
        + (f"match: {match}\n" if match else "")
        + ("default: true\n" if default else "")
        + "steps:\n  - id: one\n    after: 0m\n    channels: [email]\n"
        + "    template: chronic-pain/doctor-first\n"
    )


def test_a_term_in_the_concern_beats_one_in_the_source(tmp_path: Path) -> None:
    catalog = load_catalog(
        _folder(
            tmp_path,
            a=_sequence("a", "{source: [hip-ad]}"),
            b=_sequence("b", "{concern: [neck]}"),
            z=_sequence("z", default=True),
        )
    )
    assert catalog.route("neck", "hip-ad").id == "b"
    assert catalog.route("knee", "hip-ad").id == "a"
    assert catalog.route("knee", None).id == "z"


def test_at_the_same_place_the_longer_term_wins_whatever_the_file_order(
    tmp_path: Path,
) -> None:
    catalog = load_catalog(
        _folder(
            tmp_path,
            a=_sequence("a", "{concern: [back]}"),
            b=_sequence("b", "{concern: [back of my neck]}"),
            z=_sequence("z", default=True),
        )
    )
    assert catalog.route("the back of my neck").id == "b"
    assert catalog.route("my back").id == "a"


def test_the_same_term_in_two_files_goes_to_the_first_file_by_name_with_a_warning(
    tmp_path: Path,
) -> None:
    catalog = load_catalog(
        _folder(
            tmp_path,
            b=_sequence("b", "{concern: [neck]}"),
            a=_sequence("a", "{concern: [neck]}"),
            z=_sequence("z", default=True),
        )
    )
    assert catalog.route("neck").id == "a"
    assert any(
        w.endswith(
            "b.yaml:3: match.concern[0]: the concern term 'neck' routes to sequence 'a' "
            "instead, which lists the same words: remove it from one of the two files"
        )
        for w in catalog.warnings
    ), catalog.warnings


def test_a_term_inside_a_longer_term_is_fine_but_the_same_words_twice_are_warned(
    tmp_path: Path,
) -> None:
    catalog = load_catalog(
        _folder(
            tmp_path,
            a=_sequence("a", "{concern: [frozen shoulder]}"),
            b=_sequence("b", "{concern: [frozen, Low-Back]}"),
            c=_sequence("c", "{concern: [low back]}"),
            z=_sequence("z", default=True),
        )
    )
    assert catalog.route("frozen shoulder").id == "a"
    assert catalog.route("frozen").id == "b"
    assert catalog.route("my low back").id == "b"
    warnings = [w.split("/")[-1] for w in catalog.warnings if "routes to" in w]
    assert warnings == [
        "c.yaml:3: match.concern[0]: the concern term 'low back' routes to sequence 'b' "
        "instead, which lists the same words: remove it from one of the two files"
    ]
