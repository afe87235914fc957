"""The QA inspector's workspace: the service (create, validate, void, list, coverage,
upload) and its HTTP routes (htmx partials and plain form posts, permissions)."""

from __future__ import annotations

import re
import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, insert, select

from starlevel.db.engine import session_scope
from starlevel.db.models import Agent, AuditEntry, Inspection, InspectionDefect, MonthResultRow
from starlevel.services import inspections as svc
from starlevel.services import rulebooks
from starlevel.services import users
from starlevel.services.importer import ImportRejected
from starlevel.services.recompute import recompute
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company
from tests.test_import import _xlsx

TODAY = date(2026, 11, 25)
WEB_TODAY = date(2025, 6, 28)
HX = {"HX-Request": "true"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):  # type: ignore[no-untyped-def]
    """Sign-in is not under test here: hash the seed's passwords quickly."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(autouse=True)
def june_2025(monkeypatch):  # type: ignore[no-untyped-def]
    """The pages' clock: late June 2025, the seed's last month, is the month in progress."""
    monkeypatch.setenv("STARLEVEL_TODAY", WEB_TODAY.isoformat())


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    """The seed company plus a leaver (A004) and a June hire without inspections (A005)."""
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        s.add(Agent(agent_id="A004", name="Dan Leaver", track="phone", team="Team 1",
                    hired_on=date(2024, 2, 1), left_on=date(2025, 3, 31)))
        s.add(Agent(agent_id="A005", name="Eve New", track="online", team="Team 2", hired_on=date(2025, 6, 2)))
        users.create_user(s, "qa2", role="inspector", password="qa2-pass-12")
        s.flush()
        recompute(s)
    return session_factory


def draft(**kw: object) -> svc.Draft:
    fields: dict[str, object] = {"agent_id": "A001", "contact_on": "2025-06-20", "channel": "chat",
                                 "contact_ref": "NEW-1"}
    fields.update(kw)
    return svc.Draft(**fields)  # type: ignore[arg-type]


def picks(*items: tuple[str, str, str]) -> dict[str, svc.Pick]:
    return {code: svc.Pick(code, count, note) for code, count, note in items}


def count_inspections(factory) -> int:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        return s.scalar(select(func.count()).select_from(Inspection)) or 0


def n_inspections(factory, agent_id: str, month: str) -> int | None:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        row = s.get(MonthResultRow, (agent_id, month))
        return row.n_inspections if row else None


# ============================================================================ service


def test_form_parsing_repeats_codes_by_count():
    d = svc.Draft.from_form({
        "agent_id": [""], "agent_q": [" A001 "], "contact_on": ["2025-06-20"], "channel": ["chat"],
        "contact_ref": ["R1"], "code": ["T1-01", "T2-05", "T1-01"], "n_T1-01": ["3"], "note_T2-05": [" rude "],
    })
    assert d.chosen_agent_id == "A001"
    assert d.codes() == ["T1-01", "T1-01", "T1-01", "T2-05"]
    assert d.picks["T2-05"].note == "rude"


def test_score_preview_uses_the_domain_score(company):  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        rb = rulebooks.current(s)
        p = svc.score_preview(rb, draft(picks=picks(("T1-01", "2", ""), ("T2-05", "1", ""))))
        assert p.score == Decimal(91)  # 100 - 2×2 - 5
        assert p.lines == [("T1-01", 2, Decimal(4)), ("T2-05", 1, Decimal(5))]
        assert p.red_line == []
        p = svc.score_preview(rb, draft(picks=picks(("T3-01", "11", ""))))
        assert p.score == 0 and p.red_line == ["T3-01"]  # clamped at zero


def test_create_stores_defects_audits_and_recomputes(company):  # type: ignore[no-untyped-def]
    before = n_inspections(company, "A001", "2025-06")
    with session_scope(company) as s:
        insp = svc.create(s, draft(picks=picks(("T1-01", "2", "typo twice"), ("T2-05", "1", "rude"))),
                          actor="qa", today=TODAY)
        iid = insp.inspection_id
    assert re.fullmatch(r"W20261125-0001", iid)
    with session_scope(company) as s:
        row = s.get(Inspection, iid)
        assert row is not None
        assert (row.agent_id, row.month, row.channel, row.contact_ref, row.inspector) == \
            ("A001", "2025-06", "chat", "NEW-1", "qa")
        assert [(d.position, d.code, d.note) for d in row.defects] == [
            (0, "T1-01", "typo twice"), (1, "T1-01", "typo twice"), (2, "T2-05", "rude")]
        entry = s.scalar(select(AuditEntry).where(AuditEntry.entity == "inspection", AuditEntry.entity_id == iid))
        assert entry is not None and entry.action == "create" and entry.actor == "qa"
        second = svc.create(s, draft(contact_ref="NEW-2"), actor="qa", today=TODAY)
        assert second.inspection_id == "W20261125-0002"
    assert n_inspections(company, "A001", "2025-06") == (before or 0) + 2


def _existing_ref(factory, agent_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        row = s.scalars(select(Inspection).where(Inspection.agent_id == agent_id).limit(1)).one()
        return row.contact_ref, row.inspection_id


VALIDATION_CASES = [
    ("missing agent", dict(agent_id=""), "agent_id", "agent.missing"),
    ("unknown agent", dict(agent_id="Z999"), "agent_id", "agent.unknown"),
    ("missing date", dict(contact_on=""), "contact_on", "date.missing"),
    ("bad date", dict(contact_on="2025-02-30"), "contact_on", "date.invalid"),
    ("future date", dict(contact_on="2026-11-26"), "contact_on", "date.future"),
    ("before hire", dict(contact_on="2024-01-04"), "contact_on", "date.before_hire"),
    ("after leaving", dict(agent_id="A004", contact_on="2025-04-01"), "contact_on", "date.after_leave"),
    ("missing channel", dict(channel=""), "channel", "channel.missing"),
    ("unknown channel", dict(channel="fax"), "channel", "channel.unknown"),
    ("empty ref", dict(contact_ref=""), "contact_ref", "ref.missing"),
    ("unknown code", dict(picks=picks(("T9-99", "1", ""))), "codes", "code.unknown"),
    ("bad count", dict(picks=picks(("T1-01", "0", ""))), "n_T1-01", "code.count"),
]


@pytest.mark.parametrize(("label", "change", "field", "key"), VALIDATION_CASES, ids=[c[0] for c in VALIDATION_CASES])
def test_validation_problems_write_nothing(company, label, change, field, key):  # type: ignore[no-untyped-def]
    total = count_inspections(company)
    with session_scope(company) as s:
        with pytest.raises(svc.InvalidInspection) as caught:
            svc.create(s, draft(**change), actor="qa", today=TODAY)
    assert [(p.field, p.key) for p in caught.value.problems] == [(field, key)]
    assert count_inspections(company) == total


def test_duplicate_contact_ref_only_among_live_inspections(company):  # type: ignore[no-untyped-def]
    ref, other = _existing_ref(company, "A002")
    with session_scope(company) as s:
        with pytest.raises(svc.InvalidInspection) as caught:
            svc.create(s, draft(agent_id="A002", contact_ref=ref), actor="qa", today=TODAY)
        [problem] = caught.value.problems
        assert (problem.field, problem.key, problem.params["other"]) == ("contact_ref", "ref.duplicate", other)
        # The same reference for another agent is a different contact.
        svc.create(s, draft(agent_id="A001", contact_ref=ref), actor="qa", today=TODAY)
    with session_scope(company) as s:
        svc.void_inspection(s, other, reason="wrong agent", actor="qa")
    with session_scope(company) as s:
        svc.create(s, draft(agent_id="A002", contact_ref=ref), actor="qa", today=TODAY)


def test_void_inspection_needs_a_reason_and_recomputes(company):  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        iid = svc.create(s, draft(), actor="qa", today=TODAY).inspection_id
    before = n_inspections(company, "A001", "2025-06")
    with session_scope(company) as s:
        for reason in ("", "   "):
            with pytest.raises(svc.InvalidVoid) as caught:
                svc.void_inspection(s, iid, reason=reason, actor="qa")
            assert caught.value.problem.key == "reason.missing"
    with session_scope(company) as s:
        insp = svc.void_inspection(s, iid, reason="duplicate sample", actor="hr")
        assert insp.voided_by == "hr" and insp.void_reason == "duplicate sample"
    assert n_inspections(company, "A001", "2025-06") == (before or 0) - 1
    with session_scope(company) as s:
        assert s.get(Inspection, iid) is not None  # never deleted
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "void", AuditEntry.entity_id == iid))
        assert entry is not None and entry.reason == "duplicate sample" and entry.actor == "hr"
        with pytest.raises(svc.InvalidVoid) as caught:
            svc.void_inspection(s, iid, reason="again", actor="qa")
        assert caught.value.problem.key == "void.already"


def test_void_defect_restores_the_points(company):  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        insp = svc.create(s, draft(picks=picks(("T2-05", "2", ""))), actor="qa", today=TODAY)
        iid = insp.inspection_id
        first = insp.defects[0].id
        assert svc.row_of(s, insp).score == Decimal(90)
    with session_scope(company) as s:
        with pytest.raises(svc.InvalidVoid):
            svc.void_defect(s, first, reason="", actor="qa")
    with session_scope(company) as s:
        insp = svc.void_defect(s, first, reason="misheard", actor="qa")
        row = svc.row_of(s, insp)
        assert row.score == Decimal(95) and not row.voided
        assert [d.voided_by for d in row.defects] == ["qa", None]
    with session_scope(company) as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.entity == "defect", AuditEntry.entity_id == str(first)))
        assert s.get(Inspection, iid) is not None


def test_list_filters(company):  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        mine = svc.create(s, draft(picks=picks(("T3-01", "1", ""))), actor="qa2", today=TODAY).inspection_id
    with session_scope(company) as s:
        june = svc.list_inspections(s, svc.ListFilters(month="2025-06"), per_page=100)
        assert june.total == 10 and june.rows[0].inspection.inspection_id == mine  # newest recorded first
        assert svc.list_inspections(s, svc.ListFilters(month="2025-06", inspector="qa2")).total == 1
        assert svc.list_inspections(s, svc.ListFilters(month="2025-06", inspector="qa")).total == 9
        by_agent = svc.list_inspections(s, svc.ListFilters(month="2025-06", agent="bob"), per_page=100)
        assert {r.inspection.agent_id for r in by_agent.rows} == {"A002"} and by_agent.total == 3
        assert svc.list_inspections(s, svc.ListFilters(month="2025-06", agent="a002")).total == 3
        tier2 = svc.list_inspections(s, svc.ListFilters(month="2025-06", tier=2))
        assert tier2.total == 1 and tier2.rows[0].inspection.agent_id == "A002"
        tier3 = svc.list_inspections(s, svc.ListFilters(month="2025-06", tier=3))
        assert [r.inspection.inspection_id for r in tier3.rows] == [mine]
        paged = svc.list_inspections(s, svc.ListFilters(month="2025-06"), page=3, per_page=4)
        assert (paged.page, paged.pages, len(paged.rows)) == (3, 3, 2)
        assert svc.latest_month(s) == "2025-06"
        assert svc.latest_month(s, "nobody") == "2025-06"


def test_coverage_lists_agents_short_of_the_minimum(company):  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        iid = s.scalars(select(Inspection.inspection_id).where(
            Inspection.agent_id == "A001", Inspection.month == "2025-06")).first()
        svc.void_inspection(s, iid, reason="test", actor="qa")
    with session_scope(company) as s:
        cov = svc.coverage(s, "2025-06")
        assert cov.required == 3
        # A004 left in March; A005 joined in June with nothing yet; A001 lost one.
        assert cov.rows == [("A005", "Eve New", 0, 3), ("A001", "Ann Lee", 2, 1)]
        assert (cov.short, cov.missing, cov.active) == (2, 4, 4)
        cov = svc.coverage(s, "2025-03")
        assert [r[0] for r in cov.rows] == ["A004"]


def test_coverage_is_one_aggregate_fast_on_10000_agents(session_factory):  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        s.execute(insert(Agent), [
            {"agent_id": f"B{i:05d}", "name": f"Agent {i}", "track": "phone", "team": "T",
             "hired_on": date(2024, 1, 1), "initial_level": 1, "probation_months": 3}
            for i in range(10_000)
        ])
        s.execute(insert(Inspection), [
            {"inspection_id": f"X{i:06d}", "agent_id": f"B{i % 10_000:05d}", "contact_on": date(2025, 6, 3),
             "month": "2025-06", "channel": "chat", "contact_ref": f"R{i}", "inspector": "qa"}
            for i in range(25_000)
        ])
    statements: list[str] = []
    with session_scope(session_factory) as s:
        engine = s.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            t0 = time.perf_counter()
            cov = svc.coverage(s, "2025-06")
            seconds = time.perf_counter() - t0
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    # i % 10000 < 5000 got three inspections, the other half two: 5,000 agents need one more.
    assert (cov.short, cov.missing, cov.active) == (5000, 5000, 10_000)
    assert len(cov.rows) == svc.COVERAGE_LIMIT and cov.rows[0] == ("B05000", "Agent 5000", 2, 1)
    assert len(statements) <= 5, statements  # aggregates, not a query per agent
    print(f"coverage of 10,000 agents: {seconds:.3f}s")
    assert seconds < 2.0


def test_upload_service_all_or_nothing(company):  # type: ignore[no-untyped-def]
    good = ("inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
            "U1,A001,2025-06-21,phone,UP-1,qa,T1-01;T1-01\n")
    with session_scope(company) as s:
        result = svc.upload(s, "inspections", good.encode(), filename="i.csv", actor="qa", today=TODAY)
        assert (result.rows, result.inserted, result.first_affected_month) == (1, 1, "2025-06")
    total = count_inspections(company)
    bad = good.replace("U1,", "U2,").replace("UP-1", "UP-2") + "U3,Z404,2025-06-21,fax,UP-3,qa,\n"
    with session_scope(company) as s:
        with pytest.raises(ImportRejected) as caught:
            svc.upload(s, "inspections", bad.encode(), filename="i.csv", actor="qa", today=TODAY)
    assert {(e.row, e.column) for e in caught.value.errors} == {(3, "agent_id"), (3, "channel")}
    assert count_inspections(company) == total
    assert svc.upload_kinds("inspector") == ("inspections", "metrics")
    assert "agents" in svc.upload_kinds("hr")
    with session_scope(company) as s:
        assert svc.template_csv(s, "metrics").splitlines()[0] == "agent_id,month,satisfaction,efficiency,attitude,complaints"


# =============================================================================== HTTP


@pytest.fixture
def qa(client, company):  # type: ignore[no-untyped-def]
    client.headers.update(EN)
    assert sign_in(client, *PASSWORDS["inspector"]).status_code in (302, 303)
    return client


def form(client, **kw: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"_csrf_token": csrf_token(client), "agent_id": "A001", "agent_q": "A001",
                               "contact_on": "2025-06-20", "channel": "chat", "contact_ref": "WEB-1"}
    data.update(kw)
    return data


def errors_in(html: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', html)


def test_page_shows_form_catalog_list_and_coverage(qa):  # type: ignore[no-untyped-def]
    r = qa.get("/inspections")
    assert r.status_code == 200
    html = r.text
    assert 'id="inspection-form"' in html and 'name="agent_id"' in html
    assert f'name="contact_on" value="{WEB_TODAY.isoformat()}"' in html
    for channel in ("chat", "message", "phone", "complaint"):
        assert f'<option value="{channel}"' in html
    assert "Tier 3" in html and "severe" in html and "Red line" in html and "Typo in a reply" in html
    assert html.count('name="code"') == 18
    assert "My inspections" in html and 'value="2025-06"' in html  # the month in progress
    assert html.count('class="insp-row') == 9  # June: 3 agents × 3
    assert 'id="coverage"' in html and "Eve New" in html  # A005 has no June inspections yet


def test_page_in_chinese(client, company):  # type: ignore[no-untyped-def]
    client.headers.update({"Accept-Language": "zh-CN"})
    sign_in(client, *PASSWORDS["inspector"])
    html = client.get("/inspections").text
    assert "新建质检" in html and "严重" in html and "有错别字" in html and "只看我的" in html


def test_create_with_htmx_returns_fresh_form_and_new_row(qa, company):  # type: ignore[no-untyped-def]
    data = form(qa, code=["T1-01", "T2-05"], **{"n_T1-01": "2", "note_T2-05": "rude", "view_month": "2025-06"})
    r = qa.post("/inspections", data=data, headers=HX)
    assert r.status_code == 200
    html = r.text
    saved = re.search(r"Inspection (W\d{8}-\d{4}) saved", html)
    assert saved
    iid = saved.group(1)
    assert 'hx-swap-oob="afterbegin:#inspection-rows"' in html and f'data-inspection-id="{iid}"' in html
    assert 'value="WEB-1"' not in html  # the form is cleared
    assert 'id="coverage"' in html and 'hx-swap-oob="true"' in html  # coverage of the month on show refreshed
    with session_scope(company) as s:
        insp = s.get(Inspection, iid)
        assert insp is not None and insp.inspector == "qa" and [d.code for d in insp.defects] == ["T1-01", "T1-01", "T2-05"]


def test_create_without_js_redirects(qa, company):  # type: ignore[no-untyped-def]
    r = qa.post("/inspections", data=form(qa, agent_id="", agent_q="a002"), follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/inspections?month=2025-06&saved=W")
    page = qa.get(r.headers["location"]).text
    assert "saved." in page and "WEB-1" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(agent_id="", agent_q=""), "Choose an agent."),
        (dict(agent_id="", agent_q="Nobody"), "There is no agent with ID Nobody."),
        (dict(contact_on="2099-01-01"), "The contact date cannot be in the future"),
        (dict(contact_on="2023-12-31"), "The contact date is before agent A001 was hired"),
        (dict(agent_id="A004", agent_q="A004", contact_on="2025-05-01"), "The contact date is after agent A004 left"),
        (dict(channel=""), "Choose a channel."),
        (dict(channel="fax"), "fax is not a channel."),
        (dict(contact_ref=""), "Enter the contact reference."),
        (dict(code=["NOPE"]), "NOPE is not a defect code of the rulebook."),
        (dict(code=["T1-01"], **{"n_T1-01": "99"}), "The count of T1-01 must be a whole number from 1 to 20."),
    ],
)
def test_validation_errors_in_place(qa, company, change, message):  # type: ignore[no-untyped-def]
    total = count_inspections(company)
    r = qa.post("/inspections", data=form(qa, **change), headers=HX)
    assert r.status_code == 422
    assert any(e.startswith(message) for e in errors_in(r.text)), errors_in(r.text)
    assert "Nothing was saved" in r.text
    assert 'id="inspection-form"' in r.text and "<html" not in r.text
    assert count_inspections(company) == total
    # The form keeps what was typed.
    assert f'value="{change.get("contact_ref", "WEB-1")}"' in r.text


def test_duplicate_ref_and_without_js(qa, company):  # type: ignore[no-untyped-def]
    ref, other = _existing_ref(company, "A001")
    r = qa.post("/inspections", data=form(qa, contact_ref=ref))
    assert r.status_code == 422 and "<html" in r.text
    assert f"Agent A001 already has inspection {other} of contact {ref}." in errors_in(r.text)
    assert 'class="insp-row' in r.text  # the whole page, list included


def test_validation_message_in_chinese(client, company):  # type: ignore[no-untyped-def]
    client.headers.update({"Accept-Language": "zh-CN"})
    sign_in(client, *PASSWORDS["inspector"])
    r = client.post("/inspections", data=form(client, contact_on="2099-01-01"), headers=HX)
    assert r.status_code == 422
    assert any(e.startswith("接待日期不能晚于今天") for e in errors_in(r.text))


def test_live_score_and_agent_search(qa):  # type: ignore[no-untyped-def]
    r = qa.get("/inspections/score", params=[("code", "T1-01"), ("n_T1-01", "2"), ("code", "T3-02")])
    assert r.status_code == 200
    assert 'data-score="86"' in r.text and "Red line: T3-02" in r.text
    r = qa.get("/inspections/score")
    assert 'data-score="100"' in r.text
    r = qa.get("/inspections/agent-search", params={"agent_q": "bob"})
    assert "A002" in r.text and "Bob Wu" in r.text and "A001" not in r.text
    assert 'id="agent_id" name="agent_id" value="" hx-swap-oob="true"' in r.text  # typing clears the pick
    r = qa.get("/inspections/agent-search", params={"pick": "A003"})
    assert 'name="agent_id" value="A003"' in r.text and "陈静" in r.text


def _live_id(factory, agent_id: str = "A002", month: str = "2025-06") -> str:  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        return s.scalars(select(Inspection.inspection_id).where(
            Inspection.agent_id == agent_id, Inspection.month == month, Inspection.voided_at.is_(None))).first()


def test_void_needs_a_reason_in_place(qa, company):  # type: ignore[no-untyped-def]
    iid = _live_id(company)
    token = csrf_token(qa)
    r = qa.post("/inspections/void", data={"_csrf_token": token, "inspection_id": iid, "reason": " "}, headers=HX)
    assert r.status_code == 422
    assert r.text.lstrip().startswith("<tr") and "Give a reason for voiding." in errors_in(r.text)
    with session_scope(company) as s:
        assert s.get(Inspection, iid).voided_at is None
    r = qa.post("/inspections/void", data={"_csrf_token": token, "inspection_id": iid, "reason": "x" * 2001}, headers=HX)
    assert r.status_code == 422 and "The reason is too long (at most 2000 characters)." in errors_in(r.text)
    with session_scope(company) as s:
        assert s.get(Inspection, iid).voided_at is None
    before = n_inspections(company, "A002", "2025-06")
    r = qa.post("/inspections/void", data={"_csrf_token": token, "inspection_id": iid, "reason": "sampled twice"},
                headers=HX)
    assert r.status_code == 200
    assert 'class="insp-row voided"' in r.text and "sampled twice" in r.text and "Voided" in r.text
    assert n_inspections(company, "A002", "2025-06") == (before or 0) - 1
    with session_scope(company) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "void", AuditEntry.entity_id == iid))
        assert entry is not None and entry.actor == "qa"
    # The voided row stays in the list.
    assert f'data-inspection-id="{iid}"' in qa.get("/inspections?month=2025-06&mine=0").text


def test_void_defect_and_plain_post(qa, company):  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        defect = s.scalars(select(InspectionDefect).join(Inspection).where(
            Inspection.agent_id == "A002", Inspection.month == "2025-06", InspectionDefect.code == "T2-05")).first()
        defect_id, iid = defect.id, defect.inspection_id
    token = csrf_token(qa)
    r = qa.post("/inspections/defects/void", data={"_csrf_token": token, "defect_id": str(defect_id), "reason": ""})
    assert r.status_code == 422 and "<html" in r.text and "Give a reason for voiding." in errors_in(r.text)
    r = qa.post("/inspections/defects/void", follow_redirects=False,
                data={"_csrf_token": token, "defect_id": str(defect_id), "reason": "not rude", "back": "/inspections?month=2025-06"})
    assert r.status_code == 303 and r.headers["location"] == "/inspections?month=2025-06"
    with session_scope(company) as s:
        d = s.get(InspectionDefect, defect_id)
        assert d.void_reason == "not rude" and d.voided_by == "qa"
        assert s.get(Inspection, iid).voided_at is None
    r = qa.post("/inspections/defects/void", data={"_csrf_token": token, "defect_id": "999999", "reason": "x"})
    assert r.status_code == 404


def test_filters_over_http(qa, company):  # type: ignore[no-untyped-def]
    r = qa.get("/inspections", params={"month": "2025-05", "agent": "A002", "tier": "2", "mine": ["0", "1"]},
               headers=HX)
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.count('class="insp-row') == 1 and "T2-05" in r.text
    assert "Coverage May 2025" in r.text
    r = qa.get("/inspections", params={"month": "2025-05", "mine": "0", "tier": "3"})
    assert "No inspections match." in r.text and r.text.count('class="insp-row') == 0
    qa.post("/inspections", data=form(qa), headers=HX)
    # qa2 has recorded nothing: "mine only" is empty for them, all shows everything.
    qa.post("/logout", data={"_csrf_token": csrf_token(qa)})
    sign_in(qa, "qa2", "qa2-pass-12")
    assert qa.get("/inspections?month=2025-06").text.count('class="insp-row') == 0
    assert qa.get("/inspections?month=2025-06&mine=0").text.count('class="insp-row') == 10


def test_pagination(qa):  # type: ignore[no-untyped-def]
    html = qa.get("/inspections?month=2025-06&mine=0").text
    assert "Page 1 of" not in html  # 9 rows fit one page
    html = qa.get("/inspections?month=bogus&page=x").text  # bad values fall back to defaults
    assert 'value="2025-06"' in html


def _upload(client, kind: str, name: str, content: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post("/uploads", data={"_csrf_token": csrf_token(client), "kind": kind},
                       files={"file": (name, content, "application/octet-stream")}, headers=headers or {})


INSPECTION_HEADER = ["inspection_id", "agent_id", "contact_on", "channel", "contact_ref", "inspector", "defect_codes"]


def test_upload_csv_ok_then_same_file_unchanged(qa, company):  # type: ignore[no-untyped-def]
    assert qa.get("/uploads").status_code == 200
    csv = ",".join(INSPECTION_HEADER) + "\nUP1,A001,2025-06-22,phone,UP-REF-1,qa,T1-01;T2-05\n"
    before = n_inspections(company, "A001", "2025-06")
    r = _upload(qa, "inspections", "new.csv", csv.encode(), HX)
    assert r.status_code == 200, r.text
    assert "new.csv imported." in r.text and "1 row: 1 new, 0 changed, 0 unchanged." in r.text
    assert "Results recomputed from Jun 2025." in r.text
    assert n_inspections(company, "A001", "2025-06") == (before or 0) + 1
    r = _upload(qa, "inspections", "new.csv", csv.encode())
    assert r.status_code == 200 and "<html" in r.text and "1 row: 0 new, 0 changed, 1 unchanged." in r.text


def test_upload_xlsx_metrics_ok(qa, company):  # type: ignore[no-untyped-def]
    data = _xlsx([["agent_id", "month", "satisfaction", "efficiency", "attitude", "complaints"],
                  ["A005", "2025-06", 91.25, 88, 4, 0]])
    r = _upload(qa, "metrics", "m.xlsx", data, HX)
    assert r.status_code == 200, r.text
    assert "1 row: 1 new" in r.text
    data = _xlsx([["agent_id", "month", "satisfaction", "efficiency", "attitude", "complaints"],
                  ["A005", "2025-06", 91.25, 88, 4, 0], ["A001", "2025-06", 90, 88, 4, 0]])
    r = _upload(qa, "metrics", "m.xlsx", data, {**HX, "Accept-Language": "zh-CN"})
    assert r.status_code == 200 and "共 2 行：" in r.text and "未变 1" in r.text, r.text


def test_upload_rejected_csv_lists_every_bad_row(qa, company):  # type: ignore[no-untyped-def]
    total = count_inspections(company)
    csv = (",".join(INSPECTION_HEADER) + "\nOK1,A001,2025-06-22,phone,R-OK,qa,\n"
           "BAD1,Z404,2025-06-22,phone,R-B1,qa,\nBAD2,A001,2099-01-01,fax,R-B2,qa,T9-99\n")
    r = _upload(qa, "inspections", "bad.csv", csv.encode(), HX)
    assert r.status_code == 422
    assert "bad.csv was rejected: nothing was written." in r.text
    cells = re.findall(r'<tr><td class="num">(\d+)</td><td><code>([a-z_]+)</code></td>', r.text)
    assert set(cells) == {("3", "agent_id"), ("4", "contact_on"), ("4", "channel"), ("4", "defect_codes")}
    assert count_inspections(company) == total


def test_upload_rejected_xlsx(qa, company):  # type: ignore[no-untyped-def]
    total = count_inspections(company)
    data = _xlsx([INSPECTION_HEADER, ["X1", "A001", "2025-06-22", "chat", "", "qa", ""]])
    r = _upload(qa, "inspections", "bad.xlsx", data)
    assert r.status_code == 422 and "<html" in r.text
    assert re.search(r'<td class="num">2</td><td><code>contact_ref</code></td><td>is empty', r.text)
    assert count_inspections(company) == total


def test_upload_form_problems_and_templates(qa):  # type: ignore[no-untyped-def]
    r = qa.post("/uploads", data={"_csrf_token": csrf_token(qa), "kind": "inspections"}, headers=HX)
    assert r.status_code == 422 and "Choose a file to upload." in r.text
    r = _upload(qa, "", "x.csv", b"a\n", HX)
    assert r.status_code == 422 and "Choose what the file holds." in r.text
    assert _upload(qa, "agents", "a.csv", b"agent_id\n").status_code == 403
    page = qa.get("/uploads").text
    assert "/uploads/templates/inspections.csv" in page and "/uploads/templates/agents.csv" not in page
    r = qa.get("/uploads/templates/inspections.csv")
    assert r.status_code == 200 and r.text.splitlines()[0] == ",".join(INSPECTION_HEADER)
    assert "attachment" in r.headers["content-disposition"]
    assert qa.get("/uploads/templates/agents.csv").status_code == 403
    assert qa.get("/uploads/templates/nothing.csv").status_code == 404


def test_hr_uploads_agents_and_voids_but_does_not_create(client, company):  # type: ignore[no-untyped-def]
    client.headers.update(EN)
    sign_in(client, *PASSWORDS["hr"])
    page = client.get("/inspections").text
    assert 'id="inspection-form"' not in page and "All inspections" in page
    assert client.post("/inspections", data=form(client), headers=HX).status_code == 403
    assert client.get("/inspections/score").status_code == 403
    iid = _live_id(company)
    r = client.post("/inspections/void", data={"_csrf_token": csrf_token(client), "inspection_id": iid,
                                               "reason": "HR correction"}, headers=HX)
    assert r.status_code == 200 and "HR correction" in r.text
    csv = "agent_id,name,track,team,hired_on,left_on,initial_level,probation_months\nA100,New Hire,phone,T,2025-06-01,,,\n"
    r = _upload(client, "agents", "agents.csv", csv.encode(), HX)
    assert r.status_code == 200 and "1 new" in r.text
    assert client.get("/uploads/templates/agents.csv").status_code == 200


def test_admin_views_but_does_not_void(client, company):  # type: ignore[no-untyped-def]
    sign_in(client, *PASSWORDS["admin"])
    page = client.get("/inspections?mine=0").text
    assert 'class="insp-row' in page and "/inspections/void" not in page
    r = client.post("/inspections/void", data={"_csrf_token": csrf_token(client), "inspection_id": _live_id(company),
                                               "reason": "x"})
    assert r.status_code == 403


ROUTES = [
    ("get", "/inspections"),
    ("get", "/inspections/score"),
    ("get", "/inspections/agent-search?agent_q=A"),
    ("post", "/inspections"),
    ("post", "/inspections/void"),
    ("post", "/inspections/defects/void"),
    ("get", "/uploads"),
    ("post", "/uploads"),
    ("get", "/uploads/templates/inspections.csv"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_agent_role_is_forbidden(client, company, method, url):  # type: ignore[no-untyped-def]
    sign_in(client, *PASSWORDS["agent"])
    kwargs = {"data": {"_csrf_token": csrf_token(client)}} if method == "post" else {}
    assert getattr(client, method)(url, **kwargs).status_code == 403


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_anonymous_is_sent_to_login(client, company, method, url):  # type: ignore[no-untyped-def]
    kwargs = {"data": {"_csrf_token": csrf_token(client)}} if method == "post" else {}
    r = getattr(client, method)(url, follow_redirects=False, **kwargs)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login?next=")
