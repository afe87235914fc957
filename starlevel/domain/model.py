"""Plain inputs and outputs of the ladder engine.

Nothing here knows about a database or the web: these are the values the pure
functions in :mod:`scoring`, :mod:`ladder` and :mod:`pay` take and return.
Months are ``"YYYY-MM"`` strings throughout (they sort correctly as text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from collections.abc import Mapping
from typing import Any, Literal

Month = str  # "YYYY-MM"
Track = Literal["phone", "online"]
EventKind = Literal["none", "promote", "demote", "waitlist", "review", "hold"]
EVENTS: tuple[str, ...] = ("none", "promote", "demote", "waitlist", "review", "hold")
CHANNELS: tuple[str, ...] = ("chat", "message", "phone", "complaint")


@dataclass(frozen=True, slots=True)
class Agent:
    agent_id: str
    name: str
    track: str
    team: str
    hired_on: date
    left_on: date | None = None
    initial_level: int = 1
    probation_months: int = 3


@dataclass(frozen=True, slots=True)
class Inspection:
    """One inspected contact. ``defect_codes`` is a list: a code may repeat."""

    inspection_id: str
    agent_id: str
    contact_on: date
    channel: str
    contact_ref: str
    inspector: str
    defect_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Metrics:
    """One agent-month's monthly inputs, keyed by the rulebook's input keys (all Decimal)."""

    agent_id: str
    month: Month
    values: Mapping[str, Decimal]

    def get(self, key: str) -> Decimal | None:
        return self.values.get(key)


def legacy_metrics(
    agent_id: str, month: Month, satisfaction: Decimal, efficiency: Decimal, attitude: int | Decimal, complaints: int | Decimal
) -> Metrics:
    """The four inputs of a rulebook that declares none (the default scheme's metrics)."""
    return Metrics(
        agent_id,
        month,
        {
            "satisfaction": satisfaction,
            "efficiency": efficiency,
            "attitude": Decimal(attitude) if not isinstance(attitude, Decimal) else attitude,
            "complaints": Decimal(complaints) if not isinstance(complaints, Decimal) else complaints,
        },
    )


@dataclass(frozen=True, slots=True)
class MonthEvidence:
    """What one agent's inspections of one month add up to (voided ones excluded).

    ``score_sum`` is the sum of the per-inspection scores (each already clamped at 0);
    ``error_defects`` counts defect occurrences whose tier is at or above the
    rulebook's error tier (tier 2+ by default); ``red_line_codes`` lists every
    red-line occurrence, in inspection order, so an explanation can name them.
    """

    n_inspections: int = 0
    score_sum: Decimal = Decimal(0)
    error_defects: int = 0
    red_line_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HrDecision:
    """HR's answer to a proposed promotion of ``agent_id`` at the end of ``month``."""

    agent_id: str
    month: Month
    action: Literal["approve", "hold"]
    reason: str = ""
    decided_by: str = ""


@dataclass(frozen=True, slots=True)
class Pay:
    pay_grade: str
    fixed: Decimal
    coefficient: Decimal
    performance: Decimal
    allowance: Decimal
    total: Decimal
    on_probation: bool
    commission: Decimal = Decimal(0)
    vetoed: bool = False
    # Why the star allowance was withheld: "complaint" (a valid complaint in the months the
    # rulebook looks at) or "too_new" (fewer months on record than it looks at); "" when paid.
    allowance_withheld: str = ""


@dataclass(frozen=True, slots=True)
class MonthResult:
    """The engine's verdict on one active agent in one evaluated month.

    ``level`` is the level in effect during the month; ``next_level`` the level in
    effect next month. ``dimensions`` maps dimension key -> score (Decimal) for every
    dimension that has a value this month. ``composite`` and ``pay`` are ``None`` for
    an incomplete month. ``explanation`` is a JSON-ready dict (see ladder module):
    ``{"rule": ..., "params": {...}, "checks": [...]}`` rendered for people by
    :mod:`starlevel.domain.explain`.
    """

    agent_id: str
    month: Month
    rulebook_version: int
    track: str
    team: str
    tenure: int
    on_probation: bool
    complete: bool
    n_inspections: int
    quality: Decimal | None
    dimensions: dict[str, Decimal]
    composite: Decimal | None
    band: str | None
    all_dimensions_pass: bool
    error_defects: int
    complaints: int
    red_line_codes: tuple[str, ...]
    level: int
    level_since: Month
    below_floor: int
    event: str
    next_level: int
    rule: str
    explanation: dict[str, Any] = field(default_factory=dict)
    pay: Pay | None = None
