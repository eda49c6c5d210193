"""The database: tables (`tables`, `types`), engines and sessions (`engine`), migrations
(`migrate`), the dialect's upsert (`upsert`), autocommit connections for a batch
(`connections`), and the one writer of a delivery's state and its events (`transitions`)."""

from nurture.db.engine import get_engine, reset_engines, session_factory, session_scope
from nurture.db.migrate import upgrade

__all__ = ["get_engine", "reset_engines", "session_factory", "session_scope", "upgrade"]
