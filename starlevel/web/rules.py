"""The rules in plain language for every signed-in role (``/rules``), and HR's quarters,
years and awards (``/hr/periods``, its CSV export)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import Stream, Template
from sqlalchemy.orm import Session

from starlevel.services import clock, periods as periods_service, rules as rules_service
from starlevel.web.auth import requires
from starlevel.web.render import gettext, lang_of, render


def _today() -> date:
    return clock.today()  # honours STARLEVEL_TODAY like every other page


class RulesController(Controller):
    """How stars work, written from the rulebook in force for the latest ended month."""

    path = "/rules"
    guards = [requires("agent", "inspector", "hr", "admin")]
    include_in_schema = False

    @get("/", name="rules", sync_to_thread=True)
    def rules(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session]) -> Template:
        page = rules_service.rules_page(db_session, lang_of(request), today=_today())  # type: ignore[arg-type]
        return render(request, "rules/page.html", rules=page, d=page.text, rb=page.rulebook)


class PeriodsController(Controller):
    """Quarter, half-year and year scores with their grades, and the year's awards."""

    path = "/hr/periods"
    guards = [requires("hr", "admin")]
    include_in_schema = False

    @get("/", name="hr_periods", sync_to_thread=True)
    def periods(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], year: FromQuery[int | None] = None,
    ) -> Template:
        report = periods_service.year_report(db_session, year, lang_of(request))
        return render(request, "hr/periods.html", report=report, asked=year)

    @get("/csv", name="hr_periods_csv", guards=[requires("hr")], sync_to_thread=True)
    def periods_csv(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], year: FromQuery[int | None] = None,
    ) -> Stream:
        report = periods_service.year_report(db_session, year, lang_of(request))
        if report.year is None or (year is not None and year != report.year):
            raise NotFoundException("no period scores for that year")
        _ = gettext(request)
        headers = {"agent_id": _("Agent ID"), "name": _("Name"), "team": _("Team"), "score": _("score"),
                   "grade": _("grade")}
        return Stream(
            periods_service.report_csv_stream(report, headers),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="periods-{report.year}.csv"',
                     "Cache-Control": "no-store"},
        )
