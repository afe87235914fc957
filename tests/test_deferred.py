"""Deferred company-wide recomputes: a save that could touch a quota records a request
instead of recomputing in the request; the worker then brings the cache to exactly what
a full recompute gives."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow, RecomputeRequest
from starlevel.services import dashboard, inspections, results_stamp, synth
from starlevel.services.recompute import pending_from, recompute, run_pending
from starlevel.settings import Settings
from tests.catchup import assert_equals_full_recompute, wait_until_caught_up
from tests.test_incremental import _load, snapshot


def _near_quota(s) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    last = s.scalar(select(func.max(MonthResultRow.month)))
    agent_id = s.scalar(select(MonthResultRow.agent_id).where(
        MonthResultRow.month == last, MonthResultRow.event.in_(("promote", "waitlist"))).order_by(MonthResultRow.agent_id))
    assert agent_id, "the synthetic company has an eligible agent in its last month"
    return agent_id, last


def _draft(agent_id: str, month: str, ref: str) -> inspections.Draft:
    return inspections.Draft(agent_id=agent_id, contact_on=f"{month}-20", channel="chat", contact_ref=ref,
                             picks={"T3-01": inspections.Pick("T3-01", "1", "rude")})


def test_deferred_request_then_worker_equals_full(session_factory):
    _load(session_factory, synth.generate(60, 16, last_month="2026-04", seed=21))
    with session_scope(session_factory) as s:
        agent_id, month = _near_quota(s)
        before = snapshot(s)
        inspections.create(s, _draft(agent_id, month, "deferred-1"), actor="qa", today=date(2026, 11, 25), defer=True)
    with session_scope(session_factory) as s:
        assert pending_from(s) == month
        assert snapshot(s) == before  # nothing recomputed in the request
        first = s.scalar(select(func.min(MonthResultRow.month)))
        stamp = results_stamp.current(s)
        dashboard.level_trend(s, first, month)  # the dashboard keeps the company-wide counts
    stats = run_pending(session_factory)
    assert stats is not None and stats.start == month
    with session_scope(session_factory) as s:
        assert stats.results > 0 and results_stamp.current(s) != stamp  # the run's write renews the stamp
        assert dashboard.level_trend(s, first, month) == dashboard.count_levels(s, first, month)
        assert pending_from(s) is None
        assert s.scalar(select(func.count()).select_from(RecomputeRequest).where(RecomputeRequest.done_at.is_(None))) == 0
        caught_up = snapshot(s)
        recompute(s)
        assert snapshot(s) == caught_up
    assert run_pending(session_factory) is None


def test_web_save_returns_before_the_company_wide_recompute(db_url, session_factory):
    from litestar.testing import TestClient

    from starlevel.app import create_app
    from starlevel.services import users

    _load(session_factory, synth.generate(40, 14, last_month="2026-02", seed=8))
    with session_scope(session_factory) as s:
        agent_id, month = _near_quota(s)
        users.create_user(s, "qa2", role="inspector", password="qa2-password")
    app = create_app(Settings(database_url=db_url, secret_key="t", defer_recompute=True))
    with TestClient(app=app) as client:
        client.get("/login")
        client.post("/login", data={"username": "qa2", "password": "qa2-password", "_csrf_token": client.cookies["csrftoken"]})
        r = client.post("/api/inspections", json={"agent_id": agent_id, "contact_on": f"{month}-21", "channel": "chat",
                                                  "contact_ref": "deferred-web", "defects": [{"code": "T3-02"}]},
                        headers={"x-csrftoken": client.cookies["csrftoken"]})
        assert r.status_code == 201, r.text
        wait_until_caught_up(session_factory)  # the worker polls twice a second
    with session_scope(session_factory) as s:
        row = s.get(MonthResultRow, (agent_id, month))
        assert "T3-02" in row.red_line_codes and row.event in ("demote", "review")
    assert_equals_full_recompute(session_factory)


# ---- SQLite: the evaluation runs on a snapshot, only changed rows are written

def _sqlite_only(factory) -> None:  # type: ignore[no-untyped-def]
    import pytest

    with factory() as s:
        if s.get_bind().dialect.name != "sqlite":
            pytest.skip("the snapshot runner is SQLite's; PostgreSQL runs under its advisory lock")


def _quiet_agent(s, month: str) -> str:  # type: ignore[no-untyped-def]
    """An agent far from any quota in every month (their saves take the one-agent path)."""
    near = set(s.scalars(select(MonthResultRow.agent_id).where(MonthResultRow.event.in_(("promote", "waitlist", "hold")))))
    agent_id = s.scalar(select(MonthResultRow.agent_id).where(
        MonthResultRow.month == month, MonthResultRow.agent_id.not_in(near)).order_by(MonthResultRow.agent_id))
    assert agent_id
    return agent_id


def test_a_run_with_nothing_changed_writes_nothing(session_factory):
    _sqlite_only(session_factory)
    _load(session_factory, synth.generate(40, 12, last_month="2026-03", seed=5))
    with session_scope(session_factory) as s:
        last = s.scalar(select(func.max(MonthResultRow.month)))
        before = snapshot(s)
        rowids = s.execute(select(func.group_concat(MonthResultRow.__table__.c.agent_id)).select_from(
            MonthResultRow.__table__)).scalar()
        s.add(RecomputeRequest(from_month=last, reason="nothing really changed"))
    stats = run_pending(session_factory)
    assert stats is not None and stats.start == last and stats.months == 1
    assert stats.results == 0 and stats.phases["changed_rows"] == 0
    with session_scope(session_factory) as s:
        assert pending_from(s) is None
        assert snapshot(s) == before
        assert s.execute(select(func.group_concat(MonthResultRow.__table__.c.agent_id)).select_from(
            MonthResultRow.__table__)).scalar() == rowids


def _during_evaluation(monkeypatch, work) -> list[int]:  # type: ignore[no-untyped-def]
    """Run ``work`` once, on its own connection, after the runner read its snapshot and
    before it writes (as another request would, meanwhile)."""
    from starlevel.services import recompute as rc

    original = rc._stored_rows
    calls: list[int] = []

    def wrapped(session, start):  # type: ignore[no-untyped-def]
        rows = original(session, start)
        if not calls:
            calls.append(1)
            work()
        return rows

    monkeypatch.setattr(rc, "_stored_rows", wrapped)
    return calls


def test_a_one_agent_save_during_the_evaluation_is_kept(session_factory, monkeypatch):
    _sqlite_only(session_factory)
    _load(session_factory, synth.generate(60, 16, last_month="2026-04", seed=21))
    with session_scope(session_factory) as s:
        near, month = _near_quota(s)
        quiet = _quiet_agent(s, month)
        inspections.create(s, _draft(near, month, "deferred-2"), actor="qa", today=date(2026, 11, 25), defer=True)
        quiet_before = s.get(MonthResultRow, (quiet, month)).n_inspections

    def save_for_quiet() -> None:
        with session_scope(session_factory) as s:
            draft = inspections.Draft(agent_id=quiet, contact_on=f"{month}-20", channel="chat", contact_ref="meanwhile",
                                      picks={"T1-01": inspections.Pick("T1-01", "1", "")})
            inspections.create(s, draft, actor="qa", today=date(2026, 11, 25), defer=True)

    calls = _during_evaluation(monkeypatch, save_for_quiet)
    stats = run_pending(session_factory)
    assert calls == [1] and stats is not None and stats.start == month
    with session_scope(session_factory) as s:
        # The save's own re-evaluation stands: the runner did not write its older figures over it.
        row = s.get(MonthResultRow, (quiet, month))
        assert row.n_inspections == quiet_before + 1
        assert s.get(MonthResultRow, (near, month)).event in ("demote", "review")
    while run_pending(session_factory) is not None:  # any follow-up the save left
        pass
    assert_equals_full_recompute(session_factory)


def test_a_company_wide_recompute_during_the_evaluation_makes_it_start_again(session_factory, monkeypatch):
    _sqlite_only(session_factory)
    _load(session_factory, synth.generate(60, 16, last_month="2026-04", seed=22))
    with session_scope(session_factory) as s:
        near, month = _near_quota(s)
        inspections.create(s, _draft(near, month, "deferred-3"), actor="qa", today=date(2026, 11, 25), defer=True)
        other, _ = _near_quota(s)

    def synchronous_change() -> None:  # e.g. the CLI: a change and the company-wide recompute in one go
        with session_scope(session_factory) as s:
            inspections.create(s, _draft(near, month, "sync"), actor="qa", today=date(2026, 11, 25), defer=False)

    from starlevel.services import recompute as rc

    plans: list[str] = []
    original_plan = rc._plan
    monkeypatch.setattr(rc, "_plan", lambda s, start, phases: plans.append(start) or original_plan(s, start, phases))
    _during_evaluation(monkeypatch, synchronous_change)
    stats = run_pending(session_factory)
    # The runner's first evaluation, the synchronous change's own recompute, then the runner's
    # second evaluation (the first was thrown away), which finds everything already written.
    assert plans == [month, month, month]
    assert stats is not None and stats.results == 0
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(MonthResultRow).where(
            MonthResultRow.agent_id == near, MonthResultRow.month == month, MonthResultRow.n_inspections > 0)) == 1
    assert run_pending(session_factory) is None
    assert_equals_full_recompute(session_factory)


# ---- SQLite: a save commits first, then stores the agent's re-evaluation in a short write

def _quiet_draft(agent_id: str, month: str, ref: str) -> inspections.Draft:
    return inspections.Draft(agent_id=agent_id, contact_on=f"{month}-20", channel="chat", contact_ref=ref,
                             picks={"T1-01": inspections.Pick("T1-01", "1", "")})


def _quiet_company(session_factory, seed: int) -> tuple[str, str, int]:  # type: ignore[no-untyped-def]
    """A company in SQLite; its last month, an agent far from quotas and their inspections then."""
    _sqlite_only(session_factory)
    _load(session_factory, synth.generate(60, 16, last_month="2026-04", seed=seed))
    with session_scope(session_factory) as s:
        _, month = _near_quota(s)
        quiet = _quiet_agent(s, month)
        return month, quiet, s.get(MonthResultRow, (quiet, month)).n_inspections


def test_a_save_settles_its_agent_after_committing(session_factory):
    month, quiet, before = _quiet_company(session_factory, 23)
    with session_scope(session_factory) as s:
        inspections.create(s, _quiet_draft(quiet, month, "settled"), actor="qa", today=date(2026, 11, 25), defer=True)
    with session_scope(session_factory) as s:
        assert s.get(MonthResultRow, (quiet, month)).n_inspections == before + 1
        assert pending_from(s) is None  # settled in the request: nothing left for the worker
        done = s.execute(select(RecomputeRequest.agent_id, RecomputeRequest.done_at)
                         .order_by(RecomputeRequest.id.desc()).limit(1)).one()
        assert done.agent_id == quiet and done.done_at is not None
    assert_equals_full_recompute(session_factory)


def _after_the_evaluation(monkeypatch, work) -> None:  # type: ignore[no-untyped-def]
    from starlevel.services import recompute as rc

    original = rc._plan_agent

    def wrapped(session, agent_id, start):  # type: ignore[no-untyped-def]
        plan = original(session, agent_id, start)
        work()
        return plan

    monkeypatch.setattr(rc, "_plan_agent", wrapped)


def test_a_save_whose_request_the_worker_took_leaves_the_agent_to_it(session_factory, monkeypatch):
    month, quiet, before = _quiet_company(session_factory, 24)
    ran: list[object] = []
    _after_the_evaluation(monkeypatch, lambda: ran.append(run_pending(session_factory, wait=True)))
    with session_scope(session_factory) as s:
        inspections.create(s, _quiet_draft(quiet, month, "taken"), actor="qa", today=date(2026, 11, 25), defer=True)
    assert ran and ran[0] is not None  # the worker ran the save's request in between
    with session_scope(session_factory) as s:
        assert s.get(MonthResultRow, (quiet, month)).n_inspections == before + 1
        assert pending_from(s) is None
    assert_equals_full_recompute(session_factory)


def test_a_save_that_meets_another_change_to_its_agent_leaves_both_to_the_worker(session_factory, monkeypatch):
    month, quiet, before = _quiet_company(session_factory, 25)
    from starlevel.services import recompute as rc

    original = rc._plan_agent
    calls: list[int] = []

    def wrapped(session, agent_id, start):  # type: ignore[no-untyped-def]
        plan = original(session, agent_id, start)
        if not calls:  # the first save: a second save of the same agent commits meanwhile
            calls.append(1)
            with session_scope(session_factory) as other:
                inspections.create(other, _quiet_draft(quiet, month, "second"), actor="qa",
                                   today=date(2026, 11, 25), defer=True)
        return plan

    monkeypatch.setattr(rc, "_plan_agent", wrapped)
    with session_scope(session_factory) as s:
        inspections.create(s, _quiet_draft(quiet, month, "first"), actor="qa", today=date(2026, 11, 25),
                                   defer=True)
    with session_scope(session_factory) as s:
        # The second save saw both inspections and settled; the first left its request pending.
        assert s.get(MonthResultRow, (quiet, month)).n_inspections == before + 2
        assert pending_from(s) == month
    assert run_pending(session_factory) is not None
    assert_equals_full_recompute(session_factory)


def test_a_save_whose_re_evaluation_fails_is_still_saved_and_left_to_the_worker(session_factory, monkeypatch):
    month, quiet, before = _quiet_company(session_factory, 26)
    from starlevel.services import recompute as rc

    def broken(session, agent_id, start):  # type: ignore[no-untyped-def]
        raise RuntimeError("the evaluation failed")

    monkeypatch.setattr(rc, "_plan_agent", broken)
    with session_scope(session_factory) as s:
        inspections.create(s, _quiet_draft(quiet, month, "kept"), actor="qa", today=date(2026, 11, 25), defer=True)
    monkeypatch.undo()
    with session_scope(session_factory) as s:
        assert pending_from(s) == month  # the inspection is saved; its re-evaluation is owed
        assert s.get(MonthResultRow, (quiet, month)).n_inspections == before
    assert run_pending(session_factory) is not None
    with session_scope(session_factory) as s:
        assert s.get(MonthResultRow, (quiet, month)).n_inspections == before + 1
    assert_equals_full_recompute(session_factory)


def test_postgres_deferred_run_rewrites_only_the_rows_that_changed(session_factory):
    """PostgreSQL: a deferred run leaves equal rows where they are (no new row versions)."""
    import pytest
    from sqlalchemy import text

    with session_factory() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite's snapshot runner has its own test above")
    _load(session_factory, synth.generate(40, 12, last_month="2026-03", seed=5))

    def versions(s):  # type: ignore[no-untyped-def]
        return dict(s.execute(text("SELECT agent_id || ' ' || month, ctid::text FROM month_results")).all())

    with session_scope(session_factory) as s:
        last = s.scalar(select(func.max(MonthResultRow.month)))
        before, where = snapshot(s), versions(s)
        s.add(RecomputeRequest(from_month=last, reason="nothing really changed"))
    stats = run_pending(session_factory)
    assert stats is not None and stats.start == last and stats.results == 0 and stats.phases["changed_rows"] == 0
    with session_scope(session_factory) as s:
        assert pending_from(s) is None and snapshot(s) == before and versions(s) == where

    # A real change: only that agent's rows are written again, and the cache equals a full run.
    with session_scope(session_factory) as s:
        agent_id, month = _near_quota(s)
        inspections.create(s, _draft(agent_id, month, "pg-changed-1"), actor="qa", today=date(2026, 11, 25), defer=True)
    stats = run_pending(session_factory)
    assert stats is not None and 0 < stats.results < 40
    with session_scope(session_factory) as s:
        moved = {k for k, v in versions(s).items() if where.get(k) != v}
        assert moved and all(k.split(" ")[1] >= month for k in moved)
        assert f"{agent_id} {month}" in moved
    assert_equals_full_recompute(session_factory)


def test_paced_runs_rest_as_long_as_the_last_run_took(session_factory, monkeypatch):
    """The background workers pace their runs: after a run of T seconds no paced run
    starts, in any process, for T seconds; requests gather meanwhile and the next run
    covers them. A caller that needs current figures (unpaced) is not held back."""
    from starlevel.services import recompute as recompute_service

    _load(session_factory, synth.generate(40, 14, last_month="2026-04", seed=23))
    now = [1_800_000_000_000]
    monkeypatch.setattr(recompute_service, "_now_ms", lambda: now[0])

    def owe(ref: str) -> None:  # what a deferred save leaves: a request from its month
        with session_scope(session_factory) as s:
            s.add(RecomputeRequest(from_month="2026-03", reason=ref))

    owe("paced-1")
    first = run_pending(session_factory, rest_factor=1.0, max_rest=30.0)
    assert first is not None and first.seconds > 0
    owe("paced-2")
    assert run_pending(session_factory, rest_factor=1.0, max_rest=30.0) is None  # resting
    now[0] += int(first.seconds * 1000) - 1
    assert run_pending(session_factory, rest_factor=1.0, max_rest=30.0) is None  # 1 ms before the end
    now[0] += 2
    second = run_pending(session_factory, rest_factor=1.0, max_rest=30.0)
    assert second is not None
    with session_scope(session_factory) as s:
        assert pending_from(s) is None
    # A long run rests at most max_rest; an unpaced caller runs during a rest.
    now[0] += int(second.seconds * 1000) + 1
    owe("paced-3")
    real_run = recompute_service._run_pending_now
    monkeypatch.setattr(recompute_service, "_run_pending_now",
                        lambda factory, bind, wait: recompute_service.RecomputeStats("2026-04", "2026-04", 1, 0, 500.0, {}))
    assert run_pending(session_factory, rest_factor=1.0, max_rest=30.0) is not None  # "took" 500 s
    monkeypatch.setattr(recompute_service, "_run_pending_now", real_run)
    assert run_pending(session_factory, rest_factor=1.0, max_rest=30.0) is None
    assert run_pending(session_factory) is not None  # the request of paced-3, during the rest
    with session_scope(session_factory) as s:
        assert pending_from(s) is None
    owe("paced-4")
    now[0] += 30_000 - 1
    assert run_pending(session_factory, rest_factor=1.0, max_rest=30.0) is None
    now[0] += 2
    assert run_pending(session_factory, rest_factor=1.0, max_rest=30.0) is not None
    with session_scope(session_factory) as s:
        assert pending_from(s) is None
