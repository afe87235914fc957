"""How many database connections and transactions a signed-in page costs.

Every signed-in request reads its stored session and its user; a page then runs its
handler and asks for the navigation's counts and whether figures are being updated. The
handler's session serves the navigation too, and the two one-statement reads run without
a transaction on PostgreSQL (no BEGIN, no ROLLBACK: two round trips each)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from starlevel.db.engine import make_autocommit_session_factory, session_scope
from starlevel.db.models import RecomputeRequest, User
from starlevel.web.auth import CurrentUser
from starlevel.web.render import figures_updating
from tests.conftest import sign_in
from tests.seed import seed_company


@pytest.fixture
def passwords(session_factory):  # type: ignore[no-untyped-def]
    return seed_company(session_factory)


def _checkouts_during(engine, action) -> int:  # type: ignore[no-untyped-def]
    count = 0

    def checkout(*_args) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    event.listen(engine.pool, "checkout", checkout)
    try:
        action()
    finally:
        event.remove(engine.pool, "checkout", checkout)
    return count


@pytest.mark.parametrize("role, path", [("hr", "/hr/dashboard"), ("agent", "/me"), ("inspector", "/inspections")])
def test_a_signed_in_page_takes_one_connection_for_its_handler_and_navigation(
    client, passwords, role: str, path: str,
) -> None:  # type: ignore[no-untyped-def]
    user, pw = passwords[role]
    assert sign_in(client, user, pw).status_code in (302, 303)
    assert client.get(path).status_code == 200  # warm: nothing left to store in the session
    engine = client.app.state["engine"]

    def view() -> None:
        r = client.get(path)
        assert r.status_code == 200, r.text[:300]

    # The user (1) and the handler with the navigation (1); on PostgreSQL the stored session
    # is read from the same database (1), on SQLite from its own file.
    expected = 2 if engine.dialect.name == "sqlite" else 3
    assert _checkouts_during(engine, view) == expected


def test_figures_updating_reads_on_a_fresh_session_when_the_handlers_failed(client, passwords) -> None:  # type: ignore[no-untyped-def]
    """A handler whose flush failed leaves a session that cannot read until rolled back: the
    page still learns that figures are being updated, from a session of its own."""
    app = client.app
    factory = app.state["session_factory"]
    with session_scope(factory) as s:
        s.add(RecomputeRequest(from_month="2024-09", reason="test"))
        hr = s.scalar(select(User).where(User.role == "hr"))
        assert hr is not None
        user = CurrentUser(hr.id, hr.username, hr.role, hr.agent_id, hr.username, None)
    request = SimpleNamespace(app=app, scope={"user": user})
    broken = app.state["alchemy"].provide_session(app.state, request.scope)
    try:
        broken.add(User(id=hr.id, username="someone-else", password_hash="x", role="hr"))
        with pytest.raises(Exception):
            broken.flush()  # the same primary key: the flush fails and the session needs a rollback
        assert not broken.is_active
        assert figures_updating(request) is True  # type: ignore[arg-type]
        assert "_starlevel_notices" in request.scope
    finally:
        broken.rollback()
        broken.close()


def test_the_autocommit_sessions_open_no_transaction_on_postgresql(engine) -> None:  # type: ignore[no-untyped-def]
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite's driver opens no transaction for a read anyway")
    import psycopg

    with make_autocommit_session_factory(engine)() as s:
        s.scalar(select(User.id).limit(1))
        raw = s.connection().connection.dbapi_connection
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    # The pooled connection goes back to ordinary transactions for everybody else.
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        assert conn.connection.dbapi_connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
