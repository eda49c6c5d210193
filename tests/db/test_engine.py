"""The engines nurture makes keep what prospects wrote out of database errors (and so out of
logs)."""

from __future__ import annotations

from nurture.db import engine as db


def test_database_errors_do_not_carry_the_statements_values(env: dict[str, str]) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = db.make_engine(env["NURTURE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO no_such_table VALUES (:note)"), {"note": "sore hip"})
    except DBAPIError as exc:
        assert "sore hip" not in str(exc)
        assert "hidden" in str(exc)
    else:
        raise AssertionError("the INSERT should have failed")
    finally:
        engine.dispose()
