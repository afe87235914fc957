"""HTTP behaviour of the HR area: who may reach what, CSRF, htmx partials, forms."""

from __future__ import annotations

import csv
import html
import io

import pytest
from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import HrDecisionRow, MonthResultRow, RulebookVersion
from starlevel.domain.rulebook import default_rulebook_document
from starlevel.services import hr
from starlevel.web import i18n
from tests.conftest import csrf_token, sign_in
from tests.seed import seed_company
from tests.web.test_hr_service import add_approval_version

GETS = ["/hr", "/hr?month=2024-09", "/hr/payroll", "/hr/payroll.csv?month=2025-06", "/hr/ladder.csv", "/hr/rulebook"]
ADMIN_MAY_VIEW = {"/hr", "/hr?month=2024-09", "/hr/rulebook"}
POSTS = ["/hr/decisions", "/hr/rulebook/preview", "/hr/rulebook"]
HX = {"HX-Request": "true"}
EN = i18n.gettext_for("en")
ZH = i18n.gettext_for("zh")


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    return seed_company(session_factory)


def _as(client, passwords, role: str):  # type: ignore[no-untyped-def]
    user, pw = passwords[role]
    assert sign_in(client, user, pw).status_code in (302, 303)
    return client


@pytest.mark.parametrize("url", GETS)
def test_anonymous_is_sent_to_sign_in(client, passwords, url: str) -> None:  # type: ignore[no-untyped-def]
    r = client.get(url, follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")


@pytest.mark.parametrize("role", ["agent", "inspector"])
def test_agents_and_inspectors_are_refused(client, passwords, role: str) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, role)
    token = csrf_token(client)
    for url in GETS:
        assert client.get(url).status_code == 403, url
    for url in POSTS:
        r = client.post(url, data={"_csrf_token": token, "agent_id": "A001", "month": "2024-09", "action": "approve"})
        assert r.status_code == 403, url
    with session_scope(client.app.state["session_factory"]) as s:
        assert s.scalar(select(func.count()).select_from(HrDecisionRow)) == 0


def test_hr_reaches_every_page_and_admin_only_views(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    for url in GETS:
        assert client.get(url).status_code == 200, url
    client.post("/logout", data={"_csrf_token": csrf_token(client)})
    _as(client, passwords, "admin")
    for url in GETS:
        assert client.get(url).status_code == (200 if url in ADMIN_MAY_VIEW else 403), url
    token = csrf_token(client)
    r = client.post("/hr/decisions", data={"_csrf_token": token, "agent_id": "A001", "month": "2025-06", "action": "approve"})
    assert r.status_code == 403
    page = client.get("/hr").text
    assert 'action="/hr/decisions"' not in page and "/hr/payroll" not in page


def test_posts_without_csrf_token_are_refused(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    for url in POSTS:
        assert client.post(url, data={"agent_id": "A001", "month": "2024-09", "action": "approve"}).status_code == 403
        assert client.post(url, data={"_csrf_token": "forged"}).status_code == 403


def test_anonymous_posts_are_sent_to_sign_in(client, passwords) -> None:  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    r = client.post("/hr/decisions", data={"_csrf_token": token, "agent_id": "A001", "month": "2024-09"}, follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")


def test_month_review_page_and_partials(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    client.cookies.set("lang", "en")
    page = client.get("/hr").text
    assert "<html" in page
    assert 'id="sec-waitlist"' in page
    assert 'id="row-A001"' in page
    assert EN("Headcount and quotas") in page and "waitlisted" in page
    # htmx filter: the review body only; the track filter narrows the lists.
    body = client.get("/hr?month=2025-06&track=online", headers=HX).text
    assert "<html" not in body and "row-A002" in body and "row-A001" not in body
    # htmx pager of one section: just that section.
    section = client.get("/hr?month=2025-06&section=waitlist&page=1", headers=HX).text
    assert section.lstrip().startswith("{%") is False and 'id="sec-waitlist"' in section and EN("Headcount and quotas") not in section
    client.cookies.set("lang", "zh")
    assert ZH("Month review") in client.get("/hr").text


def test_approve_via_htmx_returns_the_updated_row(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    add_approval_version(session_factory)
    _as(client, passwords, "hr")
    client.cookies.set("lang", "en")
    page = client.get("/hr?month=2024-09").text
    assert 'id="sec-pending"' in page and 'hx-post="/hr/decisions"' in page
    token = csrf_token(client)
    r = client.post("/hr/decisions", headers=HX,
                    data={"_csrf_token": token, "agent_id": "A001", "month": "2024-09", "action": "approve", "reason": ""})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<tr id="row-A001"') and "<html" not in r.text
    assert "Approved by hr" in r.text and "1★ → 2★" in r.text
    with session_scope(session_factory) as s:
        assert s.get(MonthResultRow, ("A001", "2024-10")).level == 2


def test_hold_without_reason_shows_the_message_in_place(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    add_approval_version(session_factory)
    _as(client, passwords, "hr")
    client.cookies.set("lang", "zh")
    token = csrf_token(client)
    form = {"_csrf_token": token, "agent_id": "A003", "month": "2024-09", "action": "hold", "reason": " "}
    r = client.post("/hr/decisions", headers=HX, data=form)
    assert r.status_code == 422  # base.html has htmx swap 422 responses
    assert ZH("A hold needs a reason: write why in the reason field.") in r.text and 'aria-invalid="true"' in r.text
    # The plain-form fallback re-renders the page with the message and 422.
    r = client.post("/hr/decisions", data=form)
    assert r.status_code == 422 and "<html" in r.text
    assert ZH("A hold needs a reason: write why in the reason field.") in r.text
    r = client.post("/hr/decisions", headers=HX, data={**form, "reason": "长" * 2001})
    assert r.status_code == 422 and ZH("The reason is too long (at most {limit} characters).").format(limit=2000) in r.text
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(HrDecisionRow)) == 0
    # With a reason the plain form redirects back to the month.
    r = client.post("/hr/decisions", data={**form, "reason": "on leave"}, follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/hr?month=2024-09")
    with session_scope(session_factory) as s:
        assert s.get(MonthResultRow, ("A003", "2024-09")).event == "hold"


def test_decision_where_approval_is_off(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    client.cookies.set("lang", "en")
    r = client.post("/hr/decisions", headers=HX, data={"_csrf_token": csrf_token(client), "agent_id": "A001",
                                                       "month": "2025-06", "action": "approve"})
    assert r.status_code == 422
    assert EN("This month's rulebook does not ask for HR approval; promotions take effect at once.") in html.unescape(r.text)


def test_payroll_page_and_csv(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    client.cookies.set("lang", "en")
    page = client.get("/hr/payroll?month=2025-06").text
    assert "Team 1" in page and "Team 2" in page and "6,732.00" in page
    r = client.get("/hr/payroll.csv?month=2025-06")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="payroll-2025-06.csv"' in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    agents = [x for x in rows if x["Line"] == "agent"]
    assert len(agents) == 3 and sum(float(x["Total pay"]) for x in agents) == 6732.0
    assert rows[-1]["Line"] == "Grand total" and rows[-1]["Total pay"] == "6732.00"
    assert client.get("/hr/payroll.csv?month=1999-01").status_code == 404
    ladder = client.get("/hr/ladder.csv")
    assert ladder.status_code == 200 and ladder.content.decode("utf-8-sig").splitlines()[0].startswith("agent_id,month,")


def _upload(client, text: str, effective: str = "2024-01", **extra):  # type: ignore[no-untyped-def]
    data = {"_csrf_token": csrf_token(client), "effective_from": effective, "label": "", "note": "", **extra}
    return client.post("/hr/rulebook/preview", data=data, files={"file": ("rules.toml", text.encode(), "application/toml")})


def test_rulebook_upload_preview_confirm(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    client.cookies.set("lang", "en")
    page = client.get("/hr/rulebook").text
    assert "A05" in page and "Typo in a reply" in page and 'name="toml"' in page
    assert "[[pay.grades]]" in page  # the version in force as editable TOML
    doc = default_rulebook_document()
    doc["quotas"] = {}
    text = hr.to_toml(doc)

    # Invalid: every problem is listed, nothing is stored.
    bad = text.replace('weight = "0.40"', 'weight = "0.30"').replace('pass_mark = "60"', 'pass_mark = "600"')
    r = _upload(client, bad)
    assert r.status_code == 422 and 'id="rulebook-problems"' in r.text
    assert "weights must total exactly 1" in r.text and "rulebook.pass_mark" in r.text
    assert 'value="2024-01"' in r.text  # the form keeps what was typed

    # Valid: a preview, nothing saved yet.
    r = _upload(client, text, note="quotas off")
    assert r.status_code == 200 and 'id="preview-summary"' in r.text and 'action="/hr/rulebook"' in r.text
    assert "A001" in r.text  # A001 would climb without quotas
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(RulebookVersion)) == 1

    # The textarea works too (no file).
    r = client.post("/hr/rulebook/preview", data={"_csrf_token": csrf_token(client), "effective_from": "2024-01", "toml": text},
                    files={"file": ("", b"", "application/octet-stream")})
    assert r.status_code == 200 and 'id="preview-summary"' in r.text

    # Confirm: stored and recomputed.
    r = client.post("/hr/rulebook", data={"_csrf_token": csrf_token(client), "effective_from": "2024-01", "label": "no quotas",
                                          "note": "quotas off", "toml": text}, follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"] == "/hr/rulebook?saved=2"
    with session_scope(session_factory) as s:
        assert s.get(RulebookVersion, 2).created_by == "hr"
        assert s.get(MonthResultRow, ("A001", "2024-09")).event == "promote"
    saved = client.get("/hr/rulebook?saved=2").text
    assert "no quotas" in saved and "quotas off" in saved

    # A confirm with a broken document is refused with the problems.
    r = client.post("/hr/rulebook", data={"_csrf_token": csrf_token(client), "effective_from": "nope", "toml": text})
    assert r.status_code == 422 and "effective_from" in r.text


def test_rulebook_upload_rejects_a_non_utf8_file(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    client.cookies.set("lang", "en")
    r = client.post("/hr/rulebook/preview", data={"_csrf_token": csrf_token(client), "effective_from": "2024-01"},
                    files={"file": ("rules.toml", "名字".encode("gbk"), "application/toml")})
    assert r.status_code == 422 and EN("The uploaded file is not UTF-8 text.") in r.text


def test_rulebook_problems_are_shown_in_chinese(client, passwords) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "hr")
    client.cookies.set("lang", "zh")
    text = hr.to_toml(default_rulebook_document()).replace('pass_mark = "60"', 'pass_mark = "600"')
    r = _upload(client, text)
    assert r.status_code == 422
    page = html.unescape(r.text)
    assert "rulebook.pass_mark：不得超过 100，实为 600" in page
    assert "must be at most" not in page
