"""Acknowledging inspections and disputing them: 申诉 → 复核 → 终审.

One use case per function; the web pages, the API and tests call the same ones. Each
function leaves its changes in the caller's session (a request, the CLI) and flushes:
the caller commits, so a decision, the void it causes, the re-evaluation of the agent
and the audit entries land together or not at all.

Who may do what (checked here, whatever the caller):

- an agent files a dispute of one defect, or of a whole inspection, of their own, with a
  reason, until the rulebook's window closes (``[disputes] window_working_days`` working
  days after the inspection was saved), never once its month is closed for payroll; one
  dispute per defect or inspection (and a month with disputes waiting cannot be closed);
- another inspector (never the inspection's own) upholds or rejects an open dispute;
  upholding voids the defect (or the inspection) with the dispute as the reason and
  re-evaluates the agent at once; a rejection needs a note;
- the agent may escalate a rejection once; HR's decision on it is final.

Problems come back as :class:`Problem` values (field, message key, parameters); the web
layer words them in the user's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, not_, or_, select, update
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, Dispute, Inspection, InspectionAck, InspectionDefect, utcnow
from starlevel.domain import disputes as rules
from starlevel.domain.months import is_month
from starlevel.services import audit, inspections, locks, months, rulebooks, search
from starlevel.services.inspections import Problem
from starlevel.services.recompute import PENDING_FROM

__all__ = [
    "DisputeError",
    "Problem",
    "QueueFilters",
    "acknowledge",
    "decide",
    "disputes_of_agent",
    "escalate",
    "file",
    "new_inspections",
    "navigation",
    "notice_counts",
    "queue",
]

#: Longest reason or note kept (a dispute is a paragraph, not a file).
TEXT_LIMIT = 2000
#: Inspections saved this many days ago or less count as "new" for acknowledgement.
NEW_DAYS = 30
PER_PAGE = 50


class DisputeError(ValueError):
    """A refused step; ``status`` is the HTTP status a caller should answer with."""

    def __init__(self, problem: Problem, status: int = 400) -> None:
        super().__init__(problem.key)
        self.problem = problem
        self.status = status


def _refuse(field_: str, key: str, status: int = 400, **params: Any) -> DisputeError:
    return DisputeError(Problem(field_, key, params), status)


def _text(value: str | None, field_: str, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise _refuse(field_, f"{field_}.missing")
    if len(text) > TEXT_LIMIT:
        raise _refuse(field_, "text.too_long", limit=TEXT_LIMIT)
    return text


# ---------------------------------------------------------------------------- the window


def _ensure_open(session: Session, month: str) -> None:
    """Nothing of a month closed for payroll is disputed or escalated."""
    if months.is_closed(session, month):
        raise _refuse("target", "month.closed", 409, month=month)


def deadline(session: Session, insp: Inspection) -> date:
    """The last day ``insp`` may be disputed: the rulebook of its month sets the window."""
    days = rulebooks.current(session, insp.month).dispute_window_days
    return rules.may_dispute_until(insp.created_at.date(), days)


def _today(today: date | None) -> date:
    return today or utcnow().date()


# ---------------------------------------------------------------------------- acknowledgement


@dataclass(frozen=True)
class NewInspection:
    row: inspections.Row
    seen: bool
    deadline: date
    open_for_disputes: bool
    disputed_defects: frozenset[int]  # defect ids with a dispute already
    disputed_whole: bool  # a dispute of the whole inspection exists


def _new_since(today: date) -> datetime:
    return datetime.combine(today - timedelta(days=NEW_DAYS), datetime.min.time())


def _unseen(agent_id: str, since: datetime) -> Any:
    return and_(
        Inspection.agent_id == agent_id,
        Inspection.voided_at.is_(None),
        Inspection.created_at >= since,
        not_(exists().where(InspectionAck.inspection_id == Inspection.inspection_id)),
    )


def unseen_count(session: Session, agent_id: str, *, today: date | None = None) -> int:
    """Live inspections of ``agent_id`` saved in the last NEW_DAYS days and not yet seen."""
    since = _new_since(_today(today))
    return session.scalar(select(func.count()).select_from(Inspection).where(_unseen(agent_id, since))) or 0


def new_inspections(session: Session, agent_id: str, *, today: date | None = None,
                    limit: int = 100) -> list[NewInspection]:
    """The agent's inspections saved in the last NEW_DAYS days, newest first: unseen ones first."""
    day = _today(today)
    rows = list(session.scalars(
        select(Inspection)
        .where(Inspection.agent_id == agent_id, Inspection.created_at >= _new_since(day))
        .order_by(Inspection.created_at.desc(), Inspection.inspection_id.desc())
        .limit(limit)
    ))
    ids = [r.inspection_id for r in rows]
    seen = set(session.scalars(select(InspectionAck.inspection_id).where(InspectionAck.inspection_id.in_(ids or [""]))))
    disputed = session.execute(
        select(Dispute.inspection_id, Dispute.defect_id).where(Dispute.inspection_id.in_(ids or [""]))
    ).all()
    books = rulebooks.load_all(session)
    out = []
    for r in rows:
        last = rules.may_dispute_until(r.created_at.date(), rulebooks.for_month(books, r.month).dispute_window_days)
        out.append(NewInspection(
            inspections.row_of(session, r, books=books), r.inspection_id in seen, last,
            r.voided_at is None and day <= last,
            frozenset(d for i, d in disputed if i == r.inspection_id and d is not None),
            any(i == r.inspection_id and d is None for i, d in disputed),
        ))
    out.sort(key=lambda n: n.seen)  # stable: unseen first, each group newest first
    return out


def acknowledge(session: Session, agent_id: str, inspection_ids: Iterable[str] | None, *, actor: str,
                today: date | None = None) -> int:
    """Mark inspections of ``agent_id`` as seen (None: every new unseen one). Others' ids
    and ids seen already are skipped. Returns how many were marked."""
    q = select(Inspection.inspection_id).where(_unseen(agent_id, datetime.min))
    if inspection_ids is not None:
        wanted = [i for i in inspection_ids if i][:500]
        q = q.where(Inspection.inspection_id.in_(wanted or [""]))
    else:
        q = q.where(Inspection.created_at >= _new_since(_today(today)))
    ids = list(session.scalars(q))
    now = utcnow()
    for iid in ids:
        session.add(InspectionAck(inspection_id=iid, agent_id=agent_id, seen_at=now, seen_by=actor))
    if ids:
        audit.record(session, actor, "acknowledge", "inspection", ids[0] if len(ids) == 1 else agent_id,
                     detail={"agent_id": agent_id, "inspections": ids})
    session.flush()
    return len(ids)


def _ack(session: Session, insp: Inspection, actor: str) -> None:
    if session.get(InspectionAck, insp.inspection_id) is None:
        session.add(InspectionAck(inspection_id=insp.inspection_id, agent_id=insp.agent_id, seen_by=actor))


# ---------------------------------------------------------------------------- filing


def file(session: Session, *, agent_id: str, actor: str, reason: str, defect_id: int | None = None,
         inspection_id: str | None = None, today: date | None = None) -> Dispute:
    """The agent ``agent_id`` disputes one defect or a whole inspection of theirs."""
    if (defect_id is None) == (not inspection_id):
        raise _refuse("target", "target.one")
    reason = _text(reason, "reason", required=True)
    defect = None
    if defect_id is not None:
        defect = session.get(InspectionDefect, defect_id)
        insp = defect.inspection if defect is not None else None
    else:
        insp = session.get(Inspection, inspection_id)
    # Someone else's inspection reads exactly like a missing one: no probing of ids.
    if insp is None or insp.agent_id != agent_id:
        raise _refuse("target", "target.missing", 404, value=defect_id if defect_id is not None else inspection_id)
    if insp.voided_at is not None or (defect is not None and defect.voided_at is not None):
        raise _refuse("target", "target.void")
    last = deadline(session, insp)
    if _today(today) > last:
        raise _refuse("target", "window.closed", deadline=last)
    _ensure_open(session, insp.month)
    # No other change to the agent from here to commit: two filings at once (a double click)
    # cannot both find the defect undisputed.
    locks.agent_changes(session, agent_id)
    earlier = session.execute(
        select(Dispute.id, Dispute.defect_id).where(Dispute.inspection_id == insp.inspection_id)
    ).all()
    for other_id, other_defect in earlier:
        if other_defect is None or defect is None or other_defect == defect.id:
            raise _refuse("target", "target.disputed", dispute=other_id)
    row = Dispute(
        inspection_id=insp.inspection_id, defect_id=defect.id if defect else None, agent_id=agent_id,
        month=insp.month, inspector=insp.inspector, status="open", reason=reason, filed_by=actor,
        filed_at=utcnow(), review_note="", escalation_note="", final_note="", agent_unread=False,
    )
    session.add(row)
    _ack(session, insp, actor)
    session.flush()
    audit.record(session, actor, "dispute", "dispute", str(row.id), reason=reason,
                 detail={"inspection_id": insp.inspection_id, "defect_id": row.defect_id, "month": insp.month,
                         "agent_id": agent_id})
    return row


# ---------------------------------------------------------------------------- deciding


def _get(session: Session, dispute_id: int) -> Dispute:
    row = session.get(Dispute, dispute_id)
    if row is None:
        raise _refuse("dispute", "dispute.missing", 404, value=dispute_id)
    return row


def _move(session: Session, row: Dispute, expected: str, values: dict[str, Any]) -> None:
    """Change the status only if nobody moved it meanwhile (two reviewers at once)."""
    done = session.execute(
        update(Dispute).where(Dispute.id == row.id, Dispute.status == expected).values(**values)
    ).rowcount
    if done != 1:
        raise _refuse("dispute", "dispute.moved", 409)
    session.refresh(row)


def may_decide(row: Dispute, *, role: str, username: str) -> bool:
    """Whether ``username`` (``role``) may decide ``row`` at its current stage."""
    if row.status == "open":
        return role == "inspector" and username != row.inspector
    if row.status == "escalated":
        return role == "hr"
    return False


def decide(session: Session, dispute_id: int, *, outcome: str, note: str, actor: str, role: str,
           defer: bool = False) -> Dispute:
    """Uphold or reject a dispute: another inspector at review (复核), HR at the final stage (终审)."""
    row = _get(session, dispute_id)
    after = rules.next_status(row.status, outcome)
    if outcome not in ("upheld", "rejected"):
        raise _refuse("outcome", "outcome.unknown", value=outcome)
    if after is None:
        raise _refuse("dispute", "dispute.decided", 409)
    if row.status == "open" and role == "inspector" and actor == row.inspector:
        raise _refuse("dispute", "decide.own", 403)
    if not may_decide(row, role=role, username=actor):
        raise _refuse("dispute", "decide.stage", 403)
    note = _text(note, "note", required=outcome == "rejected")
    now = utcnow()
    if row.status == "open":
        values = {"status": after, "reviewed_at": now, "reviewed_by": actor, "review_note": note}
    else:
        values = {"status": after, "final_at": now, "final_by": actor, "final_note": note}
    before = row.status
    _move(session, row, before, values | {"agent_unread": True})
    if outcome == "upheld":
        _void(session, row, actor, defer)
    audit.record(session, actor, f"dispute_{after}", "dispute", str(row.id), reason=note,
                 detail={"from": before, "to": after, "inspection_id": row.inspection_id,
                         "defect_id": row.defect_id, "agent_id": row.agent_id})
    session.flush()
    return row


def _void(session: Session, row: Dispute, actor: str, defer: bool) -> None:
    """Void what the dispute contests through the inspections use case (which re-evaluates
    the agent at once); the dispute is the reason."""
    reason = f"dispute #{row.id}: {row.reason}"
    try:
        if row.defect_id is not None:
            inspections.void_defect(session, row.defect_id, reason=reason, actor=actor, defer=defer)
        else:
            inspections.void_inspection(session, row.inspection_id, reason=reason, actor=actor, defer=defer)
    except inspections.InvalidVoid as exc:  # voided meanwhile by a correction
        raise _refuse("dispute", "target.void", 409) from exc
    except months.MonthClosed as exc:  # closed after a reopen let it through
        raise _refuse("dispute", "month.closed", 409, month=row.month) from exc


def escalate(session: Session, dispute_id: int, *, agent_id: str, actor: str, note: str = "") -> Dispute:
    """The agent takes a rejected dispute of theirs to HR (once)."""
    row = _get(session, dispute_id)
    if row.agent_id != agent_id:
        raise _refuse("dispute", "dispute.missing", 404, value=dispute_id)
    if row.status != "rejected":
        raise _refuse("dispute", "escalate.stage", 409)
    _ensure_open(session, row.month)
    note = _text(note, "note", required=False)
    _move(session, row, "rejected", {"status": "escalated", "escalated_at": utcnow(), "escalation_note": note,
                                     "agent_unread": False})
    audit.record(session, actor, "dispute_escalated", "dispute", str(row.id), reason=note,
                 detail={"agent_id": agent_id, "inspection_id": row.inspection_id})
    session.flush()
    return row


# ---------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class DisputeView:
    dispute: Dispute
    agent_name: str
    defect_code: str | None
    age_days: int  # days since it was filed (or since it was escalated, for HR)
    may_decide: bool
    may_escalate: bool


def _views(session: Session, rows: list[Dispute], *, role: str, username: str, agent_id: str | None,
           today: date) -> list[DisputeView]:
    names = dict(session.execute(
        select(Agent.agent_id, Agent.name).where(Agent.agent_id.in_({r.agent_id for r in rows} or {""}))
    ).all())
    codes = dict(session.execute(
        select(InspectionDefect.id, InspectionDefect.code)
        .where(InspectionDefect.id.in_({r.defect_id for r in rows if r.defect_id is not None} or {0}))
    ).all())
    out = []
    for r in rows:
        since = r.escalated_at if r.status == "escalated" and r.escalated_at else r.filed_at
        out.append(DisputeView(
            r, names.get(r.agent_id, ""), codes.get(r.defect_id) if r.defect_id is not None else None,
            max(0, (today - since.date()).days), may_decide(r, role=role, username=username),
            r.status == "rejected" and agent_id == r.agent_id,
        ))
    return out


def view(session: Session, row: Dispute, *, role: str, username: str, agent_id: str | None) -> DisputeView:
    """One dispute as the lists show it, to ``username`` (``role``)."""
    return _views(session, [row], role=role, username=username, agent_id=agent_id, today=_today(None))[0]


def disputes_of_agent(session: Session, agent_id: str, *, actor: str, today: date | None = None,
                      mark_read: bool = True) -> list[DisputeView]:
    """The agent's own disputes, newest first; showing them clears their unread decisions."""
    rows = list(session.scalars(
        select(Dispute).where(Dispute.agent_id == agent_id).order_by(Dispute.filed_at.desc(), Dispute.id.desc())
    ))
    views = _views(session, rows, role="agent", username=actor, agent_id=agent_id, today=_today(today))
    if mark_read and any(r.agent_unread for r in rows):
        session.execute(update(Dispute).where(Dispute.agent_id == agent_id, Dispute.agent_unread.is_(True))
                        .values(agent_unread=False))
        session.flush()
    return views


@dataclass
class QueueFilters:
    status: str = ""  # "" = waiting for the viewer (open for inspectors, escalated for HR)
    month: str = ""
    inspector: str = ""
    agent: str = ""

    def clean(self) -> QueueFilters:
        return QueueFilters(
            self.status if self.status in (*rules.STATUSES, "all") else "",
            self.month if is_month(self.month) else "",
            self.inspector.strip()[:100], self.agent.strip()[:100],
        )


@dataclass(frozen=True)
class Queue:
    filters: QueueFilters
    rows: list[DisputeView]
    total: int


def default_status(role: str) -> str:
    return "escalated" if role == "hr" else "open"


def queue(session: Session, filters: QueueFilters, *, role: str, username: str, today: date | None = None,
          limit: int = PER_PAGE) -> Queue:
    """Disputes for reviewers, oldest waiting first (ageing)."""
    f = filters.clean()
    status = f.status or default_status(role)
    q = select(Dispute)
    if status != "all":
        q = q.where(Dispute.status == status)
    if f.month:
        q = q.where(Dispute.month == f.month)
    if f.inspector:
        q = q.where(Dispute.inspector == f.inspector)
    if f.agent:
        q = q.where(or_(func.lower(Dispute.agent_id) == f.agent.lower(),
                        Dispute.agent_id.in_(select(Agent.agent_id).where(search.contains(Agent.name, f.agent)))))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(session.scalars(q.order_by(Dispute.filed_at, Dispute.id).limit(limit)))
    return Queue(f, _views(session, rows, role=role, username=username, agent_id=None, today=_today(today)), total)


def list_for_api(session: Session, *, role: str, username: str, agent_id: str | None,
                 status: str = "", limit: int = PER_PAGE) -> list[DisputeView]:
    """The API's list: an agent's own disputes only; staff see every dispute (``status`` filters)."""
    q = select(Dispute)
    if role == "agent":
        q = q.where(Dispute.agent_id == (agent_id or ""))
    if status in rules.STATUSES:
        q = q.where(Dispute.status == status)
    rows = list(session.scalars(q.order_by(Dispute.filed_at.desc(), Dispute.id.desc()).limit(limit)))
    return _views(session, rows, role=role, username=username, agent_id=agent_id, today=_today(None))


# ---------------------------------------------------------------------------- notices


@dataclass(frozen=True)
class Notices:
    """What waits for the signed-in user: each a count shown in the navigation."""

    unseen: int = 0  # agent: new inspections not yet seen
    decided: int = 0  # agent: decisions on their disputes not yet read
    to_review: int = 0  # inspector: open disputes of other inspectors' inspections
    escalated: int = 0  # HR: escalated disputes waiting for the final decision

    @property
    def disputes(self) -> int:
        return self.decided + self.to_review + self.escalated


def _count(*where: Any) -> Any:
    return select(func.count()).select_from(Dispute).where(*where).scalar_subquery()


_PENDING_FROM = PENDING_FROM.scalar_subquery()
_UNSEEN = select(func.count()).select_from(Inspection).where(
    _unseen(bindparam("agent_id"), bindparam("since"))).scalar_subquery()
# Every signed-in page asks what waits for its user and whether figures are being updated:
# one statement per role, built once, one round trip (it was three ORM queries a page).
_NAVIGATION = {
    "agent": select(_PENDING_FROM, _UNSEEN, _count(Dispute.agent_id == bindparam("agent_id"),
                                                   Dispute.agent_unread.is_(True))),
    "inspector": select(_PENDING_FROM, _count(Dispute.status == "open", Dispute.inspector != bindparam("username"))),
    "hr": select(_PENDING_FROM, _count(Dispute.status == "escalated")),
    "admin": select(_PENDING_FROM),
}


def navigation(session: Session, *, role: str, username: str, agent_id: str | None,
               today: date | None = None) -> tuple[str | None, Notices]:
    """The earliest month a deferred recompute is still owed from (None: all caught up),
    and the counts waiting for the signed-in user, in one indexed statement."""
    stmt = _NAVIGATION.get("admin" if role == "agent" and not agent_id else role, _NAVIGATION["admin"])
    row = session.connection().execute(stmt, {
        "agent_id": agent_id, "username": username, "since": _new_since(_today(today)),
    }).one()
    pending = row[0]
    if role == "agent" and agent_id:
        return pending, Notices(unseen=row[1] or 0, decided=row[2] or 0)
    if role == "inspector":
        return pending, Notices(to_review=row[1] or 0)
    if role == "hr":
        return pending, Notices(escalated=row[1] or 0)
    return pending, Notices()


def notice_counts(session: Session, *, role: str, username: str, agent_id: str | None) -> Notices:
    """The navigation's counts alone (see :func:`navigation`)."""
    return navigation(session, role=role, username=username, agent_id=agent_id)[1]
