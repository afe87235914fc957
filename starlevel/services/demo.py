"""Load the demo company: synthetic data, a second rulebook version with HR approval,
HR decisions (approvals, holds, a pending month), and one login per role."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, MonthResultRow, User
from starlevel.domain import months as M
from starlevel.domain.rulebook import default_rulebook_document
from starlevel.services import corrections, rulebooks, synth, users
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute

# role -> (username, password)
DEMO_PASSWORDS = {
    "admin": ("admin", "admin-demo-2026"),
    "hr": ("hr", "hr-demo-2026"),
    "inspector": ("qa.lin", "qa-demo-2026"),
    "agent": ("agent", "agent-demo-2026"),
}


def load_demo(
    session: Session, *, agents: int = 200, months: int = 24, seed: int = 7,
    echo: Callable[[str], None] = lambda s: None,
) -> tuple[str, list[tuple[str, str, str, str]]]:
    """Fill an empty database; on a database that has agents already, only report.

    Returns a summary and the logins as (role, username, password, note)."""
    rulebooks.ensure_default(session)
    if session.scalar(select(func.count()).select_from(Agent)):
        echo("database already holds data: keeping it")
    else:
        _fill(session, agents=agents, months=months, seed=seed, echo=echo)
    logins = _ensure_users(session)
    counts = Counter(dict(session.execute(select(MonthResultRow.event, func.count()).group_by(MonthResultRow.event)).all()))
    n_agents = session.scalar(select(func.count()).select_from(Agent))
    last = session.scalar(select(func.max(MonthResultRow.month)))
    summary = (
        f"demo company: {n_agents} agents, results up to {last}; events: "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("promote", "demote", "waitlist", "review", "hold", "none"))
    )
    return summary, logins


def _fill(session: Session, *, agents: int, months: int, seed: int, echo: Callable[[str], None]) -> None:
    data = synth.generate(agents, months, seed=seed)
    echo(f"generated {data.n_agents} agents, {data.n_inspections} inspections, {data.n_metrics} metrics rows "
         f"({data.first_month}…{data.last_month})")
    rb = rulebooks.current(session)
    for kind in ("agents", "inspections", "metrics"):
        import_table(session, kind, getattr(data, f"{kind}_csv"), filename=f"demo-{kind}.csv", actor="demo", rulebook=rb)
    # From six months before the end, promotions wait for HR approval (a second rulebook version).
    approval_from = M.add_months(data.last_month, -5)
    doc = default_rulebook_document()
    doc["rulebook"]["approval_required"] = True
    rulebooks.add_version(session, doc, effective_from=approval_from, actor="demo", label="approval",
                          note="HR approves promotions from here on (审定)")
    recompute(session)
    echo("evaluated the ladder; recording HR decisions")
    held = 0
    for month in M.months_between(approval_from, M.add_months(data.last_month, -1)):
        proposals = session.scalars(
            select(MonthResultRow.agent_id).where(MonthResultRow.month == month, MonthResultRow.event == "promote")
            .order_by(MonthResultRow.agent_id)
        ).all()
        if not proposals:
            continue
        for i, agent_id in enumerate(proposals):
            if i % 5 == 2 and held < 6:
                corrections.decide(session, agent_id, month, action="hold", actor="hr",
                                   reason="pending customer complaint review / 待客诉复核")
                held += 1
            else:
                corrections.decide(session, agent_id, month, action="approve", actor="hr", reason="")
        recompute(session, start=month)


def _ensure_users(session: Session) -> list[tuple[str, str, str, str]]:
    logins = []
    for role, (username, password) in DEMO_PASSWORDS.items():
        user = session.scalar(select(User).where(User.username == username))
        note = ""
        if user is None:
            agent_id = _pick_demo_agent(session) if role == "agent" else None
            user = users.create_user(session, username, role=role, password=password, agent_id=agent_id,
                                     display_name=username, actor="demo")
        if user.agent_id:
            agent = session.get(Agent, user.agent_id)
            note = f"→ {agent.agent_id} {agent.name}" if agent else ""
        logins.append((role, username, password, note))
    return logins


def _pick_demo_agent(session: Session) -> str | None:
    """An agent still employed, with a promotion behind them and a next star ahead."""
    last = session.scalar(select(func.max(MonthResultRow.month)))
    promoted = select(MonthResultRow.agent_id).where(MonthResultRow.event == "promote").distinct()
    row = session.scalar(
        select(MonthResultRow.agent_id)
        .where(MonthResultRow.month == last, MonthResultRow.level < 5, MonthResultRow.agent_id.in_(promoted),
               MonthResultRow.complete.is_(True))
        .order_by(MonthResultRow.agent_id)
        .limit(1)
    )
    if row is None:
        row = session.scalar(select(MonthResultRow.agent_id).where(MonthResultRow.month == last).order_by(MonthResultRow.agent_id).limit(1))
    return row
