"""Acknowledgement and disputes (申诉 → 复核 → 终审) through the service functions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, Inspection, InspectionDefect, MonthResultRow
from starlevel.domain.disputes import add_working_days, may_dispute_until, next_status
from starlevel.domain.rulebook import default_rulebook_document, parse_rulebook, rulebook_to_document
from starlevel.services import disputes as svc
from starlevel.services import users
from tests.seed import seed_company


@pytest.fixture
def company(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        users.create_user(s, "qa2", role="inspector", password="qa2-pass-12")
    return session_factory


def _defect(s, agent: str = "A001", month: str = "2025-06") -> InspectionDefect:  # type: ignore[no-untyped-def]
    return s.scalars(
        select(InspectionDefect).join(Inspection)
        .where(Inspection.agent_id == agent, Inspection.month == month).order_by(InspectionDefect.id)
    ).first()


def _result(s, agent: str = "A001", month: str = "2025-06") -> MonthResultRow:  # type: ignore[no-untyped-def]
    s.expire_all()
    return s.get(MonthResultRow, (agent, month))


def test_working_days_skip_weekends() -> None:
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 1) == date(2026, 11, 30)  # Monday
    assert may_dispute_until(friday, 3) == date(2026, 12, 2)
    assert may_dispute_until(date(2026, 11, 23), 3) == date(2026, 11, 26)  # Monday → Thursday
    assert next_status("open", "upheld") == "upheld" and next_status("escalated", "rejected") == "hr_rejected"
    assert next_status("rejected", "upheld") is None and next_status("open", "maybe") is None


def test_window_is_rulebook_data() -> None:
    doc = default_rulebook_document()
    rb = parse_rulebook(doc)
    assert rb.dispute_window_days == 3 and "disputes" not in rulebook_to_document(rb)
    doc["disputes"] = {"window_working_days": 5}
    rb5 = parse_rulebook(doc)
    assert rb5.dispute_window_days == 5 and rulebook_to_document(rb5)["disputes"] == {"window_working_days": 5}
    doc["disputes"] = {"window_working_days": 0, "other": 1}
    with pytest.raises(Exception) as err:
        parse_rulebook(doc)
    assert "disputes.window_working_days" in str(err.value.problems) and "disputes.other" in str(err.value.problems)


def test_upheld_defect_is_voided_and_the_agent_re_evaluated(company) -> None:  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        d = _defect(s)
        before = _result(s).quality
        row = svc.file(s, agent_id="A001", actor="ann", reason="the customer asked me to", defect_id=d.id)
        assert row.status == "open" and row.inspector == "qa" and row.month == "2025-06"
        dispute_id, defect_id, code = row.id, d.id, d.code
    with session_scope(company) as s:
        assert svc.notice_counts(s, role="inspector", username="qa2", agent_id=None).to_review == 1
        assert svc.notice_counts(s, role="inspector", username="qa", agent_id=None).to_review == 0
        with pytest.raises(svc.DisputeError) as own:
            svc.decide(s, dispute_id, outcome="upheld", note="", actor="qa", role="inspector")
        assert own.value.problem.key == "decide.own"
        with pytest.raises(svc.DisputeError) as hr:
            svc.decide(s, dispute_id, outcome="upheld", note="", actor="hr", role="hr")
        assert hr.value.problem.key == "decide.stage"
    with session_scope(company) as s:
        svc.decide(s, dispute_id, outcome="upheld", note="agreed", actor="qa2", role="inspector")
    with session_scope(company) as s:
        defect = s.get(InspectionDefect, defect_id)
        assert defect.voided_by == "qa2" and defect.void_reason.startswith(f"dispute #{dispute_id}:")
        assert _result(s).quality > before
        assert svc.notice_counts(s, role="agent", username="ann", agent_id="A001").decided == 1
        views = svc.disputes_of_agent(s, "A001", actor="ann")
        assert [(v.dispute.status, v.defect_code) for v in views] == [("upheld", code)]
    with session_scope(company) as s:
        assert svc.notice_counts(s, role="agent", username="ann", agent_id="A001").decided == 0
        actions = [a for a, in s.execute(select(AuditEntry.action).where(AuditEntry.entity == "dispute"))]
        assert actions == ["dispute", "dispute_upheld"]
        with pytest.raises(svc.DisputeError) as again:
            svc.decide(s, dispute_id, outcome="rejected", note="no", actor="qa2", role="inspector")
        assert again.value.problem.key == "dispute.decided"


def test_rejection_escalated_once_and_hr_decides(company) -> None:  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        iid = _defect(s, "A002").inspection_id
        dispute_id = svc.file(s, agent_id="A002", actor="bob", reason="not me", inspection_id=iid).id
    with session_scope(company) as s:
        with pytest.raises(svc.DisputeError) as no_note:
            svc.decide(s, dispute_id, outcome="rejected", note=" ", actor="qa2", role="inspector")
        assert no_note.value.problem.key == "note.missing"
        svc.decide(s, dispute_id, outcome="rejected", note="the recording shows it", actor="qa2", role="inspector")
    with session_scope(company) as s:
        with pytest.raises(svc.DisputeError) as other:
            svc.escalate(s, dispute_id, agent_id="A001", actor="ann")
        assert other.value.status == 404
        svc.escalate(s, dispute_id, agent_id="A002", actor="bob", note="please listen again")
    with session_scope(company) as s:
        with pytest.raises(svc.DisputeError) as twice:
            svc.escalate(s, dispute_id, agent_id="A002", actor="bob")
        assert twice.value.problem.key == "escalate.stage"
        assert svc.notice_counts(s, role="hr", username="hr", agent_id=None).escalated == 1
        with pytest.raises(svc.DisputeError):
            svc.decide(s, dispute_id, outcome="upheld", note="", actor="qa2", role="inspector")
        svc.decide(s, dispute_id, outcome="upheld", note="HR listened", actor="hr", role="hr")
    with session_scope(company) as s:
        assert s.get(Inspection, iid).voided_by == "hr"
        q = svc.queue(s, svc.QueueFilters(status="all"), role="hr", username="hr")
        assert [v.dispute.status for v in q.rows] == ["hr_upheld"]


def test_filing_rules(company) -> None:  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        d = _defect(s)
        other = _defect(s, "A002")
        with pytest.raises(svc.DisputeError) as foreign:
            svc.file(s, agent_id="A001", actor="ann", reason="x", defect_id=other.id)
        assert foreign.value.status == 404
        with pytest.raises(svc.DisputeError) as blank:
            svc.file(s, agent_id="A001", actor="ann", reason="  ", defect_id=d.id)
        assert blank.value.problem.key == "reason.missing"
        with pytest.raises(svc.DisputeError) as both:
            svc.file(s, agent_id="A001", actor="ann", reason="x", defect_id=d.id, inspection_id=d.inspection_id)
        assert both.value.problem.key == "target.one"
        with pytest.raises(svc.DisputeError) as late:
            svc.file(s, agent_id="A001", actor="ann", reason="x", defect_id=d.id,
                     today=date.today() + timedelta(days=8))
        assert late.value.problem.key == "window.closed"
        svc.file(s, agent_id="A001", actor="ann", reason="x", defect_id=d.id)
        with pytest.raises(svc.DisputeError) as dup:
            svc.file(s, agent_id="A001", actor="ann", reason="y", inspection_id=d.inspection_id)
        assert dup.value.problem.key == "target.disputed"


def test_acknowledgement(company) -> None:  # type: ignore[no-untyped-def]
    with session_scope(company) as s:
        n = svc.unseen_count(s, "A001")
        assert n > 3
        first = svc.new_inspections(s, "A001")[0]
        assert not first.seen and first.open_for_disputes
        # I00002 is agent A003's: skipped.
        assert svc.acknowledge(s, "A001", [first.row.inspection.inspection_id, "I00002"], actor="ann") == 1
    with session_scope(company) as s:
        assert svc.unseen_count(s, "A001") == n - 1
        # Another agent's inspection cannot be acknowledged by ann.
        bob = _defect(s, "A002").inspection_id
        assert svc.acknowledge(s, "A001", [bob], actor="ann") == 0
        assert svc.acknowledge(s, "A001", None, actor="ann") == n - 1
    with session_scope(company) as s:
        assert svc.unseen_count(s, "A001") == 0 and svc.unseen_count(s, "A002") > 0


def test_month_close_waits_for_disputes_and_ends_them(company) -> None:  # type: ignore[no-untyped-def]
    from starlevel.services import months

    with session_scope(company) as s:
        d = _defect(s)
        dispute_id = svc.file(s, agent_id="A001", actor="ann", reason="no", defect_id=d.id).id
    with session_scope(company) as s:
        with pytest.raises(months.CloseRefused) as refused:
            months.close_month(s, "2025-06", actor="hr", confirm_incomplete=True)
        assert refused.value.code == "open_disputes"
        svc.decide(s, dispute_id, outcome="rejected", note="heard it", actor="qa2", role="inspector")
    with session_scope(company) as s:
        months.close_month(s, "2025-06", actor="hr", confirm_incomplete=True)
    with session_scope(company) as s:
        other = s.scalars(select(Inspection.inspection_id).where(
            Inspection.agent_id == "A001", Inspection.month == "2025-06", Inspection.inspection_id != d.inspection_id)).first()
        with pytest.raises(svc.DisputeError) as late:
            svc.file(s, agent_id="A001", actor="ann", reason="x", inspection_id=other)
        assert late.value.problem.key == "month.closed"
        with pytest.raises(svc.DisputeError) as esc:
            svc.escalate(s, dispute_id, agent_id="A001", actor="ann")
        assert esc.value.problem.key == "month.closed"


def test_navigation_reads_pending_figures_and_counts_in_one_statement(company) -> None:  # type: ignore[no-untyped-def]
    """Every signed-in page asks this once: the month figures are owed from, and its counts."""
    from sqlalchemy import event, func

    from starlevel.db.models import Dispute, RecomputeRequest, utcnow

    with session_scope(company) as s:
        iid = _defect(s, "A002").inspection_id
        svc.file(s, agent_id="A002", actor="bob", reason="not me", inspection_id=iid)
    with session_scope(company) as s:
        svc.decide(s, s.scalar(select(Dispute.id)), outcome="rejected", note="heard it", actor="qa2", role="inspector")
    with session_scope(company) as s:
        s.add(RecomputeRequest(from_month="2025-05", reason="test"))
        s.add(RecomputeRequest(from_month="2025-03", reason="done already", done_at=utcnow()))
    engine = company.kw["bind"]
    statements: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with company() as s:
            today = s.scalar(select(func.max(Inspection.created_at))).date()
            unseen = svc.unseen_count(s, "A002", today=today)
            statements.clear()
            pending, found = svc.navigation(s, role="agent", username="bob", agent_id="A002", today=today)
            assert len(statements) == 1
            assert pending == "2025-05" and found.decided == 1 and found.unseen == unseen > 0
            assert svc.navigation(s, role="inspector", username="qa", agent_id=None, today=today) == (
                "2025-05", svc.Notices())
            assert svc.navigation(s, role="hr", username="hr", agent_id=None, today=today)[1].escalated == 0
            assert svc.navigation(s, role="admin", username="admin", agent_id=None, today=today) == (
                "2025-05", svc.Notices())
            # Long after the inspections were saved none of them is new any more.
            later = svc.navigation(s, role="agent", username="bob", agent_id="A002", today=today + timedelta(days=90))
            assert later[1].unseen == 0
    finally:
        event.remove(engine, "before_cursor_execute", count)
