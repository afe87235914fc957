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


# ---------------------------------------------------------------- checkpoints outside the gate

def test_sqlite_s_automatic_checkpoint_is_off_on_a_gated_engine(sqlite_file, session_factory):
    factory = make_session_factory(make_engine(f"sqlite:///{sqlite_file}"))
    with factory() as s:
        assert s.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_the_log_is_checkpointed_every_few_transactions_with_the_gate_open(sqlite_file, session_factory, monkeypatch):
    """3,000 transactions of a 4 KB value each would grow the write-ahead log to about 12 MB
    with no checkpoint, and up to 4 MB with SQLite's automatic one (1,000 pages); the
    process's own passive checkpoints keep it to a few hundred KB, and each of them runs
    after the gate has let the next writer in."""
    from starlevel.db import write_gate

    engine = make_engine(f"sqlite:///{sqlite_file}")
    factory = make_session_factory(engine)
    gate_open_at_checkpoint: list[bool] = []
    real = write_gate.checkpoint

    def watched(driver_connection) -> None:  # type: ignore[no-untyped-def]
        gate_open_at_checkpoint.append(_gate_free(sqlite_file))
        real(driver_connection)

    monkeypatch.setattr(write_gate, "checkpoint", watched)
    with factory() as s:
        s.execute(text("CREATE TABLE gate_blobs (id INTEGER PRIMARY KEY, body BLOB)"))
        s.commit()
    largest = 0
    wal = f"{sqlite_file}-wal"
    for i in range(3000):
        with factory() as s:
            s.execute(text("INSERT INTO gate_blobs (body) VALUES (:b)"), {"b": os.urandom(4096)})
            s.commit()
        largest = max(largest, os.path.getsize(wal))
    engine.dispose()
    assert len(gate_open_at_checkpoint) >= 3000 // write_gate.CHECKPOINT_EVERY
    assert all(gate_open_at_checkpoint)
    assert largest < 1_000_000, f"the write-ahead log reached {largest:,} bytes"


def test_a_large_transaction_is_checkpointed_by_its_own_writer(sqlite_file, session_factory, monkeypatch):
    """A recompute or an import writes thousands of rows at once: the thread that wrote them
    copies them into the database (the gate open), rather than the next save that happens
    to be the process's CHECKPOINT_EVERY-th."""
    from starlevel.db import write_gate

    engine = make_engine(f"sqlite:///{sqlite_file}")
    factory = make_session_factory(engine)
    ran: list[bool] = []
    real = write_gate.checkpoint
    monkeypatch.setattr(write_gate, "checkpoint", lambda driver: (ran.append(_gate_free(sqlite_file)), real(driver)))
    with factory() as s:
        s.execute(text("CREATE TABLE gate_rows (id INTEGER PRIMARY KEY, body TEXT)"))
        s.execute(text("INSERT INTO gate_rows (body) VALUES ('small')"))
        s.commit()
    assert ran == []  # a small transaction: not yet
    with factory() as s:
        s.execute(text("INSERT INTO gate_rows (body) VALUES (:b)"),
                  [{"b": f"row {i}"} for i in range(write_gate.LARGE_TRANSACTION_ROWS)])
        s.commit()
    assert ran == [True]
    engine.dispose()
