"""A small, fully known company for web and API tests."""

from __future__ import annotations

from datetime import date

from starlevel.db.engine import session_scope
from starlevel.services import rulebooks, users
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute

PASSWORDS = {
    "admin": ("admin", "admin-pass-1"),
    "hr": ("hr", "hr-pass-12"),
    "inspector": ("qa", "qa-pass-12"),
    "agent": ("ann", "ann-pass-12"),   # agent A001
    "agent2": ("bob", "bob-pass-12"),  # agent A002
}

AGENTS_CSV = """agent_id,name,track,team,hired_on,left_on,initial_level,probation_months
A001,Ann Lee,phone,Team 1,2024-01-05,,,
A002,Bob Wu,online,Team 2,2024-03-10,,,
A003,陈静,phone,Team 1,2023-06-01,,2,
"""


def months(first: str, n: int) -> list[str]:
    y, m = int(first[:4]), int(first[5:])
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        m += 1
        if m == 13:
            y, m = y + 1, 1
    return out


def inspections_csv(month_list: list[str]) -> str:
    lines = ["inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes"]
    n = 0
    for month in month_list:
        for agent in ("A001", "A002", "A003"):
            if month < {"A001": "2024-01", "A002": "2024-03", "A003": "2023-06"}[agent]:
                continue
            for k in range(3):
                n += 1
                codes = "T1-01" if k == 0 else ("T2-05" if (agent == "A002" and k == 1) else "")
                lines.append(f"I{n:05d},{agent},{month}-{10 + k:02d},chat,REF-{n:05d},qa,{codes}")
    return "\n".join(lines) + "\n"


def metrics_csv(month_list: list[str]) -> str:
    lines = ["agent_id,month,satisfaction,efficiency,attitude,complaints"]
    for month in month_list:
        for agent in ("A001", "A002", "A003"):
            if month < {"A001": "2024-01", "A002": "2024-03", "A003": "2023-06"}[agent]:
                continue
            lines.append(f"{agent},{month},95,92.5,4,0")
    return "\n".join(lines) + "\n"


def seed_company(session_factory, *, last_month: str = "2025-06") -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Three agents with 12+ months of data, and one login per role. Returns PASSWORDS."""
    ms = [m for m in months("2023-06", 40) if m <= last_month]
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        rb = rulebooks.current(s)
        today = date(2026, 11, 25)
        import_table(s, "agents", AGENTS_CSV.encode(), filename="agents.csv", actor="seed", rulebook=rb, today=today)
        import_table(s, "inspections", inspections_csv(ms).encode(), filename="inspections.csv", actor="seed", rulebook=rb, today=today)
        import_table(s, "metrics", metrics_csv(ms).encode(), filename="metrics.csv", actor="seed", rulebook=rb, today=today)
        recompute(s)
        users.create_user(s, "admin", role="admin", password=PASSWORDS["admin"][1])
        users.create_user(s, "hr", role="hr", password=PASSWORDS["hr"][1])
        users.create_user(s, "qa", role="inspector", password=PASSWORDS["inspector"][1])
        users.create_user(s, "ann", role="agent", agent_id="A001", password=PASSWORDS["agent"][1])
        users.create_user(s, "bob", role="agent", agent_id="A002", password=PASSWORDS["agent2"][1])
    return PASSWORDS
