"""Read models over the cached results: explanations, an agent's history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, MonthResultRow
from starlevel.domain.explain import explain_text
from starlevel.services import rulebooks, search
from starlevel.services.recompute import row_to_result

EVENT_LABEL = {
    "en": {"none": "no change", "promote": "PROMOTE", "demote": "DEMOTE", "waitlist": "WAITLIST", "review": "REVIEW", "hold": "HELD"},
    "zh": {"none": "无变化", "promote": "晋升", "demote": "降级", "waitlist": "候补", "review": "复核", "hold": "暂缓"},
}


def agent_results(session: Session, agent_id: str, month: str | None = None) -> list[MonthResultRow]:
    q = select(MonthResultRow).where(MonthResultRow.agent_id == agent_id).order_by(MonthResultRow.month)
    if month:
        q = q.where(MonthResultRow.month == month)
    return list(session.scalars(q))


def explain_lines(session: Session, agent_id: str, *, month: str | None = None, lang: str = "en") -> list[str] | None:
    agent = session.get(Agent, agent_id)
    if agent is None:
        return None
    rows = agent_results(session, agent_id, month)
    head = (f"{agent.agent_id} {agent.name} · {agent.track} · {agent.team} · hired {agent.hired_on}"
            if lang == "en" else f"{agent.agent_id} {agent.name} · {agent.track} · {agent.team} · 入职 {agent.hired_on}")
    lines = [head]
    if not rows:
        lines.append("no evaluated month" if lang == "en" else "没有评定月份")
    stars = "★"
    books = rulebooks.load_all(session)
    for row in rows:
        result = row_to_result(row)
        comp = f"{row.composite:.2f}" if row.composite is not None else ("incomplete" if lang == "en" else "数据不全")
        label = EVENT_LABEL[lang].get(row.event, row.event)
        lines.append(
            f"{row.month}  {row.level}{stars}→{row.next_level}{stars}  {comp:>10}  {label:<10} {explain_text(result, lang, rulebooks.for_version(books, row.rulebook_version, row.month))}"
        )
    return lines


def latest_month(session: Session) -> str | None:
    from sqlalchemy import func

    return session.scalar(select(func.max(MonthResultRow.month)))


def agent_overview(
    session: Session, *, q: str = "", track: str = "", level: int | None = None, team: str = "",
    page: int = 1, per_page: int = 50, ended_only: bool = False,
) -> tuple[list[tuple[Agent, MonthResultRow | None]], int, str | None]:
    """Agents with their latest evaluated month; returns (rows, total, month). With
    ``ended_only`` the month in progress is left out (the pages' default)."""
    from sqlalchemy import func, or_

    from starlevel.services import clock

    month = latest_month(session)
    newest = select(MonthResultRow.agent_id, func.max(MonthResultRow.month).label("m"))
    if ended_only and month is not None and clock.in_progress(month):
        now = clock.current_month()
        ended = session.scalar(select(func.max(MonthResultRow.month)).where(MonthResultRow.month < now))
        if ended is not None:
            newest, month = newest.where(MonthResultRow.month < now), ended
    latest = newest.group_by(MonthResultRow.agent_id).subquery()
    base = (
        select(Agent, MonthResultRow)
        .outerjoin(latest, latest.c.agent_id == Agent.agent_id)
        .outerjoin(MonthResultRow, (MonthResultRow.agent_id == Agent.agent_id) & (MonthResultRow.month == latest.c.m))
    )
    if q.strip():
        # % and _ are text here, not wildcards (autoescape), so "10%" finds "10%" only.
        text = q.strip()
        base = base.where(or_(search.contains(Agent.agent_id, text), search.contains(Agent.name, text),
                              search.contains(Agent.team, text)))
    if track:
        base = base.where(Agent.track == track)
    if team:
        base = base.where(Agent.team == team)
    if level:
        base = base.where(MonthResultRow.next_level == level)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(Agent.agent_id).limit(per_page).offset((page - 1) * per_page)).all()
    return [(a, r) for a, r in rows], total, month
