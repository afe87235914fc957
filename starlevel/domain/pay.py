"""Pay for one agent-month (spec §6)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from starlevel.domain.model import Pay
from starlevel.domain.rulebook import Rulebook
from starlevel.domain.scoring import CTX, Q2

__all__ = ["coefficient", "compute_pay"]

ZERO = Decimal(0)


def _money(value: Decimal) -> Decimal:
    return value.quantize(Q2, rounding=ROUND_HALF_UP, context=CTX)


def coefficient(composite: Decimal, rb: Rulebook) -> Decimal:
    """Performance coefficient of the first bracket whose ``min`` the composite reaches
    (a pay grade with its own ``coefficient`` overrides this for its level)."""
    for c in rb.coefficients:
        if composite >= c.min:
            return c.coefficient
    return rb.coefficients[-1].coefficient


def compute_pay(level: int, composite: Decimal | None, on_probation: bool, rb: Rulebook) -> Pay | None:
    """Pay for a month at ``level`` with ``composite`` (``None`` for an incomplete month).

    ``fixed``, ``performance`` (bonus base × coefficient) and ``allowance`` are the
    figures the spec names; ``total`` is their sum, or on probation
    ``probation_factor × (fixed + performance)`` (plus the allowance only if the rulebook
    pays it on probation). Every figure is rounded half-up to 2 decimals.
    """
    if composite is None:
        return None
    grade = rb.pay_grade(level)
    coef = grade.coefficient if grade.coefficient is not None else coefficient(composite, rb)
    fixed = _money(grade.fixed)
    performance = _money(CTX.multiply(grade.bonus_base, coef))
    if on_probation:
        allowance = _money(grade.allowance) if rb.probation_allowance else _money(ZERO)
        total = _money(CTX.multiply(rb.probation_factor, CTX.add(fixed, performance)) + allowance)
    else:
        allowance = _money(grade.allowance)
        total = _money(fixed + performance + allowance)
    return Pay(
        pay_grade=grade.grade,
        fixed=fixed,
        coefficient=coef,
        performance=performance,
        allowance=allowance,
        total=total,
        on_probation=on_probation,
    )
