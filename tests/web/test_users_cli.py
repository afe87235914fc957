"""The ``starlevel users`` commands are a contract: names, options, exit codes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from starlevel.cli import cli
from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, User
from starlevel.services import users
from tests.seed import seed_company


@pytest.fixture
def run(db_url, session_factory, monkeypatch):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    monkeypatch.setenv("DATABASE_URL", db_url)

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), input=stdin)

    return invoke


def _user(session_factory, name: str) -> User | None:  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        return s.scalar(select(User).where(User.username == name))


def test_create_agent_login(run, session_factory):  # type: ignore[no-untyped-def]
    result = run("users", "create", "carol", "--role", "agent", "--agent", "A003", "--password-stdin",
                 stdin="carol-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "created agent carol" in result.output
    row = _user(session_factory, "carol")
    assert row is not None and row.role == "agent" and row.agent_id == "A003" and not row.disabled
    assert users.check_password(row, "carol-pass-1")
    assert not users.check_password(row, "carol-pass-1\n")
    with session_scope(session_factory) as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity == "user", AuditEntry.entity_id == "carol")).all()
        assert [(a.action, a.actor) for a in audit] == [("create", "cli")]


def test_create_staff_login(run, session_factory):  # type: ignore[no-untyped-def]
    result = run("users", "create", "qa2", "--role", "inspector", "--password-stdin", stdin="long-enough\n")
    assert result.exit_code == 0, result.output
    row = _user(session_factory, "qa2")
    assert row is not None and row.role == "inspector" and row.agent_id is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "create", "x1", "--role", "boss", "--password-stdin"], "long-enough\n", "boss"),
        (["users", "create", "x2", "--role", "agent", "--password-stdin"], "long-enough\n", "--agent"),
        (["users", "create", "x3", "--role", "agent", "--agent", "A999", "--password-stdin"], "long-enough\n", "A999"),
        (["users", "create", "x4", "--role", "hr", "--password-stdin"], "short\n", "too short"),
        (["users", "create", "x5", "--role", "hr", "--agent", "A001", "--password-stdin"], "long-enough\n", "agent"),
        (["users", "create", "ann", "--role", "hr", "--password-stdin"], "long-enough\n", "exists"),
        (["users", "create", "x6", "--role", "hr"], "long-enough\n", "--password-stdin"),
        (["users", "create", "=HYPERLINK(1)", "--role", "hr", "--password-stdin"], "long-enough\n", "letters and digits"),
        (["users", "create", "x" * 65, "--role", "hr", "--password-stdin"], "long-enough\n", "longer than 64"),
    ],
    ids=["unknown-role", "agent-without-agent", "unknown-agent", "short-password", "staff-with-agent",
         "duplicate", "password-not-from-stdin", "formula-like-name", "name-too-long"],
)
def test_create_errors(run, session_factory, args, stdin, message):  # type: ignore[no-untyped-def]
    result = run(*args, stdin=stdin)
    assert result.exit_code != 0
    assert message in result.output
    name = args[2]
    if name != "ann":
        assert _user(session_factory, name) is None, "a rejected create must write nothing"


def test_set_password(run, session_factory):  # type: ignore[no-untyped-def]
    result = run("users", "set-password", "ann", "--password-stdin", stdin="brand-new-pass\n")
    assert result.exit_code == 0, result.output
    row = _user(session_factory, "ann")
    assert row is not None
    assert users.check_password(row, "brand-new-pass")
    assert not users.check_password(row, "ann-pass-12")


def test_set_password_errors(run, session_factory):  # type: ignore[no-untyped-def]
    short = run("users", "set-password", "ann", "--password-stdin", stdin="short\n")
    assert short.exit_code != 0 and "too short" in short.output
    row = _user(session_factory, "ann")
    assert row is not None and users.check_password(row, "ann-pass-12"), "a rejected change keeps the old password"
    unknown = run("users", "set-password", "nobody", "--password-stdin", stdin="long-enough\n")
    assert unknown.exit_code != 0 and "nobody" in unknown.output


def test_disable(run, session_factory):  # type: ignore[no-untyped-def]
    result = run("users", "disable", "bob", "--reason", "left the company")
    assert result.exit_code == 0, result.output
    row = _user(session_factory, "bob")
    assert row is not None and row.disabled
    with session_scope(session_factory) as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "disable")).one()
        assert (entry.entity_id, entry.reason, entry.actor) == ("bob", "left the company", "cli")
    unknown = run("users", "disable", "nobody")
    assert unknown.exit_code != 0 and "nobody" in unknown.output
