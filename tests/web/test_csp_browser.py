"""Under the Content-Security-Policy (no inline script, no eval) the pages still work in
Chromium: htmx loads, swaps forms with their 422 messages, and nothing is blocked; and no
other site can frame a page."""

from __future__ import annotations

import pytest

from starlevel.services import users
from tests.conftest import browser_sign_in, screenshot
from tests.seed import PASSWORDS, seed_company

WATCH = """
window.__blocked = [];
document.addEventListener('securitypolicyviolation',
  e => window.__blocked.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""

PAGES = {
    "inspector": ["/inspections", "/uploads", "/agents"],
    "hr": ["/hr", "/hr/payroll", "/hr/rulebook", "/agents", "/metrics"],
    "admin": ["/admin/users", "/admin/audit"],
    "agent": ["/me"],
}


@pytest.fixture
def company(session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    seed_company(session_factory)


def _console(message, errors: list[str]) -> None:  # type: ignore[no-untyped-def]
    # Script errors only: Chromium also logs every 4xx answer (the 422 forms, a missing favicon).
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def _check(page, errors: list[str], what: str) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("typeof window.htmx") == "object", f"{what}: htmx did not load"
    assert page.evaluate("window.__blocked") == [], f"{what}: blocked by the CSP"
    assert errors == [], f"{what}: console errors {errors}"


@pytest.mark.browser
def test_pages_work_under_the_policy(company, live_server, new_page):  # type: ignore[no-untyped-def]
    for role, urls in PAGES.items():
        page = new_page(lang="en", enforce_csp=True)
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: _console(m, errors))
        page.add_init_script(WATCH)
        browser_sign_in(page, live_server, *PASSWORDS[role])
        for url in urls:
            response = page.goto(live_server + url)
            assert response is not None and response.status == 200, url
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
            _check(page, errors, f"{role} {url}")

        if role == "inspector":
            # An htmx form answered with 422: the messages are swapped in (no inline handler needed).
            page.goto(live_server + "/inspections")
            page.fill("#contact_on", "2099-01-01")
            page.click("#inspection-form button[type=submit]")
            page.locator("#err-contact_on").wait_for()
            _check(page, errors, "inspection form 422")
            screenshot(page, "csp-inspection-422")
        if role == "admin":
            # htmx POSTs carry the session's CSRF token; a weak password comes back as a 422 form.
            page.goto(live_server + "/admin/users")
            form = page.locator("form.new-user")
            form.locator("input[name=username]").fill("carol")
            form.locator("select[name=role]").select_option("hr")
            form.locator("input[name=password]").fill("iloveyou")
            form.locator("button[type=submit]").click()
            page.get_by_text("Password: too common or too easy to guess; choose another.").wait_for()
            form.locator("input[name=password]").fill("carol-strong-pass-4")
            form.locator("button[type=submit]").click()
            page.get_by_text("Login carol created.").wait_for()
            _check(page, errors, "admin htmx forms")
            screenshot(page, "csp-admin-users")


@pytest.mark.browser
def test_no_site_can_frame_a_page(company, live_server, new_page):  # type: ignore[no-untyped-def]
    page = new_page(lang="en", enforce_csp=True)
    page.set_content(f'<iframe id="f" src="{live_server}/login" width="600" height="400"></iframe>')
    # set_content returns after the load event, which waits for the frame (or its refusal).
    frame = page.frame_locator("#f")
    assert frame.locator("input[name=password]").count() == 0, "the sign-in form rendered inside a frame"
