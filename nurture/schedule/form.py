"""What the hosted form offers: its concern choices, and its consent wording today.

The concern choices are one per sequence, each routed like any request.

A choice's value is what the form posts as `concern`: the sequence's `form_label` (else its
`name`) when `Catalog.route` sends that text to the sequence, else the first of its
`match: concern` terms that does. A sequence no text of its own routes to is left out (and
`choice_problems` says so). "Something else" posts no concern: the default sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from nurture.core.states import Channel
from nurture.schedule.catalog import Catalog
from nurture.schedule.sequence import Sequence
from nurture.schedule.wording import ShownWording, most_sms, shown_wording

#: The value of the "Something else" choice: the request carries no concern.
SOMETHING_ELSE = "something-else"


@dataclass(frozen=True)
class ConcernChoice:
    """One option of the form's concern list."""

    value: str
    label: str
    sequence_id: str


def _label(sequence: Sequence) -> str:
    return sequence.form_label or sequence.name


def _routed_value(catalog: Catalog, sequence: Sequence) -> str | None:
    terms = (sequence.match or {}).get("concern", [])
    for text in (_label(sequence), *terms):
        if catalog.route(text).id == sequence.id:
            return text
    return None


def concern_choices(catalog: Catalog) -> list[ConcernChoice]:
    """The form's choices in file order, then "Something else"; only sequences matched by
    concern (the default, and a source-only sequence, are reached another way)."""
    choices: list[ConcernChoice] = []
    default = next((s for s in catalog.sequences.values() if s.default), None)
    for sequence in catalog.sequences.values():
        if sequence.default or not (sequence.match or {}).get("concern"):
            continue
        value = _routed_value(catalog, sequence)
        if value is not None:
            choices.append(
                ConcernChoice(value=value, label=_label(sequence), sequence_id=sequence.id)
            )
    if default is not None:
        choices.append(
            ConcernChoice(value=SOMETHING_ELSE, label="Something else", sequence_id=default.id)
        )
    return choices


def concern_of(value: str | None) -> str | None:
    """The request's concern for a posted choice ("Something else" is none)."""
    if value is None or value.strip() in ("", SOMETHING_ELSE):
        return None
    return value.strip()


def choice_problems(catalog: Catalog) -> list[str]:
    """Sequences matched by concern that the form cannot offer: no text of theirs routes there."""
    return [
        f"sequence {s.id!r}: no form choice routes to it (another sequence wins "
        f"{_label(s)!r} and each of its concern terms); give it a `form_label` that only it "
        "matches"
        for s in catalog.sequences.values()
        if not s.default and (s.match or {}).get("concern") and _routed_value(catalog, s) is None
    ]


def form_wording(catalog: Catalog) -> dict[Channel, ShownWording]:
    """The consent wording the form shows today, with its versions."""
    clinic = catalog.clinic
    return shown_wording(
        clinic.consent,
        clinic=clinic.name,
        phone=clinic.phone,
        max_sms=most_sms(list(catalog.sequences.values())),
    )
