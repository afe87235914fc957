"""Month close and reopen: a paid month never changes behind HR's back.

Closed months are always the oldest months: closing a month closes every earlier open
month with it, and reopening a month reopens every later closed month with it. So "is
``m`` closed" is one comparison with :func:`closed_through`, and the ladder, which is
causal, can always resume right after the last closed month from the stored results.

Every write use case (inspections, voids, metrics and inspection imports, HR decisions,
review outcomes, rulebook versions) calls :func:`ensure_open` for the months it touches,
and the recompute never starts inside a closed month (services/recompute.py asks
:func:`first_open`). Each close keeps the month's payroll as it was paid
(``payroll_snapshots``); a later close lists what changed since then before HR confirms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from starlevel.db.models import (
    Agent,
    Inspection,
    MonthClose,
    MonthlyMetrics,
    MonthResultRow,
    PayrollSnapshotRow,
    RecomputeRequest,
    utcnow,
)
from starlevel.db.queries import result_bounds
from starlevel.domain import months as M
from starlevel.services import audit
from starlevel.services import rulebooks as rulebook_store

ONE = Decimal(1)


class MonthClosed(ValueError):
    """A write into a closed month. ``months``: the closed months it would have touched."""

    def __init__(self, months: Iterable[str]) -> None:
        self.months = sorted(set(months))
        super().__init__(f"{', '.join(self.months)}: closed for payroll; HR must reopen it first")


class CloseRefused(ValueError):
    """A close or reopen that cannot happen (yet). ``code`` names the problem for a
    translated message; ``plan`` is what a close would do (for the confirmation)."""

    def __init__(self, code: str, month: str, plan: ClosePlan | None = None) -> None:
        super().__init__(f"{month}: {code}")
        self.code = code
        self.month = month
        self.plan = plan


# ------------------------------------------------------------------ the guard

_CLOSED_THROUGH = select(func.max(MonthClose.month)).where(MonthClose.reopened_at.is_(None))


def closed_through(session: Session) -> str | None:
    """The last closed month (every month up to it is closed), or None."""
    # Every write asks this (a save twice): a statement built once, run through Core.
    return session.connection().execute(_CLOSED_THROUGH).scalar()


def is_closed(session: Session, month: str, *, through: str | None = None) -> bool:
    last = closed_through(session) if through is None else through
    return last is not None and month <= last


def ensure_open(session: Session, *months: str) -> None:
    """Raise :class:`MonthClosed` when any of ``months`` is closed. Every write calls this."""
    last = closed_through(session)
    if last is not None:
        closed = [m for m in months if m and m <= last]
        if closed:
            raise MonthClosed(closed)


def first_open(session: Session, start: str | None) -> str | None:
    """``start`` moved past the closed months (None stays None when nothing is closed)."""
    last = closed_through(session)
    if last is None:
        return start
    after = M.add_months(last, 1)
    return after if start is None or start < after else start


# ------------------------------------------------------------------ reading the state

@dataclass(frozen=True)
class MonthStatus:
    month: str
    status: str  # "closed", "open" or "in_progress" (the month has not ended yet)
    closed_at: datetime | None = None
    closed_by: str = ""
    reopened: int = 0  # times it was reopened
    last_reopen_reason: str = ""


def evaluated_range(session: Session) -> tuple[str | None, str | None]:
    first, last = result_bounds(session)
    return first, last


def month_statuses(session: Session, *, today: date | None = None) -> list[MonthStatus]:
    """Every evaluated month, newest first, with its close state."""
    first, last = evaluated_range(session)
    if first is None or last is None:
        return []
    current = M.month_of(today or date.today())
    rows = session.scalars(select(MonthClose).order_by(MonthClose.id)).all()
    latest: dict[str, MonthClose] = {}
    reopens: dict[str, int] = {}
    for r in rows:
        latest[r.month] = r
        if r.reopened_at is not None:
            reopens[r.month] = reopens.get(r.month, 0) + 1
    out = []
    for m in reversed(M.months_between(first, last)):
        r = latest.get(m)
        if r is not None and r.reopened_at is None:
            out.append(MonthStatus(m, "closed", r.closed_at, r.closed_by, reopens.get(m, 0),
                                   _last_reason(rows, m)))
        else:
            status = "in_progress" if m >= current else "open"
            out.append(MonthStatus(m, status, None, "", reopens.get(m, 0), _last_reason(rows, m)))
    return out


def _last_reason(rows: Iterable[MonthClose], month: str) -> str:
    reasons = [r.reopen_reason or "" for r in rows if r.month == month and r.reopened_at is not None]
    return reasons[-1] if reasons else ""


# ------------------------------------------------------------------ planning a close

@dataclass(frozen=True)
class IncompleteAgent:
    agent_id: str
    name: str
    team: str
    month: str
    n_inspections: int
    has_metrics: bool
    inspectors: tuple[str, ...]  # who inspected the agent that month


@dataclass(frozen=True)
class PayChange:
    """One agent whose payroll line differs from the last close of the month."""

    month: str
    agent_id: str
    name: str
    level_before: int | None  # None: not in the last close
    level_after: int | None  # None: no longer in the results
    pay_before: Decimal | None
    pay_after: Decimal | None

    @property
    def difference(self) -> Decimal:
        return (self.pay_after or Decimal(0)) - (self.pay_before or Decimal(0))


@dataclass(frozen=True)
class ClosePlan:
    month: str
    months: list[str]  # the open months this close closes, oldest first
    incomplete: list[IncompleteAgent]
    previously_closed: bool  # the month was closed before and reopened
    changes: list[PayChange] = field(default_factory=list)
    total_before: Decimal | None = None  # payroll of the months' last closes, if any
    total_after: Decimal = Decimal(0)  # the same months' payroll now

    @property
    def total_difference(self) -> Decimal | None:
        return None if self.total_before is None else self.total_after - self.total_before

    @cached_property
    def incomplete_ids(self) -> frozenset[str]:
        """The agents with at least one incomplete month: each needs HR's confirmation."""
        return frozenset(a.agent_id for a in self.incomplete)

    @cached_property
    def incomplete_key(self) -> str:
        """Names exactly this list of incomplete agent-months: HR's "confirm them all" carries
        it, so that the confirmation covers what HR was shown and nothing that came since."""
        text = "\n".join(sorted(f"{a.month} {a.agent_id}" for a in self.incomplete))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _check_closable(session: Session, month: str, today: date) -> list[str]:
    if not M.is_month(month):
        raise CloseRefused("not_a_month", month)
    first, last = evaluated_range(session)
    if first is None or last is None or not first <= month <= last:
        raise CloseRefused("not_evaluated", month)
    if month >= M.month_of(today):
        raise CloseRefused("in_progress", month)
    through = closed_through(session)
    if through is not None and month <= through:
        raise CloseRefused("already_closed", month)
    start = M.add_months(through, 1) if through is not None else first
    months = M.months_between(start, month)
    if _disputes_waiting(session, months):
        raise CloseRefused("open_disputes", month)
    return months


def _disputes_waiting(session: Session, months: Collection[str]) -> bool:
    """Disputes of these months still waiting for a decision (a month closes settled)."""
    from starlevel.db.models import Dispute
    from starlevel.domain.disputes import ACTIVE

    return session.scalar(select(Dispute.id).where(
        Dispute.month.in_(list(months)), Dispute.status.in_(sorted(ACTIVE))).limit(1)) is not None


def incomplete_agents(session: Session, months: Collection[str]) -> list[IncompleteAgent]:
    """Agents whose month has no composite yet (too few inspections or no metrics)."""
    if not months:
        return []
    rows = session.execute(
        select(MonthResultRow.agent_id, Agent.name, MonthResultRow.team, MonthResultRow.month,
               MonthResultRow.n_inspections)
        .join(Agent, Agent.agent_id == MonthResultRow.agent_id)
        .where(MonthResultRow.month.in_(list(months)), MonthResultRow.complete.is_(False))
        .order_by(MonthResultRow.month, MonthResultRow.team, MonthResultRow.agent_id)
    ).all()
    if not rows:
        return []
    keys = {(r[0], r[3]) for r in rows}
    ids = sorted({r[0] for r in rows})
    metrics = set(session.execute(
        select(MonthlyMetrics.agent_id, MonthlyMetrics.month)
        .where(MonthlyMetrics.month.in_(list(months)), MonthlyMetrics.agent_id.in_(ids))
    ).tuples())
    inspectors: dict[tuple[str, str], set[str]] = {}
    for aid, m, who in session.execute(
        select(Inspection.agent_id, Inspection.month, Inspection.inspector).distinct()
        .where(Inspection.month.in_(list(months)), Inspection.agent_id.in_(ids), Inspection.voided_at.is_(None))
    ):
        if (aid, m) in keys and who:
            inspectors.setdefault((aid, m), set()).add(who)
    return [
        IncompleteAgent(aid, name, team, m, n, (aid, m) in metrics, tuple(sorted(inspectors.get((aid, m), ()))))
        for aid, name, team, m, n in rows
    ]


def _last_close(session: Session, month: str) -> MonthClose | None:
    return session.scalars(
        select(MonthClose).where(MonthClose.month == month).order_by(MonthClose.id.desc()).limit(1)
    ).first()


def snapshot_lines(session: Session, close_id: int) -> dict[str, tuple[str, int, Decimal | None]]:
    """agent_id -> (name, level, total pay) as kept by a close (plain column tuples)."""
    S = PayrollSnapshotRow
    return {aid: (name, level, total) for aid, name, level, total in session.execute(
        select(S.agent_id, S.name, S.level, S.total_pay).where(S.close_id == close_id))}


def changes_since_close(session: Session, month: str) -> tuple[list[PayChange], Decimal | None, Decimal]:
    """What differs from the last close of ``month``: agents, levels, pay; and both totals."""
    current = {
        aid: (name, level, total) for aid, name, level, total in session.execute(
            select(MonthResultRow.agent_id, Agent.name, MonthResultRow.level, MonthResultRow.total_pay)
            .join(Agent, Agent.agent_id == MonthResultRow.agent_id).where(MonthResultRow.month == month))
    }
    total_after = sum((t for _, _, t in current.values() if t is not None), Decimal(0))
    last = _last_close(session, month)
    if last is None:
        return [], None, total_after
    before = snapshot_lines(session, last.id)
    total_before = sum((t for _, _, t in before.values() if t is not None), Decimal(0))
    changes = []
    for aid in sorted(set(current) | set(before)):
        old, new = before.get(aid), current.get(aid)
        if old is not None and new is not None and old[1:] == new[1:]:
            continue  # same level, same pay
        lb, pb = old[1:] if old else (None, None)
        la, pa = new[1:] if new else (None, None)
        changes.append(PayChange(month, aid, new[0] if new else old[0], lb, la, pb, pa))
    return changes, total_before, total_after


def close_plan(session: Session, month: str, *, today: date | None = None) -> ClosePlan:
    """What closing ``month`` would do; raises :class:`CloseRefused` when it cannot."""
    months = _check_closable(session, month, today or date.today())
    changes: list[PayChange] = []
    before: Decimal | None = None
    after = Decimal(0)
    for m in months:  # every month being closed that was closed before (a reopen may span several)
        diff, was, now = changes_since_close(session, m)
        if was is not None:
            changes += diff
            before = (before or Decimal(0)) + was
            after += now
    return ClosePlan(month, months, incomplete_agents(session, months), before is not None, changes, before, after)


# ------------------------------------------------------------------ closing and reopening

def _settle_pending(session: Session, month: str) -> None:
    """Run a deferred recompute owed from ``month`` or earlier now: a close freezes
    results, so they must be the current ones."""
    from starlevel.services import recompute as recompute_service

    pending = session.execute(
        select(RecomputeRequest.id, RecomputeRequest.from_month).where(RecomputeRequest.done_at.is_(None))
    ).all()
    if pending and min(m for _, m in pending) <= month:
        recompute_service.recompute(session, start=min(m for _, m in pending))
        session.execute(update(RecomputeRequest).where(RecomputeRequest.id.in_([i for i, _ in pending]))
                        .values(done_at=utcnow()))


def _snapshot(session: Session, close_id: int, month: str) -> int:
    """Copy the month's payroll as it stands into ``payroll_snapshots``."""
    rulebooks = {rb.version: rb for rb in rulebook_store.load_all(session)}
    rows = session.execute(
        select(MonthResultRow.agent_id, Agent.name, MonthResultRow.team, MonthResultRow.track, MonthResultRow.level,
               MonthResultRow.pay_grade, MonthResultRow.on_probation, MonthResultRow.complete,
               MonthResultRow.composite, MonthResultRow.coefficient, MonthResultRow.fixed_pay,
               MonthResultRow.performance_pay, MonthResultRow.allowance, MonthResultRow.total_pay,
               MonthResultRow.rulebook_version)
        .join(Agent, Agent.agent_id == MonthResultRow.agent_id).where(MonthResultRow.month == month)
    ).all()
    values = []
    for (aid, name, team, track, level, grade, prob, complete, comp, coef, fixed, perf, allow, total, ver) in rows:
        rb = rulebooks.get(ver)
        factor = (rb.probation_factor if prob else ONE) if rb is not None and total is not None else None
        values.append({
            "close_id": close_id, "agent_id": aid, "month": month, "name": name, "team": team, "track": track,
            "level": level, "pay_grade": grade, "on_probation": prob, "complete": complete, "composite": comp,
            "coefficient": coef, "probation_factor": factor, "fixed_pay": fixed, "performance_pay": perf,
            "allowance": allow, "total_pay": total,
        })
    for i in range(0, len(values), 5000):
        session.execute(insert(PayrollSnapshotRow), values[i:i + 5000])
    return len(values)


@dataclass(frozen=True)
class CloseResult:
    months: list[str]
    agents: int  # payroll lines kept for ``month``
    incomplete_confirmed: list[str]
    changes: int


def close_month(
    session: Session, month: str, *, actor: str, confirm_incomplete: bool | Collection[str] = False,
    confirm_changes: bool = False, today: date | None = None, confirm_incomplete_key: str | None = None,
) -> CloseResult:
    """Close ``month`` (and every earlier open month) and keep each one's payroll.

    ``confirm_incomplete``: True, or the ``agent_id``s HR confirmed one by one; every
    incomplete agent must be confirmed. ``confirm_incomplete_key``: HR confirmed the whole
    list it was shown (:attr:`ClosePlan.incomplete_key`); if the list has changed since, the
    key no longer matches and nothing is confirmed by it. ``confirm_changes``: required when the month was
    closed before and its payroll changed since. Raises :class:`CloseRefused` with the
    plan; the caller commits.
    """
    _check_closable(session, month, today or date.today())
    _settle_pending(session, month)
    plan = close_plan(session, month, today=today)
    ids = plan.incomplete_ids
    if confirm_incomplete_key is not None and confirm_incomplete_key == plan.incomplete_key:
        confirm_incomplete = True
    if ids and not (confirm_incomplete is True or (
            not isinstance(confirm_incomplete, bool) and ids <= set(confirm_incomplete))):
        raise CloseRefused("incomplete", month, plan)
    if plan.changes and not confirm_changes:
        raise CloseRefused("changes", month, plan)
    agents = 0
    for m in plan.months:
        confirmed = sorted({a.agent_id for a in plan.incomplete if a.month == m})
        row = MonthClose(month=m, closed_by=actor, incomplete_confirmed=confirmed)
        session.add(row)
        session.flush()
        n = _snapshot(session, row.id, m)
        if m == month:
            agents = n
        detail = {"agents": n, "incomplete_confirmed": len(confirmed)}
        if m == month and plan.previously_closed:
            detail["changed_since_last_close"] = len(plan.changes)
        audit.record(session, actor, "close", "month", m, detail=detail)
    session.flush()
    return CloseResult(plan.months, agents, sorted(ids), len(plan.changes))


def reopen_month(session: Session, month: str, *, reason: str, actor: str) -> list[str]:
    """Reopen ``month`` (and every later closed month) with a reason; audit-logged.
    Returns the months reopened, oldest first. The caller commits."""
    reason = (reason or "").strip()
    if not M.is_month(month):
        raise CloseRefused("not_a_month", month)
    if not reason:
        raise CloseRefused("reason_required", month)
    if len(reason) > audit.REASON_LIMIT:
        raise CloseRefused("reason_too_long", month)
    if not is_closed(session, month):
        raise CloseRefused("not_closed", month)
    rows = session.scalars(
        select(MonthClose).where(MonthClose.month >= month, MonthClose.reopened_at.is_(None)).order_by(MonthClose.month)
    ).all()
    now = utcnow()
    for r in rows:
        r.reopened_at, r.reopened_by, r.reopen_reason = now, actor, reason
        audit.record(session, actor, "reopen", "month", r.month, reason=reason)
    session.flush()
    return [r.month for r in rows]


# ------------------------------------------------------------------ payroll as paid

def latest_snapshot(session: Session, month: str) -> MonthClose | None:
    """The live close of ``month`` (None when the month is open)."""
    return session.scalars(
        select(MonthClose).where(MonthClose.month == month, MonthClose.reopened_at.is_(None))
        .order_by(MonthClose.id.desc()).limit(1)
    ).first()
