"""The HR lead's morning page: one month's counts, levels against quotas, a 12-month
trend of the level distribution and the open review cases, filtered by team and track.

The default month is the latest one that has ended; a month still in progress is
never the default (it can be picked, and is labelled). Every figure is a grouped count
over ``month_results`` by month (indexes ``ix_month_results_month_level`` and
``ix_month_results_month_event``); no pay figure is shown here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import MonthResultRow
from starlevel.domain import months as M
from starlevel.services import hr, months as month_service, reviews
from starlevel.services import rulebooks as rulebook_store

TREND_MONTHS = 12


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
    team = team if team in hr.teams(session) else ""
    track = track if track in rb.tracks else ""
    where = [MonthResultRow.month == chosen]
    if team:
        where.append(MonthResultRow.team == team)
    if track:
        where.append(MonthResultRow.track == track)
    counts = hr.section_counts(session, chosen, team=team, track=track)
    by_level = dict(session.execute(
        select(MonthResultRow.level, func.count()).where(*where).group_by(MonthResultRow.level)).tuples().all())
    company = by_level if not (team or track) else dict(session.execute(
        select(MonthResultRow.level, func.count()).where(MonthResultRow.month == chosen)
        .group_by(MonthResultRow.level)).tuples().all())
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
    start = max(first, M.add_months(chosen, -(TREND_MONTHS - 1)))
    trend_where = [MonthResultRow.month >= start, MonthResultRow.month <= chosen, *where[1:]]
    trend: dict[str, dict[int, int]] = {m: {} for m in M.months_between(start, chosen)}
    for m, level, n in session.execute(
        select(MonthResultRow.month, MonthResultRow.level, func.count()).where(*trend_where)
        .group_by(MonthResultRow.month, MonthResultRow.level)
    ):
        trend[m][level] = int(n)
    return Dashboard(
        month=chosen, in_progress=chosen >= current, closed=month_service.is_closed(session, chosen),
        options=options, counts=counts, headcount=headcount, levels=levels, trend=list(trend.items()),
        open_reviews=reviews.open_count(session, since=start, until=chosen, team=team, track=track),
        teams=hr.teams(session), tracks=list(rb.tracks), team=team, track=track,
    )
