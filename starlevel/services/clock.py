"""Today's date for the application, and the month rules that follow from it.

``STARLEVEL_TODAY=YYYY-MM-DD`` pins the date (tests, demos of a past period); otherwise
the machine's date. The default month of every page is the latest month that has
ended; the month in progress is shown only when asked for, and labelled so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date

from starlevel.domain import months as M

ENV = "STARLEVEL_TODAY"


def today() -> date:
    pinned = os.environ.get(ENV, "").strip()
    if pinned:
        return date.fromisoformat(pinned)
    return date.today()


def current_month() -> str:
    return M.month_of(today())


def in_progress(month: str | None) -> bool:
    """True for the month in progress (and any later one)."""
    return bool(month) and month >= current_month()  # type: ignore[operator]


def default_month(months: Iterable[str]) -> str | None:
    """The latest of ``months`` that has ended; the latest one when none has."""
    now = current_month()
    ordered = sorted(set(months))
    ended = [m for m in ordered if m < now]
    if ended:
        return ended[-1]
    return ordered[-1] if ordered else None
