"""Who may write ``month_results`` at a time, across processes and machines.

On PostgreSQL several server processes (and the CLI) share one database, so writers of
the cached results take advisory locks:

* a company-wide recompute holds the *results* lock exclusively;
* a one-agent re-evaluation holds it shared, plus that agent's own lock, so saves for
  different agents run side by side while none overlaps a company-wide run.

Transaction-level locks end with the transaction. The deferred-request runner holds the
results lock at session level instead, taken before its transaction begins, so that its
snapshot already contains everything the previous holder committed.

SQLite has one writer at a time and every writing transaction holds it to the end, so
these functions do nothing there, except :func:`agent_changes`, which starts writing.
"""

from __future__ import annotations

import zlib

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

# Two-key advisory locks (int4, int4): the first key names the kind of lock.
RESULTS = (0x534C0001, 0)  # "SL" 1: the month_results cache as a whole
AGENT_KIND = 0x534C0002  # "SL" 2: one agent's rows


def is_postgres(session: Session | Connection) -> bool:
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name == "postgresql"


def _agent_key(agent_id: str) -> tuple[int, int]:
    return AGENT_KIND, zlib.crc32(agent_id.encode()) - 2**31


def _take(session: Session, function: str, key: tuple[int, int]) -> bool:
    got = session.scalar(text(f"SELECT {function}(:a, :b)"), {"a": key[0], "b": key[1]})
    return bool(got) if "_try_" in function else True  # the waiting variants return void


def results_exclusive(session: Session) -> None:
    """Wait until no other transaction writes results, then keep them out until commit."""
    if is_postgres(session):
        _take(session, "pg_advisory_xact_lock", RESULTS)


# A write that changes nothing: it makes SQLite's transaction a writing one at once (the
# write gate, then SQLite's write lock), before the first real write.
_START_WRITING = text("DELETE FROM id_counters WHERE 0")


def agent_changes(session: Session, agent_id: str) -> None:
    """Wait for any other transaction changing ``agent_id``, then keep them waiting until
    this one ends: what this transaction reads from here on cannot be changed under it by
    another save of the agent (a check that a contact or a defect is not recorded twice).

    PostgreSQL: the agent's advisory lock, the one :func:`agent_results` takes first (taking
    it again in one transaction is free), so the order stays: agent, results. SQLite: the
    one write lock, taken now rather than at the first write."""
    if is_postgres(session):
        _take(session, "pg_advisory_xact_lock", _agent_key(agent_id))
    else:
        session.execute(_START_WRITING)


def agent_results(session: Session, agent_id: str, *, wait_for_company: bool) -> bool:
    """Lock one agent's results for this transaction. Waits for another change to the same
    agent. ``wait_for_company`` False: answer False at once when a company-wide recompute
    runs or waits to run (the caller then leaves the work to it) instead of waiting."""
    if not is_postgres(session):
        return True
    # One round trip for both, in this order: the subquery in FROM (the agent's lock) is
    # evaluated before the outer select (the results lock).
    then = "pg_advisory_xact_lock" if wait_for_company else "pg_try_advisory_xact_lock_shared"
    a, b = _agent_key(agent_id)
    got = session.scalar(text(f"SELECT {then}(:c, :d) FROM (SELECT pg_advisory_xact_lock(:a, :b)) AS agent_lock"),
                         {"a": a, "b": b, "c": RESULTS[0], "d": RESULTS[1]})
    return True if wait_for_company else bool(got)


def hold_results(conn: Connection, *, wait: bool) -> bool:
    """Session-level exclusive results lock on ``conn``, outside any transaction (PostgreSQL).
    Release with :func:`release_results`."""
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    got = conn.scalar(text(f"SELECT {function}(:a, :b)"), {"a": RESULTS[0], "b": RESULTS[1]})
    conn.commit()
    return bool(got) if not wait else True


def release_results(conn: Connection) -> None:
    conn.rollback()
    conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": RESULTS[0], "b": RESULTS[1]})
    conn.commit()
