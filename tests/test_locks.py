"""The advisory locks of a one-agent re-evaluation on PostgreSQL (starlevel.services.locks):
the agent's own lock first, then the results lock, taken in one statement."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from starlevel.services import locks


@pytest.fixture
def pg(session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as s:
        if not locks.is_postgres(s):
            pytest.skip("advisory locks are PostgreSQL's; on SQLite the one writer orders everything")
    return session_factory


def _advisory(session, pid: int) -> set[tuple[int, int, str, bool]]:  # type: ignore[no-untyped-def]
    rows = session.execute(text(
        "SELECT classid::bigint, objid::bigint, mode, granted FROM pg_locks WHERE locktype = 'advisory' AND pid = :p"
    ), {"p": pid}).all()
    return {(int(r[0]), int(r[1]), r[2], r[3]) for r in rows}


def _as_unsigned(key: tuple[int, int]) -> tuple[int, int]:
    return key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF  # pg_locks shows the two int4 keys as oid


def test_a_deferred_save_holds_its_agent_exclusively_and_the_results_shared(pg):  # type: ignore[no-untyped-def]
    with pg() as s, pg() as watcher:
        pid = s.scalar(text("SELECT pg_backend_pid()"))
        assert locks.agent_results(s, "A00042", wait_for_company=False) is True
        held = _advisory(watcher, pid)
        assert (*_as_unsigned(locks._agent_key("A00042")), "ExclusiveLock", True) in held
        assert (*_as_unsigned(locks.RESULTS), "ShareLock", True) in held
        s.rollback()
        assert _advisory(watcher, pid) == set()  # transaction locks end with the transaction


def test_a_deferred_save_gives_way_to_a_company_wide_run(pg):  # type: ignore[no-untyped-def]
    with pg() as holder_session, pg() as s:
        conn = holder_session.connection()
        assert locks.hold_results(conn, wait=False) is True  # as the deferred runner holds it
        try:
            assert locks.agent_results(s, "A00042", wait_for_company=False) is False
            s.rollback()
        finally:
            locks.release_results(conn)
        assert locks.agent_results(s, "A00042", wait_for_company=False) is True
        s.rollback()


def test_a_second_change_to_the_same_agent_waits_for_the_first(pg):  # type: ignore[no-untyped-def]
    with pg() as first, pg() as watcher:
        assert locks.agent_results(first, "A00042", wait_for_company=False) is True
        done: list[bool] = []

        def second() -> None:
            with pg() as s:
                done.append(locks.agent_results(s, "A00042", wait_for_company=False))
                s.rollback()

        thread = threading.Thread(target=second)
        thread.start()
        waiting = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        while not watcher.scalar(waiting):  # the second is queued behind the agent's lock
            watcher.rollback()
            assert thread.is_alive() and not done
        assert not done
        first.rollback()
        thread.join()
        assert done == [True]
