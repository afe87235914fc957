"""HR services: month review, approve/hold, payroll CSV, rulebook preview and validation."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from starlevel.db.engine import session_scope
from starlevel.db.models import AuditEntry, HrDecisionRow, MonthResultRow, RulebookVersion
from starlevel.domain.rulebook import RulebookError, default_rulebook_document
from starlevel.services import hr, rulebooks
from starlevel.services.recompute import recompute
from starlevel.services import payroll
from starlevel.web.exports import payroll_labels
from tests.seed import seed_company


def approval_document(**changes: Any) -> dict[str, Any]:
    """The default rules with HR approval on and no quotas (so that proposals happen)."""
    doc = default_rulebook_document()
    doc["rulebook"]["approval_required"] = True
    doc["quotas"] = {}
    for key, value in changes.items():
        doc[key] = value
    return doc


def add_approval_version(session_factory, effective_from: str = "2024-09") -> None:  # type: ignore[no-untyped-def]
    """Seeded company + a version requiring approval from ``effective_from`` (recomputed)."""
    with session_scope(session_factory) as s:
        rulebooks.add_version(s, approval_document(), effective_from=effective_from, actor="hr", note="approval on")
        recompute(s, start=effective_from)


@pytest.fixture
def seeded(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    return session_factory


def test_month_review_of_the_seeded_company(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        review = hr.month_review(s, lang="en")
        assert review.month == "2025-06"
        assert review.months[0] == "2025-06" and review.months[-1] == "2023-06"
        assert review.headcount == 3
        assert not review.approval_required
        # Three agents, three eligible, every quota full: all waitlisted (2★ cap floor(0.5×3)=1 held by A003).
        assert review.counts == {"none": 0, "pending": 0, "promote": 0, "hold": 0, "waitlist": 3, "demote": 0, "review": 0}
        waitlist = review.sections["waitlist"]
        assert [i.agent_id for i in waitlist] == ["A003", "A001", "A002"]
        a001 = waitlist[1]
        assert (a001.level, a001.next_level, a001.target) == (1, 1, 2)
        assert (a001.rank, a001.cap, a001.holding) == (1, 1, 1)
        assert a001.composite == Decimal("93.86") and a001.average == Decimal("93.86")
        assert "waitlisted" in a001.explanation and "2★" in a001.explanation
        zh = hr.month_review(s, lang="zh").sections["waitlist"][1].explanation
        assert zh != a001.explanation and "候补" in zh
        quotas = {q.level: q for q in review.quotas}
        assert (quotas[2].cap, quotas[2].holders, quotas[2].next_holders) == (1, 1, 1)
        assert quotas[1].cap is None and quotas[1].holders == 2
        assert quotas[3].cap == 0
        # Filters: team and track narrow the lists, never the company-wide quota figures.
        team1 = hr.month_review(s, team="Team 1")
        assert team1.counts["waitlist"] == 2 and team1.headcount == 3
        online = hr.month_review(s, track="online")
        assert [i.agent_id for i in online.sections["waitlist"]] == ["A002"]
        # An unknown month falls back to the latest; a known one is used.
        assert hr.month_review(s, "1999-01").month == "2025-06"
        early = hr.month_review(s, "2023-07")
        assert early.month == "2023-07" and early.headcount == 1


def test_sections_are_paged(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        first = hr.month_review(s, section="waitlist", page=1, per_page=2)
        second = hr.month_review(s, section="waitlist", page=2, per_page=2, only=True)
        assert first.pages["waitlist"] == (1, 2) and len(first.sections["waitlist"]) == 2
        assert second.pages["waitlist"] == (2, 2) and len(second.sections["waitlist"]) == 1
        assert list(second.sections) == ["waitlist"] and second.quotas == []
        ids = {i.agent_id for i in first.sections["waitlist"]} | {i.agent_id for i in second.sections["waitlist"]}
        assert ids == {"A001", "A002", "A003"}


def test_approve_and_hold_with_approval_required(seeded) -> None:  # type: ignore[no-untyped-def]
    add_approval_version(seeded)
    with session_scope(seeded) as s:
        review = hr.month_review(s, "2024-09")
        assert review.approval_required
        pending = {i.agent_id: i for i in review.sections["pending"]}
        assert set(pending) == {"A001", "A003"}
        assert pending["A001"].decidable and pending["A001"].target == 2
        assert pending["A001"].next_level == 1  # a proposal changes nothing yet
        assert {q.level: q.pending for q in review.quotas}[2] == 1
        # Before 2024-09 the old version (no approval) applies.
        assert not hr.month_review(s, "2024-08").approval_required

    with session_scope(seeded) as s, pytest.raises(hr.DecisionError) as err:
        hr.decide_and_recompute(s, "A003", "2024-09", action="hold", reason="  ", actor="hr")
    assert err.value.code == "reason_required"

    with session_scope(seeded) as s:
        hr.decide_and_recompute(s, "A001", "2024-09", action="approve", reason="", actor="hr")
        hr.decide_and_recompute(s, "A003", "2024-09", action="hold", reason="complaint under review", actor="hr")
    with session_scope(seeded) as s:
        a001 = hr.review_item(s, "A001", "2024-09", "en")
        assert a001 is not None and a001.section == "promote" and a001.next_level == 2
        assert a001.decision is not None and a001.decision.action == "approve" and a001.decision.decided_by == "hr"
        assert s.get(MonthResultRow, ("A001", "2024-10")).level == 2  # recomputed in the same transaction
        a003 = hr.review_item(s, "A003", "2024-09", "en")
        assert a003 is not None and a003.section == "hold" and a003.next_level == 2
        assert a003.decision is not None and a003.decision.reason == "complaint under review"
        counts = hr.month_review(s, "2024-09").counts
        assert (counts["promote"], counts["hold"], counts["pending"]) == (1, 1, 0)

    # Changing a decision later is allowed: the old one is voided (kept) and audited.
    with session_scope(seeded) as s:
        hr.decide_and_recompute(s, "A003", "2024-09", action="approve", reason="cleared", actor="hr")
    with session_scope(seeded) as s:
        a003 = hr.review_item(s, "A003", "2024-09", "en")
        assert a003 is not None and a003.section == "promote" and a003.next_level == 3
        assert a003.decision is not None and a003.decision.superseded == 1
        rows = s.scalars(select(HrDecisionRow).where(HrDecisionRow.agent_id == "A003").order_by(HrDecisionRow.id)).all()
        assert [(r.action, r.voided_at is not None) for r in rows] == [("hold", True), ("approve", False)]
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "promotion").order_by(AuditEntry.id)).all()
        assert actions == ["approve", "hold", "approve"]


def test_decisions_are_refused_where_they_mean_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        with pytest.raises(hr.DecisionError) as err:
            hr.decide_and_recompute(s, "A001", "2025-06", action="approve", reason="", actor="hr")
        assert err.value.code == "approval_off"
        with pytest.raises(hr.DecisionError) as err:
            hr.decide_and_recompute(s, "A001", "1999-01", action="approve", reason="", actor="hr")
        assert err.value.code == "not_found"
        with pytest.raises(hr.DecisionError) as err:
            hr.decide_and_recompute(s, "A001", "2025-06", action="promote", reason="", actor="hr")
        assert err.value.code == "bad_action"
    add_approval_version(seeded)
    with session_scope(seeded) as s, pytest.raises(hr.DecisionError) as err:
        hr.decide_and_recompute(s, "A002", "2024-09", action="approve", reason="", actor="hr")  # tenure 7: nothing proposed
    assert err.value.code == "not_a_proposal"
    with session_scope(seeded) as s:
        assert s.scalar(select(func.count()).select_from(HrDecisionRow)) == 0


def _read_csv(chunks) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    data = b"".join(chunks)
    assert data.startswith("\ufeff".encode())  # BOM for Excel
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _payroll_csv(s, month: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The agent lines of the payroll CSV, keyed by column (English headers mapped back to keys)."""
    labels = payroll_labels("en")
    rows = _read_csv(payroll.csv_bytes(payroll.load(s, month), labels))
    keys = {labels[k]: k for k in payroll.COLUMNS}
    return [{keys[h]: v for h, v in r.items()} for r in rows if r[labels["line"]] == labels["line_agent"]]


def test_payroll_csv_totals_equal_the_stored_totals(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        rows = _payroll_csv(s, "2025-06")
        assert [r["agent_id"] for r in rows] == ["A001", "A003", "A002"]  # by team, then id
        stored = s.scalars(select(MonthResultRow.total_pay).where(MonthResultRow.month == "2025-06")).all()
        assert sum(Decimal(r["total_pay"]) for r in rows) == sum(stored, Decimal(0)) == Decimal("6732.00")
        chen = next(r for r in rows if r["agent_id"] == "A003")
        assert (chen["name"], chen["level"], chen["pay_grade"], chen["status"]) == ("陈静", "2", "A06", "complete")
        teams, grand = hr.payroll_summary(s, "2025-06")
        assert [(t.team, t.agents, t.total) for t in teams] == [("Team 1", 2, Decimal("4590.00")), ("Team 2", 1, Decimal("2142.00"))]
        assert grand.total == Decimal("6732.00") and grand.incomplete == 0
        # A probation month is paid at 80 %, without allowance.
        (probation,) = [r for r in _payroll_csv(s, "2024-03") if r["agent_id"] == "A002"]
        assert probation["probation_factor"] == "0.80" and probation["allowance"] == "0.00"


def test_payroll_marks_incomplete_months(seeded) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from starlevel.services.importer import import_table

    with session_scope(seeded) as s:
        rb = rulebooks.current(s)
        import_table(s, "metrics", b"agent_id,month,satisfaction,efficiency,attitude,complaints\nA001,2025-07,95,92.5,4,0\n",
                     filename="m.csv", actor="t", rulebook=rb, today=date(2026, 11, 25))
        recompute(s, start="2025-07")
    with session_scope(seeded) as s:
        rows = _payroll_csv(s, "2025-07")
        assert {r["status"] for r in rows} == {"incomplete"}
        assert all(r["total_pay"] == "" for r in rows)
        _teams, grand = hr.payroll_summary(s, "2025-07")
        assert grand.incomplete == 3 and grand.total == 0


def test_ladder_csv_stream_has_every_result(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        rows = _read_csv(hr.ladder_csv_stream(s, lang="zh"))
        assert len(rows) == s.scalar(select(func.count()).select_from(MonthResultRow))
        assert rows[0]["reason"] and "agent_id" in rows[0]


def test_toml_text_reads_back_to_the_same_document(seeded) -> None:  # type: ignore[no-untyped-def]
    import tomllib

    with session_scope(seeded) as s:
        found = hr.version_document(s, 1)
        assert found is not None
        _rb, document = found
        text = hr.to_toml(document)
        assert '[[pay.grades]]' in text and '"2" = "0.50"' in text
        assert tomllib.loads(text) == document


def _stricter(threshold: str) -> dict[str, Any]:
    doc = approval_document()
    doc["rulebook"]["approval_required"] = False
    doc["promotions"][0]["threshold"]["phone"] = threshold
    return doc


def test_preview_reports_a_lowered_threshold_and_nothing_for_the_same_rules(seeded) -> None:  # type: ignore[no-untyped-def]
    # Baseline: no quotas, and a 2★ phone threshold (95) that A001's 93.86 misses.
    with session_scope(seeded) as s:
        rulebooks.add_version(s, _stricter("95"), effective_from="2023-06", actor="hr")
        recompute(s)
    with session_scope(seeded) as s:
        stored_before = s.scalar(select(func.count()).select_from(MonthResultRow))
        same = hr.preview_rulebook(s, _stricter("95"), "2024-01")
        assert same.start == "2024-01" and same.end == "2025-06" and same.months == 18
        assert not same.changed and same.changed_results == 0 and same.level_changes == []
        assert same.events_before == same.events_after and same.pay_difference == 0

        lower = hr.preview_rulebook(s, _stricter("90"), "2024-01")
        assert lower.changed
        assert lower.events_after["promote"] > lower.events_before["promote"]
        assert [c.agent_id for c in lower.level_changes] == ["A001"]
        change = lower.level_changes[0]
        assert change.month == "2024-09" and change.after > change.before
        assert lower.pay_difference > 0  # A001 is paid at a higher grade in 2025-06
        # Nothing was written by either preview.
        assert s.scalar(select(func.count()).select_from(MonthResultRow)) == stored_before
        assert s.scalar(select(func.count()).select_from(RulebookVersion)) == 2

        # Effective after the last evaluated month: nothing to compare yet.
        later = hr.preview_rulebook(s, _stricter("90"), "2030-01")
        assert later.start is None and not later.changed


def test_store_rulebook_saves_and_recomputes(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        text = hr.to_toml(_stricter("90"))
        document = hr.parse_candidate(text, "2024-01")
        rb = hr.store_rulebook(s, document, effective_from="2024-01", actor="hr", label="no quotas", note="test")
        assert rb.version == 2
    with session_scope(seeded) as s:
        assert s.get(MonthResultRow, ("A001", "2024-09")).event == "promote"
        assert s.get(MonthResultRow, ("A001", "2024-09")).rulebook_version == 2
        versions = hr.rulebook_versions(s, "2025-06")
        assert [(v.version, v.status) for v in versions] == [(2, "in_force"), (1, "past")]
        assert versions[0].label == "no quotas" and versions[0].created_by == "hr" and versions[0].note == "test"
        assert [(v.version, v.status) for v in hr.rulebook_versions(s, "2023-12")] == [(2, "scheduled"), (1, "in_force")]


def test_an_invalid_rulebook_lists_every_problem() -> None:
    doc = default_rulebook_document()
    doc["dimensions"][0]["weight"] = "0.50"  # weights total 1.10
    doc["promotions"][1]["threshold"]["online"] = "120"
    del doc["demotion"]["floors"]["3"]
    doc["rulebook"]["pass_mark"] = "sixty"
    import tomllib

    text = hr.to_toml(doc)
    assert tomllib.loads(text) == doc
    with pytest.raises(RulebookError) as err:
        hr.parse_candidate(text, "2025-13")
    problems = err.value.problems
    joined = "\n".join(problems)
    assert len(problems) >= 5
    for needle in ("effective_from", "weights must total exactly 1", "promotions[1].threshold.online",
                   "no floor for level 3", "rulebook.pass_mark"):
        assert needle in joined, needle
    with pytest.raises(RulebookError) as err:
        hr.parse_candidate("[rulebook\nlevels = ", "2025-01")
    assert "not valid TOML" in err.value.problems[0]
    with pytest.raises(RulebookError) as err:
        hr.parse_candidate("   ", "2025-01")
    assert err.value.problems == ["document: empty"]
