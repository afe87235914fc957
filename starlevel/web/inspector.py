"""The QA inspector's workspace: record, void and list inspections; upload files.

Who may do what (decided here, enforced by the guards below):

- see ``/inspections`` (list, coverage, agent search): inspector, hr, admin;
- record an inspection (form, live score, save): inspector only: the inspector field
  is the signed-in username, so only people who inspect record inspections;
- void an inspection or a defect: inspector and hr (HR corrects disputed findings);
- ``/uploads``: inspector, hr, admin; agent files only hr and admin.

Controllers only translate HTTP to calls of :mod:`starlevel.services.inspections`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Response, Template
from sqlalchemy.orm import Session

from starlevel.db.models import Inspection, InspectionDefect
from starlevel.services import clock, inspections as svc
from starlevel.services.importer import ImportRejected
from starlevel.services import file_problems, tabular
from starlevel.services.tabular import UPLOAD_LIMITS
from starlevel.web.background import defer_recompute
from starlevel.web.auth import CurrentUser, current_user, requires
from starlevel.web.i18n import fmt_date
from starlevel.web.params import MAX_ID, MAX_LEVEL, int_or
from starlevel.web.render import gettext, is_htmx, lang_of, render

PER_PAGE = 25
VIEWERS = ("inspector", "hr", "admin")
VOIDERS = ("inspector", "hr")

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _multi(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """A parsed form as name -> every value (repeated fields arrive as lists)."""
    return {k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in data.items()}


def _first(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def problem_text(request: Request[Any, Any, Any], problem: svc.Problem) -> str:
    """The sentence for one validation problem, in the user's language."""
    _ = gettext(request)
    lang = lang_of(request)
    texts = {
        "agent.missing": _("Choose an agent."),
        "agent.unknown": _("There is no agent with ID {agent_id}."),
        "date.missing": _("Enter the contact date."),
        "date.invalid": _("{value} is not a date (YYYY-MM-DD)."),
        "date.future": _("The contact date cannot be in the future (today is {today})."),
        "date.before_hire": _("The contact date is before agent {agent_id} was hired ({hired_on})."),
        "date.after_leave": _("The contact date is after agent {agent_id} left ({left_on})."),
        "channel.missing": _("Choose a channel."),
        "channel.unknown": _("{value} is not a channel."),
        "ref.missing": _("Enter the contact reference."),
        "ref.too_long": _("The contact reference is too long (at most {limit} characters)."),
        "ref.duplicate": _("Agent {agent_id} already has inspection {other} of contact {ref}."),
        "code.unknown": _("{code} is not a defect code of the rulebook."),
        "code.count": _("The count of {code} must be a whole number from 1 to {max}."),
        "note.too_long": _("The note is too long (at most {limit} characters)."),
        "reason.missing": _("Give a reason for voiding."),
        "reason.too_long": _("The reason is too long (at most {limit} characters)."),
        "void.already": _("This is void already."),
        "month.closed": _("{month} is closed for payroll; HR must reopen it before it can change."),
    }
    params = {k: fmt_date(v, lang) if isinstance(v, date) else v for k, v in problem.params.items()}
    return texts[problem.key].format(**params)


def _problems_by_field(request: Request[Any, Any, Any], problems: list[svc.Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(p.field, []).append(problem_text(request, p))
    return out


def _commit(session: Session) -> None:
    """Commit a successful change now, not in the autocommit after the response starts:
    the session store writes its row before that autocommit runs, and on SQLite it would
    wait for this transaction's write lock (a deadlock until the busy timeout)."""
    session.commit()


def _may_create(user: CurrentUser) -> bool:
    return user.role == "inspector"


# ------------------------------------------------------------------------ page context


def _filters(request: Request[Any, Any, Any], session: Session, *, month: str, agent: str, tier: str,
             mine: list[str] | None) -> tuple[svc.ListFilters, bool]:
    user = current_user(request)
    mine_on = ("1" in mine) if mine is not None else user.role == "inspector"
    if not svc.is_month(month):
        month = clock.current_month()  # inspectors sample the month in progress
    tier_n = int_or(tier, None, lo=0, hi=MAX_LEVEL)
    return svc.ListFilters(month=month, agent=agent.strip(), tier=tier_n,
                           inspector=user.username if mine_on else None), mine_on


def _form_context(request: Request[Any, Any, Any], session: Session, draft: svc.Draft,
                  problems: list[svc.Problem] | None = None, **extra: Any) -> dict[str, Any]:
    rb = svc.rulebook_for(session, draft)
    return {
        "draft": draft,
        "problems": _problems_by_field(request, problems or []),
        "groups": svc.form_catalog(session, lang_of(request)),
        "preview": svc.score_preview(rb, draft),
        "picked": svc.find_agent(session, draft.agent_id) if draft.agent_id else None,
        "channels": svc.CHANNELS,
        "today": clock.today(),
        **extra,
    }


def _list_context(session: Session, filters: svc.ListFilters, mine_on: bool, page: int) -> dict[str, Any]:
    assert filters.month is not None
    return {
        "filters": filters,
        "mine": mine_on,
        "page": svc.list_inspections(session, filters, page=page, per_page=PER_PAGE),
        "cov": svc.coverage(session, filters.month),
        "tiers": svc.tiers(session, filters.month),
    }


def _page(request: Request[Any, Any, Any], session: Session, *, draft: svc.Draft | None = None,
          problems: list[svc.Problem] | None = None, status_code: int = 200, month: str = "",
          agent: str = "", tier: str = "", mine: list[str] | None = None, page: str = "1",
          **extra: Any) -> Template:
    user = current_user(request)
    filters, mine_on = _filters(request, session, month=month, agent=agent, tier=tier, mine=mine)
    ctx = _list_context(session, filters, mine_on, int_or(page, 1))
    if _may_create(user):
        ctx |= _form_context(request, session, draft or svc.Draft(contact_on=clock.today().isoformat()), problems)
    ctx["can_create"] = _may_create(user)
    return render(request, "inspections/index.html", partial="inspections/_results.html",
                  status_code=status_code, **ctx, **extra)


def _back(data: Mapping[str, Any]) -> str:
    back = _first(data, "back")
    return back if back.startswith("/inspections") and not back.startswith("//") else "/inspections"


def _void_response(request: Request[Any, Any, Any], session: Session, data: Mapping[str, Any],
                   insp: Inspection, target: str, problem: svc.Problem | None) -> Template | Redirect:
    """The row again (htmx) or the page it came from: voided, or with the problem in place."""
    if problem is None and not is_htmx(request):
        return Redirect(_back(data), status_code=303)
    status = 422 if problem else 200
    row_error = None
    if problem is not None:
        row_error = {"target": target, "message": problem_text(request, problem),
                     "reason": _first(data, "reason")}
    if is_htmx(request):
        return render(request, "inspections/_row.html", status_code=status,
                      row=svc.row_of(session, insp), row_error=row_error)
    return _page(request, session, status_code=status, month=insp.month, mine=["0"], row_error=row_error)


# ------------------------------------------------------------------------------ routes


class InspectionsController(Controller):
    path = "/inspections"
    guards = [requires(*VIEWERS)]
    include_in_schema = False

    @get("/", name="inspections", sync_to_thread=True)
    def index(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], month: FromQuery[str] = "",
        agent: FromQuery[str] = "", tier: FromQuery[str] = "", mine: FromQuery[list[str] | None] = None,
        page: FromQuery[str] = "1", saved: FromQuery[str] = "",
    ) -> Template:
        return _page(request, db_session, month=month, agent=agent, tier=tier, mine=mine, page=page,
                     saved=saved)

    @post("/", name="inspections_create", guards=[requires("inspector")], sync_to_thread=True, status_code=200)
    def create(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               data: Form) -> Template | Redirect:
        user = current_user(request)
        draft = svc.Draft.from_form(_multi(data))
        try:
            insp = svc.create(db_session, draft, actor=user.username, defer=defer_recompute(request))
            _commit(db_session)
        except svc.InvalidInspection as exc:
            db_session.rollback()  # ends the transaction now: a save refused late holds the agent's lock
            if is_htmx(request):
                return render(request, "inspections/_form.html", status_code=422,
                              **_form_context(request, db_session, draft, exc.problems))
            return _page(request, db_session, draft=draft, problems=exc.problems, status_code=422)
        if not is_htmx(request):
            return Redirect(f"/inspections?month={insp.month}&saved={insp.inspection_id}", status_code=303)
        view_month = _first(data, "view_month")
        # The list on show: the new row goes in (and its count up) only when it belongs there.
        tier = _first(data, "view_tier")
        shown = svc.ListFilters(month=view_month if svc.is_month(view_month) else None, agent=_first(data, "view_agent"),
                                tier=int(tier) if tier.isdigit() else None,
                                inspector=user.username if _first(data, "view_mine") == "1" else None)
        listed = svc.list_inspections(db_session, shown, per_page=1) if shown.month else None
        belongs = bool(listed and listed.rows and listed.rows[0].inspection.inspection_id == insp.inspection_id)
        # A fresh form (the date kept for the next contact of the batch) and the new row.
        ctx = _form_context(request, db_session, svc.Draft(contact_on=draft.contact_on), saved=insp.inspection_id,
                            saved_month=None if belongs else insp.month, can_create=True,
                            new_row=svc.row_of(db_session, insp) if belongs else None,
                            count=listed.total if listed else 0, count_month=view_month)
        if view_month == insp.month:
            ctx["cov"] = svc.coverage(db_session, view_month)
        return render(request, "inspections/_created.html", **ctx)

    @get("/score", name="inspections_score", guards=[requires("inspector")], sync_to_thread=True)
    def score(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session]) -> Template:
        query = request.query_params
        draft = svc.Draft.from_form({k: query.getall(k) for k in query})
        return render(request, "inspections/_score.html",
                      preview=svc.score_preview(svc.rulebook_for(db_session, draft), draft))

    @get("/agent-search", name="inspections_agent_search", sync_to_thread=True)
    def agent_search(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                     agent_q: FromQuery[str] = "", pick: FromQuery[str] = "") -> Template:
        if pick:
            agent = svc.find_agent(db_session, pick)
            draft = svc.Draft(agent_id=agent.agent_id if agent else "", agent_q=agent.agent_id if agent else pick)
            return render(request, "inspections/_agent_picker.html", draft=draft, picked=agent, problems={})
        return render(request, "inspections/_agent_results.html",
                      agents=svc.search_agents(db_session, agent_q), agent_q=agent_q)

    @post("/void", name="inspections_void", guards=[requires(*VOIDERS)], sync_to_thread=True, status_code=200)
    def void(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
             data: Form) -> Template | Redirect:
        iid = _first(data, "inspection_id")
        insp = db_session.get(Inspection, iid)
        if insp is None:
            raise NotFoundException(f"no inspection {iid!r}")
        problem = None
        try:
            insp = svc.void_inspection(db_session, iid, reason=_first(data, "reason"),
                                       actor=current_user(request).username, defer=defer_recompute(request))
            _commit(db_session)
        except svc.InvalidVoid as exc:
            problem = exc.problem
        return _void_response(request, db_session, data, insp, f"inspection:{iid}", problem)

    @post("/defects/void", name="inspections_void_defect", guards=[requires(*VOIDERS)], sync_to_thread=True,
          status_code=200)
    def void_defect(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                    data: Form) -> Template | Redirect:
        # One occurrence, or every occurrence of a line shown "×3" (several defect_id values).
        raws = _multi(data).get("defect_id", [])[:100]
        defects = [db_session.get(InspectionDefect, n) if (n := int_or(r, None, hi=MAX_ID)) is not None else None
                   for r in raws]
        if not defects or None in defects or len({d.inspection_id for d in defects if d}) != 1:
            raise NotFoundException(f"no defect {raws!r}")
        first = defects[0]
        assert first is not None
        insp = first.inspection
        problem = None
        try:
            insp = svc.void_defects(db_session, [d.id for d in defects if d], reason=_first(data, "reason"),
                                    actor=current_user(request).username, defer=defer_recompute(request))
            _commit(db_session)
        except svc.InvalidVoid as exc:
            problem = exc.problem
        target = f"defect:{first.id}" + ("s" if len(defects) > 1 else "")
        return _void_response(request, db_session, data, insp, target, problem)


@dataclass
class UploadForm:
    kind: str = ""
    file: UploadFile | None = None


def _too_large(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Template:
    """A body over the route's limit: the upload page with the size problem, not a bare 413."""
    size = request.headers.get("content-length", "")
    text = file_problems.render_for(lang_of(request))(
        "file.too_big", {"size": tabular.size_mb(int(size)) if size.isascii() and size.isdigit() else "?",
                         "limit": tabular.size_mb(UPLOAD_LIMITS.max_bytes)})
    return render(request, "uploads/index.html", partial="uploads/_result.html", status_code=413,
                  kinds=svc.upload_kinds(current_user(request).role), kind="", result=None, rejected=None,
                  problem=text, filename="")


class UploadsController(Controller):
    path = "/uploads"
    guards = [requires(*VIEWERS)]
    include_in_schema = False
    exception_handlers = {RequestEntityTooLarge: _too_large}  # type: ignore[dict-item]

    @staticmethod
    def _kinds(request: Request[Any, Any, Any]) -> tuple[str, ...]:
        return svc.upload_kinds(current_user(request).role)

    @get("/", name="uploads", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              kind: FromQuery[str] = "inspections") -> Template:
        return render(request, "uploads/index.html", kinds=self._kinds(request), kind=kind, result=None,
                      rejected=None, problem=None, groups=svc.form_catalog(db_session, lang_of(request)),
                      channels=svc.CHANNELS, examples=svc.EXAMPLE_ROWS)

    # The body may be a little bigger than the file (the form's other fields and boundaries);
    # the service refuses a file over the limit with a sentence, and Litestar a body far over it.
    @post("/", name="uploads_submit", sync_to_thread=True, status_code=200,
          request_max_body_size=UPLOAD_LIMITS.max_bytes + 256 * 1024)
    def submit(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)]) -> Template:
        _ = gettext(request)
        kinds = self._kinds(request)
        ctx: dict[str, Any] = {"kinds": kinds, "kind": data.kind, "result": None, "rejected": None,
                               "problem": None, "filename": data.file.filename if data.file else ""}
        if data.kind in svc.KINDS and data.kind not in kinds:
            raise PermissionDeniedException("agent files are HR's")
        if data.kind not in kinds:
            ctx["problem"] = _("Choose what the file holds.")
        elif data.file is None:
            ctx["problem"] = _("Choose a file to upload.")
        if ctx["problem"]:
            return render(request, "uploads/index.html", partial="uploads/_result.html", status_code=422, **ctx)
        assert data.file is not None
        try:
            user = current_user(request)
            ctx["result"] = svc.upload(db_session, data.kind, data.file.file.read(), filename=data.file.filename,
                                       actor=user.username, role=user.role)
            _commit(db_session)
        except ImportRejected as exc:
            lang = lang_of(request)
            ctx["rejected"] = [replace(e, problem=e.text(lang)) for e in exc.errors]
            return render(request, "uploads/index.html", partial="uploads/_result.html", status_code=422, **ctx)
        return render(request, "uploads/index.html", partial="uploads/_result.html", **ctx)

    @get("/templates/{kind:str}", name="uploads_template", sync_to_thread=True)
    def template(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], kind: FromPath[str],
                 month: FromQuery[str] = "") -> Response[str]:
        name = kind.removesuffix(".csv")
        if name not in svc.KINDS:
            raise NotFoundException(f"no template {kind!r}")
        if name not in self._kinds(request):
            raise PermissionDeniedException("agent files are HR's")
        return Response(svc.template_csv(db_session, name, month or None), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
