"""HR's review cases (复核): open cases as work items, each closed with an outcome and a note."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.orm import Session

from starlevel.services import hr as hr_service
from starlevel.services import reviews as svc
from starlevel.web.auth import current_user, requires
from starlevel.web.hr import commit_now
from starlevel.web.months import Form, form_value
from starlevel.web.render import gettext, is_htmx, render

PER_PAGE = 50


def outcome_labels(request: Request[Any, Any, Any]) -> dict[str, str]:
    _ = gettext(request)
    return {"keep": _("Keep"), "training": _("Training plan"), "transfer": _("Transfer"), "dismissal": _("Dismissal")}


def review_error(request: Request[Any, Any, Any], code: str) -> str:
    _ = gettext(request)
    return {
        "bad_outcome": _("Choose an outcome."),
        "not_a_case": _("There is no review case like this."),
        "note_required": _("This outcome needs a note: write what was decided and why."),
        "note_too_long": _("The note is too long (at most 2000 characters)."),
    }.get(code, code)


class HrReviewsController(Controller):
    path = "/hr/reviews"
    guards = [requires("hr")]
    include_in_schema = False

    @get("/", name="hr_reviews", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              status: FromQuery[str] = "open", team: FromQuery[str] = "", page: FromQuery[int] = 1) -> Template:
        status = status if status in svc.STATUSES else "open"
        items, total = svc.cases(db_session, status=status, team=team, page=page, per_page=PER_PAGE)
        pages = max(1, -(-total // PER_PAGE))
        return render(request, "hr/reviews.html", cases=items, total=total, status=status, team=team,
                      teams=hr_service.teams(db_session), page=max(1, min(page, pages)), pages=pages,
                      open_total=svc.open_count(db_session), outcomes=svc.OUTCOMES, labels=outcome_labels(request),
                      errors={})

    @post("/", name="hr_review_outcome", sync_to_thread=True)
    def decide(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
               data: Form) -> Template | Redirect:
        agent_id, month = form_value(data, "agent_id"), form_value(data, "month")
        error = None
        try:
            svc.record_outcome(db_session, agent_id, month, outcome=form_value(data, "outcome"), note=form_value(data, "note"),
                               actor=current_user(request).username)
            commit_now(db_session)
        except svc.ReviewError as exc:
            db_session.rollback()
            error = review_error(request, exc.code)
        found = svc.case(db_session, agent_id, month)
        if found is None:
            raise NotFoundException("no such review case")
        if is_htmx(request) or error:
            return render(request, "hr/_case.html", c=found, outcomes=svc.OUTCOMES, labels=outcome_labels(request),
                          error=error, note=form_value(data, "note") if error else "", status_code=422 if error else 200)
        return Redirect("/hr/reviews", status_code=303)
