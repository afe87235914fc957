"""The admin area over HTTP: logins (create, reset, disable/enable) and the audit log."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, User
from starlevel.services import audit
from starlevel.web import i18n
from tests.conftest import csrf_token, sign_in
from tests.web.test_hr_http import _as, passwords  # noqa: F401  (a fixture)

EN = i18n.gettext_for("en")
ZH = i18n.gettext_for("zh")
HX = {"HX-Request": "true"}
GETS = ["/admin/users", "/admin/audit", "/admin/audit?entity=user&actor=admin&page=1"]
POSTS = ["/admin/users", "/admin/users/ann/password", "/admin/users/ann/disable", "/admin/users/ann/enable"]


def _sign_out(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/logout", data={"_csrf_token": csrf_token(client)})


def _users(session_factory) -> dict[str, User]:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        return {u.username: u for u in s.scalars(select(User))}


def test_only_admins_get_in(client, passwords) -> None:  # type: ignore[no-untyped-def]
    for url in GETS:
        r = client.get(url, follow_redirects=False)
        assert r.status_code in (302, 303) and r.headers["location"].startswith("/login"), url
    for role in ("hr", "inspector", "agent"):
        _as(client, passwords, role)
        token = csrf_token(client)
        for url in GETS:
            assert client.get(url).status_code == 403, (role, url)
        for url in POSTS:
            assert client.post(url, data={"_csrf_token": token, "reason": "x", "password": "long-enough-1"}).status_code == 403
        _sign_out(client)
    _as(client, passwords, "admin")
    for url in GETS:
        assert client.get(url).status_code == 200, url


def test_posts_need_the_csrf_token(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "admin")
    for url in POSTS:
        assert client.post(url, data={"username": "x1", "role": "hr", "password": "long-enough-1", "reason": "r"}).status_code == 403
    assert "x1" not in _users(session_factory) and not _users(session_factory)["ann"].disabled


def test_create_a_login_and_every_error_in_place(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "admin")
    client.cookies.set("lang", "en")
    page = client.get("/admin/users").text
    assert "ann" in page and "A001" in page and "Ann Lee" in page
    token = csrf_token(client)

    def create(**form: str):  # type: ignore[no-untyped-def]
        return client.post("/admin/users", data={"_csrf_token": token, **form})

    r = create(username="hr", role="hr", agent_id="", password="short")
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert EN("Username: this username is taken already.") in text
    assert EN("Password: at least {n} characters.").format(n=8) in text
    r = create(username="carol", role="agent", agent_id="", password="long-enough-1")
    assert EN("Agent ID: an agent login must be linked to an agent record.") in html.unescape(r.text)
    r = create(username="carol", role="agent", agent_id="Z999", password="long-enough-1")
    assert EN("Agent ID: there is no agent with this ID.") in html.unescape(r.text)
    r = create(username="carol", role="hr", agent_id="A002", password="long-enough-1")
    assert EN("Agent ID: only agent logins are linked to an agent record; leave it empty.") in html.unescape(r.text)
    assert 'value="carol"' in r.text and "long-enough-1" not in r.text  # typed values kept, never the password
    assert "carol" not in _users(session_factory)

    # A login name is shown on pages and written into exports: bounded, and never formula-like.
    r = create(username="u" * 65, role="hr", agent_id="", password="long-enough-1")
    assert r.status_code == 422 and EN("Username: at most {n} characters.").format(n=64) in html.unescape(r.text)
    for name in ('=HYPERLINK("http://x")', "+1+1", "@SUM(1)", "-2", "carol lee", "tab\tname"):
        r = create(username=name, role="hr", agent_id="", password="long-enough-1")
        assert r.status_code == 422, name
        assert EN("Username: letters and digits, with . _ - @ after the first character.") in html.unescape(r.text)
    client.cookies.set("lang", "zh")
    r = create(username="=1+1", role="hr", agent_id="", password="long-enough-1")
    assert ZH("Username: letters and digits, with . _ - @ after the first character.") in r.text
    client.cookies.set("lang", "en")
    assert {"u" * 65, "+1+1", "=1+1"}.isdisjoint(_users(session_factory))
    r = create(username="张伟.qa-2", role="inspector", agent_id="", password="long-enough-1")  # any script
    assert r.status_code == 200 and "张伟.qa-2" in _users(session_factory)

    # htmx: errors come back as the partial (422, which base.html has htmx swap).
    r = client.post("/admin/users", headers=HX, data={"_csrf_token": token, "username": "", "role": "hr", "password": "x"})
    assert r.status_code == 422 and r.text.lstrip().startswith('<div id="users">')
    assert EN("Username: enter a username.") in html.unescape(r.text)

    r = create(username="carol", role="agent", agent_id="A003", password="long-enough-1")
    assert r.status_code == 200 and EN("Login {name} created.").format(name="carol") in r.text
    carol = _users(session_factory)["carol"]
    assert (carol.role, carol.agent_id, carol.disabled) == ("agent", "A003", False)
    _sign_out(client)
    assert sign_in(client, "carol", "long-enough-1").headers["location"] == "/me"


def test_reset_password_disable_and_enable(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    _as(client, passwords, "admin")
    client.cookies.set("lang", "zh")
    token = csrf_token(client)
    r = client.post("/admin/users/bob/password", data={"_csrf_token": token, "password": "short"})
    assert r.status_code == 422 and ZH("Password: at least {n} characters.").format(n=8) in r.text
    r = client.post("/admin/users/bob/password", data={"_csrf_token": token, "password": "new-bob-pass-1"})
    assert r.status_code == 200 and ZH("Password of {name} reset.").format(name="bob") in r.text
    assert client.post("/admin/users/nobody/password", data={"_csrf_token": token, "password": "new-bob-pass-1"}).status_code == 422

    r = client.post("/admin/users/bob/disable", data={"_csrf_token": token, "reason": " "})
    assert r.status_code == 422 and ZH("Reason: say why.") in r.text
    r = client.post("/admin/users/admin/disable", data={"_csrf_token": token, "reason": "oops"})
    assert r.status_code == 422 and ZH("You cannot disable your own login.") in r.text
    assert not _users(session_factory)["admin"].disabled
    r = client.post("/admin/users/bob/disable", headers=HX, data={"_csrf_token": token, "reason": "left the company"})
    assert r.status_code == 200 and ZH("Login {name} disabled.").format(name="bob") in r.text
    assert _users(session_factory)["bob"].disabled
    r = client.post("/admin/users/bob/disable", data={"_csrf_token": token, "reason": "again"})
    assert r.status_code == 422 and ZH("This login is disabled already.") in r.text

    _sign_out(client)
    assert sign_in(client, "bob", "new-bob-pass-1").status_code == 401
    _as(client, passwords, "admin")
    token = csrf_token(client)
    r = client.post("/admin/users/bob/enable", data={"_csrf_token": token, "reason": "came back"})
    assert r.status_code == 200 and not _users(session_factory)["bob"].disabled
    _sign_out(client)
    assert sign_in(client, "bob", "new-bob-pass-1").status_code in (302, 303)

    with session_scope(session_factory) as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.reason)
            .where(AuditEntry.entity == "user", AuditEntry.entity_id == "bob").order_by(AuditEntry.id)
        ).all()
        assert [tuple(r) for r in rows][1:] == [
            ("set_password", "admin", ""), ("disable", "admin", "left the company"), ("enable", "admin", "came back"),
        ]


def test_audit_log_is_filtered_and_paged(client, passwords, session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        audit.record_many(s, [audit.Entry("robot", "touch", "widget", f"W{i:03d}", reason=f"r{i}") for i in range(120)])
        audit.record(s, "robot", "touch", "widget", "LAST", reason="newest", detail={"名字": "陈静"})
    _as(client, passwords, "admin")
    client.cookies.set("lang", "en")
    page = client.get("/admin/audit?entity=widget").text
    assert EN("{n} entries, newest first").format(n=121) in page
    assert page.index("LAST") < page.index("W119")  # newest first
    assert "陈静" in page and "Page 1 of 3" in page
    last = client.get("/admin/audit?entity=widget&page=3", headers=HX).text
    assert "<html" not in last and "W000" in last and "LAST" not in last
    assert "robot" not in client.get("/admin/audit?actor=admin").text.split("<tbody>")[1]
    with session_scope(session_factory) as s:
        users_total = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "user"))
    assert EN("{n} entries, newest first").format(n=users_total) in client.get("/admin/audit?entity=user").text
