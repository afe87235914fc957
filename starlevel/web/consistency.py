"""The inspector consistency table: HR sees every inspector, an inspector their own row
(with the team's figures to compare against)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from sqlalchemy.orm import Session

from starlevel.domain.months import is_month, month_of
from starlevel.services import consistency as svc
from starlevel.web.auth import current_user, requires
from starlevel.web.render import render


class ConsistencyController(Controller):
    path = "/consistency"
    guards = [requires("hr", "inspector")]
    include_in_schema = False

    @get("/", name="consistency", sync_to_thread=True)
    def index(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
              month: FromQuery[str] = "") -> Template:
        user = current_user(request)
        if not is_month(month):
            month = svc.latest_month(db_session) or month_of(date.today())
        only = None if user.role == "hr" else user.username
        return render(request, "consistency/index.html", partial="consistency/_table.html",
                      t=svc.table(db_session, month, only=only))


CONTROLLERS = [ConsistencyController]
