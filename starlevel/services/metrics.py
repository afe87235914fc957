"""Monthly inputs as the rulebook declares them: reading, entering and correcting them.

Each agent-month is one ``monthly_metrics`` row whose ``values`` is a JSON object of
decimal strings keyed by input key. Which inputs exist, their kinds, ranges and places
come from the rulebook in force for that month; every value is checked by
:func:`starlevel.domain.inputs.parse_input`, the same check the importer makes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent as AgentRow
from starlevel.db.models import MonthlyMetrics, utcnow
from starlevel.domain import months as M
from starlevel.domain.inputs import InputProblem, format_decimal, parse_input
from starlevel.services import audit
from starlevel.services import rulebooks as rulebook_store

__all__ = [
    "EntryRejected",
    "MonthInputs",
    "dumps_values",
    "month_inputs",
    "save_inputs",
    "template_csv",
]

#: Longest reason accepted for a correction.
MAX_REASON = 500


# ------------------------------------------------------------------------ storage

def dumps_values(values: Mapping[str, Decimal]) -> str:
    """The stored JSON text of one agent-month's values (decimal strings)."""
    return orjson.dumps({k: format_decimal(v) for k, v in values.items()}).decode()


# ------------------------------------------------------------------ entry in the app

@dataclass(frozen=True)
class InputField:
    spec: Any
    stored: str | None  # the stored value's text, or None


@dataclass(frozen=True)
class MonthInputs:
    agent_id: str
    agent_name: str
    month: str
    rulebook_version: int
    fields: tuple[InputField, ...]
    exists: bool
    updated_at: Any = None


class EntryRejected(ValueError):
    """The entered values were refused; ``problems`` maps a field (input key, ``reason``,
    ``agent_id`` or ``month``) to its problem (an InputProblem or an English text)."""

    def __init__(self, problems: dict[str, InputProblem | str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


def _agent_and_month(session: Session, agent_id: str, month: str) -> tuple[AgentRow, dict[str, str]]:
    problems: dict[str, str] = {}
    agent = session.get(AgentRow, agent_id) if agent_id and len(agent_id) <= 64 else None
    if agent is None:
        problems["agent_id"] = f"agent {agent_id!r} does not exist"
    if not M.is_month(month):
        problems["month"] = f"{month!r} is not a month in the form YYYY-MM"
    elif agent is not None:
        first = M.month_of(agent.hired_on)
        last = M.month_of(agent.left_on) if agent.left_on else None
        if month < first:
            problems["month"] = f"{month} is before agent {agent.agent_id}'s hire month {first}"
        elif last is not None and month > last:
            problems["month"] = f"{month} is after agent {agent.agent_id}'s last month {last}"
    return agent, problems  # type: ignore[return-value]


def month_inputs(session: Session, agent_id: str, month: str) -> MonthInputs:
    """What the entry form shows: the inputs of the rulebook in force for ``month`` with
    the stored values. Raises EntryRejected for an unknown agent or a bad month."""
    agent, problems = _agent_and_month(session, agent_id, month)
    if problems:
        raise EntryRejected(dict(problems))
    rb = rulebook_store.for_month(rulebook_store.load_all(session), month)
    row = session.get(MonthlyMetrics, (agent.agent_id, month))
    stored = row.values if row is not None else {}
    return MonthInputs(
        agent.agent_id, agent.name, month, rb.version,
        tuple(InputField(spec, stored.get(spec.key)) for spec in rb.inputs),
        exists=row is not None, updated_at=row.updated_at if row is not None else None,
    )


def save_inputs(
    session: Session, agent_id: str, month: str, texts: Mapping[str, str], *, actor: str, reason: str = "",
) -> tuple[bool, str | None]:
    """Enter or correct one agent-month's inputs (all of them, as the rulebook in force for
    the month declares). A correction of stored values needs a reason; the audit log
    keeps the values before and after. Writes in ``session`` without committing; returns
    (changed?, first month to re-evaluate). Raises EntryRejected listing every problem."""
    info = month_inputs(session, agent_id, month)
    problems: dict[str, InputProblem | str] = {}
    values: dict[str, Decimal] = {}
    for f in info.fields:
        spec = f.spec
        text = (texts.get(spec.key) or "").strip()
        if not text:
            if spec.required:
                problems[spec.key] = parse_input(spec, "")
            continue
        parsed = parse_input(spec, text)
        if isinstance(parsed, InputProblem):
            problems[spec.key] = parsed
        else:
            values[spec.key] = parsed
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        problems["reason"] = f"is {len(reason)} characters long; at most {MAX_REASON} are allowed"
    new = {k: format_decimal(v) for k, v in values.items()}
    row = session.get(MonthlyMetrics, (info.agent_id, month))
    old = dict(row.values) if row is not None else None
    if old is not None and old != new and not reason and "reason" not in problems:
        problems["reason"] = "is empty; a correction needs a reason"
    if problems:
        raise EntryRejected(problems)
    if old == new:
        return False, None
    now = utcnow()
    entity_id = f"{info.agent_id}/{month}"
    if row is None:
        session.add(MonthlyMetrics(agent_id=info.agent_id, month=month, values=new, updated_at=now))
        audit.record(session, actor, "create", "metrics", entity_id, reason=reason,
                     detail={"after": new, "rulebook_version": info.rulebook_version})
    else:
        row.values = new
        row.updated_at = now
        keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        audit.record(session, actor, "update", "metrics", entity_id, reason=reason,
                     detail={"before": {k: old[k] for k in keys if k in old},
                             "after": {k: new[k] for k in keys if k in new},
                             "rulebook_version": info.rulebook_version})
    session.flush()
    return True, month


# ------------------------------------------------------------------- file template

def template_csv(session: Session, month: str | None = None) -> bytes:
    """A metrics file with only the header: ``agent_id,month`` and one column per input of
    the rulebook in force for ``month`` (the newest one without a month)."""
    rb = rulebook_store.current(session, month)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["agent_id", "month", *(s.key for s in rb.inputs)])
    return out.getvalue().encode("utf-8")


def stored_values(row_values: Mapping[str, str] | None) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in (row_values or {}).items()}
