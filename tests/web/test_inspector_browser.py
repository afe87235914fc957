"""The inspector's journey in headless Chromium, in Chinese and in English: sign in, find
an agent by type-ahead, tick defects and watch the live score, hit a validation error,
save without a page load, and void the new inspection with a reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from starlevel.services import users
from tests.conftest import browser_sign_in, screenshot
from tests.seed import PASSWORDS, seed_company

TEXT = {
    "zh": {"future": "接待日期不能晚于今天", "saved": "已保存", "no_reason": "作废必须填写原因",
           "void": "作废质检记录", "voided": "已作废", "red": "红线问题", "chat": "在线对话"},
    "en": {"future": "The contact date cannot be in the future", "saved": "saved.", "no_reason": "Give a reason for voiding.",
           "void": "Void inspection", "voided": "Voided", "red": "Red line: T3-01", "chat": "chat"},
}


@pytest.fixture
def company(session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    # The clock of the live server (started after this fixture): June 2025 is in progress.
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-06-28")

    # Sign-in is not under test: quick hashes keep the live server's verification fast too.
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    seed_company(session_factory)


def _score(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("#score-value").inner_text().strip()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_inspector_journey(company, live_server, new_page, lang):  # type: ignore[no-untyped-def]
    t = TEXT[lang]
    page = new_page(lang=lang)
    browser_sign_in(page, live_server, *PASSWORDS["inspector"])
    assert page.url.endswith("/inspections")
    rows = page.locator("#inspection-rows tr.insp-row")
    assert rows.count() == 9  # June 2025, the month in progress
    page.evaluate("window.__sameDocument = true")  # gone if anything navigates

    # Type-ahead: search by name, pick from the list.
    page.fill("#agent_q", "bob")
    option = page.locator(".agent-option", has_text="A002")
    option.wait_for()
    option.click()
    page.locator("#agent-chosen", has_text="Bob Wu").wait_for()
    assert page.input_value("#agent_id") == "A002"

    page.fill("#contact_on", "2099-01-01")
    page.select_option("#channel", "chat")
    page.fill("#contact_ref", f"B-{lang}-1")

    # The live score follows the ticks and counts.
    assert _score(page) == "100"
    page.check("input[name=code][value='T1-01']")
    expect(page.locator("#score-value")).to_have_text("98")  # polls without eval (blocked by the CSP)
    page.fill("input[name='n_T1-01']", "3")
    expect(page.locator("#score-value")).to_have_text("94")  # polls without eval (blocked by the CSP)
    page.check("input[name=code][value='T3-01']")
    expect(page.locator("#score-value")).to_have_text("84")  # polls without eval (blocked by the CSP)
    assert t["red"] in page.locator("#live-score").inner_text()
    screenshot(page, f"inspector-{lang}-live-score")

    # A future date: the message appears next to the field, nothing is saved, values stay.
    page.click("#inspection-form button[type=submit]")
    error = page.locator("#err-contact_on")
    error.wait_for()
    assert t["future"] in error.inner_text()
    assert page.locator("input[name=code][value='T3-01']").is_checked()
    assert page.input_value("input[name='n_T1-01']") == "3"
    assert page.input_value("#agent_id") == "A002"
    assert rows.count() == 9
    screenshot(page, f"inspector-{lang}-validation")

    # Fix the date and save: the row appears on top, the form is cleared, no page load.
    page.fill("#contact_on", "2025-06-20")
    page.click("#inspection-form button[type=submit]")
    page.locator("#saved-message").wait_for()
    assert t["saved"] in page.locator("#saved-message").inner_text()
    new_row = rows.first
    assert "B-" + lang + "-1" in new_row.inner_text() and rows.count() == 10
    assert "84" in new_row.locator("td.num").inner_text()
    assert page.input_value("#contact_ref") == "" and not page.locator("input[name=code]:checked").count()
    assert page.evaluate("window.__sameDocument") is True

    # Void the new inspection: first without a reason (message in place), then with one.
    new_row.locator("td.state summary").click()
    new_row.locator("td.state button[type=submit]").click()
    page.locator("#inspection-rows tr.insp-row").first.locator(".field-error", has_text=t["no_reason"]).wait_for()
    new_row = page.locator("#inspection-rows tr.insp-row").first
    assert "voided" not in (new_row.get_attribute("class") or "")
    new_row.locator("td.state input[name=reason]").fill(f"sampled twice ({lang})")
    new_row.locator("td.state button[type=submit]").click()
    page.locator("#inspection-rows tr.insp-row.voided").first.wait_for()
    voided = page.locator("#inspection-rows tr.insp-row").first
    text = voided.inner_text()
    assert t["voided"] in text and f"sampled twice ({lang})" in text and "qa" in text
    assert rows.count() == 10  # struck through, never removed
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, f"inspector-{lang}-voided")


@pytest.mark.browser
def test_coverage_pick_and_upload_page_mobile(company, live_server, new_page):  # type: ignore[no-untyped-def]
    page = new_page(lang="zh", width=390)
    browser_sign_in(page, live_server, *PASSWORDS["inspector"])
    page.goto(live_server + "/inspections?month=2025-07&mine=0")
    coverage = page.locator("#coverage")
    assert "A001" in coverage.inner_text()  # nobody is inspected in July yet
    coverage.locator("a", has_text="A003").click()
    page.locator("#agent-chosen", has_text="陈静").wait_for()
    assert page.input_value("#agent_id") == "A003"
    screenshot(page, "inspector-zh-390-coverage")
    page.goto(live_server + "/uploads")
    page.set_input_files("input[name=file]", files=[{
        "name": "bad.csv", "mimeType": "text/csv",
        "buffer": b"inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\nX,Z9,2025-06-01,chat,R,qa,\n",
    }])
    page.click("#upload-form button[type=submit]")
    page.locator("#upload-result .rejected").wait_for()
    assert "未写入任何数据" in page.locator("#upload-result").inner_text()
    screenshot(page, "uploads-zh-390-rejected")
