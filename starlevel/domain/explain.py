"""People-readable explanations of ladder results, in English and Chinese.

:func:`explain_text` renders one month's :class:`MonthResult` explanation (see the rule ids
in :mod:`starlevel.domain.ladder`); :func:`progress` summarises an agent's way to the next
star for the "my star" page.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from starlevel.domain.model import Agent, MonthResult
from starlevel.domain.months import add_months, month_of
from starlevel.domain.rulebook import Rulebook

__all__ = ["explain_text", "progress"]

Lang = Literal["en", "zh"]

_WHY_EN = {
    "before_level": "before the current level",
    "incomplete": "incomplete",
    "red_line": "red-line defect",
    "below_threshold": "below {thr}",
    "below_pass_mark": "a dimension below the pass mark",
}
_WHY_ZH = {
    "before_level": "早于当前星级",
    "incomplete": "数据不完整",
    "red_line": "出现红线问题",
    "below_threshold": "低于{thr}分",
    "below_pass_mark": "有单项低于及格分",
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


def _window_failures(check: dict[str, Any], lang: Lang) -> list[str]:
    """'2024-08–2024-09 before the current level, 2024-10 below 85 (80.00)'."""
    table = _WHY_ZH if lang == "zh" else _WHY_EN
    thr = check.get("threshold")
    comps = check.get("composites") or []
    runs: list[tuple[list[str], str, str | None]] = []  # (months, why, composite)
    prev = None
    for i, (month, why) in enumerate(zip(check.get("months", []), check.get("why", []), strict=False)):
        if why is None:
            prev = None
            continue
        comp = comps[i] if i < len(comps) else None
        if why in ("below_threshold", "below_pass_mark") and comp is not None:
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


def _missing(checks: Sequence[dict[str, Any]], lang: Lang) -> list[str]:
    parts: list[str] = []
    zh = lang == "zh"
    for c in checks:
        if c.get("ok"):
            continue
        key = c.get("key")
        if key == "track":
            parts.append(f"岗位{c['have']}没有晋升门槛" if zh else f"no threshold for track {c['have']}")
        elif key == "probation":
            parts.append("仍在试用期" if zh else "still on probation")
        elif key == "tenure":
            parts.append(f"工龄{c['have']}/{c['need']}个月" if zh else f"tenure {c['have']} of {c['need']} months")
        elif key == "window":
            fails = _window_failures(c, lang)
            months = c.get("months", [])
            if zh:
                parts.append(f"考核窗口{_span(months)}（连续达标{c['have']}/{c['need']}个月）：" + "，".join(fails))
            else:
                parts.append(
                    f"window {_span(months)} ({c['have']} of {c['need']} months qualifying): " + ", ".join(fails)
                )
        elif key == "error_rate":
            if zh:
                parts.append(f"差错率{_pct(c.get('have'))}（须低于{_pct(c.get('need'))}）")
            else:
                parts.append(f"error rate {_pct(c.get('have'))} (must be below {_pct(c.get('need'))})")
        elif key == "zero_errors":
            if zh:
                parts.append(f"差错和投诉{c['have']}次（须为零）")
            else:
                parts.append(f"{c['have']} errors and complaints (must be none)")
        else:
            parts.append(str(key))
    return parts


def _floor_note(result: MonthResult, params: dict[str, Any], lang: Lang) -> str:
    """A warning sentence while a below-floor streak is running (and no demotion yet)."""
    count = result.below_floor
    if count < 1 or result.event in ("demote", "review"):
        return ""
    after = params.get("after_months")
    floor = params.get("floor")
    if lang == "zh":
        text = f"本月综合评分低于保级线{floor}，已连续{count}个月" if floor else f"综合评分已连续{count}个月低于保级线"
        return text + (f"（连续{after}个月将降级）。" if after else "。")
    text = f"Composite below the floor {floor} for {count} month(s) in a row" if floor else f"Below the floor for {count} month(s)"
    return text + (f" ({after} in a row demote)." if after else ".")


def explain_text(result: MonthResult, lang: Lang = "en") -> str:
    """One or two sentences saying what happened to ``result``'s agent in its month and why."""
    expl = result.explanation or {}
    rule = expl.get("rule", result.rule)
    p: dict[str, Any] = expl.get("params", {}) or {}
    checks: list[dict[str, Any]] = expl.get("checks", []) or []
    zh = lang == "zh"
    nxt = add_months(result.month, 1)
    to = p.get("to")
    level = result.level
    window = p.get("window") or []
    avg = p.get("average")
    thr = p.get("threshold")
    hr = expl.get("hr") or {}

    if rule == "promote":
        err = p.get("error_rate")
        cap = p.get("cap")
        if zh:
            text = f"晋升为{to}星，自{nxt}起生效：{_span(window)}连续{len(window)}个月综合评分均不低于{thr}分，平均{avg}分"
            if err is not None:
                text += f"，差错率{_pct(err)}"
            text += f"；排名第{p.get('rank')}" + (f"，名额{cap}人（已占{p.get('holding')}人）。" if cap is not None else "。")
            if expl.get("status") == "approved":
                text += "已经人事审定。"
        else:
            text = (
                f"Promoted to {to}★ from {nxt}: every month of {_span(window)} scored at least {thr} "
                f"(average {avg})"
            )
            if err is not None:
                text += f", error rate {_pct(err)}"
            text += f"; ranked {p.get('rank')}" + (
                f" for a quota of {cap} ({p.get('holding')} already held)." if cap is not None else "."
            )
            if expl.get("status") == "approved":
                text += " Approved by HR."
        return text
    if rule == "promote_pending":
        if zh:
            return f"拟晋升为{to}星（{_span(window)}平均{avg}分，排名第{p.get('rank')}），待人事审定；审定前星级不变。"
        return (
            f"Proposed for promotion to {to}★ ({_span(window)} averaged {avg}, ranked {p.get('rank')}); "
            f"waiting for HR approval, the level stays {level}★ until then."
        )
    if rule == "hold":
        reason = hr.get("reason") or ""
        if zh:
            return f"晋升{to}星的提议被人事暂缓" + (f"：{reason}。" if reason else "。") + f"星级保持{level}星。"
        return f"Promotion to {to}★ held by HR" + (f": {reason}." if reason else ".") + f" The level stays {level}★."
    if rule == "waitlist":
        cap = p.get("cap")
        if zh:
            return (
                f"已符合{to}星条件（{_span(window)}平均{avg}分，排名第{p.get('rank')}），但{to}星名额{cap}人已满："
                "列入候补；下月所有符合条件者重新排名。"
            )
        return (
            f"Eligible for {to}★ ({_span(window)} averaged {avg}, ranked {p.get('rank')}) but the {to}★ quota "
            f"of {cap} is full: waitlisted. Next month everyone eligible is ranked afresh."
        )
    if rule in ("demote_red_line", "review_red_line"):
        codes = "、".join(p.get("codes", [])) if zh else ", ".join(p.get("codes", []))
        if rule == "demote_red_line":
            if zh:
                return f"本月出现红线问题{codes}：自{nxt}起由{level}星降为{to}星。"
            return f"Red-line defect {codes} this month: demoted from {level}★ to {to}★ from {nxt}."
        if zh:
            return f"本月出现红线问题{codes}，已是最低星级{level}星：提交审查（辞退或调岗）。"
        return f"Red-line defect {codes} this month at the lowest level {level}★: review (dismissal or transfer)."
    if rule in ("demote_floor", "review_floor"):
        months = p.get("months", [])
        comps = p.get("composites", [])
        pairs = [f"{m} {c}" for m, c in zip(months, comps, strict=False) if c is not None]
        n = p.get("below_floor")
        floor = p.get("floor")
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
        n = p.get("n_inspections", result.n_inspections)
        need = p.get("min_inspections")
        has_metrics = p.get("has_metrics", True)
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
        t = p.get("tenure", result.tenure)
        pm = p.get("probation_months")
        base = (
            f"试用期（第{t}/{pm}个月）：试用期内不晋升。"
            if zh
            else f"On probation (month {t} of {pm}): no promotion during probation."
        )
        note = _floor_note(result, p, lang)
        return base + ((" " if not zh else "") + note if note else "")
    if rule == "steady":
        floor = p.get("floor")
        comp = result.composite
        if zh:
            base = f"已是最高星级{level}星，本月综合评分{comp}分；保持不低于保级线{floor}分即可保级。"
        else:
            base = f"At the top level {level}★ with a composite of {comp}; keep it at or above the floor {floor}."
        note = _floor_note(result, p, lang)
        return base + ((" " if not zh else "") + note if note else "")
    if rule == "not_eligible":
        parts = _missing(checks, lang)
        if zh:
            base = f"暂未达到{to}星晋升条件：" + _join(parts, lang) + "。"
        else:
            base = f"Not yet eligible for {to}★: " + _join(parts, lang) + "."
        note = _floor_note(result, p, lang)
        return base + ((" " if not zh else "") + note if note else "")
    return f"{result.event}: {rule}"


# --------------------------------------------------------------------------- progress


def _qualifies(r: MonthResult, thr: Decimal) -> bool:
    return (
        r.complete
        and r.composite is not None
        and r.composite >= thr
        and r.all_dimensions_pass
        and not r.red_line_codes
    )


def progress(agent: Agent, results_so_far: Sequence[MonthResult], rb: Rulebook) -> dict[str, Any]:
    """Where ``agent`` stands after its last evaluated month (JSON-ready).

    ``results_so_far`` are the agent's results, sorted by month. Conditions are those of
    §5.1 for the next level, judged at the end of the last month (``as_of``); ``window_have``
    counts the consecutive qualifying months at the current level ending at ``as_of``.
    ``earliest_month`` is the first month a promotion could come if every month from now
    on qualifies (quotas permitting).
    """
    hire = month_of(agent.hired_on)
    if results_so_far:
        last = results_so_far[-1]
        as_of: str | None = last.month
        level = last.next_level
        changed = last.next_level != last.level
        since = add_months(last.month, 1) if changed else last.level_since
        below = 0 if changed else last.below_floor
        tenure = last.tenure
        pending = last.rule == "promote_pending"
    else:
        last = None
        changed = False
        as_of = None
        level = min(max(agent.initial_level, rb.min_level), rb.max_level)
        since = hire
        below = 0
        tenure = 0
        pending = False
    level = min(max(level, rb.min_level), rb.max_level)
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
        "warning": below >= 1,
        "months_until_demotion": (rb.after_months - below) if below >= 1 else None,
        "pending_promotion": pending,
        "top": level >= rb.max_level,
        "next_level": None,
        "promotion": None,
    }
    rule = rb.promotion_to(level + 1)
    if level >= rb.max_level or rule is None:
        return out
    out["next_level"] = level + 1
    thr = rule.threshold.get(agent.track)
    w = rule.window

    # The consecutive qualifying months at the current level ending at as_of.
    k = 0
    window_results: list[MonthResult] = []
    if last is not None and not changed:
        streak_open = True
        for r in reversed(results_so_far):
            if r.month < since or r.level != level or len(window_results) >= w:
                break
            window_results.append(r)
            if streak_open and thr is not None and _qualifies(r, thr):
                k += 1
            else:
                streak_open = False
    window_results.reverse()
    errs = sum(r.error_defects + r.complaints for r in window_results)
    n = sum(r.n_inspections for r in window_results)

    need_tenure = max(rule.min_tenure, agent.probation_months + 1)
    probation_ok = tenure > agent.probation_months
    tenure_ok = tenure >= rule.min_tenure
    tenure_from = add_months(hire, need_tenure - 1)
    conditions: list[dict[str, Any]] = [
        {"key": "probation", "ok": probation_ok, "need": agent.probation_months + 1, "have": tenure},
        {"key": "tenure", "ok": tenure_ok, "need": rule.min_tenure, "have": tenure},
        {
            "key": "window",
            "ok": k >= w,
            "need": w,
            "have": k,
            "months": [r.month for r in window_results],
            "threshold": None if thr is None else str(thr),
        },
    ]
    if rule.max_error_rate is not None:
        rate = None if n == 0 else (Decimal(errs) / n).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        conditions.append(
            {
                "key": "error_rate",
                "ok": n > 0 and errs < rule.max_error_rate * n,
                "need": str(rule.max_error_rate),
                "have": None if rate is None else str(rate),
            }
        )
    if rule.zero_errors:
        conditions.append({"key": "zero_errors", "ok": bool(window_results) and errs == 0, "need": 0, "have": errs})
    # Earliest month a promotion could be decided, if every month from now on qualifies.
    window_from = add_months(nxt, max(0, w - min(k, w - 1) - 1))
    earliest = max(window_from, tenure_from, nxt)
    out["promotion"] = {
        "to": level + 1,
        "threshold": None if thr is None else str(thr),
        "composite_needed": None if thr is None else str(thr),
        "window": w,
        "window_have": k,
        "min_tenure": rule.min_tenure,
        "tenure_months_needed": max(0, need_tenure - tenure),
        "tenure_ok_from": tenure_from,
        "conditions": conditions,
        "all_met": all(c["ok"] for c in conditions),
        "earliest_month": earliest,
        "quota": None if rb.quota(level + 1) is None else str(rb.quota(level + 1)),
    }
    return out
