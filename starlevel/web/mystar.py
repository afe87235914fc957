"""The star page: "My star" for a signed-in agent (/me), and the same page of any agent
for staff (/agents/{agent_id}).

An agent's page takes the agent id from the signed-in user only: no path, query or
form parameter can select another agent. Both routes render one template; the
defects panel switches month through htmx (``…/defects``) with plain links as the
fallback.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from starlevel.domain import months as M
from starlevel.services import mystar
from starlevel.services.privacy import may_see_pay
from starlevel.web import i18n
from starlevel.web.auth import current_user, requires
from starlevel.web.charts import MonthPoint, history_svg
from starlevel.web.render import gettext, lang_of, render

PAGE = "mystar/page.html"
DEFECTS_PAGE = "mystar/defects.html"
DEFECTS_PARTIAL = "mystar/_defects.html"


@lru_cache(maxsize=8192)
def _number(value: Decimal | int | None, lang: str, places: int = 2) -> str:
    return i18n.fmt_number(value, lang, places)


@lru_cache(maxsize=4096)
def _month(value: str | None, lang: str) -> str:
    return i18n.fmt_month(value, lang)


def month_options(lang: str, months: list[str], selected: str | None, in_progress_from: str | None = None) -> Markup:
    """The ``<option>``s of a month picker. An agent with nine years of history has two
    pickers of 108 months each; built here they cost a tenth of the template loop. Agents
    hired in the same month have the same list, so the markup is kept for reuse."""
    return _month_options(lang, tuple(months), selected, in_progress_from)


@lru_cache(maxsize=1024)
def _month_options(lang: str, months: tuple[str, ...], selected: str | None, in_progress_from: str | None) -> Markup:
    note = " · " + i18n.gettext_for(lang)("in progress")
    out = []
    for m in months:
        label = _month(m, lang) + (note if in_progress_from and m >= in_progress_from else "")
        out.append(f'<option value="{escape(m)}"{" selected" if m == selected else ""}>{escape(label)}</option>')
    return Markup("".join(out))


def formatters(lang: str) -> dict[str, Any]:
    """Memoised number and month formatters (a page formats the same few hundred values;
    Babel takes a tenth of a millisecond each). Same output as the template globals."""
    return {
        "fmt_number": lambda v, places=2: _number(v, lang, places),
        "fmt_month": lambda v: _month(v, lang),
        "month_options": lambda months, selected, in_progress_from=None: month_options(
            lang, months, selected, in_progress_from),
    }


def plain(value: Decimal | None) -> str:
    """A rulebook figure as written (``90``, ``1.1``, ``0.80``): no padding, no grouping."""
    if value is None:
        return "—"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def chart(request: Request[Any, Any, Any], page: mystar.AgentPage) -> Markup | None:
    """The history chart of ``page`` with its texts in the request's language."""
    if not page.history:
        return None
    _ = gettext(request)
    lang = lang_of(request)
    points = []
    for h in page.history:
        month = _month(h.month, lang)
        if h.composite is None:
            note = _("{month}: incomplete month, {n}★").format(month=month, n=h.level)
        else:
            note = _("{month}: composite {c}, {n}★").format(month=month, c=_number(h.composite, lang), n=h.level)
        points.append(MonthPoint(h.month, h.month[2:], h.level, h.composite,
                                 h.threshold, h.floor, note))
    complete = [h for h in page.history if h.composite is not None]
    desc = _("{first} to {last}: {n} complete months, {gaps} incomplete. Latest composite {c}.").format(
        first=_month(page.history[0].month, lang),
        last=_month(page.history[-1].month, lang),
        n=len(complete),
        gaps=len(page.history) - len(complete),
        c=_number(complete[-1].composite, lang) if complete else "—",
    )
    return history_svg(points, chart_id="history-chart", title=_("Composite per month against the promotion threshold and the floor"),
                       desc=desc, levels=range(1, page.max_level + 1))


def _month_param(value: str | None) -> str | None:
    """Only well-formed months travel on into links."""
    return value if value and M.is_month(value) else None


def _show(
    request: Request[Any, Any, Any], db: Session, agent_id: str, *, base: str, self_view: bool,
    month: str | None, defects: str | None, older: str | None = None,
) -> Template:
    page = mystar.agent_page(db, agent_id, month=month, defects_month=defects, lang=lang_of(request),
                             show_pay=may_see_pay(current_user(request), agent_id), explain_older=older == "1")
    if page is None:
        raise NotFoundException(f"no agent {agent_id!r}")
    as_of = page.month if _month_param(month) else None
    return render(
        request, PAGE, page=page, chart=chart(request, page), base=base, self_view=self_view,
        as_of=as_of, plain=plain, add_months=M.add_months, recent_n=mystar.RECENT_MONTHS,
        older_url=base + "?" + urlencode({**({"month": as_of} if as_of else {}), "older": "1"}),
        **formatters(lang_of(request)),
    )


def _defects(
    request: Request[Any, Any, Any], db: Session, agent_id: str, *, base: str, self_view: bool,
    defects: str | None, as_of: str | None,
) -> Template:
    panel = mystar.defects_panel(db, agent_id, defects, lang_of(request))
    if panel is None:
        raise NotFoundException(f"no agent {agent_id!r}")
    return render(
        request, DEFECTS_PAGE, partial=DEFECTS_PARTIAL, defects=panel, base=base, self_view=self_view,
        as_of=_month_param(as_of), plain=plain, **formatters(lang_of(request)),
    )


def _staff_base(agent_id: str) -> str:
    return "/agents/" + quote(agent_id, safe="")


def _own_agent_id(request: Request[Any, Any, Any]) -> str:
    agent_id = current_user(request).agent_id
    if not agent_id:
        raise NotFoundException("this sign-in is not linked to an agent")
    return agent_id


class MyStarController(Controller):
    """The signed-in agent's own page. No parameter here names an agent."""

    path = "/me"
    guards = [requires("agent")]
    include_in_schema = False

    @get("/", name="mystar", sync_to_thread=True)
    def me(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        month: FromQuery[str | None] = None, defects: FromQuery[str | None] = None,
        older: FromQuery[str | None] = None,
    ) -> Template:
        return _show(request, db_session, _own_agent_id(request), base="/me", self_view=True,
                     month=month, defects=defects, older=older)

    @get("/defects", name="mystar_defects", sync_to_thread=True)
    def my_defects(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
        defects: FromQuery[str | None] = None, month: FromQuery[str | None] = None,
    ) -> Template:
        return _defects(request, db_session, _own_agent_id(request), base="/me", self_view=True,
                        defects=defects, as_of=month)


class AgentStarController(Controller):
    """Any agent's star page, for staff."""

    path = "/agents/{agent_id:str}"
    guards = [requires("hr", "inspector", "admin")]
    include_in_schema = False

    @get("/", name="agent_star", sync_to_thread=True)
    def agent(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], agent_id: FromPath[str],
        month: FromQuery[str | None] = None, defects: FromQuery[str | None] = None,
        older: FromQuery[str | None] = None,
    ) -> Template:
        return _show(request, db_session, agent_id, base=_staff_base(agent_id), self_view=False,
                     month=month, defects=defects, older=older)

    @get("/defects", name="agent_star_defects", sync_to_thread=True)
    def agent_defects(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], agent_id: FromPath[str],
        defects: FromQuery[str | None] = None, month: FromQuery[str | None] = None,
    ) -> Template:
        return _defects(request, db_session, agent_id, base=_staff_base(agent_id), self_view=False,
                        defects=defects, as_of=month)
