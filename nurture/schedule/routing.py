"""Which sequence a consultation request enrolls in: the one home of routing.

A sequence's `match:` lists terms for the request's `concern` (the prospect's own words)
and/or its `source` (where the request came from). Words are compared whole, in any case,
with punctuation and hyphens read as spaces: `low back` matches "Low-back pain!" but not
"elbow backache"; a term with several words matches them in that order.

When terms of several sequences are found, one rule decides, so the result never depends on
the order the files happen to be read in more than it must:

1. a term found in the `concern` beats one found only in the `source` (the prospect's words
   say more than the page they came from);
2. the term found first in the text wins: the prospect's first-named concern decides
   ("hip and lower back" goes where `hip` goes, "lower back and hip" where `lower back` goes);
3. at the same place, the longer term wins ("back of my neck" beats "back", "frozen shoulder"
   beats "frozen");
4. an exact tie (the same term in two files) goes to the file first in name order.

A request no term matches goes to the sequence marked `default: true`. The default sequence
may list terms too, to claim words that would otherwise reach a narrower sequence (e.g.
"upper back" for the general follow-up, not the low back one).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from functools import lru_cache

from nurture.schedule.sequence import MatchKey, Sequence

#: The fields a `match:` may name, in the order of rule 1.
MATCH_KEYS: tuple[MatchKey, ...] = ("concern", "source")


def words(text: str | None) -> str:
    """`text` as lower-case words joined by single spaces: what terms are compared against."""
    return " ".join(_WORD.findall((text or "").lower()))


_WORD = re.compile(r"[a-z0-9]+")
# A file's terms are few and fixed: each is normalised once, not on every request.
_term_words = lru_cache(maxsize=4096)(words)


@dataclass(frozen=True, order=True)
class Hit:
    """Where a sequence's best term was found; a smaller hit wins (the rules above)."""

    key_rank: int  # 0 = found in the concern, 1 = only in the source
    position: int  # where the term starts in the normalised text
    longer_first: int  # minus the term's length, so a longer term sorts first
    term: str = field(compare=False)


def _find(terms: Iterable[str], padded: str, key_rank: int) -> Hit | None:
    """The best of `terms` in `padded` (normalised words with a space at each end)."""
    best: Hit | None = None
    for term in terms:
        wanted = _term_words(term)
        if not wanted:
            continue
        at = padded.find(f" {wanted} ")
        if at >= 0:
            hit = Hit(key_rank, at, -len(wanted), term)
            if best is None or hit < best:
                best = hit
    return best


def _hit(match: Mapping[MatchKey, Seq[str]] | None, given: dict[MatchKey, str]) -> Hit | None:
    if not match:
        return None
    for rank, key in enumerate(MATCH_KEYS):
        hit = _find(match.get(key, ()), given[key], rank)
        if hit is not None:
            return hit
    return None


def _given(concern: str | None, source: str | None) -> dict[MatchKey, str]:
    return {"concern": f" {words(concern)} ", "source": f" {words(source)} "}


def route(
    sequences: Iterable[Sequence], concern: str | None, source: str | None
) -> Sequence | None:
    """The sequence a request enrolls in (rules in this module's docstring), else the
    `default: true` one, else None. `sequences` come in file-name order (rule 4)."""
    given = _given(concern, source)
    best: tuple[Hit, int, Sequence] | None = None
    default: Sequence | None = None
    for order, sequence in enumerate(sequences):
        if sequence.default and default is None:
            default = sequence
        hit = _hit(sequence.match, given)
        if hit is not None and (best is None or (hit, order) < best[:2]):
            best = (hit, order, sequence)
    return best[2] if best else default


def shadowed_terms(sequences: Seq[Sequence]) -> list[tuple[str, int, str]]:
    """(sequence id, term index, what is wrong) for every `concern` term that, written alone,
    would not reach its own sequence (another file has the same words first): such a term
    can never route where its file says."""
    problems = []
    for sequence in sequences:
        for index, term in enumerate((sequence.match or {}).get("concern", ())):
            chosen = route(sequences, term, None)
            if chosen is not None and chosen.id != sequence.id:
                problems.append(
                    (
                        sequence.id,
                        index,
                        f"the concern term {term!r} routes to sequence {chosen.id!r} instead, "
                        "which lists the same words: remove it from one of the two files",
                    )
                )
    return problems
