"""Who is acting: a signed-in person, a machine token, the shared API key, or the system
(the CLI, the scheduler). Every audit row names one."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["person", "token", "key", "system"]

#: The name the shared `NURTURE_API_KEY` acts under.
API_KEY_NAME = "api-key"


@dataclass(frozen=True)
class Actor:
    """Who did something. `name` is a person's email, a token's name, `api-key`, or the
    operating-system user running the CLI; `role` is the person's role, when there is one."""

    kind: ActorKind
    id: int | None
    name: str
    role: str | None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """nurture itself (a scheduled job), or a named process."""
        return cls(kind="system", id=None, name=name, role=None)

    @classmethod
    def api_key(cls) -> Actor:
        """Whoever holds the shared API key (every permission)."""
        return cls(kind="key", id=None, name=API_KEY_NAME, role=None)

    @classmethod
    def cli(cls) -> Actor:
        """The operating-system user running a `nurture` command ($USER)."""
        user = os.environ.get("USER", "")
        if not user:
            try:
                user = getpass.getuser()
            except (KeyError, OSError):
                user = "unknown"
        return cls.system(f"cli:{user}")
