"""HR and admin journeys in headless Chromium, in Chinese and in English."""

from __future__ import annotations

import pytest

from starlevel.web import i18n
from tests.conftest import browser_sign_in, screenshot
from tests.seed import seed_company
from tests.web.test_hr_service import add_approval_version

pytestmark = pytest.mark.browser


def _signed_in(live_server, new_page, session_factory, lang: str, role: str, *, approval: bool = False):  # type: ignore[no-untyped-def]
    """Seed the company, sign ``role`` in; returns the page and the language's gettext."""
    passwords = seed_company(session_factory)
    if approval:
        add_approval_version(session_factory)  # proposals wait for HR from 2024-09
    page = new_page(lang=lang)
    browser_sign_in(page, live_server, *passwords[role])
    return page, i18n.gettext_for(lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_reviews_the_month_decides_and_downloads_payroll(live_server, new_page, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    page, _ = _signed_in(live_server, new_page, session_factory, lang, "hr", approval=True)
    assert page.url.endswith("/hr")
    assert page.locator("h1").first.inner_text() == _("Month review")

    # Pick the month with proposals through the month picker (an htmx swap of the review).
    page.select_option("select[name=month]", "2024-09")
    page.wait_for_url("**/hr?month=2024-09*")
    page.locator("#sec-pending #row-A001").wait_for()
    assert page.locator(".review-summary strong").first.inner_text() == i18n.fmt_month("2024-09", lang)
    page.evaluate("window.__noReload = 'still here'")

    # Hold without a reason: the message appears in the row, nothing is decided.
    row = page.locator("#row-A003")
    row.locator("button[value=hold]").click()
    error = page.locator("#row-A003 .field-error")
    error.wait_for()
    assert error.inner_text() == _("A hold needs a reason: write why in the reason field.")
    assert page.locator("#row-A003 input[name=reason]").get_attribute("aria-invalid") == "true"

    # Approve A001: the row is swapped in place (no reload), showing who approved, and the
    # counts above refresh (the response triggers "decided").
    pending = int(page.locator("#review-live .count-pending .n").inner_text())
    page.locator("#row-A001 button[value=approve]").click()
    page.locator("#row-A001 .decided-approve").wait_for()
    page.wait_for_function(
        f"document.querySelector('#review-live .count-pending .n').textContent.trim() == '{pending - 1}'")
    assert _("Approved by {who}, {when}").split("{")[0].strip() in page.locator("#row-A001 .decided").inner_text()
    assert "1★ → 2★" in page.locator("#row-A001").inner_text()
    assert page.evaluate("window.__noReload") == "still here"
    screenshot(page, f"hr-month-review-{lang}")

    # Payroll: the team totals and the CSV download (UTF-8 with BOM).
    page.click(f"nav.tabs >> text={_('Payroll')}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#payroll-grand-total").inner_text().strip()
    with page.expect_download() as info:
        page.click("a[href^='/hr/payroll.csv']")
    download = info.value
    assert download.suggested_filename.startswith("payroll-")
    with open(download.path(), "rb") as fh:
        data = fh.read()
    assert data.startswith("\ufeff".encode()) and "陈静".encode() in data
    assert data.decode("utf-8-sig").splitlines()[0].startswith(f"{_('Line')},{_('Agent ID')},{_('Name')},")
    screenshot(page, f"hr-payroll-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_admin_creates_a_login_and_disables_it(live_server, new_page, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    page, _ = _signed_in(live_server, new_page, session_factory, lang, "admin")
    assert page.url.endswith("/admin/users")

    form = page.locator("form.new-user")
    form.locator("input[name=username]").fill("dora")
    form.locator("select[name=role]").select_option("agent")
    form.locator("input[name=password]").fill("short")
    form.locator("button[type=submit]").click()
    page.locator("form.new-user .field-error").first.wait_for()
    errors = page.locator("form.new-user .field-error").all_inner_texts()
    assert _("Agent ID: an agent login must be linked to an agent record.") in errors
    assert _("Password: at least {n} characters.").format(n=8) in errors
    assert page.locator("form.new-user input[name=username]").input_value() == "dora"
    screenshot(page, f"admin-user-errors-{lang}")

    form = page.locator("form.new-user")
    form.locator("input[name=agent_id]").fill("A003")  # 陈静 has no login yet
    form.locator("input[name=password]").fill("dora-pass-123")
    form.locator("button[type=submit]").click()
    row = page.locator("#user-dora")
    row.wait_for()
    assert "A003" in row.inner_text()

    row.locator("summary").click()
    row.locator("input[name=reason]").fill("test account")
    row.locator("button.danger").click()
    page.locator("#user-dora.disabled").wait_for()
    assert _("disabled") in page.locator("#user-dora").inner_text()
    assert _("Login {name} disabled.").format(name="dora") in page.locator("#users .ok").inner_text()
    screenshot(page, f"admin-users-{lang}")

    page.click(f"nav.tabs >> text={_('Audit log')}")
    page.wait_for_load_state("networkidle")
    page.select_option("select[name=entity]", "user")
    page.locator("#audit-table >> text=test account").wait_for()
    screenshot(page, f"admin-audit-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_hr_edits_the_rulebook_previews_and_saves(live_server, new_page, session_factory, lang: str) -> None:  # type: ignore[no-untyped-def]
    page, _ = _signed_in(live_server, new_page, session_factory, lang, "hr")
    page.goto(live_server + "/hr/rulebook")
    textarea = page.locator("textarea[name=toml]")
    text = textarea.input_value()
    assert 'approval_required = false' in text

    # Two mistakes: both are listed, nothing is saved, the edited text stays.
    broken = text.replace('weight = "0.40"', 'weight = "0.30"').replace('pass_mark = "60"', 'pass_mark = "160"')
    textarea.fill(broken)
    page.fill("input[name=effective_from]", "2024-01")
    page.click("form.rulebook-form button[type=submit]")
    problems = page.locator("#rulebook-problems li")
    problems.first.wait_for()
    listed = problems.all_inner_texts()
    weights = "权重之和必须恰好为 1" if lang == "zh" else "weights must total exactly 1"  # problems in the page's language
    assert len(listed) == 2 and any(weights in p for p in listed)
    assert page.locator("textarea[name=toml]").input_value() == broken
    screenshot(page, f"hr-rulebook-problems-{lang}")

    # Fixed, with approval switched on: the preview says nothing changes, then save.
    fixed = text.replace("approval_required = false", "approval_required = true")
    page.locator("textarea[name=toml]").fill(fixed)
    page.fill("input[name=note]", "HR approval from 2024")
    page.click("form.rulebook-form button[type=submit]")
    page.locator("#preview-summary").wait_for()
    assert page.locator("#preview-summary .no-change").inner_text() == _("No result would change.")
    screenshot(page, f"hr-rulebook-preview-{lang}")
    page.click("form.confirm-form button[type=submit]")
    page.wait_for_url("**/hr/rulebook?saved=2")
    assert page.locator("p.ok").inner_text() == _("Version {v} saved; the ladder was recomputed from its effective month.").format(v=2)
    assert "HR approval from 2024" in page.locator(".versions-table").inner_text()
