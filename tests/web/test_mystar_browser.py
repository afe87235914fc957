"""The star page in headless Chromium: a phone-sized agent view in both languages, and the
staff view; the defects panel switches month through htmx without leaving the page."""

from __future__ import annotations

import pytest

from tests.conftest import browser_sign_in, screenshot
from tests.seed import PASSWORDS
from tests.web.test_mystar_fixtures import INSPECTION_VOID_REASON, seed_star_company

pytestmark = pytest.mark.browser

CHART_TITLE = {
    "en": "Composite per month against the promotion threshold and the floor",
    "zh": "每月综合评分与晋升门槛、保级线对照",
}
NO_EVALUATION = {"en": "there is no evaluation for “2099-01”", "zh": "没有“2099-01”的评定结果"}


def no_horizontal_scroll(page, width: int) -> None:  # type: ignore[no-untyped-def]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"page is {scroll}px wide on a {width}px screen"


def switch_defects_month(page, action, month: str) -> None:  # type: ignore[no-untyped-def]
    """Run ``action`` and wait for the defects panel of ``month``: no navigation, no reload."""
    page.evaluate("window.__starMarker = 'kept'")
    before = page.url
    action()
    page.wait_for_selector(f'#defects[data-month="{month}"]')
    assert page.url == before
    assert page.evaluate("window.__starMarker") == "kept", "the page reloaded"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_agent_on_a_phone(live_server, session_factory, new_page, lang):
    seed_star_company(session_factory)
    page = new_page(lang=lang, width=390, height=844)
    user, pw = PASSWORDS["agent"]
    browser_sign_in(page, live_server, user, pw)
    assert page.url.endswith("/me")
    no_horizontal_scroll(page, 390)

    chart = page.locator("svg.chart")
    assert chart.is_visible()
    assert chart.get_attribute("role") == "img"
    assert chart.locator("title").first.text_content() == CHART_TITLE[lang]
    assert chart.locator("circle.pt").count() == 18  # 2024-01 … 2025-06 complete; 2025-07 is not
    assert page.locator(".pay .incomplete-month").is_visible()
    assert page.locator("#window-bar").is_visible()
    screenshot(page, f"mystar-phone-{lang}")

    # The defects panel: 2025-07 → 2025-06 by the "older" link, then back by the month select.
    assert page.locator("#defects").get_attribute("data-month") == "2025-07"
    switch_defects_month(page, lambda: page.click("#defects a.older"), "2025-06")
    assert page.locator("#defects .insp").count() == 3
    switch_defects_month(page, lambda: page.select_option("#defects select", "2025-07"), "2025-07")
    no_horizontal_scroll(page, 390)
    screenshot(page, f"mystar-phone-{lang}-defects")

    # A month with no evaluation: said so in place, the latest is shown.
    page.goto(live_server + "/me?month=2099-01")
    warnings = page.locator("main .warn").all_text_contents()
    assert any(NO_EVALUATION[lang] in w for w in warnings), warnings
    screenshot(page, f"mystar-phone-{lang}-bad-month")


@pytest.mark.parametrize(("lang", "width"), [("en", 1280), ("zh", 390)])
def test_staff_view_of_an_agent(live_server, session_factory, new_page, lang, width):
    seed_star_company(session_factory)
    page = new_page(lang=lang, width=width, height=844)
    user, pw = PASSWORDS["hr"]
    browser_sign_in(page, live_server, user, pw)
    page.goto(live_server + "/agents/A003")
    no_horizontal_scroll(page, width)
    assert page.locator("svg.chart title").first.text_content() == CHART_TITLE[lang]
    assert page.locator(".floor-warning").is_visible()
    voided = page.locator("#insp-J-A3-4")
    assert "voided" in (voided.get_attribute("class") or "")
    assert INSPECTION_VOID_REASON in voided.text_content()
    line = voided.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "line-through" in line
    screenshot(page, f"mystar-staff-{lang}-{width}")

    switch_defects_month(page, lambda: page.click("#defects a.older"), "2025-06")
    assert page.locator("#defects h2").text_content().strip() != ""
    no_horizontal_scroll(page, width)
    screenshot(page, f"mystar-staff-{lang}-{width}-defects")
