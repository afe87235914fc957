"""The HR lead's morning page: one month's counts, levels against quotas, a 12-month
trend of the level distribution and the open review cases, filtered by team and track.

The default month is the latest one that has ended; a month still in progress is
never the default (it can be picked, and is labelled). Every figure is a grouped count
over ``month_results`` by month, read from an index alone (``ix_month_results_month_level``,
``ix_month_results_month_event_rule``, ``ix_month_results_event_month``); no pay figure is
shown here.

The company-wide trend (12 months × every agent) is the one count that reads many index
entries; it is kept in memory under the results stamp (services.results_stamp), which
every company-wide recompute renews in its transaction, so a server process never shows
counts another process has since changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import MonthResultRow
from starlevel.domain import months as M
from starlevel.services import hr, months as month_service, results_stamp, reviews
from starlevel.services import rulebooks as rulebook_store

TREND_MONTHS = 12
_TREND_CACHE_SIZE = 32
#: (stamp, first month, last month) -> month -> level -> agents, company-wide; newest last.
_trend_cache: dict[tuple[int, str, str], dict[str, dict[int, int]]] = {}
_trend_lock = threading.Lock()  # handlers run in worker threads


@dataclass(frozen=True)
class MonthOption:
    month: str
    in_progress: bool


@dataclass(frozen=True)
class LevelLine:
    level: int
    count: int  # agents at this level this month (after the filters)
    share: Decimal  # of the filtered headcount, in %
    quota: Decimal | None  # the rulebook's share for the level, in %
    cap: int | None  # company-wide cap = floor(quota × company headcount)
    company: int  # company-wide holders (what the cap counts)


@dataclass(frozen=True)
class Dashboard:
    month: str | None
    in_progress: bool
    closed: bool
    options: list[MonthOption]  # months with data, newest first
    counts: dict[str, int]  # review sections and "none"
    headcount: int
    levels: list[LevelLine]
    trend: list[tuple[str, dict[int, int]]]  # oldest first: month -> level -> agents
    open_reviews: int  # open review cases in the trend's months (filters apply)
    teams: list[str]
    tracks: list[str]
    team: str = ""
    track: str = ""


def default_month(first: str, last: str, today: date) -> str:
    """The latest evaluated month that has ended (else the first evaluated one)."""
    current = M.month_of(today)
    ended = M.add_months(current, -1)
    return min(last, ended) if ended >= first else first


def build(session: Session, month: str | None = None, *, team: str = "", track: str = "",
          today: date | None = None) -> Dashboard:
    today = today or date.today()
    first, last = hr.month_range(session)
    if first is None or last is None:
        return Dashboard(None, False, False, [], {}, 0, [], [], 0, [], [], team, track)
    current = M.month_of(today)
    options = [MonthOption(m, m >= current) for m in reversed(M.months_between(first, last))]
    chosen = month if month and M.is_month(month) and first <= month <= last else default_month(first, last, today)
    rb = rulebook_store.current(session, chosen)
    team_names = hr.teams(session)
    team = team if team in team_names else ""
    track = track if track in rb.tracks else ""
    filters = []
    if team:
        filters.append(MonthResultRow.team == team)
    if track:
        filters.append(MonthResultRow.track == track)
    counts = hr.section_counts(session, chosen, team=team, track=track)
    start = max(first, M.add_months(chosen, -(TREND_MONTHS - 1)))
    company_trend = level_trend(session, start, chosen)
    trend = level_trend(session, start, chosen, filters) if filters else company_trend
    by_level = trend[chosen]
    company = company_trend[chosen]
    headcount = sum(by_level.values())
    company_headcount = sum(company.values())
    levels = []
    for level in rb.levels:
        quota = rb.quota(level)
        n = int(by_level.get(level, 0))
        levels.append(LevelLine(
            level, n, (Decimal(100) * n / headcount).quantize(Decimal("0.1")) if headcount else Decimal(0),
            None if quota is None else quota * 100, None if quota is None else int(quota * company_headcount),
            int(company.get(level, 0))))
    return Dashboard(
        month=chosen, in_progress=chosen >= current, closed=month_service.is_closed(session, chosen),
        options=options, counts=counts, headcount=headcount, levels=levels,
        trend=[(m, dict(by)) for m, by in trend.items()],
        open_reviews=reviews.open_count(session, since=start, until=chosen, team=team, track=track),
        teams=team_names, tracks=list(rb.tracks), team=team, track=track,
    )


def count_levels(session: Session, start: str, end: str, where: list[Any] | None = None) -> dict[str, dict[int, int]]:
    """Agents by month and level from ``start`` to ``end`` (every month present, maybe empty):
    one grouped count (an index-only scan of ``ix_month_results_month_level`` without filters)."""
    R = MonthResultRow
    trend: dict[str, dict[int, int]] = {m: {} for m in M.months_between(start, end)}
    for m, level, n in session.execute(
        select(R.month, R.level, func.count()).where(R.month >= start, R.month <= end, *(where or []))
        .group_by(R.month, R.level)
    ):
        trend[m][level] = int(n)
    return trend


def level_trend(session: Session, start: str, end: str, where: list[Any] | None = None) -> dict[str, dict[int, int]]:
    """:func:`count_levels`; the company-wide one (no ``where``) from memory when the results
    stamp has not changed since it was counted. Callers must not change the answer."""
    if where:
        return count_levels(session, start, end, where)
    stamp = results_stamp.current(session)  # read before the counts (see services.results_stamp)
    if stamp is None:
        return count_levels(session, start, end)
    key = (stamp, start, end)
    with _trend_lock:
        found = _trend_cache.get(key)
    if found is None:
        found = count_levels(session, start, end)
        with _trend_lock:
            _trend_cache[key] = found
            while len(_trend_cache) > _TREND_CACHE_SIZE:
                del _trend_cache[next(iter(_trend_cache))]
    return found
