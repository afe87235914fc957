"""Session ids, CSRF tokens bound to the session, sign-in throttling per (username, address),
trusted proxies, the password policy, security headers and the audit trail of sign-ins."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from ipaddress import ip_network

import httpx
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select

from starlevel.app import create_app
from starlevel.cli import cli
from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, User
from starlevel.services import users
from starlevel.services.demo import DEMO_PASSWORDS
from starlevel.settings import Settings, parse_networks
from starlevel.web import i18n
from starlevel.web.auth import client_address
from tests.conftest import csrf_token, sign_in
from tests.seed import PASSWORDS, seed_company

EN = i18n.gettext_for("en")
ZH = i18n.gettext_for("zh")
BASE = "http://testserver.local"
INVENTED = "a" * 64


@pytest.fixture
def quick_hashes(monkeypatch):  # type: ignore[no-untyped-def]
    # Throttling, not argon2's cost, is under test here: cheap hashes keep the tests quick.
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    users._dummy_hash.cache_clear()
    yield
    users._dummy_hash.cache_clear()


@pytest.fixture
def web(quick_hashes, client, session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    return client


class _Peer:
    """The test client always connects as "testclient"; this sets the peer address instead."""

    def __init__(self, app, address: str) -> None:  # type: ignore[no-untyped-def]
        self.app, self.address = app, address

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            scope["client"] = (self.address, 40000)
        await self.app(scope, receive, send)


def _from(client, app, address: str):  # type: ignore[no-untyped-def]
    client.app = _Peer(app, address)
    return client


def _login(client, username: str, password: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "_csrf_token": csrf_token(client)},
                       headers=headers or {}, follow_redirects=False)


@contextmanager
def _another_browser(client) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """The same test client with an empty cookie jar (a second person); the first one's
    cookies come back afterwards."""
    saved = httpx.Cookies(client.cookies)
    client.cookies.clear()
    try:
        yield client
    finally:
        client.cookies.clear()
        client.cookies.update(saved)


def _session_cookie(response) -> str | None:  # type: ignore[no-untyped-def]
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("session="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def _with_session(client, session_id: str) -> None:  # type: ignore[no-untyped-def]
    client.cookies.delete("session")
    client.cookies.set("session", session_id)


# ---------------------------------------------------------------- session fixation

def test_an_invented_session_id_is_never_adopted(web, app):  # type: ignore[no-untyped-def]
    _with_session(web, INVENTED)
    page = web.get("/login")
    assert _session_cookie(page) in (None, "null"), "no session is created for an anonymous visit"
    signed_in = sign_in(web, "ann", "ann-pass-12")
    assert signed_in.status_code == 302
    new_id = _session_cookie(signed_in)
    assert new_id and new_id not in (INVENTED, "null")
    assert web.get("/api/me").json()["username"] == "ann"

    with _another_browser(web) as attacker:
        attacker.cookies.set("session", INVENTED)
        assert attacker.get("/api/me").status_code == 401, "the planted id did not become the victim's session"


def test_each_sign_in_gets_a_new_id_and_the_old_one_dies(web, app):  # type: ignore[no-untyped-def]
    first = _session_cookie(sign_in(web, "ann", "ann-pass-12"))
    assert first and web.get("/api/me").json()["username"] == "ann"
    second = _session_cookie(sign_in(web, "hr", "hr-pass-12"))
    assert second and second != first
    assert web.get("/api/me").json()["username"] == "hr"
    with _another_browser(web) as other:
        other.cookies.set("session", first)
        assert other.get("/api/me").status_code == 401, "the id from before the sign-in is dead"


def test_anonymous_pages_store_no_session(web, session_factory):  # type: ignore[no-untyped-def]
    from starlevel.db.models import SessionRow

    for _ in range(3):
        assert _session_cookie(web.get("/login")) is None
    web.get("/me", follow_redirects=False)
    with session_factory() as s:
        assert s.scalars(select(SessionRow)).all() == []


def test_a_role_change_ends_the_session(web, session_factory):  # type: ignore[no-untyped-def]
    sign_in(web, "qa", "qa-pass-12")
    assert web.get("/api/me").status_code == 200
    with session_scope(session_factory) as s:
        s.scalar(select(User).where(User.username == "qa")).role = "hr"  # type: ignore[union-attr]
    assert web.get("/api/me").status_code == 401, "new privileges only through a new sign-in (a new id)"
    sign_in(web, "qa", "qa-pass-12")
    assert web.get("/api/me").json()["role"] == "hr"


def test_an_admin_changing_their_own_password_continues_under_a_new_id(web, app):  # type: ignore[no-untyped-def]
    before = _session_cookie(sign_in(web, "admin", "admin-pass-1"))
    r = web.post("/admin/users/admin/password", data={"_csrf_token": csrf_token(web), "password": "fresh-admin-pass-7"},
                 follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/admin/users")
    after = _session_cookie(r)
    assert after and after != before
    assert web.get("/api/me").json()["username"] == "admin"
    token = csrf_token(web)
    ok = web.post("/admin/users/bob/password", data={"_csrf_token": token, "password": "new-bob-pass-1"})
    assert ok.status_code == 200, "the new page's token works with the new session"
    with _another_browser(web) as other:
        other.cookies.set("session", before)  # type: ignore[arg-type]
        assert other.get("/api/me").status_code == 401
    hx = web.post("/admin/users/admin/password", data={"_csrf_token": csrf_token(web), "password": "again-admin-pass-8"},
                  headers={"HX-Request": "true"})
    assert hx.headers.get("hx-redirect") == "/admin/users" and _session_cookie(hx) not in (None, after)


# ---------------------------------------------------------------- CSRF bound to the session

def test_a_csrf_token_from_another_session_is_refused(web, app):  # type: ignore[no-untyped-def]
    with _another_browser(web) as attacker:
        sign_in(attacker, "bob", "bob-pass-12")
        stolen = attacker.cookies.get("csrftoken")
        assert stolen
        assert attacker.get("/api/me").status_code == 200

    sign_in(web, "hr", "hr-pass-12")
    assert web.cookies.get("csrftoken") != stolen, "a sign-in issues a new token"
    web.cookies.delete("csrftoken")
    web.cookies.set("csrftoken", stolen, domain="testserver.local")  # planted cookie + matching token: Litestar's own check passes
    out = web.post("/logout", data={"_csrf_token": stolen}, follow_redirects=False)
    assert out.status_code == 403
    body = {"agent_id": "A001", "month": "2025-06", "action": "approve", "reason": ""}
    assert web.post("/api/decisions", json=body, headers={"x-csrftoken": stolen}).status_code == 403
    assert web.get("/api/me").json()["username"] == "hr", "still signed in: the forged sign-out did nothing"
    # The next page hands the browser its own session's token again.
    page = web.get("/hr")
    mine = web.cookies.get("csrftoken")
    assert mine and mine != stolen and f'"x-csrftoken": "{mine}"' in page.text
    assert web.post("/logout", data={"_csrf_token": mine}, follow_redirects=False).status_code == 302


def test_the_session_token_works_for_forms_and_htmx(web):  # type: ignore[no-untyped-def]
    sign_in(web, "hr", "hr-pass-12")
    page = web.get("/hr")
    token = web.cookies.get("csrftoken")
    assert f'"x-csrftoken": "{token}"' in page.text
    out = web.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code == 302


# ---------------------------------------------------------------- security headers

def test_security_headers_on_every_response(web):  # type: ignore[no-untyped-def]
    responses = {
        "page": web.get("/login"),
        "static": web.get("/static/htmx.min.js"),
        "not found": web.get("/no/such/page"),
        "redirect": web.get("/me", follow_redirects=False),
        "api 401": web.get("/api/me"),
        "csrf 403": web.post("/logout", data={}, follow_redirects=False),
    }
    sign_in(web, "hr", "hr-pass-12")
    responses["signed-in page"] = web.get("/hr")
    responses["csv"] = web.get("/hr/payroll.csv?month=2025-06")
    for what, r in responses.items():
        h = r.headers
        assert h.get("x-frame-options") == "DENY", what
        assert h.get("x-content-type-options") == "nosniff", what
        assert h.get("referrer-policy") == "same-origin", what
        csp = h.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, what
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert "script-src 'self'" in responses["page"].headers["content-security-policy"]


def test_templates_hold_nothing_the_policy_blocks():  # type: ignore[no-untyped-def]
    """Inline scripts, event-handler attributes, hx-on (eval) and inline styles are refused by
    the CSP: behaviour goes in static files or htmx attributes, looks in app.css."""
    import re
    from pathlib import Path

    blocked = re.compile(r"<script(?![^>]*\bsrc=)|\shx-on[:-]|\son[a-z]+=|\sstyle=|javascript:", re.I)
    root = Path(__file__).resolve().parents[2] / "templates"
    found = [f"{p.relative_to(root)}: {m.group(0).strip()}" for p in root.rglob("*.html")
             for m in blocked.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


def test_pages_carry_no_inline_script(web):  # type: ignore[no-untyped-def]
    sign_in(web, "qa", "qa-pass-12")
    for url in ["/inspections", "/uploads"]:
        text = web.get(url).text
        assert "hx-on" not in text and "<script>" not in text and " on" + "click=" not in text, url


# ---------------------------------------------------------------- throttling

def test_guessing_from_one_address_does_not_lock_out_the_owner_elsewhere(web, app):  # type: ignore[no-untyped-def]
    attacker = _from(web, app, "203.0.113.9")
    for _ in range(6):
        assert _login(attacker, "ann", "wrong-guess-1").status_code in (401, 429)
    assert _login(attacker, "ann", "ann-pass-12").status_code == 429, "the guesser is slowed down"
    owner = _from(web, app, "198.51.100.20")
    assert _login(owner, "ann", "ann-pass-12").status_code == 302, "the owner, elsewhere, gets in"


def test_a_good_sign_in_clears_the_address(web, app, session_factory):  # type: ignore[no-untyped-def]
    office = _from(web, app, "198.51.100.7")
    # Colleagues behind one address mistype now and then, and then get it right.
    for name, password in [("ann", "ann-pass-12"), ("bob", "bob-pass-12"), ("hr", "hr-pass-12")] * 4:
        for _ in range(2):
            assert _login(office, name, "a-typo-here").status_code == 401
        assert _login(office, name, password).status_code == 302, name
        office.post("/logout", data={"_csrf_token": csrf_token(office)})
    from starlevel.db.models import LoginThrottle

    with session_factory() as s:
        assert s.scalars(select(LoginThrottle)).all() == [], "each success cleared its pair and the address"


def test_old_failures_are_forgotten(web, app, session_factory):  # type: ignore[no-untyped-def]
    from starlevel.db.models import LoginThrottle, utcnow
    from starlevel.web.auth import throttle_keys

    _from(web, app, "203.0.113.9")
    for _ in range(3):
        _login(web, "ann", "wrong-guess-1")
    _from(web, app, "203.0.113.10")
    _login(web, "bob", "wrong-guess-1")
    with session_scope(session_factory) as s:
        for row in s.scalars(select(LoginThrottle)):
            row.last_failed_at = utcnow() - timedelta(days=2)
    _from(web, app, "203.0.113.9")
    assert _login(web, "ann", "wrong-guess-2").status_code == 401, "a typo two days later is not the 4th guess"
    pair, _addr = throttle_keys("ann", "203.0.113.9")
    with session_factory() as s:
        assert s.get(LoginThrottle, pair).failures == 1
    assert _login(web, "ann", "ann-pass-12").status_code == 302
    with session_factory() as s:
        assert s.scalars(select(LoginThrottle)).all() == [], "a sign-in sweeps rows nobody needs any more"


def test_a_forged_forwarded_for_header_changes_nothing(web, app):  # type: ignore[no-untyped-def]
    _from(web, app, "203.0.113.9")
    for i in range(4):
        _login(web, "ann", "wrong-guess-1", headers={"x-forwarded-for": f"10.9.{i}.1"})
    refused = _login(web, "ann", "ann-pass-12", headers={"x-forwarded-for": "10.9.99.1"})
    assert refused.status_code == 429


def test_forwarded_for_is_believed_from_a_trusted_proxy_only(db_url, quick_hashes, session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    app = create_app(Settings(database_url=db_url, secret_key="test-secret",
                              trusted_proxies=parse_networks("10.0.0.5")))
    with TestClient(app=app, base_url=BASE) as client:
        _from(client, app, "10.0.0.5")
        # The proxy appends the real address; a client-written entry to its left is ignored.
        for i in range(4):
            _login(client, "ann", "wrong-guess-1", headers={"x-forwarded-for": f"1.2.3.{i}, 203.0.113.9"})
        assert _login(client, "ann", "ann-pass-12", headers={"x-forwarded-for": "203.0.113.9"}).status_code == 429
        ok = _login(client, "ann", "ann-pass-12", headers={"x-forwarded-for": "198.51.100.20"})
        assert ok.status_code == 302, "another real address behind the same proxy is not locked out"
    with session_scope(session_factory) as s:
        addresses = {e.detail["address"] for e in s.scalars(select(AuditEntry).where(AuditEntry.entity == "login"))}
    assert addresses == {"203.0.113.9", "198.51.100.20"}


@pytest.mark.parametrize(("peer", "header", "trusted", "expected"), [
    ("203.0.113.9", "1.1.1.1", "", "203.0.113.9"),
    ("203.0.113.9", "1.1.1.1", "10.0.0.0/8", "203.0.113.9"),
    ("10.0.0.5", "1.1.1.1, 203.0.113.9", "10.0.0.0/8", "203.0.113.9"),
    ("10.0.0.5", "203.0.113.9, 10.0.0.7", "10.0.0.0/8", "203.0.113.9"),
    ("10.0.0.5", "10.0.0.8, 10.0.0.7", "10.0.0.0/8", "10.0.0.8"),
    ("10.0.0.5", "junk", "10.0.0.0/8", "10.0.0.5"),
    ("10.0.0.5", "", "10.0.0.0/8", "10.0.0.5"),
    ("::1", "2001:db8::1", "::1", "2001:db8::1"),
])
def test_client_address(peer, header, trusted, expected):  # type: ignore[no-untyped-def]
    assert client_address(peer, header, parse_networks(trusted)) == expected


def test_trusted_proxies_setting(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STARLEVEL_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1")
    assert Settings.from_env().trusted_proxies == (ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8"), ip_network("::1/128"))
    monkeypatch.setenv("STARLEVEL_TRUSTED_PROXIES", "my-proxy")
    with pytest.raises(ValueError, match="my-proxy"):
        Settings.from_env()


def test_unknown_and_disabled_users_cost_a_hash_too(web, monkeypatch, session_factory):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
            calls.append(str(password))
            return super().verify(hash, password)

    monkeypatch.setattr(users, "_hasher", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    assert _login(web, "nobody-at-all", "whatever-123").status_code == 401
    assert calls == ["whatever-123"], "an unknown name is answered only after a hash, like a known one"
    with session_scope(session_factory) as s:
        users.set_disabled(s, "bob", True, actor="admin", reason="left")
    assert _login(web, "bob", "bob-pass-12").status_code == 401
    assert len(calls) == 2


# ---------------------------------------------------------------- audit

def test_sign_ins_and_failures_are_audited_without_passwords(web, session_factory):  # type: ignore[no-untyped-def]
    assert _login(web, "ann", "secret-wrong-1").status_code == 401
    assert _login(web, "mallory", "secret-wrong-2").status_code == 401
    assert _login(web, "ann", "ann-pass-12").status_code == 302
    with session_scope(session_factory) as s:
        rows = [(e.actor, e.action, e.entity_id, str(e.detail)) for e in
                s.scalars(select(AuditEntry).where(AuditEntry.entity == "login").order_by(AuditEntry.id))]
    assert [r[:3] for r in rows] == [
        ("anonymous", "sign_in_failed", "ann"), ("anonymous", "sign_in_failed", "mallory"), ("ann", "sign_in", "ann"),
    ]
    assert all("testclient" in r[3] and "secret" not in r[3] and "pass" not in r[3] for r in rows)


def test_payroll_downloads_are_audited(web, session_factory):  # type: ignore[no-untyped-def]
    sign_in(web, "hr", "hr-pass-12")
    assert web.get("/hr/payroll.csv?month=2025-06").status_code == 200
    assert web.get("/hr/payroll.csv?month=1999-01").status_code == 404
    with session_scope(session_factory) as s:
        rows = [(e.actor, e.action, e.entity_id) for e in s.scalars(select(AuditEntry).where(AuditEntry.entity == "payroll"))]
    assert rows == [("hr", "download", "2025-06")]


# ---------------------------------------------------------------- password policy

COMMON = ["password", "Password1", "p@ssw0rd", "qwertyuiop", "iloveyou", "12345678", "drowssap"]


@pytest.mark.parametrize("password", COMMON + ["        ", " " * 20])
def test_weak_passwords_are_refused_by_the_service(password):  # type: ignore[no-untyped-def]
    assert users.password_problem(password) in {"too_common", "blank"}


def test_the_shipped_and_test_passwords_pass():  # type: ignore[no-untyped-def]
    for _user, password in [*DEMO_PASSWORDS.values(), *PASSWORDS.values()]:
        assert users.password_problem(password) is None, password
    assert users.password_problem("correct horse battery staple") is None
    assert users.password_problem("x" * 5000) == "too_common"  # long, but no work beyond 72 characters


@pytest.fixture
def run(db_url, session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return lambda *args, stdin=None: CliRunner().invoke(cli, list(args), input=stdin)


@pytest.mark.parametrize(("password", "zh", "en"), [
    ("Password1", "太常见", "too common"),
    ("        ", "不能只有空格", "only spaces"),
])
def test_cli_refuses_weak_passwords(run, session_factory, password, zh, en):  # type: ignore[no-untyped-def]
    made = run("users", "create", "carol", "--role", "hr", "--password-stdin", stdin=password + "\n")
    assert made.exit_code != 0 and zh in made.output and en in made.output
    changed = run("users", "set-password", "ann", "--password-stdin", stdin=password + "\n")
    assert changed.exit_code != 0 and zh in changed.output and en in changed.output
    with session_scope(session_factory) as s:
        assert s.scalar(select(User).where(User.username == "carol")) is None
        assert users.check_password(s.scalar(select(User).where(User.username == "ann")), "ann-pass-12")


def test_admin_pages_refuse_weak_passwords_in_both_languages(web, session_factory):  # type: ignore[no-untyped-def]
    sign_in(web, "admin", "admin-pass-1")
    token = csrf_token(web)
    r = web.post("/admin/users/bob/password", data={"_csrf_token": token, "password": "iloveyou"})
    assert r.status_code == 422 and ZH("Password: too common or too easy to guess; choose another.") in r.text
    web.cookies.set("lang", "en")
    r = web.post("/admin/users/bob/password", data={"_csrf_token": token, "password": " " * 10})
    assert r.status_code == 422 and EN("Password: it cannot be only spaces.") in r.text
    r = web.post("/admin/users", data={"_csrf_token": token, "username": "carol", "role": "hr", "agent_id": "",
                                       "password": "Passw0rd"})
    assert r.status_code == 422 and "Password: too common or too easy to guess; choose another." in r.text
    with session_scope(session_factory) as s:
        assert s.scalar(select(User).where(User.username == "carol")) is None
        assert users.check_password(s.scalar(select(User).where(User.username == "bob")), "bob-pass-12")


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch):  # type: ignore[no-untyped-def]
    """uvicorn would otherwise take X-Forwarded-For from any local peer as the client address."""
    import uvicorn

    from starlevel import cli as cli_module

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setattr("starlevel.db.migrate.upgrade", lambda url: None)
    cli_module._serve(Settings(database_url="sqlite:///unused.db"), "127.0.0.1", 8000)
    assert seen["proxy_headers"] is False
