"""The staff view of agents: everyone's level at a glance (HR, inspectors, admins)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from sqlalchemy.orm import Session

from starlevel.services import reports
from starlevel.web.auth import requires
from starlevel.web.params import MAX_LEVEL, BadParam, bad_param_page, int_param
from starlevel.web.render import render

PER_PAGE = 50


class AgentsController(Controller):
    path = "/agents"
    guards = [requires("hr", "inspector", "admin")]
    include_in_schema = False
    exception_handlers = {BadParam: bad_param_page}  # type: ignore[dict-item]

    @get("/", name="agents", sync_to_thread=True)
    def index(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], q: FromQuery[str] = "",
        track: FromQuery[str] = "", level: FromQuery[str] = "", page: FromQuery[str] = "",
    ) -> Template:
        # Empty filters mean "all"; a value that is not a number in range is a 400 page.
        level_n = int_param("level", level, lo=0, hi=MAX_LEVEL)
        page_n = int_param("page", page) or 1
        rows, total, month = reports.agent_overview(
            db_session, q=q, track=track, level=level_n, page=page_n, per_page=PER_PAGE
        )
        pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
        return render(
            request, "agents/index.html", partial="agents/_table.html",
            rows=rows, total=total, month=month, q=q, track=track, level=level_n, page=page_n, pages=pages,
        )
