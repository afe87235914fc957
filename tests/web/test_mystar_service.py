"""The star page's read model (starlevel.services.mystar) on the seeded company.

Expected figures are worked out by hand from the spec (§4 composite, §5 ladder, §6 pay)
rather than read back from the engine.
"""

from __future__ import annotations

from dataclasses import replace

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from starlevel.db.engine import session_scope
from starlevel.services import mystar, rulebooks
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute
from tests.web.test_mystar_fixtures import (
    DEFECT_VOID_REASON,
    INSPECTION_VOID_REASON,
    MONTH,
    NOTE,
    seed_star_company,
)

D = Decimal


def r2(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def composite(quality: Decimal, efficiency: Decimal, satisfaction: Decimal, attitude: int) -> Decimal:
    # §4: 40% quality, 25% efficiency, 20% satisfaction, 15% attitude×20.
    return r2(D("0.40") * quality + D("0.25") * efficiency + D("0.20") * satisfaction + D("0.15") * attitude * 20)


# The seed: every month 3 inspections (T1-01 → 98; none → 100; none → 100) and metrics 95 / 92.5 / 4.
SEED_QUALITY = r2(D(98 + 100 + 100) / 3)  # 99.33
SEED_COMPOSITE = composite(SEED_QUALITY, D("92.5"), D("95"), 4)  # 93.86


@pytest.fixture
def s(session_factory):  # type: ignore[no-untyped-def]
    seed_star_company(session_factory, logins=False)
    with session_factory() as session:
        yield session


def cond(progress: mystar.Progress, key: str) -> mystar.Condition:
    return next(c for c in progress.conditions if c.key == key)


def test_seed_composite_by_hand():
    assert SEED_QUALITY == D("99.33")
    assert SEED_COMPOSITE == D("93.86")


def test_unknown_agent_is_none(s):
    assert mystar.agent_page(s, "NOPE") is None
    assert mystar.defects_panel(s, "NOPE", None, "en") is None


def test_pay_after_probation_with_the_reason_for_the_coefficient(s):
    page = mystar.agent_page(s, "A001", month="2025-06", lang="en")
    pay = page.pay
    assert page.month == "2025-06" and pay.composite == SEED_COMPOSITE
    # 1★ (A05): 1580 + 420 × 1.1 + 100, because 93.86 ≥ 90.
    assert pay.coefficient == D("1.1") and pay.coef_min == D("90") and pay.coef_below is None
    assert pay.fixed == D("1580") and pay.performance == D(420) * D("1.1") and pay.allowance == D("100")
    assert pay.total == D(1580) + D(420) * D("1.1") + D(100) == D("2142.00")
    assert not pay.on_probation and pay.pay_grade == "A05"


def test_pay_on_probation_is_80_percent_without_allowance(s):
    pay = mystar.agent_page(s, "A001", month="2024-02", lang="en").pay
    assert pay.on_probation and pay.probation_factor == D("0.80")
    assert pay.allowance == 0
    assert pay.total == r2(D("0.80") * (D(1580) + D(420) * D("1.1"))) == D("1633.60")


def test_pay_below_the_lowest_bracket_and_in_the_middle(s):
    # A002 in 2025-07: quality 85 (3 × T2-05 each inspection), metrics 40 / 40 / 2.
    a2 = mystar.agent_page(s, "A002", lang="en").pay
    assert a2.composite == composite(D(85), D(40), D(40), 2) == D("58.00")
    assert a2.coefficient == 0 and a2.coef_below == D("60")  # 58.00 < 60 → ×0
    assert a2.total == D(1580) + 0 + D(100)
    # A003 in 2025-07 (2★, A06): live inspections 98, 98, 100 (a defect and an inspection voided).
    a3 = mystar.agent_page(s, "A003", lang="en").pay
    q = r2(D(98 + 98 + 100) / 3)
    assert a3.composite == composite(q, D(40), D(40), 2) == D("63.47")
    assert a3.coefficient == D("0.5") and a3.coef_min == D("60") and a3.coef_below is None  # ≥ 60 → ×0.5
    assert a3.total == D(1720) + D(480) * D("0.5") + D(200) == D("2160.00")
    assert a3.pay_grade == "A06"


def test_incomplete_month_has_no_pay_and_says_what_is_missing(s):
    page = mystar.agent_page(s, "A001", lang="en")
    assert page.month == MONTH
    pay = page.pay
    assert not pay.complete and pay.total is None and pay.composite is None
    assert pay.missing_inspections == 2 and pay.n_inspections == 1 and pay.min_inspections == 3
    assert pay.missing_metrics
    assert page.latest.composite is None and page.latest.rule == "incomplete"


def test_level_now_is_next_level_of_the_latest_month(s):
    page = mystar.agent_page(s, "A003", lang="en")
    assert page.level_now == 2 and page.pay_grade_now == "A06" and page.max_level == 5
    # The history is a rolling window of HISTORY_MONTHS ending at the month shown.
    assert len(page.history) == mystar.HISTORY_MONTHS
    assert page.history[-1].month == page.month
    # A003 was hired at 2★ (initial_level) in 2023-06: picking that month shows it.
    first = mystar.agent_page(s, "A003", month="2023-06", lang="en")
    assert first.history[0].month == "2023-06" and first.history[0].level == 2


def test_progress_on_probation_counts_down_tenure(s):
    p = mystar.agent_page(s, "A001", month="2024-02", lang="en").progress
    assert p.target == 2 and p.level == 1
    assert cond(p, "probation").ok is False
    assert cond(p, "tenure").ok is False and p.tenure_have == 2 and p.tenure_need == 9
    assert p.tenure_months_left == 9 - 2
    # Two qualifying months so far (2024-01, 2024-02) of a 3-month window.
    assert (p.window_have, p.window_need) == (2, 3)
    assert p.threshold == D("80")  # phone → 2★
    # First month with tenure 9 is 2024-09 (hired 2024-01).
    assert p.earliest == "2024-09"


def test_progress_all_met_but_waitlisted(s):
    p = mystar.agent_page(s, "A001", month="2025-06", lang="en").progress
    assert (p.window_have, p.window_need) == (3, 3)
    assert all(c.ok for c in p.conditions), p.conditions
    assert p.quota_limited  # the 2★ quota of floor(50% × 3) = 1 is held by A003
    assert p.warning is None


def test_progress_window_broken_by_an_incomplete_month(s):
    p = mystar.agent_page(s, "A001", lang="en").progress
    assert p.window_have == 0
    complete = cond(p, "complete")
    assert complete.ok is False and complete.extra["months"] == [MONTH]
    assert cond(p, "threshold").ok is True  # the complete months 05 and 06 scored 93.86 ≥ 80
    assert cond(p, "at_level").ok is True
    # Three fresh qualifying months are needed: 08, 09, 10.
    assert p.earliest == "2025-10"


def test_below_floor_at_1_star_warns_of_a_review(s):
    p = mystar.agent_page(s, "A002", lang="en").progress
    assert p.below_floor == 1 and p.floor == D("60")
    assert p.warning == "review" and p.warning_to is None
    assert p.threshold == D("90")  # online → 2★
    assert cond(p, "threshold").ok is False and cond(p, "threshold").extra["months"] == [MONTH]
    assert cond(p, "pass_mark").ok is False  # efficiency 40 < 60


def test_below_floor_at_2_star_warns_of_a_demotion_and_checks_the_error_rate(s):
    p = mystar.agent_page(s, "A003", lang="en").progress
    assert p.level == 2 and p.target == 3 and p.threshold == D("85")
    assert p.below_floor == 1 and p.floor == D("65")
    assert p.warning == "demote" and p.warning_to == 1
    err = cond(p, "error_rate")
    # The voided T2-05 no longer counts: no tier-2+ defect, no complaint → 0 < 10%.
    assert err.ok is True and err.have == 0 and err.need == D("0.10")
    # The red-line T3-01 sat in a voided inspection: no red line.
    assert cond(p, "red_line").ok is True


def test_history_rows_explain_every_month(s):
    page = mystar.agent_page(s, "A002", lang="zh")
    assert [h.month for h in page.history][:2] == ["2024-03", "2024-04"]
    assert page.history[-1].month == MONTH and page.history[-1].band_label == "不合格"
    # The newest six months come explained; the older ones when asked for.
    newest = page.history[-mystar.RECENT_MONTHS:]
    assert all(h.explanation for h in newest)
    assert all(h.explanation is None for h in page.history[:-mystar.RECENT_MONTHS])
    asked = mystar.agent_page(s, "A002", lang="zh", explain_older=True)
    assert all(h.explanation for h in asked.history) and asked.older_explained
    assert [h.explanation for h in asked.history[-mystar.RECENT_MONTHS:]] == [h.explanation for h in newest]
    assert [replace(h, explanation=None) for h in asked.history] == [replace(h, explanation=None) for h in page.history]
    assert page.history[-1].threshold == D("90") and page.history[-1].floor == D("60")
    # As of an earlier month the history stops there.
    earlier = mystar.agent_page(s, "A002", month="2024-12", lang="en")
    assert earlier.history[-1].month == "2024-12" and len(earlier.history) == 10


def test_unknown_or_malformed_month_falls_back_to_the_latest(s):
    for bad in ("2031-01", "nonsense"):
        page = mystar.agent_page(s, "A001", month=bad, lang="en")
        assert page.month == MONTH and page.month_not_found == bad


def test_defects_behind_the_quality_score(s):
    panel = mystar.agent_page(s, "A003", lang="en").defects
    assert panel.month == MONTH and panel.live == 3
    assert panel.quality == r2(D(98 + 98 + 100) / 3)
    by_id = {i.inspection_id: i for i in panel.inspections}
    assert list(by_id) == ["J-A3-1", "J-A3-2", "J-A3-3", "J-A3-4"]  # by contact date
    typo = by_id["J-A3-1"]
    assert typo.channel == "phone" and typo.score == 98 and typo.contact_on == date(2025, 7, 3)
    (d,) = typo.defects
    assert (d.code, d.tier, d.description, d.deduction, d.note) == ("T1-01", 1, "Typo in a reply", 2, NOTE)
    assert d.tier_name == "minor" and not d.voided
    two = by_id["J-A3-2"]
    voided = [x for x in two.defects if x.voided]
    assert [x.code for x in voided] == ["T2-05"] and voided[0].void_reason == DEFECT_VOID_REASON
    assert two.score == 100 - 2  # only the live T1-03 deducts
    gone = by_id["J-A3-4"]
    assert gone.voided and gone.void_reason == INSPECTION_VOID_REASON and gone.voided_by == "qa"
    assert gone.defects[0].code == "T3-01" and gone.defects[0].tier == 3


def test_defect_descriptions_follow_the_language(s):
    panel = mystar.defects_panel(s, "A003", MONTH, "zh")
    typo = panel.inspections[0].defects[0]
    assert typo.description == "有错别字" and typo.tier_name == "轻微"


def test_defects_panel_switches_month_and_stays_with_the_agent(s):
    panel = mystar.defects_panel(s, "A001", "2024-05", "en")
    assert panel.month == "2024-05" and panel.live == 3
    assert all(i.inspection_id.startswith("I") for i in panel.inspections)
    assert panel.older == "2024-04" and panel.newer == "2024-06"
    # A month the agent was not evaluated in falls back to the latest.
    assert mystar.defects_panel(s, "A001", "2023-06", "en").month == MONTH
    assert mystar.defects_panel(s, "A001", "2024-01", "en").older is None


def test_default_defects_month_follows_the_page_month(s):
    page = mystar.agent_page(s, "A001", month="2024-09", lang="en")
    assert page.defects.month == "2024-09"
    page = mystar.agent_page(s, "A001", month="2024-09", defects_month="2024-03", lang="en")
    assert page.defects.month == "2024-03"


def test_top_level_and_zero_error_rule(session_factory):
    """An experienced hire at 4★ (to 5★: zero errors) and one at 5★ (nothing above)."""
    seed_star_company(session_factory, logins=False)
    with session_scope(session_factory) as s:
        rb = rulebooks.current(s)
        agents = (
            "agent_id,name,track,team,hired_on,left_on,initial_level,probation_months\n"
            "A004,Dee,phone,Team 3,2025-01-01,,4,\n"
            "A005,Eve,online,Team 3,2025-01-01,,5,\n"
        )
        import_table(s, "agents", agents.encode(), filename="a.csv", actor="hr", rulebook=rb, today=date(2026, 11, 25))
        lines = ["inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes"]
        for k in range(3):
            lines.append(f"Z4-{k},A004,2025-07-1{k},chat,Z-{k},qa,{'T2-01' if k == 0 else ''}")
            lines.append(f"Z5-{k},A005,2025-07-1{k},chat,Z-{k},qa,")
        import_table(s, "inspections", ("\n".join(lines) + "\n").encode(), filename="i.csv", actor="qa", rulebook=rb,
                     today=date(2026, 11, 25))
        metrics = "agent_id,month,satisfaction,efficiency,attitude,complaints\nA004,2025-07,99,99,5,1\nA005,2025-07,99,99,5,0\n"
        import_table(s, "metrics", metrics.encode(), filename="m.csv", actor="qa", rulebook=rb, today=date(2026, 11, 25))
        recompute(s, start="2025-01")
    with session_factory() as s:
        four = mystar.agent_page(s, "A004", lang="en").progress
        assert four.level == 4 and four.target == 5 and four.threshold == D("95")
        zero = cond(four, "zero_errors")
        assert zero.ok is False and zero.have == 1 + 1  # one T2-01 and one complaint
        assert not any(c.key == "error_rate" for c in four.conditions)
        five = mystar.agent_page(s, "A005", lang="en")
        assert five.level_now == 5 and five.pay_grade_now == "A11"
        top = five.progress
        assert top.target is None and top.conditions == [] and top.floor == D("90")
