"""Calendar-month arithmetic (spec §1).

Months are ``"YYYY-MM"`` strings at the edges of the domain; inside the engine they are
plain integers (``year * 12 + month - 1``) so that stepping and comparing is cheap.
"""

from __future__ import annotations

import re
from datetime import date

from starlevel.domain.model import Agent, Month

__all__ = [
    "MONTH_RE",
    "add_months",
    "from_index",
    "hire_month",
    "is_active",
    "is_month",
    "leave_month",
    "month_index",
    "month_of",
    "months_between",
    "parse_month",
    "tenure",
]

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def is_month(value: object) -> bool:
    """True when ``value`` is a well-formed ``"YYYY-MM"`` string."""
    return isinstance(value, str) and MONTH_RE.match(value) is not None


def parse_month(value: str) -> Month:
    """Return ``value`` if it is a well-formed month, else raise ``ValueError``."""
    if not is_month(value):
        raise ValueError(f"not a month (YYYY-MM): {value!r}")
    return value


def month_of(day: date) -> Month:
    """The month a date belongs to: ``date(2024, 3, 20)`` -> ``"2024-03"``."""
    return f"{day.year:04d}-{day.month:02d}"


def month_index(month: Month) -> int:
    """``"YYYY-MM"`` -> ``YYYY * 12 + MM - 1`` (consecutive months differ by 1)."""
    # Slicing is much faster than a regex; malformed input fails in int() or the check.
    year = int(month[0:4])
    mon = int(month[5:7])
    if len(month) != 7 or month[4] != "-" or not 1 <= mon <= 12:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return year * 12 + mon - 1


def from_index(index: int) -> Month:
    """Inverse of :func:`month_index`."""
    year, mon = divmod(index, 12)
    return f"{year:04d}-{mon + 1:02d}"


def add_months(month: Month, n: int) -> Month:
    """``add_months("2024-12", 1) == "2025-01"``; ``n`` may be negative."""
    return from_index(month_index(month) + n)


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from ``first`` to ``last``, both included (empty if ``last < first``)."""
    return [from_index(i) for i in range(month_index(first), month_index(last) + 1)]


def _date_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def tenure(hired_on: date, month: Month) -> int:
    """Calendar months from the hire month to ``month``, both counted (spec §1).

    Hired 2024-03-20: tenure in 2024-03 is 1, in 2024-05 is 3. Before the hire month
    the result is 0 or negative.
    """
    return month_index(month) - _date_index(hired_on) + 1


def hire_month(agent: Agent) -> Month:
    return month_of(agent.hired_on)


def leave_month(agent: Agent) -> Month | None:
    return None if agent.left_on is None else month_of(agent.left_on)


def is_active(agent: Agent, month: Month) -> bool:
    """Hire month <= ``month`` <= month of ``left_on`` (no ``left_on``: still employed)."""
    i = month_index(month)
    if i < _date_index(agent.hired_on):
        return False
    return agent.left_on is None or i <= _date_index(agent.left_on)
