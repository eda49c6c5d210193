"""The integer parameters of every route, bounded once.

A bare `int` in a path, query or form accepts any size: an id past 64 bits reached the
database and overflowed it (a 500). Every route declares its integers with one of these
types instead, so an out-of-range value is a 422 naming the parameter before the route runs;
`tests/security/test_routes.py` walks every route and fails on a bare `int`.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

from nurture.core.inputs import MAX_ID

#: A row id: a contact, a delivery, a reply (1 to 2^63 - 1, what both databases store).
RowId = Annotated[int, Ge(1), Le(MAX_ID)]
#: A delivery id a provider echoes back: 0 names none (staff messages and test sends).
EchoedId = Annotated[int, Ge(0), Le(MAX_ID)]
#: A small count a person chooses (seconds between page reloads, a page size).
Count = Annotated[int, Ge(0), Le(86_400)]
