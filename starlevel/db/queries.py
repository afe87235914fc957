"""Small reads of the stored results that several services share."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import MonthResultRow


def result_bounds(session: Session) -> tuple[str | None, str | None]:
    """The first and last month with stored results. Two separate aggregates: SQLite answers
    a lone min() or max() from the month index in microseconds, but scans the whole table
    when both share one SELECT."""
    R = MonthResultRow
    first = select(func.min(R.month)).scalar_subquery()
    last = select(func.max(R.month)).scalar_subquery()
    return tuple(session.execute(select(first, last)).one())  # type: ignore[return-value]
