"""HR's what-if: a draft rulebook over a past period against the live results, with the
payroll cost; from the result the draft can be published with an effective month."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.orm import Session

from starlevel.domain import months as M
from starlevel.domain.rulebook import Problem, RulebookError
from starlevel.services import hr as hr_service
from starlevel.services import months as month_service
from starlevel.services import rulebooks as rulebook_store
from starlevel.services import whatif as svc
from starlevel.web.auth import requires
from starlevel.web.months import Form, form_value
from starlevel.web.render import gettext, render

MAX_TOML = 200_000
LISTED = 200


def _period_text(request: Request[Any, Any, Any], code: str) -> str:
    _ = gettext(request)
    if code == "no_data":
        return _("No month of this period has been evaluated.")
    return _("Give the period as two months (YYYY-MM), the first not after the second, at most 36 months apart.")


class HrWhatIfController(Controller):
    path = "/hr/whatif"
    guards = [requires("hr")]
    include_in_schema = False

    def _page(self, request: Request[Any, Any, Any], session: Session, *, toml: str, start: str, end: str,
              result: svc.WhatIf | None = None, problems: list[Any] | None = None) -> Template:
        _ = gettext(request)
        problems = [p.render(_) if isinstance(p, Problem) else p for p in problems or []]
        publish_from = month_service.first_open(session, start) if M.is_month(start) else ""
        return render(request, "hr/whatif.html", toml=toml, start=start, end=end, result=result,
                      problems=problems or [], listed=LISTED, publish_from=publish_from,
                      status_code=422 if problems else 200)

    @get("/", name="hr_whatif", sync_to_thread=True)
    def form(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session]) -> Template:
        _first, last = hr_service.month_range(db_session)
        rb = rulebook_store.current(db_session)
        found = hr_service.version_document(db_session, rb.version)
        toml = hr_service.to_toml(found[1]) if found else ""
        start = M.add_months(last, -11) if last else ""
        return self._page(request, db_session, toml=toml, start=start, end=last or "")

    @post("/", name="hr_whatif_run", sync_to_thread=True)
    def run(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], data: Form) -> Template:
        toml, start, end = form_value(data, "toml"), form_value(data, "start"), form_value(data, "end")
        _ = gettext(request)
        if len(toml) > MAX_TOML:
            return self._page(request, db_session, toml="", start=start, end=end,
                              problems=[_("The rulebook text is too long.")])
        try:
            document = hr_service.parse_candidate(toml, start if M.is_month(start) else "2000-01")
            result = svc.run(db_session, document, start=start, end=end)
        except RulebookError as exc:
            return self._page(request, db_session, toml=toml, start=start, end=end, problems=exc.problems)
        except svc.WhatIfError as exc:
            return self._page(request, db_session, toml=toml, start=start, end=end,
                              problems=[_period_text(request, exc.code)])
        finally:
            db_session.rollback()  # a what-if never writes
        return self._page(request, db_session, toml=toml, start=result.start, end=result.end, result=result)
