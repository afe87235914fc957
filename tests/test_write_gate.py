"""SQLite writers queue at the write gate (starlevel.db.write_gate) rather than polling
SQLite's write lock with ever longer sleeps."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest
from sqlalchemy import text

from starlevel.db.engine import make_engine, make_session_factory
from starlevel.db.write_gate import gate_path


@pytest.fixture
def sqlite_file(db_url: str) -> str:
    if not db_url.startswith("sqlite:///"):
        pytest.skip("the write gate is SQLite's")
    return db_url[len("sqlite:///"):]


def _gate_free(path: str) -> bool:
    fd = os.open(gate_path(path), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_held_from_the_first_write_to_the_end_of_the_transaction(sqlite_file, session_factory):
    factory = make_session_factory(make_engine(f"sqlite:///{sqlite_file}"))
    with factory() as s:
        s.execute(text("SELECT count(*) FROM agents"))
        assert _gate_free(sqlite_file)  # reading takes nothing
        s.execute(text("INSERT INTO id_counters (name, value) VALUES ('gate-test', 1)"))
        assert not _gate_free(sqlite_file)
        s.commit()
        assert _gate_free(sqlite_file)
        s.execute(text("UPDATE id_counters SET value = 2 WHERE name = 'gate-test'"))
        assert not _gate_free(sqlite_file)
        s.rollback()
        assert _gate_free(sqlite_file)


def test_a_second_writer_waits_at_the_gate_not_at_sqlites_lock(sqlite_file, session_factory):
    """With SQLite's own busy timeout at 0 a writer that reached SQLite's lock while another
    transaction wrote would fail at once ("database is locked"); through the gate it waits
    for the first transaction to end and then succeeds."""
    factory = make_session_factory(make_engine(f"sqlite:///{sqlite_file}"))
    order: list[str] = []
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with factory() as s:
                s.execute(text("PRAGMA busy_timeout = 0"))
                first_wrote.wait()
                s.execute(text("INSERT INTO id_counters (name, value) VALUES ('second', 1)"))
                order.append("second wrote")
                s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    with factory() as s:
        s.execute(text("INSERT INTO id_counters (name, value) VALUES ('first', 1)"))
        t = threading.Thread(target=second)
        t.start()
        first_wrote.set()
        t.join(timeout=0.5)  # it cannot get through while this transaction holds the gate
        assert t.is_alive() and order == []
        order.append("first committed")
        s.commit()
    t.join(timeout=30)
    assert not errors, errors
    assert order == ["first committed", "second wrote"]
