"""Review cases (复核) as HR's work items.

A case is an agent-month whose result is a review (two failing months at 1★, or a red
line at 1★). HR closes it with an outcome and a note; the newest live outcome counts,
earlier ones stay (voided, as superseded) and every outcome is in the audit log. An
outcome records what HR decided about the person; it changes no level or pay, so it
may be recorded after the month is closed for payroll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, MonthResultRow, ReviewOutcomeRow, utcnow
from starlevel.domain import months as M
from starlevel.services import audit

OUTCOMES = ("keep", "training", "transfer", "dismissal")
STATUSES = ("open", "done", "all")
NOTE_LIMIT = 2000


class ReviewError(ValueError):
    """``code``: bad_outcome, not_a_case, note_required or note_too_long."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Case:
    agent_id: str
    name: str
    team: str
    month: str
    level: int
    composite: Decimal | None
    red_line_codes: str
    outcome: str | None
    note: str
    decided_by: str
    decided_at: datetime | None


def _live() -> object:
    return and_(ReviewOutcomeRow.agent_id == MonthResultRow.agent_id, ReviewOutcomeRow.month == MonthResultRow.month,
                ReviewOutcomeRow.voided_at.is_(None))


def _where(status: str, team: str = "") -> list[object]:
    where: list[object] = [MonthResultRow.event == "review"]
    if status == "open":
        where.append(ReviewOutcomeRow.id.is_(None))
    elif status == "done":
        where.append(ReviewOutcomeRow.id.is_not(None))
    if team:
        where.append(MonthResultRow.team == team)
    return where


def cases(session: Session, *, status: str = "open", team: str = "", page: int = 1,
          per_page: int = 50) -> tuple[list[Case], int]:
    """Review cases, newest month first, with their outcome; and how many there are."""
    status = status if status in STATUSES else "open"
    R, O = MonthResultRow, ReviewOutcomeRow
    total = session.scalar(select(func.count()).select_from(R).outerjoin(O, _live()).where(*_where(status, team))) or 0
    rows = session.execute(
        select(R.agent_id, Agent.name, R.team, R.month, R.level, R.composite, R.red_line_codes,
               O.outcome, O.note, O.decided_by, O.decided_at)
        .join(Agent, Agent.agent_id == R.agent_id).outerjoin(O, _live()).where(*_where(status, team))
        .order_by(R.month.desc(), R.team, R.agent_id)
        .limit(per_page).offset((max(1, page) - 1) * per_page)
    ).all()
    return [Case(a, n, t, m, lv, c, rl or "", o, note or "", by or "", at)
            for a, n, t, m, lv, c, rl, o, note, by, at in rows], int(total)


def open_count(session: Session, *, month: str | None = None, since: str | None = None, until: str | None = None,
               team: str = "", track: str = "") -> int:
    """Open cases (of ``month``, or of ``since``..``until``; of a team and track)."""
    where = _where("open", team)
    if month:
        where.append(MonthResultRow.month == month)
    if since:
        where.append(MonthResultRow.month >= since)
    if until:
        where.append(MonthResultRow.month <= until)
    if track:
        where.append(MonthResultRow.track == track)
    return int(session.scalar(
        select(func.count()).select_from(MonthResultRow).outerjoin(ReviewOutcomeRow, _live()).where(*where)) or 0)


def case(session: Session, agent_id: str, month: str) -> Case | None:
    R, O = MonthResultRow, ReviewOutcomeRow
    row = session.execute(
        select(R.agent_id, Agent.name, R.team, R.month, R.level, R.composite, R.red_line_codes,
               O.outcome, O.note, O.decided_by, O.decided_at)
        .join(Agent, Agent.agent_id == R.agent_id).outerjoin(O, _live())
        .where(R.agent_id == agent_id, R.month == month, R.event == "review")
    ).first()
    if row is None:
        return None
    a, n, t, m, lv, c, rl, o, note, by, at = row
    return Case(a, n, t, m, lv, c, rl or "", o, note or "", by or "", at)


def record_outcome(session: Session, agent_id: str, month: str, *, outcome: str, note: str, actor: str) -> Case:
    """Close (or re-decide) a review case; audited. The caller commits."""
    note = (note or "").strip()
    if outcome not in OUTCOMES:
        raise ReviewError("bad_outcome")
    if not M.is_month(month or "") or case(session, agent_id, month) is None:
        raise ReviewError("not_a_case")
    if outcome != "keep" and not note:
        raise ReviewError("note_required")
    if len(note) > NOTE_LIMIT:
        raise ReviewError("note_too_long")
    superseded = session.execute(
        update(ReviewOutcomeRow)
        .where(ReviewOutcomeRow.agent_id == agent_id, ReviewOutcomeRow.month == month,
               ReviewOutcomeRow.voided_at.is_(None))
        .values(voided_at=utcnow())
    ).rowcount
    session.add(ReviewOutcomeRow(agent_id=agent_id, month=month, outcome=outcome, note=note, decided_by=actor))
    audit.record(session, actor, "review_outcome", "review", f"{agent_id}/{month}", reason=note,
                 detail={"outcome": outcome, "superseded": superseded})
    session.flush()
    found = case(session, agent_id, month)
    assert found is not None
    return found
