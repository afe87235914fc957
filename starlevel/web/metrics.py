"""Entering and correcting one agent-month's monthly inputs in the app.

Who may do what (enforced by the guards here):
- see ``/metrics`` (the inputs of an agent-month as the rulebook in force declares them):
  inspector, hr, admin;
- save them (enter, or correct with a reason): inspector and hr, the people who upload
  metrics files and correct findings.

The controller only translates HTTP to :mod:`starlevel.services.metrics`.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.exceptions import ValidationException
from litestar.response import Response, Template
from sqlalchemy.orm import Session

from starlevel.domain import months as M
from starlevel.domain.inputs import InputProblem, InputSpec
from starlevel.services import metrics as svc
from starlevel.services.export import write_metrics_csv
from starlevel.web.auth import current_user, requires
from starlevel.web.background import defer_recompute
from starlevel.web.i18n import fmt_date
from starlevel.web.render import gettext, lang_of, render

VIEWERS = ("inspector", "hr", "admin")
EDITORS = ("inspector", "hr")
#: Longest agent id / month text taken from a request (longer ones are not looked up).
_MAX_KEY = 64

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _first(data: dict[str, Any], name: str, limit: int = 2000) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()[:limit]


def problem_text(request: Request[Any, Any, Any], problem: InputProblem) -> str:
    """One entry problem in the user's language."""
    _ = gettext(request)
    texts = {
        "input.empty": _("Enter a value."),
        "input.not_whole": _("{value} is not a whole number."),
        "input.not_number": _("{value} is not a number."),
        "input.decimals": _("{value} has more than {places} decimal places."),
        "input.range": _("{value} is outside the allowed range."),
        "input.allowed": _("{value} is not one of the allowed values ({allowed})."),
        "entry.agent_unknown": _("There is no agent with ID {agent_id}."),
        "entry.month_invalid": _("{value} is not a month (YYYY-MM)."),
        "entry.month_future": _("{month} is after the current month {current}."),
        "entry.before_hire": _("{month} is before agent {agent_id}'s hire month {first}."),
        "entry.after_leave": _("{month} is after agent {agent_id}'s last month {last}."),
        "entry.reason_missing": _("Changing stored values needs a reason: write why."),
        "entry.reason_too_long": _("The reason is too long (at most {limit} characters)."),
    }
    template = texts.get(problem.code)
    return template.format(**problem.params) if template else str(problem)


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def field_hint(request: Request[Any, Any, Any], spec: InputSpec) -> str:
    """What a field takes, e.g. "0 – 100 · 2 decimal places" or "1 – 5 · whole number"."""
    _ = gettext(request)
    parts = []
    if spec.allowed:
        parts.append(_("one of {values}").format(values=", ".join(_number(a) for a in spec.allowed)))
    elif spec.kind == "yesno":
        parts.append(_("1 = yes, 0 = no"))
    elif spec.min is not None and spec.max is not None:
        parts.append(f"{_number(spec.min)} – {_number(spec.max)}")
    elif spec.min is not None:
        parts.append(_("{min} or more").format(min=_number(spec.min)))
    elif spec.max is not None:
        parts.append(_("at most {max}").format(max=_number(spec.max)))
    if spec.kind != "yesno" and not spec.allowed:
        parts.append(_("whole number") if spec.decimals == 0
                     else _("up to {n} decimal places").format(n=spec.decimals))
    if not spec.required:
        parts.append(_("optional"))
    return " · ".join(parts)


def _this_month() -> str:
    return M.month_of(date.today())


class MetricsController(Controller):
    path = "/metrics"
    guards = [requires(*VIEWERS)]
    include_in_schema = False

    def _context(self, request: Request[Any, Any, Any], session: Session, agent_id: str, month: str, *,
                 texts: dict[str, str] | None = None, problems: dict[str, InputProblem] | None = None,
                 **extra: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"agent_id": agent_id, "month": month, "entry": None, "texts": texts or {},
                               "problems": {k: problem_text(request, p) for k, p in (problems or {}).items()},
                               "can_edit": current_user(request).role in EDITORS, "lang": lang_of(request),
                               "reason": "", "saved": None, **extra}
        if agent_id and month and not ctx["problems"].keys() & {"agent_id", "month"}:
            try:
                entry = svc.month_inputs(session, agent_id, month)
            except svc.EntryRejected as exc:
                ctx["problems"].update({k: problem_text(request, p) for k, p in exc.problems.items()})
            else:
                ctx["entry"] = entry
                ctx["hints"] = {f.spec.key: field_hint(request, f.spec) for f in entry.fields}
                ctx["updated"] = fmt_date(entry.updated_at, lang_of(request)) if entry.updated_at else ""
                if texts is None:
                    ctx["texts"] = {f.spec.key: f.stored or "" for f in entry.fields}
        return ctx

    @get("/", name="metrics", sync_to_thread=True)
    def page(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
             agent_id: FromQuery[str] = "", month: FromQuery[str] = "") -> Template:
        agent_id, month = agent_id.strip()[:_MAX_KEY], month.strip()[:_MAX_KEY]
        month = month or _this_month()
        ctx = self._context(request, db_session, agent_id, month)
        return render(request, "metrics/index.html", partial="metrics/_entry.html",
                      status_code=422 if ctx["problems"] else 200, **ctx)

    @get("/export.csv", name="metrics_export", sync_to_thread=True)
    def export(self, db_session: NamedDependency[Session], month: FromQuery[str] = "") -> Response[str]:
        """One month's stored inputs in the import format (this month's by default)."""
        month = month.strip()[:_MAX_KEY] or _this_month()
        if not M.is_month(month):
            raise ValidationException("month must be YYYY-MM")
        buf = io.StringIO()
        write_metrics_csv(db_session, buf, month=month)
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="metrics-{month}.csv"',
                                 "Cache-Control": "no-store"})

    @post("/", name="metrics_save", sync_to_thread=True, status_code=200, guards=[requires(*EDITORS)])
    def save(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session], data: Form) -> Template:
        agent_id, month = _first(data, "agent_id", _MAX_KEY), _first(data, "month", _MAX_KEY)
        reason = _first(data, "reason", svc.MAX_REASON + 1)
        texts = {k[2:]: _first(data, k, 100) for k in data if isinstance(k, str) and k.startswith("v_")}
        try:
            changed = svc.save_inputs(db_session, agent_id, month, texts, actor=current_user(request).username,
                                      reason=reason, defer=defer_recompute(request))
        except svc.EntryRejected as exc:
            db_session.rollback()
            ctx = self._context(request, db_session, agent_id, month, texts=texts, problems=exc.problems,
                                reason=reason)
            return render(request, "metrics/index.html", partial="metrics/_entry.html", status_code=422, **ctx)
        db_session.commit()
        ctx = self._context(request, db_session, agent_id, month, saved="saved" if changed else "unchanged")
        return render(request, "metrics/index.html", partial="metrics/_entry.html", **ctx)
