"""Corrections and HR decisions: recorded with who, when and why; nothing is deleted."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import HrDecisionRow, Inspection, InspectionDefect, MonthResultRow, utcnow
from starlevel.services import audit
from starlevel.services.months import ensure_open


class CorrectionError(ValueError):
    pass


def _need_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionError("a reason is required")
    return reason


def void_inspection(session: Session, inspection_id: str, *, reason: str, actor: str) -> str:
    """Void one inspection; returns the month to recompute from."""
    reason = _need_reason(reason)
    insp = session.get(Inspection, inspection_id)
    if insp is None:
        raise CorrectionError(f"no inspection {inspection_id!r}")
    if insp.voided_at is not None:
        raise CorrectionError(f"inspection {inspection_id!r} is already void")
    ensure_open(session, insp.month)
    insp.voided_at, insp.voided_by, insp.void_reason = utcnow(), actor, reason
    audit.record(session, actor, "void", "inspection", inspection_id, reason=reason,
                 detail={"agent_id": insp.agent_id, "month": insp.month})
    return insp.month


def void_defect(session: Session, defect_id: int, *, reason: str, actor: str) -> str:
    reason = _need_reason(reason)
    defect = session.get(InspectionDefect, defect_id)
    if defect is None:
        raise CorrectionError(f"no defect #{defect_id}")
    if defect.voided_at is not None:
        raise CorrectionError(f"defect #{defect_id} is already void")
    insp = session.get(Inspection, defect.inspection_id)
    assert insp is not None
    if insp.voided_at is not None:
        raise CorrectionError(f"inspection {insp.inspection_id!r} is void already")
    ensure_open(session, insp.month)
    defect.voided_at, defect.voided_by, defect.void_reason = utcnow(), actor, reason
    audit.record(session, actor, "void", "defect", str(defect_id), reason=reason,
                 detail={"inspection_id": insp.inspection_id, "code": defect.code, "month": insp.month})
    return insp.month


def decide(session: Session, agent_id: str, month: str, *, action: str, reason: str, actor: str) -> str:
    """Approve or hold the promotion proposed for ``agent_id`` at the end of ``month``."""
    if action not in ("approve", "hold"):
        raise CorrectionError(f"unknown decision {action!r}: approve or hold")
    reason = (reason or "").strip()
    if action == "hold" and not reason:
        raise CorrectionError("a hold needs a reason")
    ensure_open(session, month)
    result = session.get(MonthResultRow, (agent_id, month))
    if result is None:
        raise CorrectionError(f"no evaluated month {month} for agent {agent_id!r}")
    if result.event not in ("promote", "hold"):
        raise CorrectionError(f"{agent_id} has no promotion proposal in {month} (event: {result.event})")
    live = session.scalars(
        select(HrDecisionRow).where(
            HrDecisionRow.agent_id == agent_id, HrDecisionRow.month == month, HrDecisionRow.voided_at.is_(None)
        )
    ).all()
    for old in live:
        old.voided_at, old.voided_by, old.void_reason = utcnow(), actor, f"superseded by {action}"
    session.add(HrDecisionRow(agent_id=agent_id, month=month, action=action, reason=reason, decided_by=actor))
    audit.record(session, actor, action, "promotion", f"{agent_id}/{month}", reason=reason,
                 detail={"superseded": [o.action for o in live]})
    session.flush()
    return month
