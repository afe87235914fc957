"""The plain-language description of every template, in 中文 and English."""

from __future__ import annotations

from decimal import Decimal

import pytest

from starlevel.domain.describe import Description, condition_text, describe, input_range, item_how
from starlevel.domain.rulebook import Condition
from starlevel.domain.templates import TEMPLATE_NAMES, template_rulebook


def _all_text(d: Description) -> str:
    parts = [d.name, d.summary, d.notes, *d.scoring, *d.grades, *d.reaching, *d.keeping, *d.pay_rules, *d.veto,
             *d.periods]
    for s in d.stars:
        parts += [s.label, *s.conditions]
    def items(rules):  # type: ignore[no-untyped-def]
        for i in rules:
            parts.extend([i.name, i.weight, i.how, *(f"{n}: {h}" for n, h in i.form)])
            items(i.parts)
    items(d.items)
    for p in d.pay:
        parts += [p.label, p.grade, p.coefficient]
    return "\n".join(parts)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_template_is_described_in_both_languages(name: str, lang: str) -> None:
    rb = template_rulebook(name)
    d = describe(rb, lang)  # type: ignore[arg-type]
    assert d.name == (rb.name_zh if lang == "zh" else rb.name_en)
    assert d.scoring and d.items and d.stars and d.pay and d.pay_rules
    assert len(d.items) == len(rb.dimensions)
    assert [p.level for p in d.pay] == [g.level for g in rb.pay_grades]
    text = _all_text(d)
    assert "None" not in text and "{" not in text  # no unfilled placeholder, no missing figure
    if lang == "en":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in text.replace(rb.source, "").replace(d.notes, "")), "Chinese in the English text"
    else:
        # Chinese sentences; Latin letters only in figures' own names, units and the level signs
        assert "the " not in text and " at least " not in text


def test_ladder_star_conditions_state_tenure_window_threshold_items_and_quota() -> None:
    d = describe(template_rulebook("default"), "en")
    five = next(s for s in d.stars if s.level == 5)
    assert five.conditions[0] == "at least 36 months of service"
    assert five.conditions[1] == "each of the last 6 months complete with a composite of at least 95 (phone), 98 (online)"
    assert "every item at least 60 in those months" in five.conditions
    assert "no errors and no valid complaints in those months" in five.conditions
    assert any("at most 10% of the active staff" in c for c in five.conditions)
    assert "Floors: 1★ 60, 2★ 65, 3★ 70, 4★ 80, 5★ 90." in d.keeping
    zh = describe(template_rulebook("default"), "zh")
    assert next(s for s in zh.stars if s.level == 3).conditions[:2] == ("入职满12个月", "最近连续3个月都是完整月份且综合评分不低于85（话务员），94（在线客服员）")


def test_direct_stars_and_their_conditions() -> None:
    d = describe(template_rulebook("fee-collection"), "en")
    assert d.policy == "direct" and not d.keeping
    assert [s.level for s in d.stars] == [5, 4, 3, 2]
    assert d.stars[0].conditions == ("Collection rate % at least 110", "no valid complaints", "Extra tasks done well: yes")
    assert "When no star's conditions hold: 1★." in d.reaching
    assert [p.coefficient for p in d.pay] == ["× 0", "× 0.5", "× 1", "× 1", "× 1"]
    assert any("Employee of the year" in s and "5★" in s for s in d.periods)
    zh = describe(template_rulebook("fee-collection"), "zh")
    assert zh.stars[0].conditions == ("收费完成率不低于110", "无有效投诉", "领导交办任务完成良好：是")
    low = describe(template_rulebook("lowest-item"), "zh")
    assert low.stars[0].conditions == ("员工素质、服务质量、技术支持、绩效考核均不低于80",)


def test_level_zero_approval_and_smile_allowance() -> None:
    mall = describe(template_rulebook("mall-three-star"), "en")
    assert "When no star's conditions hold: No star." in mall.reaching
    assert any("needs HR's approval" in s for s in mall.reaching)
    assert mall.pay[0].label == "No star"
    tenure = describe(template_rulebook("tenure-track"), "zh")
    assert tenure.reaching[0].startswith("新员工从无星开始")
    assert "星级津贴只在连续3个月（含当月）无有效投诉时发放。" in tenure.pay_rules
    assert "不设保级线：评分低不会降星。" in tenure.keeping


def test_july_decisions_mean_window_and_requirement() -> None:
    d = describe(template_rulebook("annual-july"), "en")
    assert "Promotions are decided only in July; the new star applies from the following month." in d.reaching
    two = d.stars[0]
    assert two.conditions[0] == ("a mean composite of at least 80 over the complete months of the 6 months before "
                                 "the decision month (at least 4 complete months)")
    assert "no valid complaint in those months" in two.conditions
    assert "in the decision month: Enrolled: yes" in two.conditions


def test_items_groups_forms_adjustments_and_veto() -> None:
    card = describe(template_rulebook("scorecard-80-20"), "en")
    perf = card.items[0]
    assert (perf.weight, perf.how, len(perf.parts)) == ("80%", "the weighted sum of its 7 sub-items", 7)
    assert perf.parts[0].how == "Process completion % scored in bands: ≥ 90 → 100, ≥ 85 → 50, otherwise 0"
    assert perf.parts[5].how == "(300 − 100 × Complaint standards missed) ÷ 3, never below 0"
    rec = template_rulebook("reception-quarterly")
    assert item_how(rec, rec.dimension("satisfaction"), "en") == "Satisfaction, less 10 per valid complaints, never below 0"
    assert item_how(rec, rec.dimension("satisfaction"), "zh") == "客户满意度，每有效投诉扣10分，最低0"
    after = describe(template_rulebook("after-sales-deduction"), "en")
    form = dict(after.items[0].form)
    assert form["Repair records"] == ("5 points, less 0.5 per Incomplete repair records, never below 0, "
                                      "0 when Falsified repair record")
    assert form["Professional ethics"] == "full 5 points (no deductions)"
    assert after.veto and "any of Private job, Leaked company secrets or Disparaged the company: yes" in after.veto[0]
    ecommerce = describe(template_rulebook("ecommerce-kpi"), "en")
    assert "Mean first response (s): ≤ 40 Excellent, ≤ 60 Good, otherwise Fail." in ecommerce.grades
    assert any(s.startswith("Commission: 10% of") for s in ecommerce.pay_rules)


def test_condition_and_range_phrases() -> None:
    rb = template_rulebook("after-sales-deduction")
    assert input_range(rb.input("promotion_points"), "en") == "5 / 3 / 2 / 0"
    assert input_range(rb.input("phone_misses"), "zh") == "≥ 0"
    c = Condition(("composite",), "below", Decimal("60"))
    assert condition_text(rb, c, "en") == "composite below 60"
    assert condition_text(rb, c, "zh") == "综合评分低于60"


def test_mean_min_max_items() -> None:
    from starlevel.domain.rulebook import Dimension

    rb = template_rulebook("lowest-item")
    for source, en, zh in (("mean", "the mean of", "平均值"), ("min", "the lowest of", "最低值"), ("max", "the highest of", "最高值")):
        d = Dimension(key="x", source=source, weight=Decimal(1), of=("staff_quality", "tech_support"))
        assert item_how(rb, d, "en") == f"{en} Staff quality and Technical support"
        assert item_how(rb, d, "zh") == f"员工素质、技术支持的{zh}"
