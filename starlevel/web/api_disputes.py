"""Disputes in the JSON API: the same guards and the same use cases as the pages.

An agent files and escalates disputes of their own (the agent id comes from the sign-in)
and lists only their own; inspectors and HR list every dispute and decide at their
stage (another inspector reviews, HR decides escalations finally).
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Struct
from sqlalchemy.orm import Session

from starlevel.services import api_views as views
from starlevel.services import disputes as svc
from starlevel.web.api import NOT_FOUND, PROBLEMS, _Api, _write, access
from starlevel.web.auth import current_user
from starlevel.web.background import defer_recompute
from starlevel.web.disputes import problem_text
from starlevel.web.params import Id

Status = Literal["open", "upheld", "rejected", "escalated", "hr_upheld", "hr_rejected"]


class DisputeIn(Struct):
    """Dispute one defect (``defect_id``) or a whole inspection (``inspection_id``), with a reason."""

    reason: str
    defect_id: int | None = None
    inspection_id: str | None = None


class DecideIn(Struct):
    """Uphold (the defect or inspection is voided with the dispute as the reason) or reject (a note is required)."""

    outcome: Literal["upheld", "rejected"]
    note: str = ""


class EscalateIn(Struct):
    note: str = ""


class DisputeOut(Struct):
    """One dispute. ``status``: open → upheld | rejected; rejected → escalated → hr_upheld | hr_rejected."""

    id: int
    inspection_id: str
    defect_id: int | None
    defect_code: str | None
    agent_id: str
    month: str
    inspector: str
    status: Status
    reason: str
    filed_at: str
    filed_by: str
    age_days: int
    reviewed_by: str | None
    review_note: str
    escalated_at: str | None
    escalation_note: str
    final_by: str | None
    final_note: str


def _out(v: svc.DisputeView) -> DisputeOut:
    d = v.dispute
    return DisputeOut(
        d.id, d.inspection_id, d.defect_id, v.defect_code, d.agent_id, d.month, d.inspector, d.status,  # type: ignore[arg-type]
        d.reason, d.filed_at.isoformat(timespec="seconds"), d.filed_by, v.age_days, d.reviewed_by, d.review_note,
        d.escalated_at.isoformat(timespec="seconds") if d.escalated_at else None, d.escalation_note,
        d.final_by, d.final_note,
    )


def _view(session: Session, row: Any, *, role: str, username: str, agent_id: str | None) -> DisputeOut:
    return _out(svc.view(session, row, role=role, username=username, agent_id=agent_id))


def _problem(request: Request[Any, Any, Any], exc: svc.DisputeError) -> views.ApiProblem:
    text = problem_text(request, exc.problem)
    detail = {400: "invalid request", 403: "forbidden", 404: "not found", 409: "conflict"}.get(exc.status, "refused")
    return views.ApiProblem([views.Problem(exc.problem.field, text, exc.problem.key)], status_code=exc.status,
                            detail=detail)


REFUSED = {**PROBLEMS, **NOT_FOUND}


class DisputesApi(_Api):
    path = "/api/disputes"
    tags = ["disputes"]

    @get("/", **access("agent", "inspector", "hr"), summary="Disputes, newest first (an agent: only their own)",
         sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              status: FromQuery[Status | None] = None) -> list[DisputeOut]:
        user = current_user(request)
        rows = svc.list_for_api(db_session, role=user.role, username=user.username, agent_id=user.agent_id,
                                status=status or "")
        return [_out(v) for v in rows]

    @post("/", **access("agent", write=True),
          summary="Dispute one defect or a whole inspection of mine, within the rulebook's window",
          responses=REFUSED, status_code=201, sync_to_thread=True)
    def file(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
             data: JSONBody[DisputeIn]) -> DisputeOut:
        user = current_user(request)

        def change() -> DisputeOut:
            try:
                row = svc.file(db_session, agent_id=user.agent_id or "", actor=user.username, reason=data.reason,
                               defect_id=data.defect_id, inspection_id=data.inspection_id)
            except svc.DisputeError as exc:
                raise _problem(request, exc) from exc
            return _view(db_session, row, role=user.role, username=user.username, agent_id=user.agent_id)

        return _write(db_session, change)

    @post("/{dispute_id:int}/decide", **access("inspector", "hr", write=True),
          summary="Uphold or reject: another inspector at review, HR after an escalation (final); "
                  "upholding voids the finding and re-evaluates the agent",
          responses=REFUSED, status_code=200, sync_to_thread=True)
    def decide(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               dispute_id: FromPath[Id], data: JSONBody[DecideIn]) -> DisputeOut:
        user = current_user(request)

        def change() -> DisputeOut:
            try:
                row = svc.decide(db_session, dispute_id, outcome=data.outcome, note=data.note, actor=user.username,
                                 role=user.role, defer=defer_recompute(request))
            except svc.DisputeError as exc:
                raise _problem(request, exc) from exc
            return _view(db_session, row, role=user.role, username=user.username, agent_id=None)

        return _write(db_session, change)

    @post("/{dispute_id:int}/escalate", **access("agent", write=True),
          summary="Escalate a rejected dispute of mine to HR (once)", responses=REFUSED, status_code=200,
          sync_to_thread=True)
    def escalate(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                 dispute_id: FromPath[Id], data: JSONBody[EscalateIn | None] = None) -> DisputeOut:
        user = current_user(request)

        def change() -> DisputeOut:
            try:
                row = svc.escalate(db_session, dispute_id, agent_id=user.agent_id or "", actor=user.username,
                                   note=data.note if data else "")
            except svc.DisputeError as exc:
                raise _problem(request, exc) from exc
            return _view(db_session, row, role=user.role, username=user.username, agent_id=user.agent_id)

        return _write(db_session, change)


CONTROLLERS = [DisputesApi]
