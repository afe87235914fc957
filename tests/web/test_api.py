"""The JSON API under /api: payloads, validation, recompute after writes, the OpenAPI schema."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, HrDecisionRow, Inspection, InspectionDefect, MonthResultRow
from starlevel.domain.rulebook import rulebook_to_document
from starlevel.services import rulebooks
from starlevel.services.recompute import recompute
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    return seed_company(session_factory)


def login(client, who: str):  # type: ignore[no-untyped-def]
    """Sign ``who`` (a key of PASSWORDS: admin, hr, inspector, agent, agent2) in, alone."""
    client.cookies.clear()
    username, password = PASSWORDS[who]
    response = sign_in(client, username, password)
    assert response.status_code in (302, 303), response.text
    return client


def post(client, path: str, body: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
    headers = {"x-csrftoken": csrf_token(client), **kwargs.pop("headers", {})}
    return client.post(path, json=body, headers=headers, **kwargs)


def fields(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status_code"] == 400
    assert all(p["problem"] for p in body["problems"])
    return [p["field"] for p in body["problems"]]


def result_row(session_factory, agent_id: str, month: str) -> MonthResultRow:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        row = s.get(MonthResultRow, (agent_id, month))
        assert row is not None
        return row


def require_approval_from(session_factory, month: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        doc = rulebook_to_document(rulebooks.current(s))
        doc["rulebook"]["approval_required"] = True
        rulebooks.add_version(s, doc, effective_from=month, actor="test", label="approval on")
        recompute(s, start=month)


RED_LINE = {"agent_id": "A003", "contact_on": "2025-06-20", "channel": "chat", "contact_ref": "CASE-77",
            "defects": [{"code": "T3-01", "note": "rude to the customer"}]}


# ------------------------------------------------------------------ OpenAPI


def _template(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def test_openapi_schema_lists_exactly_the_api(app, client):  # type: ignore[no-untyped-def]
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    api_routes = {_template(r.path) for r in app.routes if r.path.startswith("/api")}
    assert "/api/inspections/{inspection_id}/void" in api_routes
    assert set(schema["paths"]) == api_routes, "the schema lists the API and nothing of the HTML pages"
    for path, item in schema["paths"].items():
        for method, op in item.items():
            assert op.get("tags"), f"{method} {path} has no tag"
            assert op.get("summary"), f"{method} {path} has no summary"
            assert op["description"].startswith("Roles: "), f"{method} {path} does not say who may call it"
            assert "200" in op["responses"] or "201" in op["responses"], f"{method} {path}"
            if method == "post":
                assert "x-csrftoken" in op["description"], f"{method} {path} does not document the CSRF header"
                assert "requestBody" in op, f"{method} {path} has no typed body"
                assert "400" in op["responses"]
    components = schema["components"]["schemas"]
    result = next(v for k, v in components.items() if k.endswith("ResultOut"))
    composite = result["properties"]["composite"]
    assert {t.get("type") for t in composite.get("oneOf", composite.get("anyOf", [composite]))} >= {"string"}
    create = schema["paths"]["/api/inspections"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[-1]
    assert set(components[ref]["required"]) == {"agent_id", "contact_on", "channel", "contact_ref"}
    assert "defects" in components[ref]["properties"]


# ------------------------------------------------------------------ me


@pytest.mark.parametrize(("who", "role", "agent_id"), [
    ("admin", "admin", None), ("hr", "hr", None), ("inspector", "inspector", None), ("agent", "agent", "A001"),
])
def test_me_for_every_role(company, client, who, role, agent_id):  # type: ignore[no-untyped-def]
    login(client, who)
    body = client.get("/api/me").json()
    assert body == {"username": PASSWORDS[who][0], "role": role, "agent_id": agent_id,
                    "display_name": PASSWORDS[who][0]}


def test_my_star(company, client):  # type: ignore[no-untyped-def]
    login(client, "agent")
    response = client.get("/api/me/star?lang=en")
    assert response.status_code == 200
    star = response.json()
    assert (star["agent_id"], star["name"], star["level"], star["pay_grade"]) == ("A001", "Ann Lee", 1, "A05")
    latest = star["latest"]
    assert star["latest_month"] == latest["month"] == "2025-06"
    assert latest["composite"] == "93.86" and latest["event"] == "waitlist"
    pay = latest["pay"]
    assert (pay["fixed"], pay["coefficient"], pay["performance"], pay["allowance"], pay["total"]) == (
        "1580.00", "1.10", "462.00", "100.00", "2142.00")
    assert Decimal(pay["fixed"]) + Decimal(pay["performance"]) + Decimal(pay["allowance"]) == Decimal(pay["total"])
    assert "waitlist" in latest["explanation"].lower()
    progress = star["progress"]
    assert progress["next_level"] == 2 and progress["promotion"]["all_met"] is True
    assert "A002" not in response.text and "Bob" not in response.text


def test_my_results_are_mine_and_explained_in_both_languages(company, client):  # type: ignore[no-untyped-def]
    login(client, "agent")
    en = client.get("/api/me/results?lang=en").json()
    zh = client.get("/api/me/results?lang=zh").json()
    months = [r["month"] for r in en]
    assert months == sorted(months) and months[0] == "2024-01" and months[-1] == "2025-06"
    assert {r["agent_id"] for r in en} == {"A001"}
    assert not CJK.search(en[0]["explanation"]) and CJK.search(zh[0]["explanation"])
    assert [r["composite"] for r in en] == [r["composite"] for r in zh]
    # Without ?lang the request's language decides.
    english = client.get("/api/me/results", headers={"accept-language": "en-GB"}).json()
    assert english[0]["explanation"] == en[0]["explanation"]
    assert client.get("/api/me/results?lang=fr").status_code == 400
    # bob sees only his own
    login(client, "agent2")
    bob = client.get("/api/me/results")
    assert {r["agent_id"] for r in bob.json()} == {"A002"} and "A001" not in bob.text


def test_me_star_is_for_agents_only(company, client):  # type: ignore[no-untyped-def]
    login(client, "hr")
    assert client.get("/api/me/star").status_code == 403
    assert client.get("/api/me/results").status_code == 403


# ------------------------------------------------------------------ agents


def test_agents_list_filters_and_details(company, client):  # type: ignore[no-untyped-def]
    login(client, "inspector")
    page = client.get("/api/agents").json()
    assert (page["total"], page["page"], page["pages"], page["month"]) == (3, 1, 1, "2025-06")
    assert [a["agent_id"] for a in page["items"]] == ["A001", "A002", "A003"]
    assert [a["agent_id"] for a in client.get("/api/agents?q=bob").json()["items"]] == ["A002"]
    assert [a["agent_id"] for a in client.get("/api/agents?track=phone").json()["items"]] == ["A001", "A003"]
    assert [a["agent_id"] for a in client.get("/api/agents?level=2").json()["items"]] == ["A003"]
    assert client.get("/api/agents?page=x").status_code == 400

    one = client.get("/api/agents/A003").json()
    assert one == {
        "agent_id": "A003", "name": "陈静", "track": "phone", "team": "Team 1", "hired_on": "2023-06-01",
        "left_on": None, "initial_level": 2, "probation_months": 3, "latest_month": "2025-06", "level": 2,
        "next_level": 2, "event": "waitlist", "composite": "93.86",
    }
    results = client.get("/api/agents/A002/results?lang=en").json()
    assert {r["agent_id"] for r in results} == {"A002"} and results[0]["month"] == "2024-03"
    assert all(r["error_defects"] == 1 for r in results)

    missing = client.get("/api/agents/NOPE", headers={"accept-language": "en"})
    assert missing.status_code == 404
    assert missing.json()["problems"] == [
        {"field": "agent_id", "problem": "There is no such record: NOPE.", "key": "record.missing"}]
    assert client.get("/api/agents/NOPE/results").status_code == 404


# ------------------------------------------------------------------ inspections


def test_inspections_list_and_filters(company, client):  # type: ignore[no-untyped-def]
    login(client, "hr")
    june = client.get("/api/inspections?month=2025-06").json()
    assert june["total"] == 9 and {i["month"] for i in june["items"]} == {"2025-06"}
    bob = client.get("/api/inspections?month=2025-06&agent_id=A002").json()
    assert bob["total"] == 3
    assert sorted(i["score"] for i in bob["items"]) == ["100", "95", "98"]
    coded = {i["defects"][0]["code"]: i for i in bob["items"] if i["defects"]}
    assert coded["T2-05"]["defects"][0]["tier"] == 2 and coded["T2-05"]["defects"][0]["red_line"] is False
    assert client.get("/api/inspections?inspector=qa&month=2025-06").json()["total"] == 9
    assert client.get("/api/inspections?inspector=nobody").json()["total"] == 0
    everything = client.get("/api/inspections").json()
    assert everything["total"] > 100 and len(everything["items"]) == 50 and everything["pages"] > 2
    assert fields(client.get("/api/inspections?month=2025-6")) == ["month"]
    one = client.get(f"/api/inspections/{june['items'][0]['inspection_id']}")
    assert one.status_code == 200 and one.json() == june["items"][0]
    assert client.get("/api/inspections/NOPE").status_code == 404


def test_record_inspection_recomputes_in_the_same_request(company, client, session_factory):  # type: ignore[no-untyped-def]
    require_approval_from(session_factory, "2025-06")
    assert result_row(session_factory, "A003", "2025-06").event == "waitlist"
    login(client, "inspector")
    response = post(client, "/api/inspections", RED_LINE)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["inspection_id"] and created["inspector"] == "qa"
    assert (created["agent_id"], created["month"], created["score"]) == ("A003", "2025-06", "90")
    assert [(d["code"], d["note"], d["red_line"]) for d in created["defects"]] == [
        ("T3-01", "rude to the customer", True)]
    assert client.get(f"/api/inspections/{created['inspection_id']}").json() == created

    # The ladder was recomputed from 2025-06: the red line demotes A003, which frees a 2★ place.
    a003 = result_row(session_factory, "A003", "2025-06")
    assert (a003.event, a003.next_level, a003.n_inspections) == ("demote", 1, 4)
    a001 = result_row(session_factory, "A001", "2025-06")
    assert (a001.event, a001.rule, a001.next_level) == ("promote", "promote_pending", 1)
    with session_factory() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "inspection",
                                                   AuditEntry.entity_id == created["inspection_id"])).one()
        assert (entry.actor, entry.action) == ("qa", "create")


def test_repeated_codes_count_each_occurrence(company, client, session_factory):  # type: ignore[no-untyped-def]
    login(client, "inspector")
    body = {"agent_id": "A001", "contact_on": "2025-06-21", "channel": "phone", "contact_ref": "CALL-9",
            "defects": [{"code": "T1-01", "note": "first"}, {"code": "T1-01", "note": "second"},
                        {"code": "T2-03"}]}
    created = post(client, "/api/inspections", body).json()
    assert created["score"] == "91"  # 100 - 2 - 2 - 5
    assert [d["code"] for d in created["defects"]] == ["T1-01", "T1-01", "T2-03"]
    assert "first" in created["defects"][0]["note"] and "second" in created["defects"][0]["note"]
    assert result_row(session_factory, "A001", "2025-06").error_defects == 1


def test_bad_inspection_names_every_field_and_writes_nothing(company, client, session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        before = s.scalar(select(func.count()).select_from(Inspection))
    login(client, "inspector")
    bad = {"agent_id": "A999", "contact_on": "2025-13-40", "channel": "fax", "contact_ref": "",
           "defects": [{"code": "ZZ-99"}]}
    response = post(client, "/api/inspections", bad, headers={"accept-language": "en"})
    assert fields(response) == ["agent_id", "contact_on", "channel", "contact_ref", "defects"]
    problems = {p["field"]: p["problem"] for p in response.json()["problems"]}
    assert "A999" in problems["agent_id"] and "ZZ-99" in problems["defects"]
    zh = post(client, "/api/inspections", bad, headers={"accept-language": "zh-CN"})
    assert CJK.search(zh.json()["problems"][0]["problem"])

    future = dict(RED_LINE, contact_on="2999-01-01")
    assert fields(post(client, "/api/inspections", future)) == ["contact_on"]
    assert fields(post(client, "/api/inspections", {"agent_id": 5})) == ["agent_id"]
    missing = post(client, "/api/inspections", {"agent_id": "A001"})
    assert missing.status_code == 400
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Inspection)) == before, "nothing half-written"
    assert post(client, "/api/inspections", RED_LINE).status_code == 201
    duplicate = post(client, "/api/inspections", RED_LINE)
    assert fields(duplicate) == ["contact_ref"] and duplicate.json()["problems"][0]["key"] == "ref.duplicate"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Inspection)) == before + 1


def test_void_inspection_then_defect(company, client, session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        insp_id = s.scalar(select(Inspection.inspection_id).where(
            Inspection.agent_id == "A001", Inspection.month == "2025-06").order_by(Inspection.inspection_id))
        defect_id = s.scalar(
            select(InspectionDefect.id).join(Inspection).where(
                Inspection.agent_id == "A002", Inspection.month == "2025-06", InspectionDefect.code == "T2-05"))
    assert result_row(session_factory, "A001", "2025-06").n_inspections == 3
    login(client, "inspector")
    assert fields(post(client, f"/api/inspections/{insp_id}/void", {"reason": "  "})) == ["reason"]
    assert post(client, "/api/inspections/NOPE/void", {"reason": "x"}).status_code == 404

    voided = post(client, f"/api/inspections/{insp_id}/void", {"reason": "wrong agent"})
    assert voided.status_code == 200, voided.text
    body = voided.json()
    assert (body["entity"], body["id"], body["month"], body["voided_by"], body["reason"]) == (
        "inspection", insp_id, "2025-06", "qa", "wrong agent")
    assert body["inspection"]["voided"] is True and body["inspection"]["void_reason"] == "wrong agent"
    june = result_row(session_factory, "A001", "2025-06")
    assert (june.n_inspections, june.complete) == (2, False), "recomputed: too few inspections now"
    again = post(client, f"/api/inspections/{insp_id}/void", {"reason": "again"})
    assert fields(again) == ["reason"] and again.json()["problems"][0]["key"] == "void.already"

    # HR corrects a disputed finding: the T2-05 no longer counts as an error.
    assert result_row(session_factory, "A002", "2025-06").error_defects == 1
    login(client, "hr")
    assert post(client, f"/api/defects/{defect_id}/void", {}).status_code == 400
    done = post(client, f"/api/defects/{defect_id}/void", {"reason": "agent disputed, upheld"})
    assert done.status_code == 200, done.text
    assert done.json()["inspection"]["score"] == "100"
    assert result_row(session_factory, "A002", "2025-06").error_defects == 0
    assert post(client, "/api/defects/999999/void", {"reason": "x"}).status_code == 404
    with session_factory() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "void").order_by(AuditEntry.id)).all()
        assert [(a.entity, a.actor, a.reason) for a in audit] == [
            ("inspection", "qa", "wrong agent"), ("defect", "hr", "agent disputed, upheld")]


# ------------------------------------------------------------------ HR


def test_month_results_with_event_filter(company, client):  # type: ignore[no-untyped-def]
    login(client, "hr")
    june = client.get("/api/months/2025-06/results?lang=en").json()
    assert [r["agent_id"] for r in june] == ["A001", "A002", "A003"]
    assert {r["composite"] for r in june} == {"93.86", "93.19"}
    assert len(client.get("/api/months/2025-06/results?event=waitlist").json()) == 3
    assert client.get("/api/months/2025-06/results?event=promote").json() == []
    assert fields(client.get("/api/months/2025-6/results")) == ["month"]
    en = client.get("/api/months/2025-6/results", headers={"accept-language": "en"}).json()["problems"][0]
    assert (en["problem"], en["key"]) == ("2025-6 is not a month (YYYY-MM).", "month.invalid")
    zh = client.get("/api/months/2025-6/results", headers={"accept-language": "zh-CN"}).json()["problems"][0]
    assert zh["problem"] == "2025-6 不是有效月份（YYYY-MM）。"
    assert client.get("/api/months/2025-06/results?event=party").status_code == 400
    assert client.get("/api/months/2030-01/results").json() == []


def test_hr_decisions_hold_then_approve(company, client, session_factory):  # type: ignore[no-untyped-def]
    require_approval_from(session_factory, "2025-06")
    login(client, "inspector")
    assert post(client, "/api/inspections", RED_LINE).status_code == 201
    login(client, "hr")
    decision = {"agent_id": "A001", "month": "2025-06", "action": "hold", "reason": ""}

    refused = post(client, "/api/decisions", decision, headers={"accept-language": "en"})
    assert fields(refused) == ["reason"] and refused.json()["problems"][0]["key"] == "reason_required"
    too_long = post(client, "/api/decisions", dict(decision, reason="x" * 2001), headers={"accept-language": "en"})
    assert fields(too_long) == ["reason"] and too_long.json()["problems"][0]["key"] == "reason_too_long"
    held = post(client, "/api/decisions?lang=en", dict(decision, reason="wait for the Q3 review"))
    assert held.status_code == 201, held.text
    body = held.json()
    assert (body["action"], body["decided_by"], body["reason"]) == ("hold", "hr", "wait for the Q3 review")
    assert (body["result"]["event"], body["result"]["next_level"]) == ("hold", 1)

    approved = post(client, "/api/decisions", dict(decision, action="approve"))
    assert approved.status_code == 201, approved.text
    assert (approved.json()["result"]["event"], approved.json()["result"]["next_level"]) == ("promote", 2)
    assert result_row(session_factory, "A001", "2025-06").next_level == 2
    with session_factory() as s:
        rows = s.scalars(select(HrDecisionRow).order_by(HrDecisionRow.id)).all()
        assert [(r.action, r.voided_at is not None) for r in rows] == [("hold", True), ("approve", False)]

    no_proposal = post(client, "/api/decisions", {"agent_id": "A002", "month": "2025-06", "action": "approve"})
    assert no_proposal.json()["problems"][0]["key"] == "not_a_proposal"
    approval_off = post(client, "/api/decisions", {"agent_id": "A001", "month": "2025-05", "action": "approve"})
    assert approval_off.json()["problems"][0]["key"] == "approval_off"
    unknown = post(client, "/api/decisions", {"agent_id": "A404", "month": "2025-06", "action": "approve"},
                   headers={"accept-language": "en"})
    assert fields(unknown) == ["agent_id"]
    assert unknown.json()["problems"][0]["problem"] == "There is no agent with ID A404."
    assert fields(post(client, "/api/decisions", {"agent_id": "A001", "month": "2025-06", "action": "promote"})) \
        == ["action"]
    assert fields(post(client, "/api/decisions", {"agent_id": "A001", "month": "June", "action": "approve"})) \
        == ["month"]


def test_rulebooks(company, client, session_factory):  # type: ignore[no-untyped-def]
    login(client, "admin")
    books = client.get("/api/rulebooks").json()
    assert [(b["version"], b["effective_from"], b["approval_required"]) for b in books] == [(1, "2000-01", False)]
    assert (books[0]["min_inspections"], books[0]["pass_mark"]) == (3, "60")
    require_approval_from(session_factory, "2025-06")
    books = client.get("/api/rulebooks").json()
    assert [(b["version"], b["effective_from"], b["approval_required"], b["label"]) for b in books] == [
        (1, "2000-01", False, "default"), (2, "2025-06", True, "approval on")]


# ------------------------------------------------------------------ CSRF and anonymous


def test_api_writes_need_the_csrf_header(company, client, session_factory):  # type: ignore[no-untyped-def]
    login(client, "inspector")
    no_header = client.post("/api/inspections", json=RED_LINE)
    assert no_header.status_code == 403
    wrong = client.post("/api/inspections", json=RED_LINE, headers={"x-csrftoken": "forged"})
    assert wrong.status_code == 403
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Inspection).where(Inspection.contact_ref == "CASE-77")) == 0
    assert post(client, "/api/inspections", RED_LINE).status_code == 201
    # As documented: a GET to the API hands out the token cookie that the header must repeat.
    client.cookies.delete("csrftoken")
    assert client.get("/api/me").status_code == 200
    token = client.cookies.get("csrftoken")
    assert token
    again = client.post("/api/inspections", json=dict(RED_LINE, contact_ref="CASE-78"), headers={"x-csrftoken": token})
    assert again.status_code == 201, again.text


def test_anonymous_gets_401_json(company, client):  # type: ignore[no-untyped-def]
    response = client.get("/api/me", follow_redirects=False)
    assert response.status_code == 401 and response.json()["status_code"] == 401
    assert post(client, "/api/decisions", {"agent_id": "A001", "month": "2025-06", "action": "approve"}).status_code \
        == 401
