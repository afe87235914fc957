"""Entering and correcting one agent-month's monthly inputs in the app (/metrics):
the fields of the rulebook in force, parse_input's checks, a reason for corrections in
the audit log, re-evaluation, both languages, and who may do it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, MonthlyMetrics, MonthResultRow
from starlevel.domain.templates import template_text
from starlevel.services import rulebooks
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company

HX = {"HX-Request": "true"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}

pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    return session_factory


def signed_in(client, role: str, headers=EN):  # type: ignore[no-untyped-def]
    client.headers.update(headers)
    assert sign_in(client, *PASSWORDS[role]).status_code in (302, 303)
    return client


def post(client, **fields: str):  # type: ignore[no-untyped-def]
    data = {"_csrf_token": csrf_token(client), **fields}
    return client.post("/metrics", data=data, headers=HX)


def stored(factory, agent_id: str, month: str) -> dict[str, str] | None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        row = s.get(MonthlyMetrics, (agent_id, month))
        return None if row is None else dict(row.values)


def value_of(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no field {name}"
    return m.group(1)


FOUR = {"v_satisfaction": "95", "v_efficiency": "92.5", "v_attitude": "4", "v_complaints": "0"}


def test_form_shows_the_inputs_of_the_rulebook_in_force_with_stored_values(client, company):
    qa = signed_in(client, "inspector")
    r = qa.get("/metrics?agent_id=A001&month=2025-06")
    assert r.status_code == 200
    page = r.text
    for key, value in (("satisfaction", "95.00"), ("efficiency", "92.50"), ("attitude", "4"), ("complaints", "0")):
        assert value_of(page, f"v_{key}") == value
    assert "0 – 100 · up to 2 decimal places" in page and "1 – 5 · whole number" in page
    assert 'href="/metrics"' in page  # in the navigation


def test_correction_needs_a_reason_and_is_audited_and_re_evaluated(client, company):
    qa = signed_in(client, "inspector")
    with session_scope(company) as s:
        before = s.get(MonthResultRow, ("A001", "2025-06")).dimensions["satisfaction"]
    r = post(qa, agent_id="A001", month="2025-06", **(FOUR | {"v_satisfaction": "80.5"}))
    assert r.status_code == 422
    assert "Changing stored values needs a reason" in r.text
    assert value_of(r.text, "v_satisfaction") == "80.5"  # what was typed is kept
    assert stored(company, "A001", "2025-06")["satisfaction"] == "95.00"

    r = post(qa, agent_id="A001", month="2025-06", reason="survey recount", **(FOUR | {"v_satisfaction": "80.5"}))
    assert r.status_code == 200, r.text
    assert "Saved" in r.text
    assert stored(company, "A001", "2025-06") == {
        "satisfaction": "80.50", "efficiency": "92.50", "attitude": "4", "complaints": "0"}
    with session_scope(company) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "metrics")
                          .order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.entity_id, entry.actor, entry.reason) == ("update", "A001/2025-06", "qa", "survey recount")
        assert entry.detail["before"] == {"satisfaction": "95.00"}
        assert entry.detail["after"] == {"satisfaction": "80.50"}
        after = s.get(MonthResultRow, ("A001", "2025-06")).dimensions["satisfaction"]
    assert before != after == "80.50"

    # The same values again change nothing and log nothing.
    n = len(_audit(company))
    r = post(qa, agent_id="A001", month="2025-06", **(FOUR | {"v_satisfaction": "80.50"}))
    assert r.status_code == 200 and "Nothing changed" in r.text
    assert len(_audit(company)) == n


def _audit(factory) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        return list(s.scalars(select(AuditEntry)))


def test_a_new_month_is_entered_without_a_reason(client, company):
    hr = signed_in(client, "hr")
    assert stored(company, "A001", "2025-07") is None
    # (2025-07 is in the past for the test clock: today's date is real.)
    r = post(hr, agent_id="A001", month="2025-07", **FOUR)
    assert r.status_code == 200, r.text
    assert stored(company, "A001", "2025-07") == {
        "satisfaction": "95.00", "efficiency": "92.50", "attitude": "4", "complaints": "0"}
    entry = [e for e in _audit(company) if e.entity == "metrics"][-1]
    assert (entry.action, entry.entity_id, entry.actor) == ("create", "A001/2025-07", "hr")


@pytest.mark.parametrize(("field", "text", "message"), [
    ("v_satisfaction", "101", "101 is outside the allowed range."),
    ("v_satisfaction", "92.555", "92.555 has more than 2 decimal places."),
    ("v_efficiency", "abc", "abc is not a number."),
    ("v_attitude", "4.5", "4.5 is not a whole number."),
    ("v_complaints", "", "Enter a value."),
])
def test_bad_values_are_refused_field_by_field_and_nothing_is_written(client, company, field, text, message):
    qa = signed_in(client, "inspector")
    n = len(_audit(company))
    r = post(qa, agent_id="A001", month="2025-06", reason="fix", **(FOUR | {field: text}))
    assert r.status_code == 422
    assert f'<span class="error" id="err-{field[2:]}">{message}</span>' in r.text.replace("&#39;", "'")
    assert stored(company, "A001", "2025-06")["satisfaction"] == "95.00"
    assert len(_audit(company)) == n


def test_problems_are_shown_in_chinese(client, company):
    qa = signed_in(client, "inspector", ZH)
    r = post(qa, agent_id="A001", month="2025-06", **(FOUR | {"v_attitude": "9", "v_satisfaction": "1"}))
    assert r.status_code == 422
    assert "不是整数" in r.text and "需要填写原因" in r.text
    assert "is not" not in r.text


@pytest.mark.parametrize(("agent_id", "month", "message"), [
    ("Z999", "2025-06", "There is no agent with ID Z999."),
    ("A001", "2025-13", "2025-13 is not a month (YYYY-MM)."),
    ("A001", "2099-01", "2099-01 is after the current month"),
    ("A002", "2024-01", "2024-01 is before agent A002's hire month 2024-03."),
    ("x" * 5000, "2025-06", "There is no agent with ID"),
])
def test_unknown_agent_or_month_is_named(client, company, agent_id, month, message):
    qa = signed_in(client, "inspector")
    r = qa.get("/metrics", params={"agent_id": agent_id, "month": month}, headers=HX)
    assert r.status_code == 422
    assert message in r.text.replace("&#39;", "'")
    r = post(qa, agent_id=agent_id, month=month, **FOUR)
    assert r.status_code == 422
    assert message in r.text.replace("&#39;", "'")


def test_oversized_reason_is_refused(client, company):
    qa = signed_in(client, "inspector")
    r = post(qa, agent_id="A001", month="2025-06", reason="r" * 600, **(FOUR | {"v_efficiency": "90"}))
    assert r.status_code == 422
    assert "The reason is too long (at most 500 characters)." in r.text


def test_admin_may_look_but_not_change_and_agents_are_kept_out(client, company):
    admin = signed_in(client, "admin")
    r = admin.get("/metrics?agent_id=A001&month=2025-06")
    assert r.status_code == 200
    assert "readonly" in r.text and 'type="submit" class="primary"' not in r.text
    assert post(admin, agent_id="A001", month="2025-06", reason="x", **(FOUR | {"v_efficiency": "10"})).status_code == 403
    assert stored(company, "A001", "2025-06")["efficiency"] == "92.50"
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
    agent = signed_in(client, "agent")
    assert agent.get("/metrics?agent_id=A001&month=2025-06").status_code == 403
    assert post(agent, agent_id="A001", month="2025-06", reason="x", **FOUR).status_code == 403


def test_fields_and_file_template_follow_the_rulebook_of_the_month(client, company):
    with session_scope(company) as s:
        import tomllib

        rulebooks.add_version(s, tomllib.loads(template_text("fee-collection")), effective_from="2025-06", actor="hr")
    qa = signed_in(client, "inspector")
    page = qa.get("/metrics?agent_id=A001&month=2025-06").text
    assert 'name="v_collection_rate"' in page and 'name="v_extra_tasks"' in page
    assert 'name="v_satisfaction"' not in page
    assert 'name="v_satisfaction"' in qa.get("/metrics?agent_id=A001&month=2025-05").text

    r = post(qa, agent_id="A001", month="2025-06", reason="new scheme",
             v_collection_rate="98.25", v_complaints="0", v_extra_tasks="是")
    assert r.status_code == 200, r.text
    assert stored(company, "A001", "2025-06") == {"collection_rate": "98.25", "complaints": "0", "extra_tasks": "1"}

    assert qa.get("/uploads/templates/metrics.csv").text == "agent_id,month,collection_rate,complaints,extra_tasks\n"
    assert qa.get("/uploads/templates/metrics.csv?month=2025-05").text == (
        "agent_id,month,satisfaction,efficiency,attitude,complaints\n")


def test_one_months_inputs_download_in_the_import_format(client, company):
    qa = signed_in(client, "inspector")
    r = qa.get("/metrics/export.csv?month=2025-06")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="metrics-2025-06.csv"'
    assert r.text.splitlines() == [
        "agent_id,month,satisfaction,efficiency,attitude,complaints",
        "A001,2025-06,95.00,92.50,4,0", "A002,2025-06,95.00,92.50,4,0", "A003,2025-06,95.00,92.50,4,0",
    ]
    assert f'href="/metrics/export.csv?month=' in qa.get("/metrics").text
    assert qa.get("/metrics/export.csv?month=June").status_code == 400
