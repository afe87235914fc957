"""Disputes and acknowledgement over HTTP: the pages, the JSON API and their guards."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import Dispute, Inspection, InspectionDefect, MonthResultRow
from starlevel.services import users
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company

QA2 = ("qa2", "qa2-pass-12")


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        users.create_user(s, QA2[0], role="inspector", password=QA2[1])
    return session_factory


def login(client, username: str, password: str):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    assert sign_in(client, username, password).status_code in (302, 303)
    client.cookies.set("lang", "en")
    return client


def post_json(client, path: str, body):  # type: ignore[no-untyped-def]
    return client.post(path, json=body, headers={"x-csrftoken": csrf_token(client)})


def post_form(client, path: str, data: dict):  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    return client.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)


def defect_of(factory, agent: str, month: str = "2025-06") -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with factory() as s:
        d = s.scalars(select(InspectionDefect).join(Inspection).where(
            Inspection.agent_id == agent, Inspection.month == month).order_by(InspectionDefect.id)).first()
        return d.id, d.inspection_id


def quality(factory, agent: str = "A001", month: str = "2025-06"):  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.get(MonthResultRow, (agent, month)).quality


def test_pages_file_review_escalate_and_decide(client, company) -> None:  # type: ignore[no-untyped-def]
    defect_id, _ = defect_of(company, "A001")
    login(client, *PASSWORDS["agent"])
    inbox = client.get("/me/inspections")
    assert inbox.status_code == 200 and f'data-defect-id="{defect_id}"' in inbox.text
    star = client.get("/me")
    assert 'id="unseen-banner"' in star.text
    # A reason is required: the form comes back with the message in place.
    refused = post_form(client, "/me/disputes", {"defect_id": str(defect_id), "reason": " "})
    assert refused.status_code == 422 and "Give a reason for the dispute." in refused.text
    filed = post_form(client, "/me/disputes", {"defect_id": str(defect_id), "reason": "customer confirmed"})
    assert filed.status_code == 303 and filed.headers["location"].startswith("/me/disputes?filed=")
    assert "Waiting for review" in client.get(filed.headers["location"]).text

    # The inspection's own inspector sees it but cannot decide; the count is not theirs.
    login(client, *PASSWORDS["inspector"])
    page = client.get("/disputes")
    assert "Your inspection: another inspector decides." in page.text
    assert not re.search(r'href="/disputes"[^>]*>Disputes <span class="count"', page.text)
    dispute_id = int(re.search(r'data-dispute-id="(\d+)"', page.text).group(1))
    own = post_form(client, f"/disputes/{dispute_id}/decide", {"outcome": "upheld"})
    assert own.status_code == 403

    login(client, *QA2)
    page = client.get("/disputes")
    assert re.search(r'Disputes <span class="count"><span class="n"[^>]*>1</span>', page.text)
    before = quality(company)
    reject = post_form(client, f"/disputes/{dispute_id}/decide", {"outcome": "rejected", "note": ""})
    assert reject.status_code == 422 and "A rejection needs a note saying why." in reject.text
    done = post_form(client, f"/disputes/{dispute_id}/decide", {"outcome": "rejected", "note": "heard the call"})
    assert done.status_code == 303
    assert quality(company) == before

    login(client, *PASSWORDS["agent"])
    mine = client.get("/me")
    assert re.search(r'My disputes <span class="count"><span class="n"[^>]*>1</span>', mine.text)
    assert "Escalate to HR" in client.get("/me/disputes").text
    assert post_form(client, f"/me/disputes/{dispute_id}/escalate", {"note": "listen again"}).status_code == 303
    again = post_form(client, f"/me/disputes/{dispute_id}/escalate", {})
    assert again.status_code == 422 and "only once" in again.text

    login(client, *PASSWORDS["hr"])
    assert "listen again" in client.get("/disputes").text
    assert post_form(client, f"/disputes/{dispute_id}/decide", {"outcome": "upheld", "note": "ok"}).status_code == 303
    assert quality(company) > before
    assert "Upheld by HR (final)" in client.get("/disputes?status=all").text


def test_seen_marks_inspections(client, company) -> None:  # type: ignore[no-untyped-def]
    login(client, *PASSWORDS["agent"])
    page = client.get("/me/inspections")
    n = int(re.search(r"(\d+) not yet seen", page.text).group(1))
    iid = re.findall(r'<input type="hidden" name="inspection_id" value="([^"]+)">\s*<button type="submit">Mark as seen', page.text)[0]
    assert post_form(client, "/me/inspections/seen", {"inspection_id": iid}).status_code == 303
    assert f"{n - 1} not yet seen" in client.get("/me/inspections").text
    # htmx gets the list back in place.
    r = client.post("/me/inspections/seen", data={"_csrf_token": csrf_token(client), "all": "1"},
                    headers={"hx-request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="inbox">') and "0 not yet seen" in r.text
    assert 'id="unseen-banner"' not in client.get("/me").text


def test_api_disputes(client, company) -> None:  # type: ignore[no-untyped-def]
    ann_defect, _ = defect_of(company, "A001")
    bob_defect, bob_inspection = defect_of(company, "A002")
    login(client, *PASSWORDS["agent2"])
    foreign = post_json(client, "/api/disputes", {"defect_id": ann_defect, "reason": "x"})
    assert foreign.status_code == 404 and foreign.json()["problems"][0]["key"] == "target.missing"
    both = post_json(client, "/api/disputes", {"defect_id": bob_defect, "inspection_id": bob_inspection, "reason": "x"})
    assert both.status_code == 400 and both.json()["problems"][0]["field"] == "target"
    long = post_json(client, "/api/disputes", {"inspection_id": bob_inspection, "reason": "x" * 5000})
    assert long.status_code == 400 and long.json()["problems"][0]["key"] == "text.too_long"
    made = post_json(client, "/api/disputes", {"inspection_id": bob_inspection, "reason": "not my call"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["status"] == "open" and body["defect_id"] is None and body["agent_id"] == "A002"
    client.cookies.set("lang", "zh")
    zh = post_json(client, "/api/disputes", {"inspection_id": bob_inspection, "reason": "again"})
    assert zh.status_code == 400 and "已经申诉过了" in zh.json()["problems"][0]["problem"]
    assert [d["id"] for d in client.get("/api/disputes").json()] == [body["id"]]

    login(client, *PASSWORDS["agent"])
    assert client.get("/api/disputes").json() == []  # an agent sees only their own
    assert post_json(client, f"/api/disputes/{body['id']}/escalate", {}).status_code == 404

    login(client, *PASSWORDS["inspector"])
    own = post_json(client, f"/api/disputes/{body['id']}/decide", {"outcome": "upheld"})
    assert own.status_code == 403 and own.json()["problems"][0]["key"] == "decide.own"
    login(client, *QA2)
    bad = post_json(client, f"/api/disputes/{body['id']}/decide", {"outcome": "maybe"})
    assert bad.status_code == 400
    rejected = post_json(client, f"/api/disputes/{body['id']}/decide", {"outcome": "rejected", "note": "no"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"

    login(client, *PASSWORDS["agent2"])
    esc = client.post(f"/api/disputes/{body['id']}/escalate", headers={"x-csrftoken": csrf_token(client)})
    assert esc.status_code == 200 and esc.json()["status"] == "escalated"

    login(client, *PASSWORDS["hr"])
    assert [d["status"] for d in client.get("/api/disputes?status=escalated").json()] == ["escalated"]
    final = post_json(client, f"/api/disputes/{body['id']}/decide", {"outcome": "upheld", "note": "agreed"})
    assert final.status_code == 200 and final.json()["status"] == "hr_upheld"
    with company() as s:
        assert s.get(Inspection, bob_inspection).void_reason.startswith(f"dispute #{body['id']}:")
        assert s.get(Dispute, body["id"]).final_by == "hr"

    schema = client.get("/schema/openapi.json").json()
    assert {"/api/disputes", "/api/disputes/{dispute_id}/decide", "/api/disputes/{dispute_id}/escalate"} <= set(schema["paths"])
    assert "Roles: agent." in schema["paths"]["/api/disputes"]["post"]["description"]


def test_hostile_ids_name_no_record(client, company) -> None:  # type: ignore[no-untyped-def]
    huge = "9" * 30
    login(client, *PASSWORDS["agent"])
    assert post_form(client, f"/me/disputes/{huge}/escalate", {}).status_code == 404
    assert post_form(client, "/me/disputes/%C2%B2/escalate", {}).status_code == 404
    refused = post_form(client, "/me/disputes", {"defect_id": huge, "reason": "x"})
    assert refused.status_code == 422  # neither a defect nor an inspection named
    assert post_json(client, f"/api/disputes/{huge}/escalate", {}).status_code == 400
    login(client, *QA2)
    assert post_form(client, f"/disputes/{huge}/decide", {"outcome": "upheld"}).status_code == 404
    assert client.get(f"/calibration/{huge}").status_code == 404
    assert post_form(client, f"/calibration/1/items/{huge}/score", {}).status_code == 404
