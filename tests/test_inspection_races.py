"""Two saves of the same contact at once (a double click, a client's retry, two inspectors):
exactly one is stored, on both databases (issue 6, found after the attack run: 4 identical
concurrent saves were all stored, on PostgreSQL every time, on SQLite in 14 of 20 trials).
The same for two filings of a dispute of one defect.

The two are made to meet where the race was: each has passed its checks up to the one that
looks for the other (which found nothing then) before either writes."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import Dispute, Inspection, InspectionDefect
from starlevel.services import disputes
from starlevel.services import inspections as svc
from tests.seed import seed_company

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("defer", [False, True], ids=["recompute-in-request", "deferred"])
def test_two_saves_of_one_contact_at_once_store_one(session_factory, monkeypatch, defer):
    seed_company(session_factory)
    both_validated = threading.Barrier(2, timeout=20)
    real = svc._ensure_defect_types

    def after_validation(*args, **kwargs):  # type: ignore[no-untyped-def]
        # Called by create() after validate() and before anything is written.
        both_validated.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(svc, "_ensure_defect_types", after_validation)
    outcomes: list[str] = []

    def save() -> None:
        try:
            with session_scope(session_factory) as s:
                svc.create(s, svc.Draft(agent_id="A001", contact_on="2025-06-20", channel="chat", contact_ref="RACE-1",
                                        picks={"T1-01": svc.Pick("T1-01", "1", "")}),
                           actor="qa", today=TODAY, defer=defer)
            outcomes.append("stored")
        except svc.InvalidInspection as exc:
            outcomes.append(",".join(p.key for p in exc.problems))

    threads = [threading.Thread(target=save) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["ref.duplicate", "stored"], outcomes
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Inspection).where(Inspection.contact_ref == "RACE-1")) == 1


def _together(work, n: int = 2) -> list[str]:  # type: ignore[no-untyped-def]
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda: outcomes.append(work())) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


def test_two_filings_of_one_dispute_at_once_store_one(session_factory, monkeypatch):
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        defect_id = s.scalars(select(InspectionDefect.id).join(Inspection).where(
            Inspection.agent_id == "A001", Inspection.month == "2025-06").order_by(InspectionDefect.id)).first()
    both_checked = threading.Barrier(2, timeout=20)
    real = disputes._ensure_open

    def after_the_first_checks(*args, **kwargs):  # type: ignore[no-untyped-def]
        both_checked.wait()  # the target, the window: both filings are past them
        return real(*args, **kwargs)

    monkeypatch.setattr(disputes, "_ensure_open", after_the_first_checks)

    def file() -> str:
        try:
            with session_scope(session_factory) as s:
                disputes.file(s, agent_id="A001", actor="ann", reason="not me", defect_id=defect_id)
            return "stored"
        except disputes.DisputeError as exc:
            return exc.problem.key

    assert _together(file) == ["stored", "target.disputed"]
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Dispute).where(Dispute.defect_id == defect_id)) == 1
