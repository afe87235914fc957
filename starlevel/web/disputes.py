"""Pages for acknowledging inspections and for disputes (申诉 → 复核 → 终审).

Who may do what (guards below; the service checks the stage and the person again):

- ``/me/inspections`` and ``/me/disputes``: the signed-in agent only; the agent id comes
  from the sign-in, never from the request. An agent acknowledges, disputes and
  escalates their own inspections and disputes only;
- ``/disputes``: the reviewers' queue for inspectors and HR (HR's escalations are its
  default view); deciding there: another inspector at review, HR once escalated.

Controllers only translate HTTP to :mod:`starlevel.services.disputes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from starlevel.domain.disputes import STATUSES
from starlevel.services import disputes as svc
from starlevel.services.recompute import pending_from
from starlevel.web.auth import current_user, requires, session_factory_of
from starlevel.web.background import defer_recompute
from starlevel.web.i18n import fmt_date
from starlevel.web.params import MAX_ID, int_or
from starlevel.web.render import gettext, is_htmx, lang_of, render

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
REVIEWERS = ("inspector", "hr")


def _first(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def _all(data: Mapping[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def messages(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Every refusal of the dispute use cases, in the request's language (pages and API)."""
    _ = gettext(request)
    return {
        "target.one": _("Dispute either one defect or a whole inspection."),
        "target.missing": _("There is no such inspection or defect of yours: {value}."),
        "target.void": _("This is void already: there is nothing left to dispute."),
        "target.disputed": _("This is disputed already (dispute #{dispute})."),
        "window.closed": _("The time to dispute this inspection ended on {deadline}."),
        "month.closed": _("{month} is closed for payroll: its inspections can no longer be disputed."),
        "reason.missing": _("Give a reason for the dispute."),
        "note.missing": _("A rejection needs a note saying why."),
        "text.too_long": _("The text is too long (at most {limit} characters)."),
        "dispute.missing": _("There is no such dispute: {value}."),
        "dispute.moved": _("Someone else decided this dispute meanwhile; reload the page."),
        "dispute.decided": _("This dispute cannot be decided now."),
        "decide.own": _("You inspected this contact: another inspector decides the dispute."),
        "decide.stage": _("Your role may not decide this dispute at this stage."),
        "outcome.unknown": _("{value} is not a decision: upheld or rejected."),
        "escalate.stage": _("Only a rejected dispute can be escalated, and only once."),
    }


def problem_text(request: Request[Any, Any, Any], problem: svc.Problem) -> str:
    lang = lang_of(request)
    params = {k: fmt_date(v, lang) if isinstance(v, date) else v for k, v in problem.params.items()}
    return messages(request)[problem.key].format(**params)


def _commit(session: Session) -> None:
    """Commit before the response starts (see starlevel.web.inspector._commit)."""
    session.commit()


_NOTICES = "_starlevel_notices"  # request scope: the navigation's counts, once computed


def notices(request: Request[Any, Any, Any], session: Session | None = None) -> svc.Notices:
    """The navigation's counts for the signed-in user, computed once per request (in
    ``session`` when the caller has one open, so a page costs one connection less)."""
    cached = request.scope.get(_NOTICES)
    if isinstance(cached, svc.Notices):
        return cached
    user = request.scope.get("user")
    found = svc.Notices()
    if user is not None:
        with nullcontext(session) if session is not None else session_factory_of(request)() as s:
            found = svc.notice_counts(s, role=user.role, username=user.username, agent_id=user.agent_id)
    request.scope[_NOTICES] = found  # type: ignore[typeddict-unknown-key]
    return found


def figures_pending_with_notices(request: Request[Any, Any, Any], session: Session) -> bool:
    """Whether a deferred recompute is still owed, read in ``session`` together with the
    navigation's counts (kept for the request, as :func:`notices` keeps them)."""
    if isinstance(request.scope.get(_NOTICES), svc.Notices):
        return pending_from(session) is not None
    user = request.scope["user"]
    pending, found = svc.navigation(session, role=user.role, username=user.username, agent_id=user.agent_id)
    request.scope[_NOTICES] = found  # type: ignore[typeddict-unknown-key]
    return pending is not None


def path_id(text: str) -> int:
    """A record id from the URL: anything but a whole number from 1 to MAX_ID names no record."""
    value = int_or(text, None, hi=MAX_ID)
    if value is None:
        raise NotFoundException(f"no record {text[:40]!r}")
    return value


def _own_agent_id(request: Request[Any, Any, Any]) -> str:
    agent_id = current_user(request).agent_id
    if not agent_id:
        raise NotFoundException("this sign-in is not linked to an agent")
    return agent_id


# ------------------------------------------------------------------------------ the agent


def _inbox(request: Request[Any, Any, Any], db: Session, *, status_code: int = 200,
           error: dict[str, str] | None = None, **extra: Any) -> Template:
    agent_id = _own_agent_id(request)
    return render(request, "disputes/inbox.html", partial="disputes/_inbox.html", status_code=status_code,
                  items=svc.new_inspections(db, agent_id), unseen=svc.unseen_count(db, agent_id),
                  error=error, **extra)


class AgentInboxController(Controller):
    """The agent's new inspections: acknowledge (seen) or dispute."""

    path = "/me/inspections"
    guards = [requires("agent")]
    include_in_schema = False

    @get("/", name="my_inspections", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session]) -> Template:
        return _inbox(request, db_session)

    @post("/seen", name="my_inspections_seen", sync_to_thread=True, status_code=200)
    def seen(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
             data: Form) -> Template | Redirect:
        user = current_user(request)
        ids = None if _first(data, "all") == "1" else _all(data, "inspection_id")
        svc.acknowledge(db_session, _own_agent_id(request), ids, actor=user.username)
        _commit(db_session)
        if is_htmx(request):
            return _inbox(request, db_session)
        return Redirect("/me/inspections", status_code=303)


class AgentDisputesController(Controller):
    """The agent's own disputes: file, follow, escalate a rejection once."""

    path = "/me/disputes"
    guards = [requires("agent")]
    include_in_schema = False

    @get("/", name="my_disputes", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              filed: FromQuery[str] = "") -> Template:
        user = current_user(request)
        rows = svc.disputes_of_agent(db_session, _own_agent_id(request), actor=user.username)
        _commit(db_session)  # the decisions shown are read now
        request.scope.pop(_NOTICES, None)  # type: ignore[misc]
        return render(request, "disputes/mine.html", partial="disputes/_mine.html", rows=rows, filed=filed,
                      row_error=None)

    @post("/", name="my_disputes_file", sync_to_thread=True, status_code=200)
    def file(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
             data: Form) -> Template | Redirect:
        user = current_user(request)
        raw_defect = _first(data, "defect_id")
        defect_id = int_or(raw_defect, None, hi=MAX_ID)
        inspection_id = _first(data, "inspection_id") if defect_id is None else None
        target = f"defect:{raw_defect}" if raw_defect else f"inspection:{_first(data, 'inspection_id')}"
        try:
            row = svc.file(db_session, agent_id=_own_agent_id(request), actor=user.username,
                           reason=_first(data, "reason"), defect_id=defect_id,
                           inspection_id=inspection_id or None)
            _commit(db_session)
        except svc.DisputeError as exc:
            db_session.rollback()
            error = {"target": target, "message": problem_text(request, exc.problem),
                     "reason": _first(data, "reason")}
            return _inbox(request, db_session, status_code=422 if exc.status == 400 else exc.status, error=error)
        return Redirect(f"/me/disputes?filed={row.id}", status_code=303)

    @post("/{dispute_id:str}/escalate", name="my_disputes_escalate", sync_to_thread=True, status_code=200)
    def escalate(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                 dispute_id: FromPath[str], data: Form) -> Template | Redirect:
        user = current_user(request)
        agent_id = _own_agent_id(request)
        did = path_id(dispute_id)
        try:
            svc.escalate(db_session, did, agent_id=agent_id, actor=user.username, note=_first(data, "note"))
            _commit(db_session)
        except svc.DisputeError as exc:
            db_session.rollback()
            rows = svc.disputes_of_agent(db_session, agent_id, actor=user.username, mark_read=False)
            return render(request, "disputes/mine.html", partial="disputes/_mine.html",
                          status_code=422 if exc.status in (400, 409) else exc.status, rows=rows, filed="",
                          row_error={"id": did, "message": problem_text(request, exc.problem)})
        return Redirect("/me/disputes", status_code=303)


# ------------------------------------------------------------------------------ reviewers


def _queue(request: Request[Any, Any, Any], db: Session, filters: svc.QueueFilters, *, status_code: int = 200,
           row_error: dict[str, Any] | None = None) -> Template:
    user = current_user(request)
    q = svc.queue(db, filters, role=user.role, username=user.username)
    return render(request, "disputes/queue.html", partial="disputes/_queue.html", status_code=status_code,
                  q=q, statuses=STATUSES, default_status=svc.default_status(user.role), row_error=row_error)


class DisputeQueueController(Controller):
    path = "/disputes"
    guards = [requires(*REVIEWERS)]
    include_in_schema = False

    @get("/", name="disputes", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              status: FromQuery[str] = "", month: FromQuery[str] = "", inspector: FromQuery[str] = "",
              agent: FromQuery[str] = "") -> Template:
        return _queue(request, db_session, svc.QueueFilters(status, month, inspector, agent))

    @post("/{dispute_id:str}/decide", name="disputes_decide", sync_to_thread=True, status_code=200)
    def decide(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               dispute_id: FromPath[str], data: Form) -> Template | Redirect:
        user = current_user(request)
        did = path_id(dispute_id)
        filters = svc.QueueFilters(_first(data, "status"), _first(data, "month"), _first(data, "inspector"),
                                   _first(data, "agent")).clean()
        try:
            svc.decide(db_session, did, outcome=_first(data, "outcome"), note=_first(data, "note"),
                       actor=user.username, role=user.role, defer=defer_recompute(request))
            _commit(db_session)
        except svc.DisputeError as exc:
            db_session.rollback()
            if exc.status == 404:
                raise NotFoundException(str(exc.problem.key)) from exc
            error = {"id": did, "message": problem_text(request, exc.problem), "note": _first(data, "note")}
            return _queue(request, db_session, filters, status_code=422 if exc.status == 400 else exc.status,
                          row_error=error)
        if is_htmx(request):
            return _queue(request, db_session, filters)
        query = "&".join(f"{k}={v}" for k, v in vars(filters).items() if v)
        return Redirect("/disputes" + (f"?{query}" if query else ""), status_code=303)


CONTROLLERS = [AgentInboxController, AgentDisputesController, DisputeQueueController]
