"""A rulebook in plain language, in 中文 or English (the "how stars work" page and the cells
of the HR rulebook tables).

:func:`describe` turns a :class:`Rulebook` into typed records, one per section: how a month
is scored, how each star is reached and kept, pay by level, vetoes, periods and awards. The
smaller functions (:func:`condition_text`, :func:`item_how`, :func:`form_item_how`,
:func:`input_range`) phrase one rule each and are shared by both pages. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from starlevel.domain.inputs import InputSpec
from starlevel.domain.rulebook import (
    Band,
    Condition,
    Dimension,
    FormItem,
    GradeScale,
    MetricBand,
    PromotionRule,
    Rulebook,
)

__all__ = [
    "Description",
    "Lang",
    "ItemRule",
    "PayLine",
    "Phrases",
    "StarRule",
    "condition_text",
    "conditions_text",
    "describe",
    "form_item_how",
    "grade_scale_text",
    "input_range",
    "item_how",
    "month_names",
    "num",
    "pct",
    "track_name",
]

Lang = Literal["en", "zh"]

_TRACKS = {"phone": ("话务员", "phone"), "online": ("在线客服员", "online")}
_OPS_EN = {"at_least": "at least {v}", "above": "above {v}", "at_most": "at most {v}", "below": "below {v}",
           "equals": "equal to {v}"}  # fmt: skip
_OPS_ZH = {"at_least": "不低于{v}", "above": "高于{v}", "at_most": "不高于{v}", "below": "低于{v}", "equals": "等于{v}"}
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")  # fmt: skip


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ItemRule:
    """One item of the composite (or of a group, in ``parts``)."""

    key: str
    name: str
    weight: str  # "40%"
    how: str
    parts: tuple[ItemRule, ...] = ()
    form: tuple[tuple[str, str], ...] = ()  # (line name, how it is scored) of a deduction form


@dataclass(frozen=True, slots=True)
class StarRule:
    """What reaching one level takes (each condition one sentence)."""

    level: int
    label: str
    conditions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PayLine:
    level: int
    label: str
    grade: str
    fixed: Decimal
    bonus_base: Decimal
    coefficient: str  # "× 0.5" or "by composite"
    allowance: Decimal


@dataclass(frozen=True, slots=True)
class Description:
    name: str
    summary: str
    notes: str
    source: str
    policy: str  # "ladder" | "direct"
    scoring: tuple[str, ...]  # how a month is scored and when it is complete
    items: tuple[ItemRule, ...]
    grades: tuple[str, ...]  # grade scales of the composite and of items
    stars: tuple[StarRule, ...]  # ladder: promotion to each level; direct: each star, highest first
    reaching: tuple[str, ...]  # start level, decision months, skip levels, approval, otherwise
    keeping: tuple[str, ...]  # floors, demotion, red line, quotas
    pay: tuple[PayLine, ...]
    pay_rules: tuple[str, ...]
    veto: tuple[str, ...]
    periods: tuple[str, ...]


# --------------------------------------------------------------------------- small phrases


def num(value: Decimal | int | None) -> str:
    """A rulebook figure as written: ``90``, ``1.1``, ``0.5`` (no padding)."""
    if value is None:
        return "—"
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def pct(share: Decimal) -> str:
    return num(share * 100) + "%"


def _list(parts: Sequence[str], lang: Lang, last: str | None = None) -> str:
    parts = [p for p in parts if p]
    if lang == "zh":
        return "、".join(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {last or 'and'} " + parts[-1]


def track_name(track: str, lang: Lang) -> str:
    zh, en = _TRACKS.get(track, (track, track))
    return zh if lang == "zh" else en


def month_names(months: Sequence[int], lang: Lang) -> str:
    if lang == "zh":
        return "、".join(f"{m}月" for m in months)
    return _list([_MONTHS_EN[m - 1] for m in months], lang)


def input_range(spec: InputSpec, lang: Lang) -> str:
    """'0–100', '≥ 0', 'any number'; the allowed values when the rulebook lists them."""
    if spec.allowed:
        return " / ".join(num(a) for a in spec.allowed)
    lo, hi = spec.min, spec.max
    if lo is not None and hi is not None:
        return f"{num(lo)}–{num(hi)}"
    if lo is not None:
        return f"≥ {num(lo)}"
    if hi is not None:
        return f"≤ {num(hi)}"
    return "任意数" if lang == "zh" else "any number"


def _figure(rb: Rulebook, key: str, lang: Lang) -> str:
    return rb.figure_label(key, lang)


def _is_yesno(rb: Rulebook, key: str) -> bool:
    return rb.has_input(key) and rb.input(key).kind == "yesno"


def yes_no_needed(rb: Rulebook, key: str, op: str, value: Decimal | int | str) -> bool | None:
    """For a condition on a yes/no input: True when it asks for "yes", False for "no";
    None when ``key`` is not a yes/no input or the condition is not a plain yes or no."""
    if not _is_yesno(rb, key):
        return None
    v = Decimal(str(value))
    if (op == "equals" and v == 1) or (op == "at_least" and v == 1) or (op == "above" and v == 0):
        return True
    if (op == "equals" and v == 0) or (op == "at_most" and v == 0) or (op == "below" and v == 1):
        return False
    return None


def is_yes(figure: Decimal | int | str) -> bool:
    """A yes/no input's stored figure read as an answer (1 is yes)."""
    return Decimal(str(figure)) == 1


def yes_no_text(answer: bool, lang: Lang) -> str:
    return ("是" if answer else "否") if lang == "zh" else ("yes" if answer else "no")


def _is_count(rb: Rulebook, key: str) -> bool:
    return key in ("complaints", "red_line") or (rb.has_input(key) and rb.input(key).kind == "count")


def condition_text(rb: Rulebook, c: Condition, lang: Lang, *, any_of: bool = False) -> str:
    """One condition for people: 'Collection rate % at least 110', 'no valid complaints',
    'each of A, B and C: yes'. ``any_of``: the figures are alternatives (a veto)."""
    zh = lang == "zh"
    names = [_figure(rb, k, lang) for k in c.of]
    joined = _list(names, lang, "or" if any_of else "and")
    v = num(c.value)
    many = len(names) > 1
    wanted = [yes_no_needed(rb, k, c.op, c.value) for k in c.of]
    if wanted and wanted[0] is not None and all(w == wanted[0] for w in wanted):
        answer = yes_no_text(wanted[0], lang)
        if not many:
            return f"{joined}：{answer}" if zh else f"{joined}: {answer}"
        if zh:
            return f"{joined}{'任一' if any_of else '均'}为{answer}"
        return f"{'any of' if any_of else 'each of'} {joined}: {answer}"
    if c.op == "equals" and c.value == 0 and all(_is_count(rb, k) for k in c.of):
        return f"无{joined}" if zh else f"no {joined.lower()}"
    phrase = (_OPS_ZH if zh else _OPS_EN)[c.op].format(v=v)
    if zh:
        if many:
            return f"{joined}{'任一' if any_of else '均'}{phrase}"
        return f"{joined}{phrase}"
    if many:
        return f"{'any of' if any_of else 'each of'} {joined} {phrase}"
    return f"{joined} {phrase}"


def conditions_text(rb: Rulebook, conds: Sequence[Condition], lang: Lang) -> str:
    return _list([condition_text(rb, c, lang) for c in conds], lang) if lang == "en" else \
        "，且".join(condition_text(rb, c, lang) for c in conds)


def _bands_text(bands: Sequence[MetricBand], direction: str | None, lang: Lang) -> str:
    lower = direction == "lower"
    parts = []
    for b in bands:
        if b.limit is None:
            parts.append(f"其余 → {num(b.score)}" if lang == "zh" else f"otherwise {num(b.score)}")
        else:
            parts.append(f"{'≤' if lower else '≥'} {num(b.limit)} → {num(b.score)}")
    return ", ".join(parts) if lang == "en" else "，".join(parts)


def grade_scale_text(rb: Rulebook, scale: GradeScale, lang: Lang) -> str:
    """'Satisfaction: ≥ 80 Excellent, ≥ 60 Good, otherwise Fail'."""
    lower = scale.direction == "lower"
    parts = []
    for limit, _key, zh, en in scale.bands:
        name = zh if lang == "zh" else en
        if limit is None:
            parts.append(f"其余为{name}" if lang == "zh" else f"otherwise {name}")
        else:
            parts.append(f"{'≤' if lower else '≥'} {num(limit)} {name}")
    sep = "，" if lang == "zh" else ", "
    return f"{_figure(rb, scale.of, lang)}{'：' if lang == 'zh' else ': '}{sep.join(parts)}"


def _band_list(bands: Sequence[Band], lang: Lang) -> str:
    sep = "，" if lang == "zh" else ", "
    return sep.join(f"{(b.name_zh if lang == 'zh' else b.name_en) or b.key} ≥ {num(b.min)}" for b in bands)


def form_item_how(rb: Rulebook, f: FormItem, lang: Lang) -> str:
    """How one line of a deduction form is scored."""
    zh = lang == "zh"
    pts = num(f.points)
    if f.input:
        return (f"按录入的{_figure(rb, f.input, lang)}计分（最多{pts}分）" if zh
                else f"the points entered as {_figure(rb, f.input, lang)} (at most {pts})")
    parts = [f"{pts}分" if zh else f"{pts} points"]
    for d in f.deduct:
        parts.append(f"每次{_figure(rb, d.input, lang)}扣{num(d.per)}分" if zh
                     else f"less {num(d.per)} per {_figure(rb, d.input, lang)}")
    if f.deduct:
        parts.append("扣完为止" if zh else "never below 0")
    if f.zero_if:
        parts.append(f"{_figure(rb, f.zero_if, lang)}时该项为0" if zh else f"0 when {_figure(rb, f.zero_if, lang)}")
    if not f.deduct and not f.zero_if:
        return f"满分{pts}分（无扣分项）" if zh else f"full {pts} points (no deductions)"
    return ("，" if zh else ", ").join(parts)


def item_how(rb: Rulebook, d: Dimension, lang: Lang) -> str:
    """How one item is scored, in a phrase."""
    zh = lang == "zh"
    sep = "，" if zh else ", "
    if d.source == "quality":
        return (f"当月质检平均分（每条质检从{num(rb.inspection_base)}分起扣除问题分）" if zh
                else f"the mean of the month's QA inspection scores (each starts from {num(rb.inspection_base)}, less its defects)")
    if d.source == "group":
        return (f"以下{len(d.items)}个子项的加权和" if zh else f"the weighted sum of its {len(d.items)} sub-items")
    if d.source == "deductions":
        total = num(sum((f.points for f in d.form), Decimal(0)))
        text = f"考核表各项得分之和（满分{total}分）" if zh else f"the sum of the form's lines ({total} points in all)"
        if d.scale_to is not None:
            text += f"，折算为占{num(d.scale_to)}分的百分比" if zh else f", as a percentage of {num(d.scale_to)}"
        return text
    if d.source in ("mean", "min", "max"):
        names = _list([_figure(rb, k, lang) for k in d.of], lang)
        word = {"mean": ("平均值", "the mean of"), "min": ("最低值", "the lowest of"), "max": ("最高值", "the highest of")}[d.source]
        return f"{names}的{word[0]}" if zh else f"{word[1]} {names}"
    name = _figure(rb, d.metric or "", lang)
    parts: list[str]
    if d.source == "linear":
        factor = d.factor if d.factor is not None else Decimal(1)
        sign = "−" if factor < 0 else "+"
        expr = f"({num(d.offset or 0)} {sign} {num(abs(factor))} × {name}) ÷ {num(d.divisor or 1)}"
        parts = [expr]
    elif d.bands:
        parts = [(f"{name}分档计分：" if zh else f"{name} scored in bands: ") + _bands_text(d.bands, d.direction, lang)]
    else:
        parts = [name + (f" × {num(d.scale)}" if d.scale is not None else "")]
    for a in d.adjust:
        if zh:
            parts.append(f"每{_figure(rb, a.input, lang)}{'扣' if a.per < 0 else '加'}{num(abs(a.per))}分")
        else:
            parts.append(f"{'less' if a.per < 0 else 'plus'} {num(abs(a.per))} per {_figure(rb, a.input, lang)}")
    if d.min is not None:
        parts.append(f"最低{num(d.min)}" if zh else f"never below {num(d.min)}")
    if d.max is not None:
        parts.append(f"最高{num(d.max)}" if zh else f"at most {num(d.max)}")
    return sep.join(parts)


def _item(rb: Rulebook, d: Dimension, lang: Lang) -> ItemRule:
    name = (d.name_zh if lang == "zh" else d.name_en) or d.key
    form = tuple(((f.name_zh if lang == "zh" else f.name_en) or f.key, form_item_how(rb, f, lang)) for f in d.form)
    return ItemRule(d.key, name, pct(d.weight), item_how(rb, d, lang), tuple(_item(rb, s, lang) for s in d.items), form)


# --------------------------------------------------------------------------- sections


def _scoring(rb: Rulebook, lang: Lang) -> tuple[str, ...]:
    zh = lang == "zh"
    out = [
        "每月综合评分为以下各项得分乘以权重之和，四舍五入保留两位小数，之前不做任何舍入。" if zh
        else "Each month's composite is the sum of the items below, each score times its weight, rounded half-up "
             "to 2 decimal places (nothing is rounded before that)."
    ]
    required = [i.name(lang) for i in rb.inputs if i.required]
    optional = [i.name(lang) for i in rb.inputs if not i.required]
    parts = []
    if rb.min_inspections > 0:
        parts.append(f"至少{rb.min_inspections}条质检" if zh else f"at least {rb.min_inspections} QA inspections")
    if required:
        parts.append(("录入全部必填数据：" if zh else "every required figure entered: ") + _list(required, lang))
    if parts:
        out.append(("一个月在满足以下条件时计为完整月份：" if zh else "A month is complete (it counts) with ")
                   + ("，并且".join(parts) if zh else " and ".join(parts)) + ("。" if zh else "."))
    else:
        out.append("每个有记录的月份都计为完整月份。" if zh else "Every month with a record is complete.")
    if rb.min_inspections == 0:
        out.append("本方案不需要质检记录。" if zh else "No QA inspections are needed in this scheme.")
    if optional:
        out.append(("选填数据：" if zh else "Optional figures: ") + _list(optional, lang) + ("。" if zh else "."))
    out.append("不完整的月份没有综合评分。" if zh else "An incomplete month has no composite.")
    return tuple(out)


def _threshold(p: PromotionRule, rb: Rulebook, lang: Lang) -> str:
    values = [p.threshold[t] for t in rb.tracks if t in p.threshold]
    if values and all(v == values[0] for v in values):
        return num(values[0])
    sep = "，" if lang == "zh" else ", "
    return sep.join(f"{num(p.threshold[t])}（{track_name(t, lang)}）" if lang == "zh"
                    else f"{num(p.threshold[t])} ({track_name(t, lang)})" for t in rb.tracks if t in p.threshold)


def _promotion(rb: Rulebook, p: PromotionRule, lang: Lang) -> StarRule:
    zh = lang == "zh"
    pol = rb.policy
    thr = _threshold(p, rb, lang)
    conds: list[str] = []
    if p.min_tenure:
        conds.append(f"入职满{p.min_tenure}个月" if zh else f"at least {p.min_tenure} months of service")
    if pol.window_test == "mean":
        end = pol.window_end
        if zh:
            span = (f"评定月之前{p.window}个月" if end == 1 else f"截至评定月前{end}个月的{p.window}个月") if end \
                else f"最近{p.window}个月"
            conds.append(f"{span}内完整月份的平均综合评分不低于{thr}（至少{pol.min_complete}个完整月份）")
        else:
            span = (f"the {p.window} months before the decision month" if end == 1
                    else f"the {p.window} months ending {end} months before the decision month") if end \
                else f"the last {p.window} months"
            conds.append(f"a mean composite of at least {thr} over the complete months of {span} "
                         f"(at least {pol.min_complete} complete months)")
    else:
        conds.append(f"最近连续{p.window}个月都是完整月份且综合评分不低于{thr}" if zh
                     else f"each of the last {p.window} months complete with a composite of at least {thr}")
    floor = p.item_floor if p.item_floor is not None else rb.pass_mark
    conds.append(f"这些月份每个大项得分不低于{num(floor)}" if zh else f"every item at least {num(floor)} in those months")
    if p.zero_errors:
        conds.append("期间无差错、无有效投诉" if zh else "no errors and no valid complaints in those months")
    elif p.max_error_rate is not None:
        conds.append(f"期间（差错＋有效投诉）÷ 质检条数低于{pct(p.max_error_rate)}" if zh
                     else f"(errors + valid complaints) ÷ inspections below {pct(p.max_error_rate)} over those months")
    if p.no_complaints and not p.zero_errors:
        conds.append("期间无有效投诉" if zh else "no valid complaint in those months")
    if p.requires:
        conds.append(("评定当月：" if zh else "in the decision month: ") + conditions_text(rb, p.requires, lang))
    quota = rb.quota(p.to)
    if quota is not None:
        conds.append(f"名额：{rb.level_label(p.to, lang)}最多占在岗人数的{pct(quota)}，按得分排名，未排上者候补"
                     if zh else f"a free place: at most {pct(quota)} of the active staff may hold "
                                f"{rb.level_label(p.to, lang)}; the best scores go first, the others wait")
    return StarRule(p.to, rb.level_label(p.to, lang), tuple(conds))


def _ladder_reaching(rb: Rulebook, lang: Lang) -> list[str]:
    zh = lang == "zh"
    pol = rb.policy
    out = []
    start = rb.start_level if rb.start_level is not None else rb.min_level
    out.append(f"新员工从{rb.level_label(start, lang)}开始；有经验者可由HR设定较高的起始星级。" if zh
               else f"New hires start at {rb.level_label(start, lang)}; HR may start an experienced hire higher.")
    if pol.decide_in:
        out.append(f"晋升只在每年{month_names(pol.decide_in, lang)}评定，新星级从下个月起生效。" if zh
                   else f"Promotions are decided only in {month_names(pol.decide_in, lang)}; the new star applies "
                        "from the following month.")
    else:
        out.append("每月检查一次晋升条件，新星级从下个月起生效；一次升一星。" if zh and not pol.skip_levels
                   else "每月检查一次晋升条件，新星级从下个月起生效。" if zh
                   else "Promotion is checked every month and the new star applies from the following month"
                        + ("." if pol.skip_levels else "; one star at a time."))
    if pol.skip_levels:
        out.append("若更高星级的条件也满足，可直接升到该星级（一次升多星）。" if zh
                   else "When the conditions of a higher star hold too, you move straight to it (several stars at once).")
    if rb.approval_required:
        out.append("晋升须经HR批准后生效。" if zh else "A promotion takes effect only once HR approves it.")
    return out


def _ladder_keeping(rb: Rulebook, lang: Lang) -> list[str]:
    zh = lang == "zh"
    out = []
    if not rb.demotion_enabled:
        out.append("星级不会被降低。" if zh else "Stars are never taken away.")
        return out
    if rb.floors_on:
        floors = ("，" if zh else ", ").join(
            f"{rb.level_label(lvl, lang)} {num(rb.floor(lvl))}" for lvl in rb.levels if lvl in rb.floors)
        out.append(f"保级线：{floors}。" if zh else f"Floors: {floors}.")
        n = rb.after_months
        if rb.down_to == "band":
            out.append(f"连续{n}个完整月份综合评分低于所在星级的保级线，降到该月评分所达到保级线的最高星级（至少降一星）；在最低星级时改为复核。"
                       if zh else f"After {n} consecutive complete months below your level's floor you go down to the "
                                  "highest level whose floor the month's composite reaches (at least one star); at the "
                                  "lowest level this raises a review instead.")
        else:
            out.append(f"连续{n}个完整月份综合评分低于所在星级的保级线，降一星；在最低星级时改为复核。" if zh
                       else f"After {n} consecutive complete months below your level's floor you go down one star; at "
                            "the lowest level this raises a review instead.")
    else:
        out.append("不设保级线：评分低不会降星。" if zh else "There are no floors: a low score never costs a star.")
    if rb.red_line_demotes:
        out.append("出现红线问题的当月即降一星。" if zh else "A red-line defect takes one star away in its month.")
    return out


def _direct(rb: Rulebook, lang: Lang) -> tuple[list[StarRule], list[str]]:
    zh = lang == "zh"
    stars = [StarRule(s.level, rb.level_label(s.level, lang), tuple(condition_text(rb, c, lang) for c in s.when))
             for s in rb.policy.stars]
    other = rb.policy.otherwise if rb.policy.otherwise is not None else rb.min_level
    out = [
        "每个月的星级由当月自己的数据直接评定，并决定当月的工资；从最高星级起，第一个全部条件都满足的星级即为当月星级。" if zh
        else "Each month's star comes straight from that month's own figures and sets that month's pay: the highest "
             "star whose conditions all hold is the month's star.",
        f"没有星级的条件满足时：{rb.level_label(other, lang)}。" if zh
        else f"When no star's conditions hold: {rb.level_label(other, lang)}.",
    ]
    if rb.approval_required:
        out.append(f"高于{rb.level_label(other, lang)}的星级须经HR批准；批准前该月按{rb.level_label(other, lang)}计。" if zh
                   else f"A star above {rb.level_label(other, lang)} needs HR's approval; until then the month counts as "
                        f"{rb.level_label(other, lang)}.")
    return stars, out


def _pay(rb: Rulebook, lang: Lang) -> tuple[list[PayLine], list[str]]:
    zh = lang == "zh"
    lines = [
        PayLine(g.level, rb.level_label(g.level, lang), g.grade, g.fixed, g.bonus_base,
                f"× {num(g.coefficient)}" if g.coefficient is not None else ("按综合评分" if zh else "by composite"),
                g.allowance)
        for g in rb.pay_grades
    ]
    out = ["月工资 = 固定工资 + 绩效基数 × 绩效系数 + 星级津贴。" if zh
           else "Monthly pay = fixed pay + bonus base × performance coefficient + star allowance."]
    if any(g.coefficient is None for g in rb.pay_grades):
        sep = "，" if zh else ", "
        table = sep.join(f"≥ {num(c.min)} → {num(c.coefficient)}" for c in rb.coefficients)
        out.append(f"绩效系数按当月综合评分：{table}。" if zh else f"The performance coefficient follows the month's composite: {table}.")
    if any(g.coefficient is not None for g in rb.pay_grades):
        out.append("表中写明系数的星级按星级取系数。" if zh else "Where the table gives a coefficient, it goes by level.")
    if rb.probation_factor != 1:
        out.append(f"试用期（{rb.probation_months}个月）内发放固定工资与绩效工资的{pct(rb.probation_factor)}，"
                   + ("星级津贴照发。" if rb.probation_allowance else "不发星级津贴。") if zh
                   else f"On probation (the first {rb.probation_months} months) you get {pct(rb.probation_factor)} of "
                        "fixed plus performance pay, " + ("and the star allowance." if rb.probation_allowance
                                                          else "and no star allowance."))
    n = rb.allowance_months_without_complaints
    if n:
        out.append(f"星级津贴只在连续{n}个月（含当月）无有效投诉时发放。" if zh
                   else f"The star allowance is paid only when this month and the {n - 1} before it have no valid complaint.")
    c = rb.commission
    if c is not None:
        out.append(f"提成：{_figure(rb, c.input, lang)}超过{_figure(rb, c.base_input, lang)}的{pct(c.base_share)}的部分，按{pct(c.rate)}计（两项都录入时）。"
                   if zh else f"Commission: {pct(c.rate)} of {_figure(rb, c.input, lang)} above {pct(c.base_share)} of "
                              f"{_figure(rb, c.base_input, lang)}, when both are entered.")
    out.append("不完整的月份不计算工资。" if zh else "An incomplete month has no pay figures.")
    return lines, out


def _veto(rb: Rulebook, lang: Lang) -> list[str]:
    if not rb.veto:
        return []
    zh = lang == "zh"
    conds = [condition_text(rb, c, lang, any_of=True) for c in rb.veto]
    return [
        ("出现以下任一情况，当月考核一票否决：综合评分为0、绩效工资和星级津贴为0，该月计为完整月份：" if zh
         else "Any of these cancels the month's appraisal (veto): composite 0, no performance pay and no star "
              "allowance, and the month counts as complete: ") + _list(conds, lang, "or") + ("。" if zh else "."),
    ]


def _periods(rb: Rulebook, lang: Lang) -> list[str]:
    zh = lang == "zh"
    out = []
    for p in rb.periods:
        name = (p.name_zh if zh else p.name_en) or p.key
        grades = _band_list(p.grades, lang)
        if p.of == "quarter":
            out.append(f"{name}评分：当年各季度评分的平均；等级：{grades}。" if zh
                       else f"{name} score: the mean of the year's quarter scores; grades: {grades}.")
        else:
            out.append(f"{name}评分：{p.months}个月内完整月份综合评分的平均；等级：{grades}。" if zh
                       else f"{name} score: the mean composite of the complete months of its {p.months} months; grades: {grades}.")
    for a in rb.awards:
        name = (a.name_zh if zh else a.name_en) or a.key
        out.append(f"{name}：每个自然年中{rb.level_label(a.level, lang)}月份最多的员工（并列者均当选）。" if zh
                   else f"{name}: the agent(s) with the most months at {rb.level_label(a.level, lang)} in a calendar "
                        "year (ties are all named).")
    return out


def _grades(rb: Rulebook, lang: Lang) -> list[str]:
    zh = lang == "zh"
    out = []
    if rb.bands:
        out.append(("综合评分等级：" if zh else "Grades of the composite: ") + _band_list(rb.bands, lang) + ("。" if zh else "."))
    out.extend(grade_scale_text(rb, g, lang) + ("。" if zh else ".") for g in rb.item_grades)
    return out


def describe(rb: Rulebook, lang: Lang) -> Description:
    """Every section of ``rb`` in plain language (``lang`` "zh" or "en")."""
    zh = lang == "zh"
    if rb.is_direct:
        stars, reaching = _direct(rb, lang)
        keeping: list[str] = []
    else:
        stars = [_promotion(rb, p, lang) for p in sorted(rb.promotions, key=lambda p: p.to)]
        reaching = _ladder_reaching(rb, lang)
        keeping = _ladder_keeping(rb, lang)
        if not rb.approval_required and any(rb.quota(p.to) is not None for p in rb.promotions):
            keeping.append("名额已满时，符合条件者候补，下月重新排名。" if zh
                           else "When a level is full, eligible agents wait; everyone eligible is ranked afresh next month.")
    pay, pay_rules = _pay(rb, lang)
    return Description(
        name=(rb.name_zh if zh else rb.name_en) or rb.name_en or rb.name_zh,
        summary=rb.summary_zh if zh else rb.summary_en,
        notes=rb.notes_zh if zh else rb.notes_en,
        source=rb.source,
        policy=rb.policy.kind,
        scoring=_scoring(rb, lang),
        items=tuple(_item(rb, d, lang) for d in rb.dimensions),
        grades=tuple(_grades(rb, lang)),
        stars=tuple(stars),
        reaching=tuple(reaching),
        keeping=tuple(keeping),
        pay=tuple(pay),
        pay_rules=tuple(pay_rules),
        veto=tuple(_veto(rb, lang)),
        periods=tuple(_periods(rb, lang)),
    )


_KINDS = {
    "score": ("分数", "score"), "percent": ("百分比", "percent"), "seconds": ("秒", "seconds"),
    "count": ("次数", "count"), "rating": ("评级", "rating"), "yesno": ("是/否", "yes/no"),
    "money": ("金额", "money"), "number": ("数值", "number"),
}  # fmt: skip


@dataclass(frozen=True)
class Phrases:
    """The phrases above bound to one rulebook and language (for templates)."""

    rb: Rulebook
    lang: Lang

    def condition(self, c: Condition, any_of: bool = False) -> str:
        return condition_text(self.rb, c, self.lang, any_of=any_of)

    def conditions(self, conds: Sequence[Condition]) -> str:
        return conditions_text(self.rb, conds, self.lang)

    def item(self, d: Dimension) -> str:
        return item_how(self.rb, d, self.lang)

    def form_item(self, f: FormItem) -> str:
        return form_item_how(self.rb, f, self.lang)

    def grade_scale(self, g: GradeScale) -> str:
        return grade_scale_text(self.rb, g, self.lang)

    def input_range(self, spec: InputSpec) -> str:
        return input_range(spec, self.lang)

    def kind(self, kind: str) -> str:
        zh, en = _KINDS.get(kind, (kind, kind))
        return zh if self.lang == "zh" else en

    def level(self, level: int) -> str:
        return self.rb.level_label(level, self.lang)

    def figure(self, key: str) -> str:
        return self.rb.figure_label(key, self.lang)

    def name(self, obj: object) -> str:
        zh, en = getattr(obj, "name_zh", ""), getattr(obj, "name_en", "")
        return (zh if self.lang == "zh" else en) or en or zh or getattr(obj, "key", "")

    def months(self, months: Sequence[int]) -> str:
        return month_names(months, self.lang)
