"""HTTP: HR closes and reopens months; every web and API write into a closed month is
refused (form, void, upload, decision, rulebook), in the user's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select

from starlevel.db.engine import session_scope
from starlevel.db.models import Inspection, MonthlyMetrics
from starlevel.services import months, synth, users
from starlevel.services.recompute import recompute
from tests.conftest import csrf_token, sign_in
from tests.seed import seed_company
from tests.test_incremental import _load
from tests.web.roles import as_role, sign_out

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    return seed_company(session_factory)




@pytest.mark.parametrize("role", ["inspector", "admin", "agent"])
def test_only_hr_reaches_the_months_page(client, passwords, role: str) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, role)
    assert client.get("/hr/months").status_code == 403
    token = csrf_token(client)
    assert client.post("/hr/months/close", data={"_csrf_token": token, "month": "2025-05"}).status_code == 403
    assert client.post("/hr/months/reopen", data={"_csrf_token": token, "month": "2025-05",
                                                  "reason": "x"}).status_code == 403


def test_close_refused_upload_reopen_and_difference_on_reclose(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    as_role(client, passwords, "hr")
    page = client.get("/hr/months?month=2025-05", headers=EN)
    assert page.status_code == 200 and 'id="close-button"' in page.text
    r = client.post("/hr/months/close", data={"_csrf_token": csrf_token(client), "month": "2025-05"},
                    headers=EN, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"], headers=EN).text
    assert "May 2025 is closed; its payroll is kept as paid." in page and 'id="reopen-button"' in page
    sign_out(client)

    as_role(client, passwords, "inspector")
    upload = client.post("/uploads", data={"_csrf_token": csrf_token(client), "kind": "metrics"},
                         files={"file": ("m.csv", b"agent_id,month,satisfaction,efficiency,attitude,complaints\n"
                                                  b"A001,2025-05,60,60,2,2\n", "text/csv")}, headers=EN)
    assert upload.status_code == 422 and "2025-05 is closed for payroll" in upload.text
    form = client.post("/inspections", headers=EN, data={
        "_csrf_token": csrf_token(client), "agent_id": "A001", "contact_on": "2025-05-30", "channel": "chat",
        "contact_ref": "LATE-1"})
    assert form.status_code == 422 and "2025-05 is closed for payroll; HR must reopen it" in form.text
    with session_scope(session_factory) as s:
        iid = s.scalars(select(Inspection.inspection_id).where(Inspection.month == "2025-04")).first()
    api = client.post(f"/api/inspections/{iid}/void", json={"reason": "typo"},
                      headers={"x-csrftoken": csrf_token(client), **ZH})
    assert api.status_code == 400 and "已关账" in api.text
    sign_out(client)

    as_role(client, passwords, "hr")
    no_reason = client.post("/hr/months/reopen", headers=EN,
                            data={"_csrf_token": csrf_token(client), "month": "2025-05", "reason": " "})
    assert no_reason.status_code == 422 and "Reopening needs a reason" in no_reason.text
    long_reason = client.post("/hr/months/reopen", headers=EN,
                              data={"_csrf_token": csrf_token(client), "month": "2025-05", "reason": "x" * 2001})
    assert long_reason.status_code == 422 and "The reason is too long (at most 2000 characters)." in long_reason.text
    r = client.post("/hr/months/reopen", headers=EN, follow_redirects=False,
                    data={"_csrf_token": csrf_token(client), "month": "2025-05", "reason": "late metrics"})
    assert r.status_code == 303
    with session_scope(session_factory) as s:
        assert not months.is_closed(s, "2025-05")
        row = s.get(MonthlyMetrics, ("A001", "2025-05"))
        row.values = {**row.values, "satisfaction": "60.00"}
        s.flush()
        from starlevel.services.recompute import recompute
        recompute(s, start="2025-05")
    page = client.get("/hr/months?month=2025-05", headers=EN).text
    assert "Changes since the last close" in page and re.search(r'class="change-row"><td>May 2025</td><td>Ann Lee', page)
    unconfirmed = client.post("/hr/months/close", headers=EN,
                              data={"_csrf_token": csrf_token(client), "month": "2025-05"})
    assert unconfirmed.status_code == 422 and "The payroll changed since the last close" in unconfirmed.text
    r = client.post("/hr/months/close", headers=EN, follow_redirects=False,
                    data={"_csrf_token": csrf_token(client), "month": "2025-05", "confirm_changes": "1"})
    assert r.status_code == 303
    zh = client.get("/hr/months?month=2025-05", headers=ZH).text
    assert "已关账" in zh and "重新打开" in zh


def test_hr_decision_and_rulebook_into_a_closed_month_are_refused(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        months.close_month(s, "2025-05", actor="hr")
    as_role(client, passwords, "hr")
    r = client.post("/api/decisions", json={"agent_id": "A001", "month": "2025-05", "action": "hold", "reason": "x"},
                    headers={"x-csrftoken": csrf_token(client), **EN})
    assert r.status_code == 400 and r.json()["problems"][0]["key"] == "month_closed"
    from starlevel.domain.rulebook import default_rulebook_document
    from starlevel.services.hr import to_toml
    page = client.post("/hr/rulebook/preview", headers=EN, data={
        "_csrf_token": csrf_token(client), "effective_from": "2025-03"},
        files={"file": ("rb.toml", to_toml(default_rulebook_document()).encode(), "text/plain")})
    assert page.status_code == 422 and "Mar 2025 is closed for payroll" in page.text
    stored = client.post("/hr/rulebook", headers=EN, data={
        "_csrf_token": csrf_token(client), "effective_from": "2025-03", "toml": to_toml(default_rulebook_document())})
    assert stored.status_code == 422 and "Mar 2025 is closed for payroll" in stored.text


HR1 = ("hr1", "ladder-review-Qx7-months")
NO_METRICS_LAST = "2026-02"


def company_without_metrics(session_factory) -> months.ClosePlan:  # type: ignore[no-untyped-def]
    """40 agents and no metrics since they were hired: a first close of NO_METRICS_LAST
    covers over a thousand incomplete agent-months. Returns the plan of that close."""
    _load(session_factory, synth.generate(40, 14, last_month=NO_METRICS_LAST, seed=8))
    with session_scope(session_factory) as s:
        users.create_user(s, HR1[0], role="hr", password=HR1[1])
        s.execute(delete(MonthlyMetrics))
        recompute(s)
        return months.close_plan(s, NO_METRICS_LAST)


def test_hr_confirms_every_incomplete_agent_at_once_even_beyond_the_listed_500(client, session_factory) -> None:  # type: ignore[no-untyped-def]
    """A company's first close covers all its months: with 40 agents and no metrics, over a
    thousand agent-months are incomplete and only 500 are listed, so ticking them one by
    one cannot cover them all. "Confirm all" closes them, and only the list HR was shown."""
    last = NO_METRICS_LAST
    plan = company_without_metrics(session_factory)
    rows, agents = len(plan.incomplete), len(plan.incomplete_ids)
    assert rows > 500 and agents == 40
    assert sign_in(client, *HR1).status_code in (302, 303)
    for headers, shown, confirm_all in ((EN, f"The first 500 of {rows:,} agent-months are listed.",
                                         f"Confirm all 40 incomplete agents (agent-months: {rows:,})"),
                                        (ZH, f"共 {rows:,} 个客服月，仅列出前 500 个。", f"确认全部 40 名数据不完整的客服（客服月：{rows:,} 个）")):
        page = client.get(f"/hr/months?month={last}", headers=headers).text
        assert shown in page and confirm_all in page
        assert page.count('name="incomplete" value=') == 500
        assert f'name="incomplete_all" value="{plan.incomplete_key}"' in page
    # A key for another list (as if an agent-month had turned incomplete since) confirms nothing.
    stale = client.post("/hr/months/close", headers=EN, data={
        "_csrf_token": csrf_token(client), "month": last, "incomplete_all": "0" * 32})
    assert stale.status_code == 422 and "confirm each of them" in stale.text
    hostile = client.post("/hr/months/close", headers=EN, data={
        "_csrf_token": csrf_token(client), "month": last, "incomplete_all": plan.incomplete_key + "x" * 100_000})
    assert hostile.status_code == 422 and "confirm each of them" in hostile.text
    with session_scope(session_factory) as s:
        assert not months.is_closed(s, last)
    r = client.post("/hr/months/close", headers=EN, follow_redirects=False, data={
        "_csrf_token": csrf_token(client), "month": last, "incomplete_all": plan.incomplete_key})
    assert r.status_code == 303
    with session_scope(session_factory) as s:
        assert months.is_closed(s, last) and months.is_closed(s, plan.months[0])
