"""HR's dashboard (/hr/dashboard) and the live summary of the month review that refreshes
after every approve/hold (the decision response triggers ``decided``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from starlevel.services import dashboard as svc
from starlevel.services import hr as hr_service
from starlevel.web.auth import requires
from starlevel.web.charts import COLOURS
from starlevel.web.render import gettext, lang_of, render
from starlevel.web.i18n import fmt_month

LEVEL_COLOURS = ("#b3261e", "#d9822b", "#c9a227", "#3f8f5a", "#1d5fa8", "#6b4fa8", "#444")


def _colour(level: int) -> str:
    return LEVEL_COLOURS[(level - 1) % len(LEVEL_COLOURS)]


def quota_svg(lines: list[svc.LevelLine], *, title: str, desc: str, quota_label: str) -> Markup:
    """Horizontal bars: each level's share of the headcount, with a mark at its quota."""
    width, left, right, row = 400, 40, 50, 26
    height = row * len(lines) + 24
    plot = width - left - right
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="quota-chart-title quota-chart-desc" id="quota-chart">'
           f'<title id="quota-chart-title">{escape(title)}</title><desc id="quota-chart-desc">{escape(desc)}</desc>']
    for i, ln in enumerate(lines):
        y = 8 + i * row
        w = plot * float(ln.share) / 100
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12" fill="{COLOURS["text"]}">'
                   f'{ln.level}★</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="16" fill="{_colour(ln.level)}">'
                   f'<title>{ln.level}★: {ln.count} ({ln.share}%)</title></rect>')
        out.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}" font-size="11" fill="{COLOURS["text"]}">{ln.share}%</text>')
        if ln.quota is not None:
            qx = left + plot * float(ln.quota) / 100
            out.append(f'<line x1="{qx:.1f}" x2="{qx:.1f}" y1="{y}" y2="{y + 22}" stroke="#222" stroke-width="2" '
                       f'stroke-dasharray="3 2"><title>{escape(quota_label)} {ln.quota:.0f}%</title></line>')
    out.append("</svg>")
    return Markup("".join(out))


def trend_svg(trend: list[tuple[str, dict[int, int]]], levels: list[int], *, title: str, desc: str,
              lang: str) -> Markup:
    """Stacked columns: the level distribution of each month (share of that month's headcount)."""
    width, left, bottom, top = 400, 30, 22, 8
    height = 180
    n = max(1, len(trend))
    step = (width - left - 6) / n
    plot_h = height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="trend-chart-title trend-chart-desc" id="trend-chart">'
           f'<title id="trend-chart-title">{escape(title)}</title><desc id="trend-chart-desc">{escape(desc)}</desc>']
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        out.append(f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" stroke="{COLOURS["grid"]}"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="{COLOURS["text"]}">{pct}%</text>')
    for i, (month, counts) in enumerate(trend):
        total = sum(counts.values()) or 1
        x = left + i * step + 2
        y = top + plot_h
        for level in levels:
            h = plot_h * counts.get(level, 0) / total
            if h <= 0:
                continue
            y -= h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{h:.1f}" fill="{_colour(level)}">'
                       f'<title>{escape(fmt_month(month, lang))}: {level}★ {counts.get(level, 0)}</title></rect>')
        if i % max(1, n // 6) == 0:
            out.append(f'<text x="{x + (step - 4) / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="10" '
                       f'fill="{COLOURS["text"]}">{escape(month[2:])}</text>')
    out.append("</svg>")
    return Markup("".join(out))


class HrDashboardController(Controller):
    path = "/hr"
    guards = [requires("hr", "admin")]
    include_in_schema = False

    @get("/dashboard", name="hr_dashboard", sync_to_thread=True)
    def dashboard(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                  month: FromQuery[str] = "", team: FromQuery[str] = "", track: FromQuery[str] = "") -> Template:
        _ = gettext(request)
        lang = lang_of(request)
        d = svc.build(db_session, month or None, team=team, track=track)
        charts = {}
        if d.month:
            levels = [ln.level for ln in d.levels]
            charts["quota"] = quota_svg(
                d.levels, title=_("Level distribution against the quotas"), quota_label=_("Quota"),
                desc=_("{month}: share of agents at each level; a dashed mark shows the level's quota.").format(
                    month=fmt_month(d.month, lang)))
            charts["trend"] = trend_svg(
                d.trend, levels, lang=lang, title=_("Level distribution over 12 months"),
                desc=_("{first} to {last}: each column is one month's agents by level.").format(
                    first=fmt_month(d.trend[0][0], lang), last=fmt_month(d.trend[-1][0], lang)))
        return render(request, "hr/dashboard.html", partial="hr/_dashboard.html", d=d, charts=charts)

    @get("/summary", name="hr_summary", sync_to_thread=True)
    def summary(self, request: Request[Any, Any, Any], db_session: NamedDependency[Session],
                month: FromQuery[str] = "", team: FromQuery[str] = "", track: FromQuery[str] = "") -> Template:
        """The month review's counts and quota table, alone (re-fetched after each decision)."""
        review = hr_service.month_review(db_session, month or None, team=team, track=track, section="pending",
                                         only=True, lang=lang_of(request))
        headcount, quotas = hr_service.quota_usage(db_session, review.month, review.rulebook) if review.month else (0, [])
        review.headcount, review.quotas = headcount, quotas
        return render(request, "hr/_summary.html", review=review, sections=hr_service.SECTIONS)
