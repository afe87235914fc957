"""Every shipped template reproduces its source scheme on a small case worked by hand.

Each test states the arithmetic in its comments; the engine must give exactly those figures.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from starlevel.domain.ladder import direct_checks, evaluate
from starlevel.domain.model import Agent, HrDecision, Metrics, MonthResult
from starlevel.domain.periods import awards, period_scores
from starlevel.domain.rulebook import parse_rulebook, rulebook_to_document
from starlevel.domain.scoring import evidence_of
from starlevel.domain.templates import TEMPLATE_NAMES, list_templates, template_rulebook


def _run(name: str, agents: list[Agent], inputs: dict[tuple[str, str], dict[str, Any]],
         inspections: dict[tuple[str, str], list[list[str]]] | None = None,
         decisions: dict[tuple[str, str], HrDecision] | None = None) -> dict[tuple[str, str], MonthResult]:  # fmt: skip
    rb = template_rulebook(name)
    inspections = inspections or {}
    evidence = {k: evidence_of(v, rb) for k, v in inspections.items()}
    metrics = {k: Metrics(k[0], k[1], {kk: D(str(vv)) for kk, vv in v.items()}) for k, v in inputs.items()}
    last = max([m for _, m in list(inputs) + list(inspections)])
    results = evaluate(agents, evidence, metrics, decisions or {}, [rb], last_data_month=last)
    return {(r.agent_id, r.month): r for r in results}


def _agent(aid: str = "a1", hired: date = date(2020, 1, 6), level: int = 1, track: str = "phone") -> Agent:
    return Agent(aid, aid.upper(), track, "t1", hired, None, level, 3)


def test_every_template_is_listed_and_round_trips() -> None:
    infos = list_templates()
    assert [i.name for i in infos] == list(TEMPLATE_NAMES)
    assert len(infos) == 11
    for info in infos:
        assert info.source and info.summary_zh and info.summary_en
        rb = template_rulebook(info.name)
        again = parse_rulebook(json.loads(json.dumps(rulebook_to_document(rb))))
        assert again == rb, info.name
        if info.name != "default":
            assert rb.notes_zh and rb.notes_en, info.name


def test_scorecard_80_20_keeps_fractions_exact() -> None:
    # performance = 100 × (0.2×1 + 0.2×½ + 0.1×0 + 0.1×½ + 0.2×¼ + 0.1×(3−1)/3 + 0.1×1) = 56.666…
    # behaviour = (4+5+3+4+4) × 4 = 80; composite = 0.8 × 56.666… + 0.2 × 80 = 61.333… → 61.33
    # (rounding performance first would give 61.34). No inspections needed.
    values = {
        "process_completion": 92, "info_utilisation": 86, "referrals": 0, "key_account_visits": 95,
        "satisfaction": 83, "complaint_misses": 1, "orphan_losses": 0,
        "customer_focus": 4, "attentiveness": 5, "command": 3, "responsibility": 4, "professionalism": 4,
    }  # fmt: skip
    r = _run("scorecard-80-20", [_agent()], {("a1", "2024-05"): values})[("a1", "2024-05")]
    assert r.complete and r.composite == D("61.33")
    assert r.dimensions["behaviour"] == D(80)
    assert r.dimensions["performance"] == D("56.6667")
    # 1★ after probation, coefficient 0.5 (60 ≤ 61.33 < 70): 1580 + 420 × 0.5 + 100
    assert r.pay is not None and r.pay.total == D("1890.00")
    # a missing behaviour input leaves the month incomplete
    del values["command"]
    r = _run("scorecard-80-20", [_agent()], {("a1", "2024-05"): values})[("a1", "2024-05")]
    assert not r.complete and r.pay is None


def test_ecommerce_kpi_weights_commission_and_review() -> None:
    # quality: 98, 100, 100 → 99.33; composite = 0.30×70 + 0.20×99.33 + 0.15×85 + 0.15×70 (45 s)
    # + 0.10×92 + 0.05×75 (1.5 × 50) + 0.05×80 = 81.066 → 81.07
    # commission = 0.10 × (60000 − 0.10 × 400000) = 2000; pay = 1580 + 420 × 1.0 + 100 + 2000
    values = {"satisfaction": 85, "accuracy": 92, "first_response_s": 45, "conversion": 70, "basket_ratio": "1.5",
              "manager_rating": 4, "sales": 60000, "shop_turnover": 400000}  # fmt: skip
    insp = {("a1", "2024-05"): [["T1-01"], [], []]}
    r = _run("ecommerce-kpi", [_agent()], {("a1", "2024-05"): values}, insp)[("a1", "2024-05")]
    assert r.composite == D("81.07")
    assert r.pay is not None and r.pay.commission == D("2000.00") and r.pay.total == D("4100.00")
    # without sales figures there is no commission
    del values["sales"]
    r = _run("ecommerce-kpi", [_agent()], {("a1", "2024-05"): values}, insp)[("a1", "2024-05")]
    assert r.pay is not None and r.pay.commission == 0 and r.pay.total == D("2100.00")
    # two consecutive failing months (composite < 60) at 1★ raise a review (辞退或调岗)
    poor = {"satisfaction": 40, "accuracy": 50, "first_response_s": 90, "conversion": 20, "basket_ratio": "0.5", "manager_rating": 2}
    months = {("a1", m): poor for m in ("2024-05", "2024-06")}
    insp = {("a1", m): [["T2-01"], ["T2-01"], []] for m in ("2024-05", "2024-06")}
    res = _run("ecommerce-kpi", [_agent()], months, insp)
    assert res[("a1", "2024-05")].event == "none"
    assert res[("a1", "2024-06")].event == "review" and res[("a1", "2024-06")].rule == "review_floor"


def _star_month(quality_defects: int, e: int, s: int, a: int) -> tuple[list[list[str]], dict[str, int]]:
    return [["T1-01"] * quality_defects] * 3, {"satisfaction": s, "efficiency": e, "attitude": a, "complaints": 0}


def test_star_standard_skips_levels_and_demotes_to_the_band() -> None:
    # Every item 76 (quality 100 − 12 × 2): composite 0.4×76 + 0.25×76 + 0.2×76 + 0.15×80 = 76.60.
    # Three months ≥ 70 with every item ≥ 75 and no errors: 3★ holds, so 1★ goes straight to 3★.
    # Then 61.70 twice (< 3★ floor 70): down to the band of 61.70, 1★ (2★'s floor is 65).
    agents = [_agent()] + [_agent(f"f{i}") for i in range(3)]  # headcount 4: the 3★ cap is 1
    inputs: dict[tuple[str, str], dict[str, Any]] = {}
    insp: dict[tuple[str, str], list[list[str]]] = {}
    for m in ("2024-01", "2024-02", "2024-03"):
        insp["a1", m], inputs["a1", m] = _star_month(12, 76, 76, 4)
    for m in ("2024-04", "2024-05"):
        insp["a1", m], inputs["a1", m] = _star_month(19, 62, 62, 3)
    res = _run("star-standard", agents, inputs, insp)
    r = res[("a1", "2024-03")]
    assert r.composite == D("76.60")
    assert r.event == "promote" and r.next_level == 3, r.explanation
    assert res[("a1", "2024-04")].level == 3 and res[("a1", "2024-04")].composite == D("61.70")
    r = res[("a1", "2024-05")]
    assert r.event == "demote" and r.next_level == 1
    # an item below the floor (satisfaction 70 < 75) keeps the window from counting toward 3★
    for m in ("2024-01", "2024-02", "2024-03"):
        insp["a1", m], inputs["a1", m] = _star_month(12, 80, 70, 4)
    res = _run("star-standard", agents, inputs, insp)
    assert res[("a1", "2024-03")].next_level == 2  # 2★ needs items ≥ 60 only


def test_tenure_track_starts_at_no_star_and_pays_the_smile_allowance() -> None:
    # Hired 2024-01 on the phone track at no star; quality 80 (10 × T1-01) every month.
    # Tenure 6 at 2024-06 with 04–06 ≥ 75 → 1★ from 2024-07. Allowance 100 needs 3 months
    # without complaints: a complaint in 2024-05 withholds it in July, it is paid in August.
    a = _agent(hired=date(2024, 1, 8))
    insp = {("a1", f"2024-{m:02d}"): [["T1-01"] * 10] * 3 for m in range(1, 9)}
    inputs = {("a1", "2024-05"): {"complaints": 1}}
    res = _run("tenure-track", [a], inputs, insp)
    assert res[("a1", "2024-01")].level == 0
    assert res[("a1", "2024-05")].complete and res[("a1", "2024-05")].composite == D("80.00")
    assert res[("a1", "2024-06")].event == "promote" and res[("a1", "2024-06")].next_level == 1
    july, august = res[("a1", "2024-07")], res[("a1", "2024-08")]
    assert july.level == 1 and july.pay is not None and july.pay.allowance == 0 and july.pay.total == 0
    assert august.pay is not None and august.pay.allowance == D("100.00") and august.pay.total == D("100.00")
    # The explanation says why July's allowance is missing, in either language; August's has no such note.
    from starlevel.domain.explain import explain_text
    from starlevel.domain.templates import template_rulebook

    rb = template_rulebook("tenure-track")
    assert "No star allowance this month: a valid complaint within the last 3 months" in explain_text(july, "en", rb)
    assert "本月不发星级津贴：本月及之前共3个月内有有效投诉" in explain_text(july, "zh", rb)
    assert "allowance" not in explain_text(august, "en", rb) and "津贴" not in explain_text(august, "zh", rb)
    # the online track needs 85: 80 is not enough
    res = _run("tenure-track", [_agent(hired=date(2024, 1, 8), track="online")], inputs, insp)
    assert res[("a1", "2024-06")].event == "none" and res[("a1", "2024-08")].level == 0


def test_fee_collection_direct_stars_bonus_and_award() -> None:
    # 5★: rate 112, no complaint, extra tasks → 2000 + 1000 + 500 = 3500
    # 3★: rate 112 with a complaint (not 4★) → 2000 + 1000 = 3000; 2★: 90 → 2000 + 500; 1★: 80 → 2000
    agents = [_agent("a1"), _agent("b1")]
    inputs = {
        ("a1", "2025-01"): {"collection_rate": 112, "complaints": 0, "extra_tasks": 1},
        ("a1", "2025-02"): {"collection_rate": 112, "complaints": 1, "extra_tasks": 1},
        ("a1", "2025-03"): {"collection_rate": 90, "complaints": 0, "extra_tasks": 0},
        ("a1", "2025-04"): {"collection_rate": 80, "complaints": 0, "extra_tasks": 1},
        ("b1", "2025-01"): {"collection_rate": 115, "complaints": 0, "extra_tasks": 1},
        ("b1", "2025-02"): {"collection_rate": 120, "complaints": 0, "extra_tasks": 1},
        ("b1", "2025-03"): {"collection_rate": "110.5", "complaints": 0, "extra_tasks": 1},
    }
    res = _run("fee-collection", agents, inputs)
    got = [(res["a1", m].level, res["a1", m].pay.total) for m in ("2025-01", "2025-02", "2025-03", "2025-04")]  # type: ignore[union-attr]
    assert got == [(5, D("3500.00")), (3, D("3000.00")), (2, D("2500.00")), (1, D("2000.00"))]
    assert res["a1", "2025-02"].next_level == 3 and res["a1", "2025-02"].event == "demote"
    checks = direct_checks(template_rulebook("fee-collection"), res["a1", "2025-02"].explanation)
    assert [c["level"] for c in checks if not c["ok"]] == [5, 4]
    (award,) = awards(template_rulebook("fee-collection"), res.values())
    assert award.year == 2025 and award.agent_ids == ("b1",) and award.months == 3


def test_lowest_item_names_the_star() -> None:
    # lowest item 78 → 4★ (not every item ≥ 80); mean 85.75 → coefficient 1.0;
    # pay 2130 + 670 + 400 = 3200, the same on probation (no probation factor)
    values = {"staff_quality": 85, "service_quality": 92, "tech_support": 78, "performance": 88}
    res = _run("lowest-item", [_agent(), _agent("p1", hired=date(2024, 4, 1))], {("a1", "2024-05"): values, ("p1", "2024-05"): values})
    r = res["a1", "2024-05"]
    assert r.level == 4 and r.composite == D("85.75") and r.pay is not None and r.pay.total == D("3200.00")
    p = res["p1", "2024-05"]
    assert p.on_probation and p.pay is not None and p.pay.total == D("3200.00")
    values = dict(values, tech_support="49.5")
    assert _run("lowest-item", [_agent()], {("a1", "2024-05"): values})["a1", "2024-05"].level == 1


def test_mall_three_star_needs_approval_and_every_condition() -> None:
    conds = {k: 1 for k in ("cond_loyalty", "cond_rules", "cond_no_complaint", "cond_competent",
                            "cond_activities", "cond_service", "cond_attendance")}  # fmt: skip
    values = {**conds, "work_tasks": 92, "work_quality": 88, "work_skills": 95, "conduct": 90, "complaints": 0}
    # mean 91.25 ≥ 90 → 3★ earned, waiting for the general manager: no star until approved
    r = _run("mall-three-star", [_agent()], {("a1", "2024-05"): values})["a1", "2024-05"]
    assert r.rule == "promote_pending" and r.level == 0 and r.explanation["params"]["earned"] == 3
    assert r.pay is not None and r.pay.total == 0
    ok = {("a1", "2024-05"): HrDecision("a1", "2024-05", "approve", "ok", "gm")}
    r = _run("mall-three-star", [_agent()], {("a1", "2024-05"): values}, decisions=ok)["a1", "2024-05"]
    assert r.level == 3 and r.pay is not None and r.pay.total == D("300.00")
    # one condition not met: no star, whatever the scores
    values["cond_attendance"] = 0
    r = _run("mall-three-star", [_agent()], {("a1", "2024-05"): values}, decisions=ok)["a1", "2024-05"]
    assert r.level == 0 and r.rule == "direct"


def test_annual_july_decides_once_a_year_over_january_to_june() -> None:
    # Jan–Jun: quality 100, efficiency 80, satisfaction 80, attitude 4 → 88.00 each month.
    # End of July (enrolled, no complaint): mean 88 ≥ 80 → 2★ from August. Nothing before July.
    agents = [_agent(), _agent("f1")]
    good = {"satisfaction": 80, "efficiency": 80, "attitude": 4, "complaints": 0}
    months = [f"2025-{m:02d}" for m in range(1, 8)]
    insp = {("a1", m): [[], [], []] for m in months}
    inputs = {("a1", m): dict(good) for m in months}
    inputs["a1", "2025-07"]["enrolled"] = 1
    res = _run("annual-july", agents, inputs, insp)
    assert all(res["a1", m].event == "none" for m in months[:6])
    r = res["a1", "2025-07"]
    assert r.event == "promote" and r.next_level == 2 and r.explanation["params"]["average"] == "88.00"
    # not enrolled: no promotion
    del inputs["a1", "2025-07"]["enrolled"]
    assert _run("annual-july", agents, inputs, insp)["a1", "2025-07"].event == "none"
    # a valid complaint in the half-year: no promotion
    inputs["a1", "2025-07"]["enrolled"] = 1
    inputs["a1", "2025-03"]["complaints"] = 1
    assert _run("annual-july", agents, inputs, insp)["a1", "2025-07"].event == "none"
    # no floor demotion, but a red line demotes one star at once
    inputs["a1", "2025-03"]["complaints"] = 0
    low = {("a1", m): {"satisfaction": 10, "efficiency": 10, "attitude": 1, "complaints": 0} for m in months[:2]}
    res = _run("annual-july", [_agent(level=2), _agent("f1")], low, {("a1", m): [[], [], []] for m in months[:2]})
    assert res["a1", "2025-02"].event == "none" and res["a1", "2025-02"].next_level == 2
    res = _run("annual-july", [_agent(level=2), _agent("f1")], low, {("a1", "2025-01"): [["T3-01"], [], []]})
    assert res["a1", "2025-01"].event == "demote" and res["a1", "2025-01"].next_level == 1


def test_reception_quarterly_satisfaction_less_complaints_and_period_grades() -> None:
    # Jan: satisfaction 90 − 2 × 10 = 70: 40 + 20 + 14 + 12 = 86.00; Feb 90.00; Mar 96.00 → Q1 90.67 优秀
    # Apr 71.50, May 83.50 → Q2 77.50 合格; year = (90.67 + 77.50) / 2 = 84.085 → 84.09 良好
    rows = {
        "2025-01": (80, 90, 4, 2), "2025-02": (80, 90, 4, 0), "2025-03": (100, 95, 4, 0),
        "2025-04": (50, 50, 3, 0), "2025-05": (70, 70, 4, 0),
    }  # fmt: skip
    inputs = {("a1", m): {"efficiency": e, "satisfaction": s, "attitude": a, "complaints": c} for m, (e, s, a, c) in rows.items()}
    insp = {("a1", m): [[], [], []] for m in rows}
    res = _run("reception-quarterly", [_agent()], inputs, insp)
    assert [res["a1", m].composite for m in rows] == [D("86.00"), D("90.00"), D("96.00"), D("71.50"), D("83.50")]
    scores = {(p.period, p.label): (p.score, p.grade) for p in period_scores(template_rulebook("reception-quarterly"), res.values())}
    assert scores["quarter", "2025-Q1"] == (D("90.67"), "excellent")
    assert scores["quarter", "2025-Q2"] == (D("77.50"), "pass")
    assert scores["year", "2025"] == (D("84.09"), "good")


AFTER_SALES = {
    "phone_misses": 2, "fees_days_late": 0, "records_incomplete": 3, "records_falsified": 0, "tools_damaged": 0,
    "accounts_unclear": 1, "transit_damage": 2, "attitude_complaints": 6, "onsite_tidy": 4, "wrong_checks": 1,
    "false_reports": 1, "repair_complaints": 1, "promotion_points": 3, "information_points": 6,
    "ethics_private_job": 0, "ethics_leak": 0, "ethics_disparage": 0,
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "composite", "total"),
    [
        # 3 + 5 + 3.5 + 5 + 3 + 0 (capped) + 4 + 4 + 15 + 3 + 6 + 5 = 56.5 of 90 → 62.78; 1580 + 210 + 100
        ({}, D("62.78"), D("1890.00")),
        # a falsified record zeroes its item: 53 of 90 → 58.89, coefficient 0
        ({"records_falsified": 1}, D("58.89"), D("1680.00")),
        # ethics veto: the month counts, score 0, no bonus and no allowance
        ({"ethics_leak": 1}, D("0.00"), D("1580.00")),
    ],
)
def test_after_sales_deduction_form_caps_and_veto(changes: dict[str, int], composite: D, total: D) -> None:
    r = _run("after-sales-deduction", [_agent()], {("a1", "2024-05"): {**AFTER_SALES, **changes}})["a1", "2024-05"]
    assert r.complete and r.composite == composite
    assert r.pay is not None and r.pay.total == total
    if "ethics_leak" in changes:
        assert r.explanation["veto"] == ["ethics_leak"] and r.pay.vetoed


def test_default_template_is_the_default_rulebook() -> None:
    from starlevel.domain.rulebook import default_rulebook

    assert template_rulebook("default") == default_rulebook()


def test_explanations_of_the_new_rules_in_both_languages() -> None:
    from starlevel.domain.explain import explain_text

    res = _run("fee-collection", [_agent()], {("a1", "2025-02"): {"collection_rate": 112, "complaints": 1, "extra_tasks": 1}})
    r = res["a1", "2025-02"]
    # Figures are named by the labels the rulebook declares, in the reader's language.
    fee = template_rulebook("fee-collection")
    en, zh = explain_text(r, "en", fee), explain_text(r, "zh", fee)
    assert en == "This month's figures earn 3★. Not 4★: valid complaints 1 (needs = 0)."
    assert zh == "本月数据评定为3星。未达4星：有效投诉为1（要求=0）。"
    r = _run("fee-collection", [_agent()], {("a1", "2025-02"): {"collection_rate": 90, "complaints": 0, "extra_tasks": 1}})["a1", "2025-02"]
    assert explain_text(r, "en", fee) == "This month's figures earn 2★. Not 3★: Collection rate % 90 (needs ≥ 100)."
    assert explain_text(r, "zh", fee) == "本月数据评定为2星。未达3星：收费完成率为90（要求≥100）。"
    after_sales = template_rulebook("after-sales-deduction")
    vetoed = _run("after-sales-deduction", [_agent()], {("a1", "2024-05"): {**AFTER_SALES, "ethics_leak": 1}})["a1", "2024-05"]
    assert explain_text(vetoed, "en", after_sales).startswith("Veto this month (Leaked company secrets): the appraisal counts as 0")
    assert explain_text(vetoed, "zh", after_sales).startswith("本月触发一票否决（泄露公司机密）")
    conds = {k: 1 for k in ("cond_loyalty", "cond_rules", "cond_no_complaint", "cond_competent",
                            "cond_activities", "cond_service", "cond_attendance")}  # fmt: skip
    pending = _run("mall-three-star", [_agent()], {("a1", "2024-05"): {**conds, "work_tasks": 92, "work_quality": 88,
                   "work_skills": 95, "conduct": 90, "complaints": 0}})["a1", "2024-05"]  # fmt: skip
    assert explain_text(pending, "en") == "This month's figures earn 3★, waiting for approval; until then the month counts at 0★."
    july = _run("annual-july", [_agent(), _agent("f1")], {("a1", "2025-06"): {"satisfaction": 80, "efficiency": 80, "attitude": 4,
                "complaints": 0}}, {("a1", "2025-06"): [[], [], []]})["a1", "2025-06"]  # fmt: skip
    assert "promotions are decided only at the end of July" in explain_text(july, "en")
    assert "晋升只在每年7月底评定" in explain_text(july, "zh")


def test_progress_of_a_direct_scheme_names_what_holds_the_star_back() -> None:
    from starlevel.domain.explain import progress

    values = {"staff_quality": 85, "service_quality": 92, "tech_support": 78, "performance": 88}
    res = _run("lowest-item", [_agent()], {("a1", "2024-05"): values})
    p = progress(_agent(), [res["a1", "2024-05"]], template_rulebook("lowest-item"))
    assert p["direct"] and p["next_level"] == 5
    first = p["promotion"]["conditions"][0]
    assert first["of"] == "tech_support" and not first["ok"] and first["gap"] == "2" and first["need"] == "80"


@pytest.mark.parametrize("name", ["fee-collection", "lowest-item", "mall-three-star"])
def test_a_direct_month_stored_as_its_figures_explains_as_the_reference(name: str) -> None:
    """The engine keeps only the star and the figures the conditions read; the checks read
    back from those figures are exactly the reference's, and so is the star."""
    import json
    import random

    from starlevel.domain.ladder import _direct_level, _Info, direct_star

    rb = template_rulebook(name)
    info = _Info(rb)
    rnd = random.Random(name)
    pool = ["0", "1", "49.5", "50", "70", "80", "90", "100", "110", "115", "112.50"]
    step = {"at_least": 0, "equals": 0, "at_most": 0, "above": 1, "below": -1}
    levels = set()
    for _ in range(500):
        # Start from a random star's conditions just met, then disturb some figures and drop a few.
        star = rnd.choice(rb.policy.stars)
        figures = {name: cond.value + step[cond.op] for cond in star.when for name in cond.of}
        for name in list(figures):
            if rnd.random() < 0.15:
                figures[name] = D(rnd.choice(pool))
            if rnd.random() < 0.03:
                del figures[name]
        level, stored = _direct_level(info, figures.get)
        reference_level, reference_checks = direct_star(rb, figures.get)
        assert level == reference_level
        stored = json.loads(json.dumps(stored))  # as it comes back from the database
        assert direct_checks(rb, {"figures": stored}) == reference_checks
        levels.add(level)
    assert len(levels) >= 3  # the random figures reach several stars
