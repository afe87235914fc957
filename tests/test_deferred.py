"""Deferred company-wide recomputes: a save that could touch a quota records a request
instead of recomputing in the request; the worker then brings the cache to exactly what
a full recompute gives."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow, RecomputeRequest
from starlevel.services import inspections, synth
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
    stats = run_pending(session_factory)
    assert stats is not None and stats.start == month
    with session_scope(session_factory) as s:
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
