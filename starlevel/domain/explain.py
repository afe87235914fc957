"""People-readable explanations of ladder results, in English and Chinese.

:func:`explain_text` renders one month's :class:`MonthResult` explanation (see the rule ids
in :mod:`starlevel.domain.ladder`); :func:`progress` summarises an agent's way to the next
star for the "my star" page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from starlevel.domain.model import Agent, MonthResult
from starlevel.domain.months import add_months, month_of
from starlevel.domain.describe import is_yes, month_names, yes_no_needed, yes_no_text
from starlevel.domain.ladder import direct_checks, outlook
from starlevel.domain.records import Check, ConditionCheck, Explanation, Params
from starlevel.domain.rulebook import Rulebook

__all__ = ["explain_text", "explanation_of", "progress"]

Lang = Literal["en", "zh"]

_WHY_EN = {
    "before_level": "before the current level",
    "incomplete": "incomplete",
    "red_line": "red-line defect",
    "below_threshold": "below {thr}",
    "below_pass_mark": "a dimension below the pass mark",
    "below_item_floor": "an item below the floor for this star",
}
_WHY_ZH = {
    "before_level": "早于当前星级",
    "incomplete": "数据不完整",
    "red_line": "出现红线问题",
    "below_threshold": "低于{thr}分",
    "below_pass_mark": "有单项低于及格分",
    "below_item_floor": "有单项低于该星级的单项要求",
}


def _pct(rate: str | None) -> str:
    if rate is None:
        return "—"
    try:
        value = (Decimal(rate) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return str(rate)
    return f"{value}%"


def _span(months: Sequence[str]) -> str:
    if not months:
        return ""
    return months[0] if len(months) == 1 else f"{months[0]}–{months[-1]}"


def _join(parts: Sequence[str], lang: Lang) -> str:
    return ("；" if lang == "zh" else "; ").join(parts)


def _window_failures(check: Check, lang: Lang) -> list[str]:
    """'2024-08–2024-09 before the current level, 2024-10 below 85 (80.00)'."""
    table = _WHY_ZH if lang == "zh" else _WHY_EN
    thr = check.threshold
    comps = check.composites
    runs: list[tuple[list[str], str, str | None]] = []  # (months, why, composite)
    prev = None
    for i, (month, why) in enumerate(zip(check.months, check.why, strict=False)):
        if why is None:
            prev = None
            continue
        comp = comps[i] if i < len(comps) else None
        if why in ("below_threshold", "below_pass_mark", "below_item_floor") and comp is not None:
            runs.append(([month], why, comp))
            prev = None
        elif prev == why and runs:
            runs[-1][0].append(month)
        else:
            runs.append(([month], why, None))
            prev = why
    out = []
    for months, why, comp in runs:
        text = f"{_span(months)} {table.get(why, why).format(thr=thr)}"
        if comp is not None:
            text += f" ({comp})" if lang == "en" else f"（{comp}）"
        out.append(text)
    return out


def _missing(checks: Sequence[Check], lang: Lang, rb: Rulebook | None) -> list[str]:
    parts: list[str] = []
    zh = lang == "zh"
    for c in checks:
        if c.ok:
            continue
        key = c.key
        if key == "track":
            parts.append(f"岗位{c.have}没有晋升门槛" if zh else f"no threshold for track {c.have}")
        elif key == "probation":
            parts.append("仍在试用期" if zh else "still on probation")
        elif key == "tenure":
            parts.append(f"工龄{c.have}/{c.need}个月" if zh else f"tenure {c.have} of {c.need} months")
        elif key == "window":
            fails = _window_failures(c, lang)
            if zh:
                parts.append(f"考核窗口{_span(c.months)}（连续达标{c.have}/{c.need}个月）：" + "，".join(fails))
            else:
                parts.append(f"window {_span(c.months)} ({c.have} of {c.need} months qualifying): " + ", ".join(fails))
        elif key == "error_rate":
            if zh:
                parts.append(f"差错率{_pct(c.have)}（须低于{_pct(c.need)}）")
            else:
                parts.append(f"error rate {_pct(c.have)} (must be below {_pct(c.need)})")
        elif key == "zero_errors":
            if zh:
                parts.append(f"差错和投诉{c.have}次（须为零）")
            else:
                parts.append(f"{c.have} errors and complaints (must be none)")
        elif key == "decision_month":
            months = month_names(c.need, lang)
            parts.append(f"晋升只在每年{months}底评定" if zh else f"promotions are decided only at the end of {months}")
        elif key == "no_complaints":
            parts.append(f"考核期内有效投诉{c.have}次（须为零）" if zh else f"{c.have} valid complaints in the window (must be none)")
        elif key == "requires":
            parts.extend(_condition_text(x, lang, rb) for x in c.conditions if not x.ok)
        else:
            parts.append(str(key))
    return parts


_OPS = {"at_least": "≥", "above": ">", "at_most": "≤", "below": "<", "equals": "="}


def _label(key: str, lang: Lang, rb: Rulebook | None) -> str:
    """An input's (or item's) name in the reader's language, as the rulebook declares it;
    the bare key only when no rulebook is at hand."""
    return key if rb is None else rb.figure_label(key, lang)


def _condition_text(c: ConditionCheck, lang: Lang, rb: Rulebook | None) -> str:
    """'Collection rate % 95 (needs ≥ 100)' — one condition of a star, a veto or a requirement."""
    shown = "—" if c.have is None else c.have
    name = _label(c.of, lang, rb)
    wanted = None if rb is None else yes_no_needed(rb, c.of, c.op, c.need)
    if wanted is not None:  # 'Certified: no (needs yes)', not '0 (needs = 1)'
        if c.have is not None:
            shown = yes_no_text(is_yes(c.have), lang)
        need = yes_no_text(wanted, lang)
        return f"{name}为{shown}（要求为{need}）" if lang == "zh" else f"{name}: {shown} (needs {need})"
    if lang == "zh":
        return f"{name}为{shown}（要求{_OPS.get(c.op, c.op)}{c.need}）"
    return f"{name} {shown} (needs {_OPS.get(c.op, c.op)} {c.need})"


def _floor_note(result: MonthResult, params: Params, lang: Lang) -> str:
    """A warning sentence while a below-floor streak is running (and no demotion yet)."""
    count = result.below_floor
    if count < 1 or result.event in ("demote", "review"):
        return ""
    after = params.after_months
    floor = params.floor
    if lang == "zh":
        text = f"本月综合评分低于保级线{floor}，已连续{count}个月" if floor else f"综合评分已连续{count}个月低于保级线"
        return text + (f"（连续{after}个月将降级）。" if after else "。")
    text = f"Composite below the floor {floor} for {count} month(s) in a row" if floor else f"Below the floor for {count} month(s)"
    return text + (f" ({after} in a row demote)." if after else ".")


def explanation_of(result: MonthResult, rb: Rulebook | None) -> Explanation:
    """``result``'s explanation as records; a direct month's star checks are derived from the
    figures it stores, under ``rb``, the rulebook version that judged it."""
    e = Explanation.of_json(result.explanation, result.rule)
    if rb is not None and (result.explanation or {}).get("figures") is not None:
        e = replace(e, checks=tuple(Check.of_json(c) for c in direct_checks(rb, result.explanation)))
    return e


def explain_text(result: MonthResult, lang: Lang = "en", rb: Rulebook | None = None) -> str:
    """One or two sentences saying what happened to ``result``'s agent in its month and why.

    ``rb`` is the rulebook version that judged the month: figures are named by the labels it
    declares in ``lang`` (without it, by their keys)."""
    e = explanation_of(result, rb)
    rule = e.rule
    p = e.params
    checks = e.checks
    zh = lang == "zh"
    nxt = add_months(result.month, 1)
    to = p.to
    level = result.level
    window = p.window
    avg = p.average
    thr = p.threshold
    hr_reason = (e.hr.reason if e.hr else "") or ""

    if rule == "promote":
        err = p.error_rate
        cap = p.cap
        window_check = e.check("window")
        by_mean = window_check is not None and window_check.test == "mean"  # the window's mean, not each month
        if zh:
            if by_mean:
                text = f"晋升为{to}星，自{nxt}起生效：{_span(window)}平均综合评分{avg}分，不低于{thr}分"
            else:
                text = f"晋升为{to}星，自{nxt}起生效：{_span(window)}连续{len(window)}个月综合评分均不低于{thr}分，平均{avg}分"
            if err is not None:
                text += f"，差错率{_pct(err)}"
            text += f"；排名第{p.rank}" + (f"，名额{cap}人（已占{p.holding}人）。" if cap is not None else "。")
            if e.status == "approved":
                text += "已经人事审定。"
        else:
            if by_mean:
                text = f"Promoted to {to}★ from {nxt}: the mean composite of {_span(window)} is {avg}, at least {thr}"
            else:
                text = (
                    f"Promoted to {to}★ from {nxt}: every month of {_span(window)} scored at least {thr} "
                    f"(average {avg})"
                )
            if err is not None:
                text += f", error rate {_pct(err)}"
            text += f"; ranked {p.rank}" + (
                f" for a quota of {cap} ({p.holding} already held)." if cap is not None else "."
            )
            if e.status == "approved":
                text += " Approved by HR."
        return text
    if rule in ("promote_pending", "hold") and p.earned is not None:  # a direct scheme's star awaiting approval
        earned = p.earned
        if rule == "hold":
            reason = hr_reason
            if zh:
                return f"本月数据评定为{earned}星，被暂缓审定" + (f"：{reason}" if reason else "") + f"；本月按{level}星计。"
            return f"This month's figures earn {earned}★, held by HR" + (f": {reason}" if reason else "") + f"; the month counts at {level}★."
        if zh:
            return f"本月数据评定为{earned}星，待审定；审定前按{level}星计。"
        return f"This month's figures earn {earned}★, waiting for approval; until then the month counts at {level}★."
    if rule == "promote_pending":
        if zh:
            return f"拟晋升为{to}星（{_span(window)}平均{avg}分，排名第{p.rank}），待人事审定；审定前星级不变。"
        return (
            f"Proposed for promotion to {to}★ ({_span(window)} averaged {avg}, ranked {p.rank}); "
            f"waiting for HR approval, the level stays {level}★ until then."
        )
    if rule == "hold":
        reason = hr_reason
        if zh:
            return f"晋升{to}星的提议被人事暂缓" + (f"：{reason}。" if reason else "。") + f"星级保持{level}星。"
        return f"Promotion to {to}★ held by HR" + (f": {reason}." if reason else ".") + f" The level stays {level}★."
    if rule == "waitlist":
        cap = p.cap
        if zh:
            return (
                f"已符合{to}星条件（{_span(window)}平均{avg}分，排名第{p.rank}），但{to}星名额{cap}人已满："
                "列入候补；下月所有符合条件者重新排名。"
            )
        return (
            f"Eligible for {to}★ ({_span(window)} averaged {avg}, ranked {p.rank}) but the {to}★ quota "
            f"of {cap} is full: waitlisted. Next month everyone eligible is ranked afresh."
        )
    if rule in ("demote_red_line", "review_red_line"):
        codes = "、".join(p.codes) if zh else ", ".join(p.codes)
        if rule == "demote_red_line":
            if zh:
                return f"本月出现红线问题{codes}：自{nxt}起由{level}星降为{to}星。"
            return f"Red-line defect {codes} this month: demoted from {level}★ to {to}★ from {nxt}."
        if zh:
            return f"本月出现红线问题{codes}，已是最低星级{level}星：提交审查（辞退或调岗）。"
        return f"Red-line defect {codes} this month at the lowest level {level}★: review (dismissal or transfer)."
    if rule in ("demote_floor", "review_floor"):
        pairs = [f"{m} {c}" for m, c in zip(p.months, p.composites, strict=False) if c is not None]
        n = p.below_floor
        floor = p.floor
        if rule == "demote_floor":
            if zh:
                return f"连续{n}个月综合评分低于{level}星保级线{floor}分（{'，'.join(pairs)}）：自{nxt}起降为{to}星。"
            return (
                f"Composite below the {level}★ floor {floor} for {n} months in a row ({', '.join(pairs)}): "
                f"demoted to {to}★ from {nxt}."
            )
        if zh:
            return f"连续{n}个月综合评分低于{level}星保级线{floor}分（{'，'.join(pairs)}），已是最低星级：提交审查（辞退或调岗）。"
        return (
            f"Composite below the {level}★ floor {floor} for {n} months in a row ({', '.join(pairs)}) at the "
            "lowest level: review (dismissal or transfer)."
        )
    if rule == "incomplete":
        n = p.n_inspections if p.n_inspections is not None else result.n_inspections
        need = p.min_inspections
        has_metrics = p.has_metrics is not False
        if zh:
            text = f"本月数据不完整：质检{n}/{need}条" + ("" if has_metrics else "，缺少月度指标") + "；暂无综合评分和薪酬。"
        else:
            text = f"Incomplete month: {n} of {need} inspections" + ("" if has_metrics else ", no metrics")
            text += "; no composite or pay yet."
        red = list(result.red_line_codes)
        if red:
            text += (f"红线问题{'、'.join(red)}仍计入。" if zh else f" Red-line defects still count: {', '.join(red)}.")
        return text
    if rule == "probation":
        t = p.tenure if p.tenure is not None else result.tenure
        pm = p.probation_months
        base = (
            f"试用期（第{t}/{pm}个月）：试用期内不晋升。"
            if zh
            else f"On probation (month {t} of {pm}): no promotion during probation."
        )
        note = _floor_note(result, p, lang)
        return base + ((" " if not zh else "") + note if note else "")
    if rule == "steady":
        floor = p.floor
        comp = result.composite
        if zh:
            base = f"已是最高星级{level}星，本月综合评分{comp}分；保持不低于保级线{floor}分即可保级。"
        else:
            base = f"At the top level {level}★ with a composite of {comp}; keep it at or above the floor {floor}."
        note = _floor_note(result, p, lang)
        return base + ((" " if not zh else "") + note if note else "")
    if e.allowance_withheld:
        why, n = e.allowance_withheld
        if why == "too_new":
            note = (f"本月不发星级津贴：在职记录不足{n}个月（需连续{n}个月无有效投诉）。" if zh
                    else f"No star allowance this month: fewer than {n} months on record (it needs {n} months "
                         "without a valid complaint).")
        else:
            note = (f"本月不发星级津贴：本月及之前共{n}个月内有有效投诉。" if zh
                    else f"No star allowance this month: a valid complaint within the last {n} months, this one included.")
        rest = explain_text(replace(result, explanation={k: v for k, v in result.explanation.items()
                                                        if k != "allowance_withheld"}), lang, rb)
        return rest + ("" if zh else " ") + note
    if e.veto and rule not in ("incomplete",):
        named = [_label(k, lang, rb) for k in e.veto]
        codes = "、".join(named) if zh else ", ".join(named)
        veto = (f"本月触发一票否决（{codes}）：考核成绩为0，绩效奖金和星级奖励为0。" if zh
                else f"Veto this month ({codes}): the appraisal counts as 0, with no bonus and no star allowance.")  # fmt: skip
        if rule == "direct":
            return veto + (f"本月星级{level}星。" if zh else f" Level {level}★ this month.")
        rest = explain_text(replace(result, explanation={k: v for k, v in result.explanation.items() if k != "veto"}), lang, rb)
        return veto + ("" if zh else " ") + rest
    if rule == "direct":
        earned = p.earned if p.earned is not None else level
        failed = [c for c in checks if c.key == "star" and not c.ok and (c.level or 0) > earned]
        held = ""
        if failed:
            nearest = failed[-1]
            misses = [_condition_text(x, lang, rb) for x in nearest.conditions if not x.ok]
            held = (f"未达{nearest.level}星：" + "，".join(misses) + "。") if zh else (
                f" Not {nearest.level}★: " + "; ".join(misses) + ".")
        status = e.status
        if zh:
            text = f"本月数据评定为{level}星" + ("（已审定）" if status == "approved" else "") + "。"
        else:
            text = f"This month's figures earn {level}★" + (" (approved)" if status == "approved" else "") + "."
        return text + held
    if rule == "not_eligible":
        parts = _missing(checks, lang, rb)
        if zh:
            base = f"暂未达到{to}星晋升条件：" + _join(parts, lang) + "。"
        else:
            base = f"Not yet eligible for {to}★: " + _join(parts, lang) + "."
        note = _floor_note(result, p, lang)
        return base + ((" " if not zh else "") + note if note else "")
    return f"{result.event}: {rule}"


# --------------------------------------------------------------------------- progress


def progress(agent: Agent, results_so_far: Sequence[MonthResult], rb: Rulebook) -> dict[str, Any]:
    """Where ``agent`` stands after its last evaluated month (JSON-ready).

    The conditions are the engine's own checks for the next level (:func:`ladder.outlook`),
    judged at the end of the last month (``as_of``); ``window_have`` counts the consecutive
    qualifying months at the current level ending at ``as_of``. ``earliest_month`` is the
    first month a promotion could come if every month from now on qualifies (quotas
    permitting). Under a direct policy ``promotion`` lists the next star's conditions from
    the last month, each with the figure it had and the gap to close.
    """
    hire = month_of(agent.hired_on)
    if results_so_far:
        view = outlook(agent, results_so_far, rb)
        as_of: str | None = view["as_of"]
        level = view["level"]
        since = view["level_since"]
        below = view["below_floor"]
        tenure = view["tenure"]
        pending = view["pending"]
    else:
        view = None
        as_of = None
        level = rb.starting_level(agent.initial_level)
        since = hire
        below = 0
        tenure = 0
        pending = False
    nxt = add_months(as_of, 1) if as_of is not None else hire
    out: dict[str, Any] = {
        "agent_id": agent.agent_id,
        "as_of": as_of,
        "level": level,
        "level_since": since,
        "tenure": tenure,
        "floor": str(rb.floor(level)),
        "below_floor": below,
        "after_months": rb.after_months,
        "warning": below >= 1 and rb.floors_on and rb.demotion_enabled and not rb.is_direct,
        "months_until_demotion": (rb.after_months - below) if below >= 1 else None,
        "pending_promotion": pending,
        "top": level >= rb.max_level,
        "next_level": None,
        "promotion": None,
        "direct": rb.is_direct,
    }
    if rb.is_direct:
        if view is not None and view["target"] is not None:
            conds = []
            for c in view["checks"]:
                gap = None
                if not c.get("ok") and c.get("have") is not None and c["op"] in ("at_least", "above"):
                    gap = str(Decimal(c["need"]) - Decimal(c["have"]))
                elif not c.get("ok") and c.get("have") is not None and c["op"] in ("at_most", "below"):
                    gap = str(Decimal(c["have"]) - Decimal(c["need"]))
                conds.append({"key": "condition", "ok": bool(c.get("ok")), "need": c["need"], "have": c.get("have"),
                              "of": c["of"], "op": c["op"], "gap": gap})  # fmt: skip
            conds.sort(key=lambda c: c["ok"])  # what holds the star back first
            out["next_level"] = view["target"]
            out["promotion"] = {"to": view["target"], "conditions": conds, "all_met": all(c["ok"] for c in conds),
                                "direct": True}  # fmt: skip
        return out
    rule = rb.promotion_to(level + 1)
    if level >= rb.max_level or rule is None:
        return out
    out["next_level"] = level + 1
    thr = rule.threshold.get(agent.track)
    w = rule.window
    if view is not None:
        checks = [dict(c) for c in view["checks"] if c["key"] not in ("no_demotion", "track")]
    else:
        checks = [
            {"key": "probation", "ok": False, "need": agent.probation_months + 1, "have": 0},
            {"key": "tenure", "ok": rule.min_tenure == 0, "need": rule.min_tenure, "have": 0},
            {"key": "window", "ok": False, "need": w, "have": 0, "months": [], "why": [],
             "threshold": None if thr is None else str(thr)},
        ]  # fmt: skip
    window = next(c for c in checks if c["key"] == "window")
    k = int(window["have"]) if window.get("test") != "mean" else 0
    whys = window.get("why") or []
    window["all_months"] = list(window.get("months", []))
    window["months"] = [m for m, why in zip(window.get("months", []), whys, strict=False) if why != "before_level"]
    need_tenure = max(rule.min_tenure, agent.probation_months + 1)
    tenure_from = add_months(hire, need_tenure - 1)
    # Earliest month a promotion could be decided, if every month from now on qualifies.
    window_from = add_months(nxt, max(0, w - min(k, w - 1) - 1))
    earliest = max(window_from, tenure_from, nxt)
    if rb.policy.decide_in:
        while int(earliest[5:7]) not in rb.policy.decide_in:
            earliest = add_months(earliest, 1)
    out["promotion"] = {
        "to": level + 1,
        "threshold": None if thr is None else str(thr),
        "composite_needed": None if thr is None else str(thr),
        "window": w,
        "window_have": k,
        "min_tenure": rule.min_tenure,
        "tenure_months_needed": max(0, need_tenure - tenure),
        "tenure_ok_from": tenure_from,
        "conditions": checks,
        "all_met": all(c["ok"] for c in checks),
        "earliest_month": earliest,
        "quota": None if rb.quota(level + 1) is None else str(rb.quota(level + 1)),
        "direct": False,
    }
    return out
