"""The JSON API under ``/api``: the same sign-in, roles and services as the pages.

Thin controllers: each handler checks its role with a guard, translates the request
to a call of :mod:`starlevel.services.api_views` (which calls the same services as the
web pages) and returns a typed msgspec model, so the OpenAPI schema at
``/schema/openapi.json`` textss every request and response. Writes run the
incremental recompute in the request's transaction, committed only on success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Struct
from sqlalchemy.orm import Session

from starlevel.services import api_views as views
from starlevel.services import inspections
from starlevel.services.privacy import may_see_pay
from starlevel.web.background import defer_recompute
from starlevel.web.auth import ROLES, current_user, requires
from starlevel.web.params import Id, Level, Page
from starlevel.web.render import gettext, lang_of

AUTH_NOTE = (
    "Authentication: the session cookie set by signing in at `/login` (the same sign-in as the "
    "web pages); without it 401, with a role not listed 403. Decimals (scores, money) are strings "
    "to stay exact. Messages follow `?lang=` where offered, else the `lang` cookie or Accept-Language."
)
CSRF_NOTE = AUTH_NOTE + (
    " State-changing calls (POST) must also send the CSRF token in the `x-csrftoken` header: read "
    "it from the `csrftoken` cookie, which any GET response (e.g. `GET /api/me`) sets. The token "
    "belongs to the session: signing in issues a new one. A missing, wrong or other session's "
    "token gives 403."
)

T = TypeVar("T")


def access(*roles: str, write: bool = False) -> dict[str, Any]:
    """The guard of a handler and the OpenAPI description saying who may call it (one source)."""
    note = f"Roles: {', '.join(roles)}." if set(roles) != set(ROLES) else "Roles: any signed-in user."
    return {"guards": [requires(*roles)], "description": f"{note}\n\n{CSRF_NOTE if write else AUTH_NOTE}"}


STAFF = ("hr", "inspector", "admin")
Lang = Literal["en", "zh"]
Event = Literal["none", "promote", "demote", "waitlist", "review", "hold"]
PROBLEMS = {
    400: ResponseSpec(data_container=views.ProblemsOut, description="Invalid request: every problem, by field"),
}
NOT_FOUND = {404: ResponseSpec(data_container=views.ProblemsOut, description="No such record")}


class ReasonIn(Struct):
    """Why: every correction records who, when and why."""

    reason: str


class DecisionIn(Struct):
    """HR's answer to a proposed promotion of ``agent_id`` at the end of ``month``."""

    agent_id: str
    month: str
    action: Literal["approve", "hold"]
    reason: str = ""


def _problems(request: Request[Any, Any, Any], exc: views.ApiProblem) -> Response[views.ProblemsOut]:
    return Response(views.ProblemsOut(exc.status_code, exc.detail, exc.problems), status_code=exc.status_code)


def _invalid(request: Request[Any, Any, Any], exc: ValidationException) -> Response[views.ProblemsOut]:
    """Litestar's own validation (types, missing fields, bad JSON) in the API's problem shape."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    problems = [
        views.Problem(str(e.get("key") or e.get("source") or "body"), str(e.get("message", "invalid")))
        for e in extra if isinstance(e, dict)
    ] or [views.Problem("body", str(exc.detail))]
    return Response(views.ProblemsOut(400, "invalid request", problems), status_code=400)


def _missing(request: Request[Any, Any, Any], exc: views.Missing) -> Response[views.ProblemsOut]:
    text = _Texts(request)("record.missing", value=exc.args[0])
    body = views.ProblemsOut(404, "not found", [views.Problem(exc.field, text, "record.missing")])
    return Response(body, status_code=404)


class _Texts:
    """The API's messages in the request's language: its own, the inspection form's and the
    HR pages' (so a refusal reads the same in the API as on the page)."""

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        from starlevel.web.hr import decision_messages

        _ = gettext(request)
        self.request = request
        self.texts = {
            "agent.unknown": _("There is no agent with ID {agent_id}."),
            "month.invalid": _("{value} is not a month (YYYY-MM)."),
            "record.missing": _("There is no such record: {value}."),
            **decision_messages(request),
        }

    def __call__(self, key: str, **params: Any) -> str:
        return self.texts[key].format(**params) if key in self.texts else key

    def problem(self, problem: inspections.Problem) -> str:
        from starlevel.web.inspector import problem_text

        return problem_text(self.request, problem)


def _lang(request: Request[Any, Any, Any], lang: str | None) -> str:
    return lang or lang_of(request)


def _month(request: Request[Any, Any, Any], value: str) -> str:
    if not views.is_month(value):
        text = _Texts(request)("month.invalid", value=value)
        raise views.ApiProblem([views.Problem("month", text, "month.invalid")])
    return value


def _own_agent(request: Request[Any, Any, Any]) -> str:
    """An agent's own id, from the signed-in user only (never from the request)."""
    user = current_user(request)
    if not user.agent_id:  # an agent login always has one (services.users.create_user checks)
        raise views.Missing("agent_id", user.username)
    return user.agent_id


def _write(session: Session, change: Callable[[], T]) -> T:
    """Run a change and commit it before the response starts: the session store writes its
    row before the plugin's autocommit would run, and on SQLite it would wait for this
    transaction's write lock. On any error nothing of the change is kept."""
    try:
        out = change()
    except BaseException:
        session.rollback()
        raise
    session.commit()
    return out


class _Api(Controller):
    """Common settings of every API controller."""

    include_in_schema = True
    exception_handlers = {views.ApiProblem: _problems, views.Missing: _missing, ValidationException: _invalid}  # type: ignore[dict-item]


class MeApi(_Api):
    path = "/api/me"
    tags = ["me"]

    @get("/", **access(*ROLES), summary="Who am I", sync_to_thread=False)
    def me(self, request: Request[Any, Any, Any]) -> views.MeOut:
        user = current_user(request)
        return views.MeOut(user.username, user.role, user.agent_id, user.display_name)

    @get("/star", **access("agent"), summary="My star level, pay grade, latest month and progress",
         responses=NOT_FOUND, sync_to_thread=True)
    def star(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], lang: FromQuery[Lang | None] = None,
    ) -> views.StarOut:
        return views.agent_star(db_session, _own_agent(request), _lang(request, lang))

    @get("/results", **access("agent"), summary="My evaluated months, with the explanation",
         responses=NOT_FOUND, sync_to_thread=True)
    def results(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], lang: FromQuery[Lang | None] = None,
    ) -> list[views.ResultOut]:
        return views.agent_results(db_session, _own_agent(request), _lang(request, lang))


class AgentsApi(_Api):
    path = "/api/agents"
    tags = ["agents"]

    @get("/", **access(*STAFF), summary="Agents with their latest evaluated month", sync_to_thread=True)
    def index(
        self, db_session: NamedDependency[Session], q: FromQuery[str] = "", track: FromQuery[str] = "",
        level: Level = None, page: FromQuery[Page] = 1,
    ) -> views.AgentPage:
        return views.agents_page(db_session, q=q, track=track, level=level, page=page)

    @get("/{agent_id:str}", **access(*STAFF), summary="One agent", responses=NOT_FOUND, sync_to_thread=True)
    def detail(self, db_session: NamedDependency[Session], agent_id: FromPath[str]) -> views.AgentOut:
        return views.agent_detail(db_session, agent_id)

    @get("/{agent_id:str}/results", **access(*STAFF), summary="One agent's evaluated months (pay only for HR)",
         responses=NOT_FOUND, sync_to_thread=True)
    def results(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], agent_id: FromPath[str],
        lang: FromQuery[Lang | None] = None,
    ) -> list[views.ResultOut]:
        with_pay = may_see_pay(current_user(request), agent_id)
        return views.agent_results(db_session, agent_id, _lang(request, lang), with_pay=with_pay)


class InspectionsApi(_Api):
    path = "/api/inspections"
    tags = ["inspections"]

    @get("/", **access(*STAFF), summary="Inspections, newest first",
         responses=PROBLEMS, sync_to_thread=True)
    def index(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], month: FromQuery[str | None] = None,
        agent_id: FromQuery[str | None] = None, inspector: FromQuery[str | None] = None, page: FromQuery[Page] = 1,
    ) -> views.InspectionPage:
        return views.inspections_page(
            db_session, month=_month(request, month) if month else None, agent_id=agent_id, inspector=inspector, page=page,
        )

    @get("/{inspection_id:str}", **access(*STAFF), summary="One inspection",
         responses=NOT_FOUND, sync_to_thread=True)
    def detail(self, db_session: NamedDependency[Session], inspection_id: FromPath[str]) -> views.InspectionOut:
        return views.inspection_out(db_session, inspection_id)

    @post("/", **access("inspector", write=True), summary="Record an inspection (then results are recomputed)",
          responses=PROBLEMS, status_code=201, sync_to_thread=True)
    def create(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], data: JSONBody[views.InspectionIn],
    ) -> views.InspectionOut:
        actor, texts = current_user(request).username, _Texts(request)
        return _write(db_session, lambda: views.create_inspection(
            db_session, data, actor=actor, texts=texts, defer=defer_recompute(request)))

    @post("/{inspection_id:str}/void", **access("inspector", "hr", write=True),
          summary="Void an inspection with a reason (then results are recomputed)",
          responses={**PROBLEMS, **NOT_FOUND}, status_code=200, sync_to_thread=True)
    def void(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], inspection_id: FromPath[str],
        data: JSONBody[ReasonIn],
    ) -> views.VoidOut:
        actor, texts = current_user(request).username, _Texts(request)
        return _write(db_session, lambda: views.void_inspection(
            db_session, inspection_id, reason=data.reason, actor=actor, texts=texts, defer=defer_recompute(request)))


class DefectsApi(_Api):
    path = "/api/defects"
    tags = ["inspections"]

    @post("/{defect_id:int}/void", **access("inspector", "hr", write=True),
          summary="Void one defect of an inspection with a reason (then results are recomputed)",
          responses={**PROBLEMS, **NOT_FOUND}, status_code=200, sync_to_thread=True)
    def void(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], defect_id: FromPath[Id], data: JSONBody[ReasonIn],
    ) -> views.VoidOut:
        actor, texts = current_user(request).username, _Texts(request)
        return _write(db_session, lambda: views.void_defect(
            db_session, defect_id, reason=data.reason, actor=actor, texts=texts, defer=defer_recompute(request)))


class HrApi(_Api):
    path = "/api"
    tags = ["hr"]

    @get("/months/{month:str}/results", **access("hr"), summary="Every agent's result in one month",
         responses=PROBLEMS, sync_to_thread=True)
    def month_results(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], month: FromPath[str],
        event: FromQuery[Event | None] = None,
        lang: FromQuery[Lang | None] = None,
    ) -> list[views.ResultOut]:
        return views.month_results(db_session, _month(request, month), event, _lang(request, lang))

    @post("/decisions", **access("hr", write=True),
          summary="Approve or hold a proposed promotion (then results are recomputed)",
          responses=PROBLEMS, status_code=201, sync_to_thread=True)
    def decide(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], data: JSONBody[DecisionIn],
        lang: FromQuery[Lang | None] = None,
    ) -> views.DecisionOut:
        actor, lang_, texts = current_user(request).username, _lang(request, lang), _Texts(request)
        return _write(db_session, lambda: views.decide(
            db_session, agent_id=data.agent_id, month=data.month, action=data.action, reason=data.reason,
            actor=actor, lang=lang_, texts=texts))

    @get("/rulebooks", **access("hr", "admin"), summary="Rulebook versions, oldest first",
         sync_to_thread=True)
    def rulebooks(self, db_session: NamedDependency[Session]) -> list[views.RulebookOut]:
        return views.rulebook_list(db_session)


CONTROLLERS = [MeApi, AgentsApi, InspectionsApi, DefectsApi, HrApi]
