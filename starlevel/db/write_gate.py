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
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from sqlalchemy import Engine, event

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_FD = "starlevel_write_gate_fd"
_HELD = "starlevel_write_gate_held"


def gate_path(database: str) -> str:
    return f"{database}-writers"


def install(engine: Engine, database: str) -> None:
    """Order the writers of ``engine`` (a SQLite file database) through the gate file."""
    path = gate_path(database)

    def before(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        info = conn.info
        if info.get(_HELD) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        if conn.connection.driver_connection.in_transaction:
            return
        fd = info.get(_FD)
        if fd is None:
            fd = info[_FD] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the interpreter lock
        info[_HELD] = True

    def release(info: dict[str, Any]) -> None:
        if info.pop(_HELD, False):
            fcntl.flock(info[_FD], fcntl.LOCK_UN)

    def ending(finish: str) -> Any:
        def on_end(conn: Any) -> None:
            # SQLAlchemy signals a commit or rollback just before it asks the driver; end the
            # transaction here first so that the next writer is let in only once it is over
            # (the driver's own call that follows finds nothing left to end).
            info = conn.info
            if not info.get(_HELD):
                return
            try:
                getattr(conn.connection.driver_connection, finish)()
            finally:
                release(info)
        return on_end

    def on_checkin(_dbapi: Any, record: Any) -> None:
        if record is not None:
            release(record.info)

    def on_close(_dbapi: Any, record: Any) -> None:
        release(record.info)
        fd = record.info.pop(_FD, None)
        if fd is not None:
            os.close(fd)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", ending("commit"))
    event.listen(engine, "rollback", ending("rollback"))
    event.listen(engine.pool, "checkin", on_checkin)
    event.listen(engine.pool, "close", on_close)
