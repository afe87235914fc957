"""SQLite writers wait in the kernel for their turn instead of polling for the write lock.

SQLite lets one transaction write at a time. A transaction that finds the write lock taken
is retried by SQLite's busy handler, which sleeps between attempts for longer and longer
(1, 2, 5 … 100 ms). Under a steady stream of short writes (eight inspectors saving at
once) a writer that has waited a while polls only every 100 ms and keeps losing the lock to
newer arrivals: most saves took tens of milliseconds and a few took seconds.

So before a transaction's first write, the connection takes an exclusive ``flock`` on a
file next to the database (``<database>-writers``), held until the transaction commits or
rolls back. The kernel wakes the next waiter as soon as it is released, in any thread or
process on the machine that opened the database through :func:`starlevel.db.engine.make_engine`.
SQLite's own lock still guards correctness; the gate only orders the writers.

A connection that is already inside a transaction when it first writes (it began one
explicitly, or wrote through the raw driver) is left alone: taking the gate then could wait
on a writer that is itself waiting for this connection's SQLite lock.

**Checkpoints outside the gate.** SQLite copies the write-ahead log back into the database
(a checkpoint) in the commit that takes the log past 1,000 pages: 10–20 ms of page writes
inside one transaction's commit, and so inside its hold of the gate, while every other
writer waited (a deferred run's short write held it 35 ms instead of 18). On a gated engine
the automatic checkpoint is off. A PASSIVE checkpoint runs just after the gate has let the
next writer in: after every CHECKPOINT_EVERY-th gated transaction of a process, and after
every transaction that changed LARGE_TRANSACTION_ROWS rows or more (a recompute, an import:
its own caller pays for copying it, not the next save). A passive checkpoint takes no write
lock and waits for nobody: writers append behind it, and the log starts over from its
beginning once it has been copied and no reader still needs it.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
from typing import Any

from sqlalchemy import Engine, event

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_FD = "starlevel_write_gate_fd"
_HELD = "starlevel_write_gate_held"
_CHANGES = "starlevel_write_gate_changes"  # the driver's total_changes when the gate was taken
# Gated transactions of one process between two checkpoints. Both server processes write, so
# the log is copied about every CHECKPOINT_EVERY / 2 saves: some hundred pages each time.
CHECKPOINT_EVERY = 32
LARGE_TRANSACTION_ROWS = 1000


def gate_path(database: str) -> str:
    return f"{database}-writers"


def checkpoint(driver_connection: Any) -> None:
    """Copy what the write-ahead log holds into the database, as far as readers allow,
    without waiting for anyone (another checkpoint under way: nothing is done)."""
    try:
        driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    except sqlite3.Error:  # the next one will do
        pass


def install(engine: Engine, database: str) -> None:
    """Order the writers of ``engine`` (a SQLite file database) through the gate file."""
    path = gate_path(database)
    ended = itertools.count(1)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA wal_autocheckpoint=0").close()

    def before(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        info = conn.info
        if info.get(_HELD) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        driver = conn.connection.driver_connection
        if driver.in_transaction:
            return
        fd = info.get(_FD)
        if fd is None:
            fd = info[_FD] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the interpreter lock
        info[_HELD] = True
        info[_CHANGES] = driver.total_changes

    def release(info: dict[str, Any]) -> bool:
        if info.pop(_HELD, False):
            fcntl.flock(info[_FD], fcntl.LOCK_UN)
            return True
        return False

    def ending(finish: str) -> Any:
        def on_end(conn: Any) -> None:
            # SQLAlchemy signals a commit or rollback just before it asks the driver; end the
            # transaction here first so that the next writer is let in only once it is over
            # (the driver's own call that follows finds nothing left to end).
            info = conn.info
            if not info.get(_HELD):
                return
            driver = conn.connection.driver_connection
            try:
                getattr(driver, finish)()
            finally:
                released = release(info)
            if not released:
                return
            large = driver.total_changes - info.pop(_CHANGES, driver.total_changes) >= LARGE_TRANSACTION_ROWS
            if next(ended) % CHECKPOINT_EVERY == 0 or large:
                checkpoint(driver)
        return on_end

    def on_checkin(_dbapi: Any, record: Any) -> None:
        if record is not None:
            release(record.info)

    def on_close(_dbapi: Any, record: Any) -> None:
        release(record.info)
        fd = record.info.pop(_FD, None)
        if fd is not None:
            os.close(fd)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", ending("commit"))
    event.listen(engine, "rollback", ending("rollback"))
    event.listen(engine.pool, "checkin", on_checkin)
    event.listen(engine.pool, "close", on_close)
