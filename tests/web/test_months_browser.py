"""HR's month in headless Chromium, in Chinese and in English: close a month, an
inspector's upload into it is refused, reopen with a reason, the pay difference shows
on re-close, the payroll XLSX opens with typed numbers and totals, a what-if over 12
months is run and its draft published."""

from __future__ import annotations

import io

import openpyxl
import pytest

from starlevel.domain.rulebook import default_rulebook_document
from starlevel.db.engine import session_scope
from starlevel.services import hr, months
from starlevel.web import i18n
from starlevel.web.exports import payroll_labels
from tests.conftest import browser_sign_in, screenshot
from tests.seed import seed_company
from tests.web.test_months_http import HR1, NO_METRICS_LAST, company_without_metrics

pytestmark = pytest.mark.browser

METRICS_HEADER = "agent_id,month,satisfaction,efficiency,attitude,complaints\n"


def _upload_metrics(page, base: str, tmp_path, name: str, body: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(METRICS_HEADER + body, encoding="utf-8")
    page.goto(base + "/uploads")
    page.check("input[name=kind][value=metrics]")
    page.set_input_files("input[name=file]", str(path))
    page.click("#upload-form button[type=submit]")
    page.locator("#upload-result *").first.wait_for()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_closes_reopens_exports_and_runs_a_whatif(live_server, new_page, session_factory, tmp_path,
                                                      lang: str) -> None:  # type: ignore[no-untyped-def]
    passwords = seed_company(session_factory)
    _ = i18n.gettext_for(lang)
    hr_page = new_page(lang=lang)
    browser_sign_in(hr_page, live_server, *passwords["hr"])

    # Close May 2025 (and every month before it).
    hr_page.click(f"nav.tabs >> text={_('Close months')}")
    hr_page.goto(live_server + "/hr/months?month=2025-05")
    hr_page.click("#close-button")
    hr_page.locator("#month-done").wait_for()
    assert hr_page.locator("#month-2025-05 .month-status").inner_text().strip() == _("closed")
    assert hr_page.locator("#month-2025-06 .month-status").inner_text().strip() == _("open")
    screenshot(hr_page, f"hr-month-closed-{lang}")

    # An inspector's upload into the closed month is refused as a whole.
    qa = new_page(lang=lang)
    browser_sign_in(qa, live_server, *passwords["inspector"])
    _upload_metrics(qa, live_server, tmp_path, "late.csv", "A001,2025-05,70,70,2,1\nA001,2025-06,95,92.5,4,0\n")
    rejected = qa.locator("#upload-result .rejected")
    closed = "2025-05 已结账" if lang == "zh" else "2025-05 is closed for payroll"  # in the reader's language
    assert closed in rejected.inner_text()
    assert "late.csv" in qa.locator("#upload-result .error").inner_text()
    screenshot(qa, f"hr-month-upload-refused-{lang}")

    # HR reopens it with a reason; the corrected file then goes in.
    hr_page.goto(live_server + "/hr/months?month=2025-05")
    hr_page.fill("input[name=reason]", "late metrics for Ann")
    hr_page.click("#reopen-button")
    hr_page.locator("#month-done").wait_for()
    assert hr_page.locator("#month-2025-05 .month-status").inner_text().strip() == _("open")
    _upload_metrics(qa, live_server, tmp_path, "late.csv", "A001,2025-05,70,70,2,1\n")
    qa.locator("#upload-result .ok").wait_for()

    # Re-close: the changes since the last close, with the pay difference, before confirming.
    hr_page.goto(live_server + "/hr/months?month=2025-05")
    change = hr_page.locator(".change-row").first
    assert "A001" in change.inner_text()
    assert hr_page.locator("#total-diff").inner_text().strip().lstrip("-−CNY¥ ").strip() not in ("", "0.00")
    screenshot(hr_page, f"hr-month-changes-{lang}")
    hr_page.click("#close-button")
    assert hr_page.locator("#month-error").inner_text()  # the changes were not confirmed yet
    hr_page.check("#confirm-changes")
    hr_page.click("#close-button")
    hr_page.locator("#month-done").wait_for()

    # The payroll of the closed month as XLSX: typed numbers and totals, marked final.
    hr_page.goto(live_server + "/hr/payroll?month=2025-05")
    assert hr_page.locator("#payroll-state").inner_text() == _("final")
    with hr_page.expect_download() as info:
        hr_page.click("#payroll-xlsx")
    download = info.value
    assert download.suggested_filename == "payroll-2025-05.xlsx"
    with open(download.path(), "rb") as fh:
        ws = openpyxl.load_workbook(io.BytesIO(fh.read())).active
    labels = payroll_labels(lang)
    assert ws["A4"].value == labels["line"] and ws["A2"].value == labels["final_note"]
    rows = list(ws.iter_rows(min_row=5, values_only=True))
    total_col = 13
    agents = [r for r in rows if r[0] == labels["line_agent"]]
    assert len(agents) == 3 and all(isinstance(r[total_col], int | float) for r in agents)
    assert rows[-1][0] == labels["line_total"] and rows[-1][total_col] == pytest.approx(sum(r[total_col] for r in agents))

    # A what-if over 12 months with a draft without quotas, then publish it from June.
    hr_page.click(f"nav.tabs >> text={_('What-if')}")
    hr_page.wait_for_load_state("networkidle")
    draft = default_rulebook_document()
    draft["quotas"] = {}
    hr_page.fill("#whatif-toml", hr.to_toml(draft))
    hr_page.fill("input[name=start]", "2024-07")
    hr_page.fill("input[name=end]", "2025-06")
    hr_page.click("#whatif-run")
    hr_page.locator("#whatif-result").wait_for()
    assert hr_page.locator(".whatif-months tbody tr").count() == 12
    assert hr_page.locator(".whatif-diff").count() > 0
    screenshot(hr_page, f"hr-whatif-{lang}")
    assert hr_page.locator("#publish-from").input_value() == "2025-06"  # the first open month
    hr_page.fill("input[name=label]", "no quotas")
    hr_page.click("#publish-button")
    hr_page.wait_for_url("**/hr/rulebook?saved=2")
    screenshot(hr_page, f"hr-whatif-published-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_confirms_every_incomplete_agent_at_once(live_server, new_page, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    """A first close with more incomplete agent-months than the page lists: one tick confirms
    them all and the months close."""
    plan = company_without_metrics(session_factory)
    _ = i18n.gettext_for(lang)
    page = new_page(lang=lang)
    browser_sign_in(page, live_server, *HR1)
    page.goto(live_server + f"/hr/months?month={NO_METRICS_LAST}")
    assert page.locator("input[name=incomplete]").count() == 500
    assert page.locator("#incomplete-shown").is_visible()
    page.click("#close-button")  # nothing confirmed yet: refused, nothing closed
    assert page.locator("#month-error").inner_text()
    assert page.locator(f"#month-{NO_METRICS_LAST} .month-status").inner_text().strip() == _("open")
    page.check("#confirm-all-incomplete")
    page.click("#close-button")
    page.locator("#month-done").wait_for()
    assert page.locator(f"#month-{NO_METRICS_LAST} .month-status").inner_text().strip() == _("closed")
    with session_scope(session_factory) as s:
        assert all(months.is_closed(s, m) for m in plan.months)
    screenshot(page, f"hr-month-confirm-all-{lang}")
