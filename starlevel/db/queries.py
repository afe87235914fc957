"""Small reads of the stored results that several services share."""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from starlevel.db.models import MonthResultRow


def core_connection(session: Session) -> Connection:
    """The session's connection, for a statement built once and run through Core (no ORM
    compile step), after flushing what the session holds, as ``session.execute`` would."""
    session.flush()
    return session.connection()


def result_bounds(session: Session) -> tuple[str | None, str | None]:
    """The first and last month with stored results. Two separate aggregates: SQLite answers
    a lone min() or max() from the month index in microseconds, but scans the whole table
    when both share one SELECT."""
    return tuple(core_connection(session).execute(RESULT_BOUNDS).one())  # type: ignore[return-value]


RESULT_BOUNDS = select(  # built once: run through Core, it skips the ORM's compile step
    select(func.min(MonthResultRow.month)).scalar_subquery(), select(func.max(MonthResultRow.month)).scalar_subquery()
)
