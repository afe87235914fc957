"""Sign-in, sessions, throttling, CSRF, redirects after sign-in, the language switch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import LoginThrottle, utcnow
from starlevel.services import users
from starlevel.web.auth import throttle_keys
from tests.conftest import csrf_token, sign_in
from tests.seed import seed_company

EN = {"accept-language": "en-GB,en;q=0.9"}


@pytest.fixture
def web(client, session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    return client


def _login(client, username: str, password: str, next_: str = "", headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/login", data={"username": username, "password": password, "next": next_, "_csrf_token": csrf_token(client)},
        headers=headers or {}, follow_redirects=False,
    )


def test_sign_in_and_out(web):  # type: ignore[no-untyped-def]
    page = web.get("/login", headers=EN)
    assert page.status_code == 200 and 'name="password"' in page.text and "Sign in" in page.text
    assert web.get("/api/me").status_code == 401

    response = sign_in(web, "ann", "ann-pass-12")
    assert (response.status_code, response.headers["location"]) == (302, "/me")
    assert web.get("/api/me").json()["username"] == "ann"
    assert web.get("/", follow_redirects=False).headers["location"] == "/me"
    session_cookie = web.cookies.get("session")
    assert session_cookie

    out = web.post("/logout", data={"_csrf_token": csrf_token(web)}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (302, "/login")
    assert web.get("/api/me").status_code == 401
    bounced = web.get("/me", follow_redirects=False)
    assert bounced.status_code in (302, 303) and bounced.headers["location"].startswith("/login?next=/me")
    # The old session cookie is dead on the server too, not just forgotten by this browser.
    web.cookies.set("session", session_cookie)
    assert web.get("/api/me").status_code == 401


@pytest.mark.parametrize(("who", "home"), [("admin", "/admin/users"), ("hr", "/hr"), ("qa", "/inspections")])
def test_staff_land_on_their_home(web, who, home):  # type: ignore[no-untyped-def]
    password = {"admin": "admin-pass-1", "hr": "hr-pass-12", "qa": "qa-pass-12"}[who]
    assert sign_in(web, who, password).headers["location"] == home


def test_wrong_password_message_in_both_languages(web):  # type: ignore[no-untyped-def]
    wrong = _login(web, "ann", "not-her-password", headers=EN)
    assert wrong.status_code == 401
    assert "Wrong username or password, or the account is disabled." in wrong.text
    assert 'value="ann"' in wrong.text, "the username is kept, the password is not"
    assert "not-her-password" not in wrong.text
    unknown = _login(web, "nobody", "whatever-123", headers={"accept-language": "zh-CN"})
    assert unknown.status_code == 401 and "用户名或密码错误，或账号已停用。" in unknown.text
    assert web.get("/api/me").status_code == 401


def _failed_ago(session_factory, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Set when the last failed attempt happened, instead of sleeping (or racing a slow machine)."""
    with session_scope(session_factory) as s:
        for row in s.scalars(select(LoginThrottle)):
            row.last_failed_at = utcnow() - timedelta(seconds=seconds)


def test_throttling_after_three_failures(web, session_factory):  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert _login(web, "ann", "wrong-password", headers=EN).status_code == 401
    _failed_ago(session_factory, 0)
    refused = _login(web, "ann", "ann-pass-12", headers=EN)
    assert refused.status_code == 429, "refused even with the right password"
    assert "Too many failed sign-ins. Try again in 1 second." in refused.text
    assert refused.headers["retry-after"] == "1", "the wait travels as Retry-After too"
    _failed_ago(session_factory, 0)
    zh = _login(web, "ann", "ann-pass-12", headers={"accept-language": "zh"})
    assert zh.status_code == 429 and "登录失败次数过多，请在 1 秒后重试。" in zh.text
    assert web.get("/api/me").status_code == 401
    pair, _addr = throttle_keys("ann", "testclient")
    with session_factory() as s:
        assert s.get(LoginThrottle, pair).failures == 3, "refused attempts are not counted as guesses"

    _failed_ago(session_factory, 5)
    # One more wrong guess: the wait doubles (2 s after the 4th failure).
    assert _login(web, "ann", "still-wrong", headers=EN).status_code == 401
    _failed_ago(session_factory, 0)
    again = _login(web, "ann", "ann-pass-12", headers=EN)
    assert again.status_code == 429 and "Try again in 2 seconds." in again.text
    assert again.headers["retry-after"] == "2"

    _failed_ago(session_factory, 5)
    ok = _login(web, "ann", "ann-pass-12")
    assert (ok.status_code, ok.headers["location"]) == (302, "/me")
    with session_factory() as s:
        assert s.get(LoginThrottle, pair) is None, "a good sign-in clears the count"


def test_a_disabled_user_is_out_at_once(web, session_factory):  # type: ignore[no-untyped-def]
    sign_in(web, "ann", "ann-pass-12")
    assert web.get("/me").status_code == 200
    with session_scope(session_factory) as s:
        users.set_disabled(s, "ann", True, actor="admin", reason="left")
    bounced = web.get("/me", follow_redirects=False)
    assert bounced.status_code in (302, 303) and bounced.headers["location"].startswith("/login")
    assert web.get("/api/me").status_code == 401
    refused = _login(web, "ann", "ann-pass-12", headers=EN)
    assert refused.status_code == 401 and "disabled" in refused.text
    with session_scope(session_factory) as s:
        users.set_disabled(s, "ann", False, actor="admin")
    assert _login(web, "ann", "ann-pass-12").status_code == 302


def test_a_password_change_ends_existing_sessions(web, app, session_factory):  # type: ignore[no-untyped-def]
    sign_in(web, "ann", "ann-pass-12")
    assert web.get("/api/me").status_code == 200
    with session_scope(session_factory) as s:
        users.set_password(s, "ann", "a-whole-new-one", actor="admin")
    assert web.get("/api/me").status_code == 401
    assert _login(web, "ann", "ann-pass-12").status_code == 401
    assert _login(web, "ann", "a-whole-new-one").status_code == 302
    assert web.get("/api/me").status_code == 200


def test_csrf_token_required(web, session_factory):  # type: ignore[no-untyped-def]
    csrf_token(web)  # the cookie alone is not enough: the form field or header must match it
    no_token = web.post("/login", data={"username": "ann", "password": "ann-pass-12"}, follow_redirects=False)
    assert no_token.status_code == 403
    assert web.get("/api/me").status_code == 401
    forged = web.post("/login", data={"username": "ann", "password": "ann-pass-12", "_csrf_token": "forged"},
                      follow_redirects=False)
    assert forged.status_code == 403

    sign_in(web, "hr", "hr-pass-12")
    assert web.post("/logout", follow_redirects=False).status_code == 403
    assert web.get("/api/me").status_code == 200, "a forged sign-out does nothing"
    body = {"agent_id": "A001", "month": "2025-06", "action": "approve", "reason": ""}
    assert web.post("/api/decisions", json=body).status_code == 403
    assert web.post("/api/decisions", json=body, headers={"x-csrftoken": "forged"}).status_code == 403


@pytest.mark.parametrize("target", [
    "//evil.example/phish", "https://evil.example/", "http:/evil.example", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/\t/evil.example", "/\n/evil.example",
])
def test_no_open_redirect_after_sign_in(web, target):  # type: ignore[no-untyped-def]
    page = web.get("/login", params={"next": target})
    assert "evil" not in page.text and "javascript" not in page.text
    response = _login(web, "hr", "hr-pass-12", next_=target)
    assert (response.status_code, response.headers["location"]) == (302, "/hr")
    lang = web.get("/lang/en", params={"next": target}, follow_redirects=False)
    assert lang.headers["location"] == "/"


def test_next_keeps_a_local_page(web):  # type: ignore[no-untyped-def]
    bounced = web.get("/agents", follow_redirects=False)
    target = bounced.headers["location"]
    assert target == "/login?next=/agents"
    assert 'value="/agents"' in web.get(target).text
    response = _login(web, "hr", "hr-pass-12", next_="/agents")
    assert response.headers["location"] == "/agents"


def test_language_switch_cookie_sticks(web):  # type: ignore[no-untyped-def]
    zh = {"accept-language": "zh-CN,zh;q=0.9"}
    assert "登录" in web.get("/login", headers=zh).text, "Accept-Language alone picks Chinese"
    assert "登录" in web.get("/login").text, "Chinese is the default"
    assert "Sign in" in web.get("/login", headers=EN).text

    switched = web.get("/lang/en", params={"next": "/login"}, headers=zh, follow_redirects=False)
    assert (switched.status_code, switched.headers["location"]) == (302, "/login")
    assert web.cookies.get("lang") == "en"
    page = web.get("/login", headers=zh)
    assert "Sign in" in page.text and "登录" not in page.text, "the cookie beats Accept-Language"
    sign_in(web, "ann", "ann-pass-12")
    me = web.get("/me", headers=zh)
    assert me.status_code == 200 and 'lang="en"' in me.text
    web.get("/lang/zh")
    assert "登录" in web.get("/login", headers=EN).text
    web.get("/lang/xx")
    assert web.cookies.get("lang") == "zh", "an unknown language falls back to the default"


def test_session_cookie_is_http_only(web):  # type: ignore[no-untyped-def]
    response = sign_in(web, "ann", "ann-pass-12")
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("session=")]
    assert cookies, response.headers
    flags = cookies[-1].lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
