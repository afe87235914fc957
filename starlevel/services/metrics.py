"""Monthly inputs as the rulebook declares them: entering and correcting them in the app,
and the header of a metrics file.

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
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from starlevel.db.models import Agent as AgentRow
from starlevel.db.models import MonthlyMetrics, utcnow
from starlevel.domain import months as M
from starlevel.domain.inputs import InputProblem, InputSpec, format_decimal, parse_input
from starlevel.services import audit
from starlevel.services import rulebooks as rulebook_store
from starlevel.services.recompute import recompute_agent

__all__ = ["MAX_REASON", "EntryRejected", "InputField", "MonthInputs", "month_inputs", "save_inputs", "template_csv"]

#: Longest reason accepted for a correction.
MAX_REASON = 500


@dataclass(frozen=True)
class InputField:
    spec: InputSpec
    stored: str | None  # the stored value (a decimal string), or None


@dataclass(frozen=True)
class MonthInputs:
    """One agent-month as the entry form shows it."""

    agent_id: str
    agent_name: str
    month: str
    rulebook_version: int
    fields: tuple[InputField, ...]
    exists: bool
    updated_at: datetime | None = None


class EntryRejected(ValueError):
    """The entered values were refused; ``problems`` maps a field (an input key,
    ``agent_id``, ``month`` or ``reason``) to its coded problem."""

    def __init__(self, problems: dict[str, InputProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


def _problem(code: str, template: str, **params: Any) -> InputProblem:
    return InputProblem(code, template, params)


def _check_agent_month(session: Session, agent_id: str, month: str, today: date) -> AgentRow:
    problems: dict[str, InputProblem] = {}
    agent = session.get(AgentRow, agent_id) if agent_id and len(agent_id) <= 64 else None
    if agent is None:
        problems["agent_id"] = _problem("entry.agent_unknown", "there is no agent with ID {agent_id!r}",
                                        agent_id=agent_id[:64])
    current = M.month_of(today)
    if not M.is_month(month):
        problems["month"] = _problem("entry.month_invalid", "{value!r} is not a month (YYYY-MM)", value=month[:20])
    elif month > current:
        problems["month"] = _problem("entry.month_future", "{month} is after the current month {current}",
                                     month=month, current=current)
    elif agent is not None:
        first = M.month_of(agent.hired_on)
        last = M.month_of(agent.left_on) if agent.left_on else None
        if month < first:
            problems["month"] = _problem("entry.before_hire", "{month} is before agent {agent_id}'s hire month {first}",
                                         month=month, agent_id=agent.agent_id, first=first)
        elif last is not None and month > last:
            problems["month"] = _problem("entry.after_leave", "{month} is after agent {agent_id}'s last month {last}",
                                         month=month, agent_id=agent.agent_id, last=last)
    if problems:
        raise EntryRejected(problems)
    assert agent is not None
    return agent


def month_inputs(session: Session, agent_id: str, month: str, *, today: date | None = None) -> MonthInputs:
    """The inputs of the rulebook in force for ``month`` with the stored values. Raises
    EntryRejected for an unknown agent or a month that is not one of the agent's."""
    agent = _check_agent_month(session, agent_id, month, today or date.today())
    rb = rulebook_store.for_month(rulebook_store.load_all(session), month)
    row = session.get(MonthlyMetrics, (agent.agent_id, month))
    stored = row.values if row is not None else {}
    return MonthInputs(
        agent.agent_id, agent.name, month, rb.version,
        tuple(InputField(spec, stored.get(spec.key)) for spec in rb.inputs),
        exists=row is not None, updated_at=row.updated_at if row is not None else None,
    )


def save_inputs(
    session: Session,
    agent_id: str,
    month: str,
    texts: Mapping[str, str],
    *,
    actor: str,
    reason: str = "",
    today: date | None = None,
    defer: bool = False,
) -> bool:
    """Enter or correct one agent-month's inputs: every input the rulebook in force for the
    month declares, from ``texts`` (input key -> text; an optional input may be empty).

    Changing stored values needs a reason; the audit log keeps the values before and after
    (who, when, why). Then the agent is re-evaluated from the month (see recompute_agent
    for ``defer``). Writes in ``session`` without committing. Returns whether anything
    changed. Raises EntryRejected listing every problem; nothing is written then."""
    info = month_inputs(session, agent_id, month, today=today)
    problems: dict[str, InputProblem] = {}
    new: dict[str, str] = {}
    for f in info.fields:
        spec = f.spec
        text = (texts.get(spec.key) or "").strip()
        if not text and not spec.required:
            continue
        parsed = parse_input(spec, text)
        if isinstance(parsed, InputProblem):
            problems[spec.key] = parsed
        else:
            new[spec.key] = format_decimal(parsed)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        problems["reason"] = _problem("entry.reason_too_long", "is {length} characters long; at most {limit} are allowed",
                                      length=len(reason), limit=MAX_REASON)
    row = session.get(MonthlyMetrics, (info.agent_id, month))
    old = dict(row.values) if row is not None else None
    if old is not None and old != new and not reason and "reason" not in problems:
        problems["reason"] = _problem("entry.reason_missing", "a correction of stored values needs a reason")
    if problems:
        raise EntryRejected(problems)
    if old == new:
        return False
    now = utcnow()
    entity_id = f"{info.agent_id}/{month}"
    if row is None:
        session.add(MonthlyMetrics(agent_id=info.agent_id, month=month, values=new, updated_at=now))
        audit.record(session, actor, "create", "metrics", entity_id, reason=reason,
                     detail={"after": new, "rulebook_version": info.rulebook_version})
    else:
        assert old is not None
        row.values = new
        row.updated_at = now
        keys = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        audit.record(session, actor, "update", "metrics", entity_id, reason=reason,
                     detail={"before": {k: old[k] for k in keys if k in old},
                             "after": {k: new[k] for k in keys if k in new},
                             "rulebook_version": info.rulebook_version})
    session.flush()
    recompute_agent(session, info.agent_id, month, defer=defer)
    return True


def template_csv(session: Session, month: str | None = None) -> str:
    """The header of a metrics file: ``agent_id,month`` and one column per input of the
    rulebook in force for ``month`` (the newest rulebook without a month)."""
    rb = rulebook_store.current(session, month if month and M.is_month(month) else None)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["agent_id", "month", *(s.key for s in rb.inputs)])
    return out.getvalue()
