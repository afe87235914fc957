"""A template's company in headless Chromium, in 中文 and English: the agent's star page and
HR's rulebook page render for a direct-star template (lowest-item) and a period template
(reception-quarterly). The company is set up the way a new user does it, with the CLI
(tests/test_templates_e2e.py); axe-core checks every page visited."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from starlevel.web import i18n
from tests.conftest import browser_sign_in, screenshot
from tests.test_templates_e2e import NewUser, months, qa

pytestmark = pytest.mark.browser

AGENT = ("ann", "violet kettle marches slowly 7")
HR = ("hr1", "amber ladder counts quietly 9")


def _lowest_item(u: NewUser) -> None:
    u.load("lowest-item", "2024-05")
    u.agents("A1,Ann,phone,T,2024-01-02")
    u.metrics("staff_quality,service_quality,tech_support,performance", "A1,2024-05,85,92,78,88")


def _reception_quarterly(u: NewUser) -> None:
    u.load("reception-quarterly", "2025-01")
    u.agents("A1,Ann,phone,T,2024-01-02", "B1,Bo,phone,T,2024-01-02")
    u.inspections(qa("A1", months(2025, 1, 3), [], [], []))
    u.metrics("satisfaction,efficiency,attitude,complaints",
              "A1,2025-01,90,80,4,2", "A1,2025-02,90,80,4,0", "A1,2025-03,95,100,4,0")


@pytest.fixture
def company(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", db_url)

    def make(name: str) -> None:
        u = NewUser(CliRunner(), tmp_path)
        {"lowest-item": _lowest_item, "reception-quarterly": _reception_quarterly}[name](u)
        u.run("users", "create", AGENT[0], "--role", "agent", "--agent", "A1", "--password-stdin", stdin=AGENT[1] + "\n")
        u.run("users", "create", HR[0], "--role", "hr", "--password-stdin", stdin=HR[1] + "\n")

    return make


# What each page must say, worked out by hand (see tests/test_templates_e2e.py for the figures).
EXPECT = {
    "lowest-item": {
        # lowest item 78 → 4★; 5★ needs every item ≥ 80: technical support is 2 short
        "level": 4, "month": "2024-05", "target": 5,
        "why": {"en": "This month's figures earn 4★. Not 5★: Technical support 78.00 (needs ≥ 80).",
                "zh": "本月数据评定为4星。未达5星：技术支持为78.00（要求≥80）。"},
        "blocked": {"en": "Technical support", "zh": "技术支持"},
        "gap": "2.00",
        "rulebook": {"en": "Technical support", "zh": "技术支持"},
    },
    "reception-quarterly": {
        # Jan 86.00, Feb 90.00, Mar 96.00: all ≥ 80 with tenure 15 → 2★ from April
        "level": 2, "month": "2025-03", "target": 3,
        "why": {"en": "Promoted to 2★ from 2025-04: every month of 2025-01–2025-03 scored at least 80 (average 90.67)",
                "zh": "晋升为2星，自2025-04起生效：2025-01–2025-03连续3个月综合评分均不低于80分，平均90.67分"},
        "blocked": None,
        "gap": None,
        "rulebook": {"en": "Satisfaction", "zh": "客户满意度"},
    },
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", ["lowest-item", "reception-quarterly"])
def test_star_page_and_rulebook_page_of_a_template(live_server, new_page, company, name: str, lang: str) -> None:  # type: ignore[no-untyped-def]
    company(name)
    want = EXPECT[name]
    _ = i18n.gettext_for(lang)
    page = new_page(lang=lang, width=390, height=844)
    browser_sign_in(page, live_server, *AGENT)
    assert page.url.endswith("/me")
    assert page.locator(".big-stars .visually-hidden").inner_text() == _("{n} of {max} stars").format(n=want["level"], max=5)
    why = page.locator(f"#month-{want['month']} td.explain").text_content() or ""
    assert why.strip().startswith(want["why"][lang]), why
    assert page.locator("#progress-h").inner_text() == _("Progress to {n}★").format(n=want["target"])
    if want["blocked"]:
        blocked = page.locator("#blocked-by").inner_text()
        assert want["blocked"][lang] in blocked and _("{gap} to go").format(gap=want["gap"]) in blocked, blocked
        # a direct star is read off each month's figures: there is no floor to keep
        card = page.locator("section.progress").inner_text()
        floor = _("Floor of {n}★: {floor}.").format(n=4, floor="")[:-1]
        assert floor not in card, card
    screenshot(page, f"template-{name}-me-{lang}")

    hr = new_page(lang=lang)
    browser_sign_in(hr, live_server, *HR)
    response = hr.goto(live_server + "/hr/rulebook")
    assert response is not None and response.status == 200
    hr.wait_for_load_state("networkidle")
    assert hr.locator("h1").inner_text().startswith(_("Rulebook"))
    assert want["rulebook"][lang] in hr.locator("main").inner_text()
    if name == "reception-quarterly":
        assert hr.locator("#rb-periods").count() == 1
    screenshot(hr, f"template-{name}-rulebook-{lang}")
