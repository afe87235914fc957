"""Engine and session factory, shared by the CLI, the web app and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from starlevel.db import write_gate


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB of page cache per connection
    cursor.close()


def make_engine(url: str, *, pool: bool = True) -> Engine:
    kwargs: dict[str, Any] = {"future": True}
    if not pool:
        kwargs["poolclass"] = NullPool
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            write_gate.install(engine, database)
    return engine


def refresh_statistics(session: Session | Connection) -> None:
    """SQLite chooses join orders from the statistics ANALYZE keeps (sqlite_stat1); without
    them it may, for one month's aggregate, scan every defect ever recorded instead of
    that month's inspections (1.3 s instead of 0.1 s at 10,000 agents). A sampled ANALYZE
    takes about 0.1 s at that size; it runs after imports and migrations. PostgreSQL's
    autovacuum keeps its own statistics."""
    conn = session.connection() if isinstance(session, Session) else session
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("PRAGMA analysis_limit=1000")
    conn.exec_driver_sql("ANALYZE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, future=True)


def make_autocommit_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose statements each commit on their own, for the one-statement reads and
    writes every signed-in request makes (its stored session, its user). On PostgreSQL that
    spares each of them a BEGIN and a ROLLBACK, two round trips to the server. SQLite's driver
    opens no transaction for a read anyway, so there the ordinary factory is returned."""
    if engine.dialect.name == "sqlite":
        return make_session_factory(engine)
    return make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
