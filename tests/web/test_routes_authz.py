"""Every route of the app × every role, against an explicit table of who may use what.

The table is keyed by (method, path template). A route that is not in the table fails
the test ("new route without an authorization rule"), so every future route gets a
rule; a rule whose route is gone fails too. The walk is behavioural: it sends real
requests (with a valid CSRF token, so only the role decides) and checks that

- an allowed role gets through (GET: 2xx/3xx not to /login; POST: anything but
  401/403/5xx or a bounce to /login — an empty form may well be refused as invalid);
- a signed-in role that is not allowed gets 403;
- anonymous gets a redirect to /login (pages) or 401 (/api), unless the route is public.

For agents it also checks that no page or API they may open shows another agent's data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from starlevel.db.models import Inspection, InspectionDefect
from starlevel.services import calibration, users
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company

PUBLIC = "public"
ALL = ("admin", "hr", "inspector", "agent")
STAFF = ("admin", "hr", "inspector")
ROLES = ("admin", "hr", "inspector", "agent", "anonymous")
LOGIN_AS = {"admin": "admin", "hr": "hr", "inspector": "inspector", "agent": "agent"}

# (method, path template) -> the roles allowed, or PUBLIC (anyone, signed in or not).
RULES: dict[tuple[str, str], tuple[str, ...] | str] = {
    # ---- public: sign-in, language switch, health, static files, the API schema
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/lang/{lang}"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/static/{file_path}"): PUBLIC,
    ("HEAD", "/static/{file_path}"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/schema/openapi.yaml"): PUBLIC,
    ("GET", "/schema/openapi.yml"): PUBLIC,
    ("GET", "/schema/swagger"): PUBLIC,
    ("GET", "/schema/redoc"): PUBLIC,
    ("GET", "/schema/rapidoc"): PUBLIC,
    ("GET", "/schema/elements"): PUBLIC,
    ("GET", "/schema/oauth2-redirect.html"): PUBLIC,
    ("GET", "/schema/{path}"): PUBLIC,
    # ---- any signed-in user: the role-aware home redirect and signing out
    ("GET", "/"): ALL,
    ("POST", "/logout"): ALL,
    # ---- agents: their own star only (the agent id comes from the login, never the request)
    ("GET", "/me"): ("agent",),
    ("GET", "/me/defects"): ("agent",),
    # ---- agents: their new inspections (seen / dispute) and their own disputes
    ("GET", "/me/inspections"): ("agent",),
    ("POST", "/me/inspections/seen"): ("agent",),
    ("GET", "/me/disputes"): ("agent",),
    ("POST", "/me/disputes"): ("agent",),
    ("POST", "/me/disputes/{dispute_id}/escalate"): ("agent",),
    # ---- disputes: inspectors review, HR decides escalations
    ("GET", "/disputes"): ("inspector", "hr"),
    ("POST", "/disputes/{dispute_id}/decide"): ("inspector", "hr"),
    # ---- calibration: HR and inspectors (the service limits each session to its lead, inspectors and HR)
    ("GET", "/calibration"): ("inspector", "hr"),
    ("POST", "/calibration"): ("inspector", "hr"),
    ("GET", "/calibration/{session_id}"): ("inspector", "hr"),
    ("POST", "/calibration/{session_id}/items/{item_id}/score"): ("inspector", "hr"),
    ("POST", "/calibration/{session_id}/items/{item_id}/agree"): ("inspector", "hr"),
    ("POST", "/calibration/{session_id}/items/{item_id}/apply"): ("inspector", "hr"),
    # ---- inspector consistency: HR sees everyone, an inspector their own row
    ("GET", "/consistency"): ("inspector", "hr"),
    # ---- staff views of agents
    ("GET", "/agents"): STAFF,
    ("GET", "/agents/{agent_id}"): STAFF,
    ("GET", "/agents/{agent_id}/defects"): STAFF,
    # ---- QA inspections: inspectors record; HR corrects (voids); HR and admin may look
    ("GET", "/inspections"): STAFF,
    ("POST", "/inspections"): ("inspector",),
    ("GET", "/inspections/score"): ("inspector",),
    ("GET", "/inspections/agent-search"): STAFF,
    ("POST", "/inspections/void"): ("inspector", "hr"),
    ("POST", "/inspections/defects/void"): ("inspector", "hr"),
    # ---- uploads: inspectors upload inspections/metrics; HR and admin also agents (checked by kind)
    ("GET", "/uploads"): STAFF,
    ("POST", "/uploads"): STAFF,
    ("GET", "/uploads/templates/{kind}"): STAFF,
    # ---- monthly inputs of one agent-month: staff see them; inspectors and HR enter/correct
    ("GET", "/metrics"): STAFF,
    ("POST", "/metrics"): ("inspector", "hr"),
    ("GET", "/metrics/export.csv"): STAFF,
    # ---- HR: decisions, payroll, rulebook; the admin may read the review and the rulebook
    ("GET", "/hr"): ("hr", "admin"),
    ("POST", "/hr/decisions"): ("hr",),
    ("GET", "/hr/payroll"): ("hr",),
    ("GET", "/hr/payroll.csv"): ("hr",),
    ("GET", "/hr/ladder.csv"): ("hr",),
    ("GET", "/hr/payroll.xlsx"): ("hr",),
    ("GET", "/hr/dashboard"): ("hr", "admin"),
    ("GET", "/hr/summary"): ("hr", "admin"),
    # ---- HR's month: close/reopen, review cases, what-if (pay figures: HR only)
    ("GET", "/hr/months"): ("hr",),
    ("POST", "/hr/months/close"): ("hr",),
    ("POST", "/hr/months/reopen"): ("hr",),
    ("GET", "/hr/reviews"): ("hr",),
    ("POST", "/hr/reviews"): ("hr",),
    ("GET", "/hr/whatif"): ("hr",),
    ("POST", "/hr/whatif"): ("hr",),
    ("GET", "/hr/rulebook"): ("hr", "admin"),
    ("POST", "/hr/rulebook/preview"): ("hr",),
    ("POST", "/hr/rulebook"): ("hr",),
    ("GET", "/hr/periods"): ("hr", "admin"),
    ("GET", "/hr/periods/csv"): ("hr",),
    # ---- the rules in plain language, for everyone signed in
    ("GET", "/rules"): ALL,
    # ---- admin: accounts and the audit log
    ("GET", "/admin/users"): ("admin",),
    ("POST", "/admin/users"): ("admin",),
    ("POST", "/admin/users/{username}/password"): ("admin",),
    ("POST", "/admin/users/{username}/disable"): ("admin",),
    ("POST", "/admin/users/{username}/enable"): ("admin",),
    ("GET", "/admin/audit"): ("admin",),
    # ---- JSON API
    ("GET", "/api/me"): ALL,
    ("GET", "/api/me/star"): ("agent",),
    ("GET", "/api/me/results"): ("agent",),
    ("GET", "/api/agents"): STAFF,
    ("GET", "/api/agents/{agent_id}"): STAFF,
    ("GET", "/api/agents/{agent_id}/results"): STAFF,
    ("GET", "/api/inspections"): STAFF,
    ("POST", "/api/inspections"): ("inspector",),
    ("GET", "/api/inspections/{inspection_id}"): STAFF,
    ("POST", "/api/inspections/{inspection_id}/void"): ("inspector", "hr"),
    ("POST", "/api/defects/{defect_id}/void"): ("inspector", "hr"),
    ("GET", "/api/months/{month}/results"): ("hr",),
    ("POST", "/api/decisions"): ("hr",),
    ("GET", "/api/rulebooks"): ("hr", "admin"),
    ("GET", "/api/disputes"): ("agent", "inspector", "hr"),
    ("POST", "/api/disputes"): ("agent",),
    ("POST", "/api/disputes/{dispute_id}/decide"): ("inspector", "hr"),
    ("POST", "/api/disputes/{dispute_id}/escalate"): ("agent",),
}

# Routes whose own answer looks like a refusal: an empty sign-in form is a wrong password
# (401, the form again), and signing out sends you to /login.
OWN_ANSWER = {("POST", "/login"): 401, ("POST", "/logout"): 302}

# Pay is private: no page or API answer an inspector or admin may open carries a pay figure
# (the seeded totals of 2025-06, as pages and the API print them).
PAY_MARKERS = ("2,142.00", "2142.00", "2,448.00", "2448.00")
NO_PAY = ("inspector", "admin")

# What an agent signed in as ann (A001) must never see, and bob's (A002) equivalents.
OTHERS = {"agent": ("A002", "Bob Wu", "A003", "陈静"), "agent2": ("A001", "Ann Lee", "A003", "陈静")}


def template(path: str) -> str:
    """Litestar's '/agents/{agent_id:str}' as the table's '/agents/{agent_id}'."""
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def app_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, template) of every route handler; OPTIONS is Litestar's automatic preflight."""
    found = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method != "OPTIONS":
                    found.add((method, template(route.path)))
    return sorted(found)


def seeded_values(session_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        inspection_id = s.scalar(select(Inspection.inspection_id).where(
            Inspection.agent_id == "A002", Inspection.month == "2025-06").order_by(Inspection.inspection_id))
        defect_id = s.scalar(select(InspectionDefect.id).where(InspectionDefect.inspection_id == inspection_id))
        users.create_user(s, "qa2", role="inspector", password="qa2-pass-12")
        session_id = calibration.create(s, title="authz", inspection_ids=[str(inspection_id)],
                                        inspectors=["qa", "qa2"], actor="hr").id
        s.commit()
    return {
        "agent_id": "A002", "month": "2025-06", "inspection_id": str(inspection_id), "defect_id": str(defect_id),
        "lang": "en", "file_path": "app.css", "kind": "inspections", "username": "bob", "path": "nothing-here",
        "dispute_id": "1", "session_id": str(session_id), "item_id": "999999",
    }


def fill(path: str, values: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            pytest.fail(f"{path}: no seeded value for path parameter {name!r}; add one to seeded_values()")
        return values[name]

    return re.sub(r"\{(\w+)\}", value, path)


def test_every_route_has_an_authorization_rule(app):  # type: ignore[no-untyped-def]
    routes = app_routes(app)
    missing = [r for r in routes if r not in RULES]
    assert not missing, "new route without an authorization rule (add it to RULES):\n" + "\n".join(
        f"  {m} {p}" for m, p in missing)
    stale = [r for r in RULES if r not in routes]
    assert not stale, f"rules for routes that no longer exist: {stale}"


def _order(routes: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Reads first, then writes; signing out last (it ends the session)."""
    yield from (r for r in routes if r[0] in ("GET", "HEAD"))
    yield from (r for r in routes if r[0] == "POST" and r[1] != "/logout")
    yield from (r for r in routes if r == ("POST", "/logout"))


def _request(client, method: str, url: str, token: str):  # type: ignore[no-untyped-def]
    if method in ("GET", "HEAD"):
        return client.request(method, url, follow_redirects=False)
    if url.startswith("/api/"):
        return client.post(url, json={}, headers={"x-csrftoken": token}, follow_redirects=False)
    return client.post(url, data={"_csrf_token": token}, headers={"x-csrftoken": token}, follow_redirects=False)


def _to_login(response) -> bool:  # type: ignore[no-untyped-def]
    return response.is_redirect and response.headers.get("location", "").startswith("/login")


def _verdict(role: str, rule: tuple[str, ...] | str, method: str, path: str, response) -> str | None:  # type: ignore[no-untyped-def]
    """None when the response matches the rule, else what is wrong."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if rule == PUBLIC or (role != "anonymous" and role in rule):
        if OWN_ANSWER.get((method, path)) == status:
            return None
        if status in (401, 403) or _to_login(response):
            return f"should be allowed, got {status} {response.headers.get('location', '')}"
        if method in ("GET", "HEAD") and status >= 400 and rule != PUBLIC:
            return f"allowed but the page failed: {status}"
        return None
    if role == "anonymous":
        if path.startswith("/api/"):
            return None if status == 401 else f"anonymous should get 401, got {status}"
        return None if _to_login(response) else f"anonymous should be sent to /login, got {status}"
    return None if status == 403 else f"{role} should be refused with 403, got {status}"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_every_role(app, client, session_factory, role):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    values = seeded_values(session_factory)
    if role != "anonymous":
        username, password = PASSWORDS[LOGIN_AS[role]]
        assert sign_in(client, username, password).status_code in (302, 303)
    token = csrf_token(client)
    routes = app_routes(app)
    problems = []
    for method, path in _order(routes):
        rule = RULES.get((method, path))
        if rule is None:
            problems.append(f"{method} {path}: new route without an authorization rule")
            continue
        response = _request(client, method, fill(path, values), token)
        wrong = _verdict(role, rule, method, path, response)
        if wrong:
            problems.append(f"{method} {path} as {role}: {wrong}")
        if role in NO_PAY and method == "GET" and response.status_code == 200:
            shown = [x for x in PAY_MARKERS if x in response.text]
            if shown:
                problems.append(f"{method} {path} shows pay figures to {role}: {shown}")
        if role == "agent" and method == "GET" and response.status_code == 200 and rule != PUBLIC:
            leaked = [x for x in OTHERS["agent"] if x in response.text]
            if leaked:
                problems.append(f"{method} {path} shows another agent's data to ann: {leaked}")
    assert not problems, "\n".join(problems)


def test_anonymous_htmx_request_is_told_to_sign_in(company_client):  # type: ignore[no-untyped-def]
    response = company_client.get("/agents", headers={"hx-request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/login")


@pytest.fixture
def company_client(client, session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    return client


@pytest.mark.parametrize("who", ["agent", "agent2"])
def test_an_agent_never_reads_another_agents_data(company_client, session_factory, who):  # type: ignore[no-untyped-def]
    client = company_client
    username, password = PASSWORDS[who]
    sign_in(client, username, password)
    own, other = ("A001", "A002") if who == "agent" else ("A002", "A001")
    # Their own views ignore any agent id smuggled into the query string.
    for url in ("/api/me/results", "/api/me/star", "/me", "/me/defects?month=2025-06"):
        for smuggled in ("", f"agent_id={other}", f"agent={other}", f"id={other}"):
            sep = "&" if "?" in url else "?"
            response = client.get(url + (sep + smuggled if smuggled else ""), follow_redirects=False)
            assert response.status_code == 200, (url, smuggled, response.status_code)
            leaked = [x for x in OTHERS[who] if x in response.text]
            assert not leaked, f"{url}?{smuggled} shows {leaked} to {username}"
            if url.startswith("/api/me/results"):
                assert {r["agent_id"] for r in response.json()} == {own}
    # Staff views of any agent, their own included, are closed to agents.
    for url in (f"/agents/{other}", f"/agents/{other}/defects", f"/api/agents/{other}",
                f"/api/agents/{other}/results", f"/agents/{own}", f"/api/agents/{own}", "/api/agents",
                f"/api/inspections?agent_id={other}", "/api/months/2025-06/results"):
        assert client.get(url, follow_redirects=False).status_code == 403, url
