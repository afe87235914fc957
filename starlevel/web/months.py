"""HR's months: close a month for payroll (after checking incomplete agents and what
changed since the last close) and reopen it with a reason. HR only: the page shows
pay differences."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from starlevel.domain import months as M
from starlevel.services import audit
from starlevel.services import months as svc
from starlevel.web.auth import current_user, requires
from starlevel.web.hr import commit_now
from starlevel.web.render import gettext, render


def refusal_text(request: Request[Any, Any, Any], code: str, month: str) -> str:
    _ = gettext(request)
    texts = {
        "not_a_month": _("{month} is not a month (YYYY-MM)."),
        "not_evaluated": _("{month} has not been evaluated."),
        "in_progress": _("{month} has not ended yet; it can be closed once it is over."),
        "already_closed": _("{month} is closed already."),
        "open_disputes": _("Disputes of {month} are still waiting for a decision: decide them before closing."),
        "not_closed": _("{month} is not closed."),
        "reason_required": _("Reopening needs a reason: write why in the reason field."),
        "reason_too_long": _("The reason is too long (at most {limit} characters).").format(limit=audit.REASON_LIMIT),
        "incomplete": _("Some agents' months are incomplete: confirm each of them to close anyway."),
        "changes": _("The payroll changed since the last close: check the changes and confirm them."),
    }
    return texts.get(code, code).format(month=month)


Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def form_values(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def form_value(data: dict[str, Any], name: str) -> str:
    values = form_values(data, name)
    return values[-1].strip() if values else ""


class HrMonthsController(Controller):
    path = "/hr/months"
    guards = [requires("hr")]
    include_in_schema = False

    def _page(self, request: Request[Any, Any, Any], session: Session, month: str | None, *,
              error: str | None = None, done: str | None = None, status_code: int = 200,
              confirmed: list[str] | None = None) -> Template:
        statuses = svc.month_statuses(session)
        chosen = next((s for s in statuses if s.month == month), None)
        if chosen is None:
            chosen = next((s for s in statuses if s.status == "open"), statuses[0] if statuses else None)
        plan = None
        if chosen is not None and chosen.status == "open":
            try:
                plan = svc.close_plan(session, chosen.month)
            except svc.CloseRefused:
                plan = None
        return render(request, "hr/months.html", statuses=statuses, chosen=chosen, plan=plan, error=error,
                      done=done, confirmed=set(confirmed or []), status_code=status_code)

    @get("/", name="hr_months", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              month: FromQuery[str] = "", done: FromQuery[str] = "") -> Template:
        return self._page(request, db_session, month if M.is_month(month) else None,
                          done=done if done in ("closed", "reopened") else None)

    @post("/close", name="hr_month_close", sync_to_thread=True)
    def close(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              data: Form) -> Template | Redirect:
        month = form_value(data, "month")
        confirmed = form_values(data, "incomplete")
        try:
            svc.close_month(db_session, month, actor=current_user(request).username, confirm_incomplete=confirmed,
                            confirm_incomplete_key=form_value(data, "incomplete_all")[:64] or None,
                            confirm_changes=form_value(data, "confirm_changes") == "1")
            commit_now(db_session)
        except svc.CloseRefused as exc:
            db_session.rollback()
            return self._page(request, db_session, month if M.is_month(month) else None,
                              error=refusal_text(request, exc.code, month), status_code=422, confirmed=confirmed)
        return Redirect(f"/hr/months?month={month}&done=closed", status_code=303)

    @post("/reopen", name="hr_month_reopen", sync_to_thread=True)
    def reopen(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               data: Form) -> Template | Redirect:
        month = form_value(data, "month")
        try:
            svc.reopen_month(db_session, month, reason=form_value(data, "reason"),
                             actor=current_user(request).username)
            commit_now(db_session)
        except svc.CloseRefused as exc:
            db_session.rollback()
            return self._page(request, db_session, month if M.is_month(month) else None,
                              error=refusal_text(request, exc.code, month), status_code=422)
        return Redirect(f"/hr/months?month={month}&done=reopened", status_code=303)
