"""Month close and reopen (services.months): every write path refuses a closed month,
the recompute never changes a closed month's results, each close keeps the payroll as
paid, and a re-close lists what changed since the last close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, MonthClose, MonthlyMetrics, MonthResultRow, PayrollSnapshotRow
from starlevel.domain.rulebook import default_rulebook_document
from starlevel.services import hr, inspections, months, rulebooks
from starlevel.services.importer import ImportRejected, import_table
from starlevel.services.recompute import recompute
from tests.seed import seed_company

TODAY = date(2026, 11, 25)


@pytest.fixture
def seeded(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    return session_factory


def _results(s, through: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in s.execute(
        select(MonthResultRow.agent_id, MonthResultRow.month, MonthResultRow.level, MonthResultRow.next_level,
               MonthResultRow.event, MonthResultRow.total_pay, MonthResultRow.rulebook_version)
        .where(MonthResultRow.month <= through).order_by(MonthResultRow.agent_id, MonthResultRow.month))]


def _import(s, kind: str, text: str):  # type: ignore[no-untyped-def]
    return import_table(s, kind, text.encode(), filename=f"{kind}.csv", actor="qa",
                        rulebook=rulebooks.current(s), today=TODAY)


def test_close_freezes_the_month_and_every_earlier_one_and_keeps_the_payroll(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        assert months.closed_through(s) is None
        result = months.close_month(s, "2025-03", actor="hr", today=TODAY)
        assert result.months[0] == "2023-06" and result.months[-1] == "2025-03" and result.agents == 3
    with session_scope(seeded) as s:
        assert months.closed_through(s) == "2025-03"
        statuses = {m.month: m.status for m in months.month_statuses(s, today=TODAY)}
        assert statuses["2025-03"] == statuses["2023-06"] == "closed" and statuses["2025-04"] == "open"
        snap = s.scalars(select(PayrollSnapshotRow).where(PayrollSnapshotRow.month == "2025-03")).all()
        stored = {r.agent_id: r.total_pay for r in s.scalars(select(MonthResultRow).where(MonthResultRow.month == "2025-03"))}
        assert {r.agent_id: r.total_pay for r in snap} == stored and all(v for v in stored.values())
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "close", AuditEntry.entity_id == "2025-03")).one()
        assert audit.actor == "hr" and "total" not in str(audit.detail)  # no pay figures in the audit log
        with pytest.raises(months.CloseRefused) as again:
            months.close_month(s, "2025-02", actor="hr", today=TODAY)
        assert again.value.code == "already_closed"


@pytest.mark.parametrize(("month", "code"), [("2025-07", "not_evaluated"), ("2025-13", "not_a_month")])
def test_close_refuses_months_it_cannot_close(seeded, month: str, code: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s, pytest.raises(months.CloseRefused) as exc:
        months.close_month(s, month, actor="hr", today=TODAY)
    assert exc.value.code == code


def test_a_month_in_progress_cannot_be_closed(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s, pytest.raises(months.CloseRefused) as exc:
        months.close_month(s, "2025-06", actor="hr", today=date(2025, 6, 20))
    assert exc.value.code == "in_progress"


def test_every_write_path_refuses_a_closed_month(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        months.close_month(s, "2025-03", actor="hr", today=TODAY)
    with session_scope(seeded) as s:
        before = _results(s, "2025-06")
        # The inspection form (web and API share inspections.create).
        draft = inspections.Draft(agent_id="A001", contact_on="2025-03-20", channel="chat", contact_ref="NEW-1")
        with pytest.raises(inspections.InvalidInspection) as bad:
            inspections.create(s, draft, actor="qa", today=TODAY)
        assert [p.key for p in bad.value.problems] == ["month.closed"]
        # Voids of an inspection and of a defect.
        iid = s.scalar(select(MonthResultRow.agent_id).limit(1))
        from starlevel.db.models import Inspection, InspectionDefect
        insp = s.scalars(select(Inspection).where(Inspection.month == "2025-02")).first()
        with pytest.raises(inspections.InvalidVoid) as void:
            inspections.void_inspection(s, insp.inspection_id, reason="typo", actor="qa")
        assert void.value.problem.key == "month.closed"
        defect = s.scalars(select(InspectionDefect).join(Inspection).where(Inspection.month == "2025-01")).first()
        with pytest.raises(inspections.InvalidVoid):
            inspections.void_defect(s, defect.id, reason="typo", actor="qa")
        from starlevel.services import corrections
        with pytest.raises(months.MonthClosed):
            corrections.void_inspection(s, insp.inspection_id, reason="typo", actor="cli")
        # HR decisions.
        with pytest.raises(hr.DecisionError) as decision:
            hr.decide_and_recompute(s, "A001", "2025-03", action="hold", reason="x", actor="hr")
        assert decision.value.code == "month_closed"
        # A rulebook version cannot take effect in a closed month.
        with pytest.raises(months.MonthClosed):
            rulebooks.add_version(s, default_rulebook_document(), effective_from="2025-01", actor="hr")
        assert iid and _results(s, "2025-06") == before


def test_an_import_touching_a_closed_month_is_refused_whole_naming_its_rows(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        months.close_month(s, "2025-03", actor="hr", today=TODAY)
    metrics = ("agent_id,month,satisfaction,efficiency,attitude,complaints\n"
               "A001,2025-03,50,50,1,3\nA001,2025-04,95,92.5,4,0\nA002,2025-02,60,60,2,0\n")
    with session_scope(seeded) as s:
        with pytest.raises(ImportRejected) as rejected:
            _import(s, "metrics", metrics)
        where = [(e.row, e.column) for e in rejected.value.errors]
        assert where == [(2, "month"), (4, "month")]
        assert "2025-03 is closed for payroll" in str(rejected.value.errors[0])
        # Nothing of the file was written, not even the open month's row.
        assert s.get(MonthlyMetrics, ("A001", "2025-04")).values["satisfaction"] == "95.00"
        inspections_file = ("inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
                            "X1,A001,2025-04-02,chat,R-X1,qa,\nX2,A001,2025-03-31,chat,R-X2,qa,T1-01\n")
        with pytest.raises(ImportRejected) as rejected:
            _import(s, "inspections", inspections_file)
        assert [(e.row, e.column) for e in rejected.value.errors] == [(3, "contact_on")]
        # The same rows stored already change nothing and pass (re-importing history is harmless).
        same = "agent_id,month,satisfaction,efficiency,attitude,complaints\nA001,2025-03,95,92.5,4,0\n"
        assert _import(s, "metrics", same).unchanged == 1


def test_recompute_never_changes_a_closed_month(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        months.close_month(s, "2025-03", actor="hr", today=TODAY)
    with session_scope(seeded) as s:
        frozen = _results(s, "2025-03")
        # Inputs of a closed month changed behind the service layer's back, then a full
        # recompute and one from long ago: closed months keep their stored results.
        for row in s.scalars(select(MonthlyMetrics).where(MonthlyMetrics.month <= "2025-03")):
            row.values = {**row.values, "satisfaction": "10.00"}
        s.flush()
        recompute(s)
        recompute(s, start="2024-01")
        assert _results(s, "2025-03") == frozen
        later = s.get(MonthResultRow, ("A001", "2025-04"))
        assert later is not None  # months after the close are still evaluated


def test_reopen_needs_a_reason_and_the_next_close_shows_what_changed(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        months.close_month(s, "2025-05", actor="hr", today=TODAY)
        first_total = s.scalar(select(MonthResultRow.total_pay).where(
            MonthResultRow.agent_id == "A001", MonthResultRow.month == "2025-05"))
    with session_scope(seeded) as s:
        with pytest.raises(months.CloseRefused) as no_reason:
            months.reopen_month(s, "2025-05", reason="  ", actor="hr")
        assert no_reason.value.code == "reason_required"
        assert months.reopen_month(s, "2025-04", reason="late metrics for A001", actor="hr") == ["2025-04", "2025-05"]
    with session_scope(seeded) as s:
        assert months.closed_through(s) == "2025-03"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "reopen")).all()
        assert {(a.entity_id, a.reason) for a in audit} == {("2025-04", "late metrics for A001"),
                                                            ("2025-05", "late metrics for A001")}
        _import(s, "metrics", "agent_id,month,satisfaction,efficiency,attitude,complaints\nA001,2025-05,70,70,2,1\n")
        recompute(s, start="2025-05")
    with session_scope(seeded) as s:
        with pytest.raises(months.CloseRefused) as changed:
            months.close_month(s, "2025-05", actor="hr", today=TODAY)
        plan = changed.value.plan
        assert changed.value.code == "changes" and plan is not None and plan.previously_closed
        assert [c.agent_id for c in plan.changes] == ["A001"]
        change = plan.changes[0]
        assert change.pay_before == first_total and change.pay_after != first_total
        assert plan.total_difference == change.difference != 0
        result = months.close_month(s, "2025-05", actor="hr", confirm_changes=True, today=TODAY)
        assert result.months == ["2025-04", "2025-05"] and result.changes == 1
    with session_scope(seeded) as s:
        # Both closes of 2025-05 keep their payroll: what was paid first is not lost.
        closes = s.scalars(select(MonthClose).where(MonthClose.month == "2025-05").order_by(MonthClose.id)).all()
        assert len(closes) == 2 and closes[0].reopen_reason == "late metrics for A001"
        paid = [s.get(PayrollSnapshotRow, (c.id, "A001")).total_pay for c in closes]
        assert paid[0] == first_total and paid[1] != first_total


def test_incomplete_agents_must_each_be_confirmed(seeded) -> None:  # type: ignore[no-untyped-def]
    from starlevel.db.models import Inspection

    with session_scope(seeded) as s:
        insp = s.scalars(select(Inspection).where(Inspection.agent_id == "A002", Inspection.month == "2025-05")).first()
        inspections.void_inspection(s, insp.inspection_id, reason="wrong agent", actor="qa")
    with session_scope(seeded) as s:
        plan = months.close_plan(s, "2025-05", today=TODAY)
        assert [(a.agent_id, a.month, a.n_inspections, a.inspectors) for a in plan.incomplete] == [
            ("A002", "2025-05", 2, ("qa",))]
        with pytest.raises(months.CloseRefused) as refused:
            months.close_month(s, "2025-05", actor="hr", confirm_incomplete=["A001"], today=TODAY)
        assert refused.value.code == "incomplete"
        result = months.close_month(s, "2025-05", actor="hr", confirm_incomplete=["A002"], today=TODAY)
        assert result.incomplete_confirmed == ["A002"]
        assert s.scalar(select(func.count()).select_from(MonthClose)) == len(result.months)


def _cli(db_url: str, *args: str):  # type: ignore[no-untyped-def]
    from starlevel.cli import cli

    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": db_url}, catch_exceptions=False)


def test_cli_month_close_list_reopen_and_refusals(seeded, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from starlevel.db.models import Inspection

    with session_scope(seeded) as s:
        insp = s.scalars(select(Inspection).where(Inspection.agent_id == "A002", Inspection.month == "2025-05")).first()
        inspections.void_inspection(s, insp.inspection_id, reason="wrong agent", actor="qa")
        kept = s.scalars(select(Inspection).where(Inspection.month == "2025-04")).first().inspection_id
    refused = _cli(db_url, "month", "close", "2025-05")
    assert refused.exit_code == 1 and "incomplete 2025-05 A002 Bob Wu (Team 2): 2 inspections" in refused.output
    assert "inspected by qa" in refused.output
    ok = _cli(db_url, "month", "close", "2025-05", "--confirm-incomplete", "--actor", "hr")
    assert ok.exit_code == 0 and "closed 2023-06" in ok.output and "payroll of 2025-05 kept for 3 agents" in ok.output
    listing = _cli(db_url, "month", "list")
    assert "2025-06  open" in listing.output and "2025-05  closed" in listing.output
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("agent_id,month,satisfaction,efficiency,attitude,complaints\nA001,2025-04,50,50,1,0\n")
    rejected = _cli(db_url, "import", "metrics", str(metrics))
    assert rejected.exit_code == 1 and "row 2, column month: 2025-04 is closed for payroll" in rejected.output
    void = _cli(db_url, "void", "inspection", kept, "--reason", "typo")
    assert void.exit_code == 1 and "closed for payroll" in void.output
    rb = tmp_path / "rb.toml"
    rb.write_text(hr.to_toml(default_rulebook_document()))
    late = _cli(db_url, "rulebook", "load", str(rb), "--effective-from", "2025-02")
    assert late.exit_code == 1 and "2025-02: closed for payroll" in late.output
    assert _cli(db_url, "month", "reopen", "2025-04").exit_code == 2  # --reason is required
    reopened = _cli(db_url, "month", "reopen", "2025-04", "--reason", "late metrics")
    assert reopened.exit_code == 0 and "reopened 2025-04, 2025-05" in reopened.output
    assert _cli(db_url, "import", "metrics", str(metrics)).exit_code == 0
    again = _cli(db_url, "month", "close", "2025-05", "--confirm-incomplete")
    assert again.exit_code == 1 and "changed 2025-04 A001" in again.output and "payroll total" in again.output
