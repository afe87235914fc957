"""The rules in plain language and HR's quarters and years, in headless Chromium, in 中文 and English."""

from __future__ import annotations

import csv
import io

import pytest

from starlevel.web import i18n
from tests.conftest import browser_sign_in, screenshot
from tests.seed import PASSWORDS, seed_company
from tests.web.test_rules_http import _quarterly_company, _store

pytestmark = pytest.mark.browser


def _fits(page) -> bool:  # type: ignore[no-untyped-def]
    """No sideways scrolling of the page itself (wide tables scroll in their own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_agent_reads_how_stars_work_from_the_star_page(live_server, new_page, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    _store(session_factory, "fee-collection", "2025-07")
    _ = i18n.gettext_for(lang)
    page = new_page(lang=lang, width=390)
    browser_sign_in(page, live_server, *PASSWORDS["agent"])
    assert page.url.endswith("/me")
    page.click(f"text={_('How stars work: the rules in plain words')}")
    page.wait_for_url("**/rules")
    assert page.locator("h1").inner_text().startswith(_("How stars work"))
    assert page.locator(f"nav.mainnav a[href='/rules'][aria-current=page]").count() == 1
    five = page.locator("#rules-stars tbody tr").first
    assert five.locator("th").inner_text() == "5★"
    assert five.locator("li").all_inner_texts() == (
        ["收费完成率不低于110", "无有效投诉", "领导交办任务完成良好：是"] if lang == "zh"
        else ["Collection rate % at least 110", "no valid complaints", "Extra tasks done well: yes"])
    assert page.locator("#rules-pay tbody tr").count() == 5
    assert _fits(page)
    screenshot(page, f"rules-agent-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_opens_quarters_and_years_and_downloads_them(live_server, new_page, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    _quarterly_company(session_factory)
    _ = i18n.gettext_for(lang)
    page = new_page(lang=lang)
    browser_sign_in(page, live_server, *PASSWORDS["hr"])
    page.click(f"nav.tabs >> text={_('Rulebook')}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#rb-periods").count() == 1
    assert _fits(page)
    screenshot(page, f"hr-rulebook-quarterly-{lang}")
    page.click(f"nav.tabs >> text={_('Quarters and years')}")
    page.wait_for_url("**/hr/periods")
    page.select_option("select[name=year]", "2024")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/hr/periods?year=2024")
    row = page.locator("#period-A001")
    cells = row.locator("td.num").all_inner_texts()
    assert len(cells) == 5 and all(c.strip() != "—" for c in cells)
    with page.expect_download() as info:
        page.click("a[href^='/hr/periods/csv']")
    download = info.value
    assert download.suggested_filename == "periods-2024.csv"
    with open(download.path(), "rb") as fh:
        rows = list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["A001", "A002", "A003"]
    assert rows[3][1].startswith("'=")
    screenshot(page, f"hr-periods-{lang}")
