"""A calibration session in headless Chromium, in Chinese and in English: HR picks a
contact and three inspectors; each scores it blind; the session then shows the scores side
by side with the spread, and the lead records the agreed score."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import Inspection, InspectionDefect
from starlevel.services import users
from tests.conftest import browser_sign_in, screenshot
from tests.seed import PASSWORDS, seed_company

INSPECTORS = {"qa": PASSWORDS["inspector"][1], "qa2": "qa2-pass-12", "qa3": "qa3-pass-12"}
PICKS = {"qa": ["T2-05"], "qa2": ["T2-05", "T1-01"], "qa3": []}  # 95, 93, 100: spread 7
TEXT = {"zh": {"create": "创建校准会", "save": "保存我的评分", "agree": "记录一致结论", "done": "最大分差"},
        "en": {"create": "Create the session", "save": "Save my score", "agree": "Record the agreed score",
               "done": "Widest spread"}}


@pytest.fixture
def company(session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        users.create_user(s, "qa2", role="inspector", password=INSPECTORS["qa2"])
        users.create_user(s, "qa3", role="inspector", password=INSPECTORS["qa3"])
        return s.scalar(select(Inspection.inspection_id).join(InspectionDefect).where(
            Inspection.agent_id == "A002", Inspection.month == "2025-06", InspectionDefect.code == "T2-05"))


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_calibration_journey(company, live_server, new_page, lang):  # type: ignore[no-untyped-def]
    t = TEXT[lang]
    hr = new_page(lang=lang)
    browser_sign_in(hr, live_server, *PASSWORDS["hr"])
    hr.goto(live_server + "/calibration")
    hr.fill("#calibration-form input[name=title]", "June calibration")
    hr.fill("#calibration-form textarea[name=inspection_ids]", company)
    for name in INSPECTORS:
        hr.check(f"#calibration-form input[name=inspector][value='{name}']")
    hr.get_by_role("button", name=t["create"]).click()
    hr.wait_for_url("**/calibration/*")
    session_url = hr.url
    assert hr.locator("#calibration-progress").count() == 1

    for name, password in INSPECTORS.items():
        page = new_page(lang=lang)
        browser_sign_in(page, live_server, name, password)
        page.goto(session_url)
        item = page.locator(".calibration-item").first
        assert item.locator("table.calibration-scores").count() == 0  # blind: no scores, no original
        for code in PICKS[name]:
            item.locator(f"input[name=code][value='{code}']").check()
        item.get_by_role("button", name=t["save"]).click()
        page.wait_for_load_state("networkidle")
        if name != "qa3":
            assert page.locator(".calibration-item .my-score").count() == 1
            assert page.locator("table.calibration-scores").count() == 0
        page.close()

    hr.goto(session_url)
    assert t["done"] in hr.locator("#calibration-done").inner_text()
    table = hr.locator("table.calibration-scores")
    assert table.locator("tr[data-inspector='qa'] td.num").inner_text() == "95"
    assert table.locator("tr[data-inspector='qa2'] td.num").inner_text() == "93"
    assert table.locator("tr[data-inspector='qa3'] td.num").inner_text() == "100"
    assert table.locator("td.spread").inner_text() == "7"
    hr.get_by_role("button", name=t["agree"]).click()
    hr.wait_for_load_state("networkidle")
    assert hr.locator("table.calibration-scores tr.agreed td.num").inner_text() == "95"
    screenshot(hr, f"calibration-{lang}")
