"""Every page, as each role that may see it, in 中文 and English, at desktop and phone width:
axe-core (run by the ``new_page`` fixture on each page visited) reports no violation."""

from __future__ import annotations

import pytest

from starlevel.services import users
from tests.conftest import axe_violations, browser_sign_in, format_violations
from tests.seed import PASSWORDS, seed_company
from tests.web.test_hr_service import add_approval_version

pytestmark = pytest.mark.browser

PAGES = {
    # June 2025 is in progress: the defaults show May, the star page a "so far" panel.
    "agent": ["/me", "/me?month=2025-06", "/me?month=2025-03", "/me/defects?month=2025-06", "/no-such-page"],
    "inspector": ["/inspections", "/inspections?month=2025-05", "/uploads", "/agents", "/agents/A002",
                  "/agents?level=3&track=phone", "/agents?level=x&page=2"],
    "hr": ["/hr", "/hr?month=2024-09", "/hr?month=2025-06", "/hr/payroll", "/hr/rulebook", "/agents", "/agents/A003",
           "/hr?page=x"],
    "admin": ["/admin/users", "/admin/audit", "/admin/audit?entity=user", "/hr", "/agents"],
}


@pytest.fixture
def company(session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setenv("STARLEVEL_TODAY", "2025-06-15")  # the live server's clock
    seed_company(session_factory)
    add_approval_version(session_factory)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_has_no_axe_violation(company, live_server, new_page, lang: str, width: int) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    login = new_page(lang=lang, width=width)
    login.goto(live_server + "/login")
    problems += [format_violations(f"/login ({lang}, {width}px)", v) for v in [axe_violations(login)] if v]
    for role, paths in PAGES.items():
        page = new_page(lang=lang, width=width)
        browser_sign_in(page, live_server, *PASSWORDS[role])
        for path in paths:
            page.goto(live_server + path)
            violations = axe_violations(page)
            if violations:
                problems.append(format_violations(f"{path} as {role} ({lang}, {width}px)", violations))
    assert not problems, "\n".join(problems)
