"""Pay is private: route × role. Pay figures reach HR (everyone's) and an agent (their
own) only; inspectors and admins see levels but never an amount, on any page, partial,
API response or export."""

from __future__ import annotations

import pytest

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow
from starlevel.web import i18n
from tests.seed import seed_company
from tests.web.roles import as_role

MONTH = "2025-06"


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    return seed_company(session_factory, last_month=MONTH)


@pytest.fixture
def total(session_factory) -> str:  # type: ignore[no-untyped-def]
    """A001's last total pay as the page prints it."""
    with session_scope(session_factory) as s:
        row = s.get(MonthResultRow, ("A001", MONTH))
        assert row is not None and row.total_pay
        return i18n.fmt_money(row.total_pay, "en")



# (role, may see A001's pay on the staff page / staff API)
STAFF = [("hr", True), ("inspector", False), ("admin", False)]


@pytest.mark.parametrize(("role", "sees"), STAFF)
def test_staff_star_page_shows_pay_only_to_hr(client, passwords, total, role: str, sees: bool) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, role)
    page = client.get("/agents/A001", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert ('class="pay-table"' in page.text) is sees
    assert (total in page.text) is sees
    for month in (MONTH, "2024-12"):
        as_of = client.get(f"/agents/A001?month={month}", headers={"Accept-Language": "en"})
        assert ('id="pay-h"' in as_of.text) is sees
    partial = client.get(f"/agents/A001/defects?defects={MONTH}", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and total not in partial.text


@pytest.mark.parametrize(("role", "sees"), STAFF)
def test_staff_api_results_carry_pay_only_for_hr(client, passwords, role: str, sees: bool) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, role)
    results = client.get("/api/agents/A001/results").json()
    assert results and all((r["pay"] is not None) is sees for r in results)
    if not sees:
        assert "total_pay" not in client.get("/api/agents/A001/results").text
        assert '"total"' not in client.get("/api/agents/A001/results").text


def test_agent_sees_own_pay_and_nobody_elses(client, passwords, total) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, "agent")  # ann = A001
    me = client.get("/me", headers={"Accept-Language": "en"})
    assert 'class="pay-table"' in me.text and total in me.text
    assert all(r["pay"] is not None for r in client.get("/api/me/results").json())
    assert client.get("/api/me/star").json()["latest"]["pay"]["total"]
    for url in ("/agents/A002", "/api/agents/A002/results", "/hr/payroll", f"/hr/payroll.csv?month={MONTH}",
                "/hr/ladder.csv"):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("role", ["inspector", "admin", "agent"])
def test_pay_exports_are_hr_only(client, passwords, role: str) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, role)
    for url in ("/hr/payroll", f"/hr/payroll.csv?month={MONTH}", f"/hr/payroll.xlsx?month={MONTH}",
                "/hr/ladder.csv", f"/api/months/{MONTH}/results", "/hr/months"):
        assert client.get(url).status_code == 403, (role, url)


def test_hr_downloads_the_payroll_xlsx(client, passwords) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, "hr")
    r = client.get(f"/hr/payroll.xlsx?month={MONTH}", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert f'filename="payroll-{MONTH}.xlsx"' in r.headers["content-disposition"]
    assert r.content[:2] == b"PK"
    assert client.get("/hr/payroll.xlsx?month=1999-01").status_code == 404
