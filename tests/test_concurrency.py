"""Several server processes share one database (issue 6 item 6): saves from many
connections at once get distinct ids and never fail; a deferred recompute runs once,
by one worker, however many call for it; and the cached results end equal to a full
recompute. Real threads on separate connections, bounded loops, no timing asserts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text

from starlevel.db.engine import session_scope
from starlevel.db.models import Inspection, MonthResultRow, RecomputeRequest
from starlevel.services import inspections, synth
from starlevel.services.recompute import run_pending
from tests.catchup import assert_equals_full_recompute
from tests.test_incremental import _load

TODAY = date(2026, 11, 25)


def _draft(agent_id: str, month: str, ref: str, code: str = "T1-01") -> inspections.Draft:
    return inspections.Draft(agent_id=agent_id, contact_on=f"{month}-18", channel="chat", contact_ref=ref,
                             picks={code: inspections.Pick(code, "1", "")})


def _in_threads(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run work(0..n-1) in n threads released together; results by index and any errors."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread never finished"
    return results, errors


def _agents_by_event(factory, last: str) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Agents near a quota in the last month (their saves defer) and the others."""
    with session_scope(factory) as s:
        rows = s.execute(select(MonthResultRow.agent_id, MonthResultRow.event).where(MonthResultRow.month == last)
                         .order_by(MonthResultRow.agent_id)).all()
    near = [a for a, e in rows if e in ("promote", "waitlist", "hold")]
    calm = [a for a, e in rows if e not in ("promote", "waitlist", "hold")]
    assert near and len(calm) >= 8
    return near, calm


def test_concurrent_saves_and_two_workers(session_factory):
    """8 inspectors save at once while two workers serve the deferred requests: every save
    succeeds with its own id, and the results equal a full recompute afterwards."""
    _load(session_factory, synth.generate(60, 14, last_month="2026-02", seed=5))
    last = "2026-02"
    near, calm = _agents_by_event(session_factory, last)
    per_thread = 6
    stop = threading.Event()
    runs: list[Any] = []
    worker_errors: list[BaseException] = []

    def worker() -> None:
        for _ in range(2000):  # bounded; stops once the savers are done and nothing is pending
            try:
                stats = run_pending(session_factory)
            except BaseException as exc:  # noqa: BLE001
                worker_errors.append(exc)
                return
            if stats is not None:
                runs.append(stats)
            elif stop.is_set():
                return
            else:
                stop.wait(0.02)

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for w in workers:
        w.start()

    def saves(i: int) -> list[str]:
        ids = []
        for k in range(per_thread):
            # Half the saves touch agents near a quota (deferred), half agents far from one.
            agent = near[(i + k) % len(near)] if k % 2 else calm[i]
            with session_scope(session_factory) as s:
                ids.append(inspections.create(s, _draft(agent, last, f"c{i}-{k}"), actor=f"qa{i}", today=TODAY,
                                              defer=True).inspection_id)
        return ids

    try:
        results, errors = _in_threads(8, saves)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=600)
    assert errors == [] and worker_errors == []
    ids = [i for r in results for i in r]
    assert len(ids) == 8 * per_thread and len(set(ids)) == len(ids)
    assert all(i.startswith("W20261125-") for i in ids)
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Inspection).where(Inspection.inspection_id.in_(ids))) == len(ids)
    while run_pending(session_factory) is not None:  # whatever the last save left
        pass
    assert_equals_full_recompute(session_factory)


def test_two_workers_run_a_pending_recompute_once(session_factory):
    """Pending requests are claimed and run by exactly one of two simultaneous workers, in
    one run from the earliest month (coalesced)."""
    _load(session_factory, synth.generate(60, 16, last_month="2026-04", seed=21))
    near, _calm = _agents_by_event(session_factory, "2026-04")
    with session_scope(session_factory) as s:
        inspections.create(s, _draft(near[0], "2026-04", "once-1", "T3-01"), actor="qa", today=TODAY, defer=True)
        inspections.create(s, _draft(near[-1], "2026-03", "once-2", "T3-01"), actor="qa", today=TODAY, defer=True)
        pending = s.scalars(select(RecomputeRequest.from_month).where(RecomputeRequest.done_at.is_(None))).all()
    assert sorted(pending) == ["2026-03", "2026-04"]

    results, errors = _in_threads(2, lambda _i: run_pending(session_factory))
    assert errors == []
    ran = [r for r in results if r is not None]
    assert len(ran) == 1, f"expected exactly one run, got {len(ran)}"
    assert ran[0].start == "2026-03"
    assert run_pending(session_factory) is None
    assert_equals_full_recompute(session_factory)


def test_a_save_never_takes_an_imported_id(session_factory):
    """Web-entered ids keep the W<day>-NNNN form; an id already in use (an import) is skipped."""
    _load(session_factory, synth.generate(10, 4, last_month="2026-02", seed=3))
    with session_scope(session_factory) as s:
        agent_id = s.scalar(select(MonthResultRow.agent_id).order_by(MonthResultRow.agent_id))
        taken = s.scalars(select(Inspection).where(Inspection.agent_id == agent_id).limit(1)).one()
        # An import brought an inspection whose id looks like the next web-entered one.
        s.add(Inspection(inspection_id="W20261125-0001", agent_id=agent_id, contact_on=taken.contact_on,
                         month=taken.month, channel="chat", contact_ref="imported"))
    with session_scope(session_factory) as s:
        first = inspections.create(s, _draft(agent_id, "2026-02", "web-1"), actor="qa", today=TODAY).inspection_id
        second = inspections.create(s, _draft(agent_id, "2026-02", "web-2"), actor="qa", today=TODAY).inspection_id
    assert (first, second) == ("W20261125-0002", "W20261125-0003")


def test_upgrading_numbers_new_ids_after_those_already_given(db_url, session_factory):
    """A database migrated from before the counter keeps numbering after its highest W-id."""
    from alembic import command

    from starlevel.db.migrate import alembic_config, upgrade

    _load(session_factory, synth.generate(10, 4, last_month="2026-02", seed=3))
    with session_scope(session_factory) as s:
        row = s.scalars(select(Inspection).order_by(Inspection.inspection_id).limit(1)).one()
    # Back to the schema before the counter (later revisions carry their data back), where an
    # inspection entered on the web took the day's highest number + 1.
    command.downgrade(alembic_config(db_url), "0001")
    with session_scope(session_factory) as s:
        s.execute(text(
            "INSERT INTO inspections (inspection_id, agent_id, contact_on, month, channel, contact_ref, inspector,"
            " created_at, created_by) VALUES ('W20261120-0041', :a, :d, :m, 'chat', 'old web entry', 'qa',"
            " :now, 'qa')"), {"a": row.agent_id, "d": row.contact_on, "m": row.month, "now": datetime(2026, 11, 20)})
    upgrade(db_url)
    with session_scope(session_factory) as s:
        new = inspections.create(s, _draft(row.agent_id, row.month, "after-upgrade"), actor="qa", today=TODAY)
    assert new.inspection_id == "W20261125-0042"


def test_a_save_writes_its_defects_and_audit_entry_and_restores_a_missing_catalog_row(session_factory):
    """The save writes through Core: every defect in order with its note, one audit entry,
    and a defect code whose catalog row is missing is added to the catalog first (the
    defects refer to it)."""
    from starlevel.db.models import AuditEntry, DefectType, InspectionDefect

    _load(session_factory, synth.generate(10, 4, last_month="2026-02", seed=3))
    with session_scope(session_factory) as s:
        agent_id = s.scalar(select(MonthResultRow.agent_id).order_by(MonthResultRow.agent_id))
        used = set(s.scalars(select(InspectionDefect.code)))
        unused = sorted(set(s.scalars(select(DefectType.code))) - used)[0]
        s.execute(DefectType.__table__.delete().where(DefectType.code == unused))
    draft = inspections.Draft(agent_id=agent_id, contact_on="2026-02-18", channel="chat", contact_ref="core-1",
                              picks={"T1-01": inspections.Pick("T1-01", "2", "twice"),
                                     unused: inspections.Pick(unused, "1", "")})
    with session_scope(session_factory) as s:
        insp = inspections.create(s, draft, actor="qa", today=TODAY)
        iid, returned = insp.inspection_id, [(d.id, d.code, d.note) for d in insp.defects]
    with session_scope(session_factory) as s:
        stored = [(d.id, d.code, d.note) for d in s.scalars(
            select(InspectionDefect).where(InspectionDefect.inspection_id == iid).order_by(InspectionDefect.position))]
        assert stored == returned
        assert [(c, n) for _, c, n in stored] == [("T1-01", "twice"), ("T1-01", "twice"), (unused, "")]
        assert s.get(DefectType, unused) is not None
        entries = s.scalars(select(AuditEntry).where(AuditEntry.entity == "inspection", AuditEntry.entity_id == iid)).all()
        assert [(e.actor, e.action, e.detail["agent_id"]) for e in entries] == [("qa", "create", agent_id)]
        assert s.get(Inspection, iid).created_by == "qa"
