"""Disputes in the domain: the window, the stages and who may move a dispute on.

申诉 (the agent files) → 复核 (another inspector upholds or rejects) → 终审 (HR decides an
escalated rejection, finally). Pure functions: no database, no clock.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = [
    "ACTIVE",
    "FINAL",
    "STATUSES",
    "add_working_days",
    "is_active",
    "may_dispute_until",
    "next_status",
]

#: Every status a dispute can have, in the order a dispute moves through them.
STATUSES = ("open", "upheld", "rejected", "escalated", "hr_upheld", "hr_rejected")
#: Disputes still waiting for a decision (a month with any of these is not settled).
ACTIVE = frozenset({"open", "escalated"})
#: Decisions nobody can change any more (a rejection may still be escalated once).
FINAL = frozenset({"upheld", "hr_upheld", "hr_rejected"})


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day (Monday to Friday) after ``day``."""
    if n < 0:
        raise ValueError("n must be at least 0")
    out = day
    while n:
        out += timedelta(days=1)
        if out.weekday() < 5:
            n -= 1
    return out


def may_dispute_until(saved_on: date, window_working_days: int) -> date:
    """The last day an inspection saved on ``saved_on`` may be disputed (inclusive)."""
    return add_working_days(saved_on, window_working_days)


def is_active(status: str) -> bool:
    return status in ACTIVE


def next_status(status: str, outcome: str) -> str | None:
    """The status after deciding ``outcome`` ("upheld" or "rejected") at stage ``status``;
    None when a dispute at that stage cannot be decided."""
    if outcome not in ("upheld", "rejected"):
        return None
    if status == "open":
        return outcome
    if status == "escalated":
        return "hr_" + outcome
    return None
