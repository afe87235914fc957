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
from starlevel.web.render import gettext, render

PER_PAGE = 50
TRACKS = ("phone", "online")
MAX_QUERY = 100


def parse_filters(q: str, track: str, level: str, page: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The list's filters from the query string. Empty means "all"; a bad value is dropped
    (the list shows all for that filter) and reported as (field, value)."""
    bad: list[tuple[str, str]] = []
    out: dict[str, Any] = {"q": q.strip()[:MAX_QUERY], "track": "", "level": None, "page": 1}
    if len(q.strip()) > MAX_QUERY:
        bad.append(("q", q[:20] + "…"))
    if track:
        if track in TRACKS:
            out["track"] = track
        else:
            bad.append(("track", track[:20]))
    if level.strip():
        if level.strip() in ("1", "2", "3", "4", "5"):
            out["level"] = int(level)
        else:
            bad.append(("level", level[:20]))
    if page.strip():
        if page.strip().isdigit() and 0 < int(page.strip()) < 1_000_000:
            out["page"] = int(page)
        else:
            bad.append(("page", page[:20]))
    return out, bad


class AgentsController(Controller):
    path = "/agents"
    guards = [requires("hr", "inspector", "admin")]
    include_in_schema = False

    @get("/", name="agents", sync_to_thread=True)
    def index(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], q: FromQuery[str] = "",
        track: FromQuery[str] = "", level: FromQuery[str] = "", page: FromQuery[str] = "",
    ) -> Template:
        _ = gettext(request)
        f, bad = parse_filters(q, track, level, page)
        names = {"q": _("Search"), "track": _("Track"), "level": _("Level"), "page": _("Page")}
        notices = [_("{field}: “{value}” is not a valid choice; showing all.").format(field=names[k], value=v)
                   for k, v in bad]
        rows, total, month = reports.agent_overview(
            db_session, q=f["q"], track=f["track"], level=f["level"], page=f["page"], per_page=PER_PAGE, ended_only=True,
        )
        pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
        return render(
            request, "agents/index.html", partial="agents/_table.html",
            rows=rows, total=total, month=month, pages=pages, notices=notices, **f,
        )
