"""Disputes in headless Chromium, in Chinese and in English: an agent disputes a defect,
another inspector upholds it and the agent's composite, star and pay change on the next
page load; a rejected dispute is escalated and HR decides it finally; the inspector consistency
table shows the disputes."""

from __future__ import annotations

import pytest

from starlevel.db.engine import session_scope
from starlevel.services import inspections, users
from tests.conftest import browser_sign_in, screenshot
from tests.seed import PASSWORDS, seed_company

CHEN = ("chen", "chen-pass-12")  # agent A003, 2★ in June 2025
QA2 = ("qa2", "qa2-pass-12")
TEXT = {
    "zh": {"waiting": "待复核", "rejected": "已驳回", "escalate": "提交人事终审", "final": "人事终审成立",
           "send": "提交申诉", "uphold": "申诉成立（作废该结论）", "reject": "驳回"},
    "en": {"waiting": "Waiting for review", "rejected": "Rejected", "escalate": "Escalate to HR",
           "final": "Upheld by HR (final)", "send": "Send the dispute", "uphold": "Uphold (void the finding)",
           "reject": "Reject"},
}


@pytest.fixture
def company(session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        users.create_user(s, CHEN[0], role="agent", agent_id="A003", password=CHEN[1])
        users.create_user(s, QA2[0], role="inspector", password=QA2[1])
        # A harsh inspection by qa: a red line (demotion) and six tier-2 defects (score 60).
        draft = inspections.Draft(agent_id="A003", contact_on="2025-06-20", channel="chat", contact_ref="DISPUTE-1",
                                  picks={"T3-01": inspections.Pick("T3-01"), "T2-05": inspections.Pick("T2-05", "6")})
        insp = inspections.create(s, draft, actor="qa")
        return insp.inspection_id, [d.id for d in insp.defects]


def _standing(page) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    return (page.locator(".big-stars .stars").inner_text().strip(),
            page.locator("strong.composite").inner_text().strip(),
            page.locator(".pay-table tr.total strong").inner_text().strip())


def _dispute(page, base: str, iid: str, defect_id: int, reason: str, t: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/me/inspections")
    line = page.locator(f"tr[data-inspection-id='{iid}'] .defect-line[data-defect-id='{defect_id}']")
    line.locator("summary").click()
    line.locator("textarea[name=reason]").fill(reason)
    line.get_by_role("button", name=t["send"]).click()
    page.wait_for_url("**/me/disputes?filed=*")


def _decide(page, base: str, button: str, note: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/disputes")
    row = page.locator("#dispute-queue tr.dispute-row").first
    row.locator("input[name=note]").fill(note)
    with page.expect_response(lambda r: r.request.method == "POST" and "/disputes/" in r.url, timeout=60_000) as answer:
        row.get_by_role("button", name=button).click()
    assert answer.value.ok, (answer.value.status, answer.value.text()[:300])
    # htmx swapped the queue: nothing left (the answer is in; the swap follows it)
    page.locator("#queue p.muted", has_text="0").wait_for(timeout=30_000)


def _reload_until_changed(page, url: str, before: tuple[str, str, str]) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    """The star page once the re-evaluation has landed. A change that may move a quota
    (this agent is on a waiting list) is re-evaluated company-wide by the server's
    background worker right after the decision commits, so a load may come just before it."""
    for _ in range(50):
        page.goto(url)
        now = _standing(page)
        if now != before:
            return now
        page.wait_for_timeout(200)
    return now


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dispute_journey(company, live_server, new_page, lang):  # type: ignore[no-untyped-def]
    t = TEXT[lang]
    iid, defect_ids = company
    red, tier2 = defect_ids[0], defect_ids[1]

    agent = new_page(lang=lang)
    browser_sign_in(agent, live_server, *CHEN)
    agent.goto(live_server + "/me")
    assert agent.locator("#unseen-banner").count() == 1
    before = _standing(agent)
    assert before[0] == "★"  # the red line demotes
    _dispute(agent, live_server, iid, red, "The customer swore first; I stayed polite.", t)
    assert t["waiting"] in agent.locator("#my-disputes").inner_text()
    screenshot(agent, f"disputes-{lang}-filed")

    reviewer = new_page(lang=lang)
    browser_sign_in(reviewer, live_server, *QA2)
    assert reviewer.locator(".mainnav a[href='/disputes'] .count .n").inner_text() == "1"
    _decide(reviewer, live_server, t["uphold"], "Recording checked")

    after = _reload_until_changed(agent, live_server + "/me", before)
    assert after[0] == "★★" and after[1] != before[1] and after[2] != before[2], (before, after)
    screenshot(agent, f"disputes-{lang}-upheld")

    # A second dispute is rejected, escalated once, and HR decides it finally.
    _dispute(agent, live_server, iid, tier2, "Only one hold, not six.", t)
    _decide(reviewer, live_server, t["reject"], "Six holds are on the recording")
    agent.goto(live_server + "/me")
    assert agent.locator(".mainnav a[href='/me/disputes'] .count .n").inner_text() == "1"  # a new decision
    agent.goto(live_server + "/me/disputes")
    assert agent.locator(".mainnav a[href='/me/disputes'] .count").count() == 0  # read now
    assert t["rejected"] in agent.locator("#my-disputes").inner_text()
    agent.locator("#my-disputes summary", has_text=t["escalate"]).click()
    agent.locator("#my-disputes textarea[name=note]").fill("Please listen again")
    agent.locator("#my-disputes button", has_text=t["escalate"]).click()
    agent.wait_for_load_state("networkidle")
    assert agent.locator("#my-disputes summary", has_text=t["escalate"]).count() == 0

    hr = new_page(lang=lang)
    browser_sign_in(hr, live_server, *PASSWORDS["hr"])
    assert hr.locator(".mainnav a[href='/disputes'] .count .n").inner_text() == "1"
    hr.goto(live_server + "/disputes")
    assert "Please listen again" in hr.locator("#dispute-queue").inner_text()
    _decide(hr, live_server, t["uphold"], "One hold only")
    agent.goto(live_server + "/me/disputes")
    assert t["final"] in agent.locator("#my-disputes").inner_text()
    screenshot(agent, f"disputes-{lang}-final")

    # The inspector consistency table counts both disputes against qa, both upheld.
    hr.goto(live_server + "/consistency?month=2025-06")
    row = hr.locator("#consistency-table tr[data-inspector='qa']")
    assert row.locator("td.disputes").inner_text() == "2"
    assert row.locator("td.upheld").inner_text() == "2 (100%)"
    screenshot(hr, f"consistency-{lang}")
