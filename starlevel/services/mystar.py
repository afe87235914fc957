"""Read model of one agent's star page ("My star", and the staff view of any agent).

Everything is read from the cached results (``month_results``) and the stored
rulebook versions; nothing is recomputed here. Queries are by ``agent_id`` only
(primary-key prefix of ``month_results``, ``ix_inspections_agent_month`` for the
inspections, ``ix_inspection_defects_inspection`` for their defects), a fixed
handful per page whatever the length of the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, DefectType, Inspection, InspectionDefect, MonthResultRow
from starlevel.domain import months as M
from starlevel.services import clock
from starlevel.domain.describe import is_yes, yes_no_needed
from starlevel.domain.explain import explain_text
from starlevel.domain.explain import progress as explain_progress
from starlevel.domain.ladder import rulebook_for
from starlevel.domain.model import Agent as DomainAgent
from starlevel.domain.model import MonthResult
from starlevel.domain.rulebook import Rulebook
from starlevel.domain.scoring import inspection_score
from starlevel.services import rulebooks as rulebook_store
from starlevel.services.recompute import row_to_result

__all__ = [
    "AgentPage",
    "Condition",
    "DefectLine",
    "DefectsPanel",
    "HistoryRow",
    "InspectionView",
    "PayView",
    "Progress",
    "agent_page",
    "defects_panel",
    "progress",
]


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class PayView:
    """The pay of one month (spec §6), or why there is none yet."""

    month: str
    level: int
    pay_grade: str | None
    complete: bool
    on_probation: bool
    composite: Decimal | None
    fixed: Decimal | None = None
    bonus_base: Decimal | None = None
    coefficient: Decimal | None = None
    coef_min: Decimal | None = None  # the bracket the composite reached ...
    coef_below: Decimal | None = None  # ... or, for the lowest bracket, the next one it missed
    performance: Decimal | None = None
    allowance: Decimal | None = None
    total: Decimal | None = None
    probation_factor: Decimal | None = None
    # Incomplete month: what is still missing.
    n_inspections: int = 0
    min_inspections: int = 0
    missing_inspections: int = 0
    missing_metrics: bool = False
    needed_inputs: tuple[tuple[str, str], ...] = ()  # (中文, English) names of the month's required inputs


@dataclass(frozen=True)
class Condition:
    """One promotion condition of spec §5.1 and whether it holds as of the month shown."""

    key: str  # probation | tenure | at_level | complete | threshold | pass_mark | red_line | error_rate | zero_errors
    ok: bool | None  # None: nothing to judge yet (no month at this level so far)
    need: Any = None
    have: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """Where the agent stands on the way to the next star (or at the top, to keep it)."""

    month: str  # the last evaluated month the figures are as of
    level: int  # the level in effect from the month after ``month``
    target: int | None  # next level, None at the top
    track: str
    conditions: list[Condition]
    window_have: int = 0
    window_need: int = 0
    window_months: list[str] = field(default_factory=list)  # the window months at this level so far
    tenure_have: int = 0
    tenure_need: int = 0
    tenure_months_left: int = 0
    threshold: Decimal | None = None  # composite needed next month
    pass_mark: Decimal | None = None
    floor: Decimal | None = None  # floor of the level in effect
    earliest: str | None = None  # earliest month at whose end a promotion could be decided
    below_floor: int = 0
    after_months: int = 0
    warning: str | None = None  # "demote" | "review": one more month below the floor triggers it
    warning_to: int | None = None
    quota_limited: bool = False  # eligible but waitlisted last month
    pending: bool = False  # a promotion waits for HR approval
    direct: bool = False  # a direct scheme: ``conditions`` are the next star's, failing ones first


@dataclass(frozen=True)
class HistoryRow:
    month: str
    level: int
    next_level: int
    complete: bool
    composite: Decimal | None
    band: str | None
    band_label: str | None
    event: str
    rule: str
    explanation: str | None  # None: an older month whose explanation was not asked for
    threshold: Decimal | None
    floor: Decimal | None
    total_pay: Decimal | None


@dataclass(frozen=True)
class DefectLine:
    code: str
    tier: int | None
    tier_name: str
    description: str
    deduction: Decimal | None
    note: str
    voided: bool
    void_reason: str | None
    voided_by: str | None


@dataclass(frozen=True)
class InspectionView:
    inspection_id: str
    contact_on: date
    channel: str
    contact_ref: str
    inspector: str
    score: Decimal
    defects: list[DefectLine]
    voided: bool
    void_reason: str | None
    voided_by: str | None
    voided_at: datetime | None


@dataclass(frozen=True)
class DefectsPanel:
    month: str | None
    months: list[str]  # every evaluated month of the agent, newest first (for the switcher)
    inspections: list[InspectionView]
    live: int
    quality: Decimal | None

    def _step(self, by: int) -> str | None:
        if self.month not in self.months:
            return None
        i = self.months.index(self.month) + by
        return self.months[i] if 0 <= i < len(self.months) else None

    @property
    def older(self) -> str | None:
        return self._step(1)

    @property
    def newer(self) -> str | None:
        return self._step(-1)


@dataclass(frozen=True)
class AgentPage:
    agent: Agent
    month: str | None  # the month the page is "as of" (None: nothing evaluated yet)
    months: list[str]  # every evaluated month, newest first
    month_not_found: str | None  # a requested month with no evaluation (the latest is shown instead)
    level_now: int
    max_level: int
    pay_grade_now: str | None
    latest: HistoryRow | None
    pay: PayView | None
    progress: Progress | None
    history: list[HistoryRow]  # oldest first, up to ``month``
    defects: DefectsPanel
    in_progress: bool = False  # ``month`` is the month in progress (shown only when picked)
    so_far: HistoryRow | None = None  # the month in progress, beside an ended month shown by default
    older_explained: bool = False  # the months before the RECENT_MONTHS newest carry their explanations


# --------------------------------------------------------------------------- loading


HISTORY_MONTHS = 24
#: The page shows this many of the newest months in full; the older ones of the history
#: (its chart and table still plot them) are explained when the agent asks for them.
RECENT_MONTHS = 6


def _results(session: Session, agent_id: str, first: str, last: str) -> list[MonthResultRow]:
    """Plain rows (read-only, the same attribute names as MonthResultRow): the page only
    reads them, and skipping the ORM's identity map halves the cost of two years of rows."""
    t = MonthResultRow.__table__
    return list(session.execute(  # type: ignore[arg-type]
        select(t).where(t.c.agent_id == agent_id, t.c.month >= first, t.c.month <= last).order_by(t.c.month)
    ))


def _top_level(session: Session) -> int:
    rbs = rulebook_store.load_all(session)
    return rulebook_for(rbs, "9999-12").max_level if rbs else 5


def _is_month(value: str | None) -> bool:
    return bool(value) and M.is_month(value)


def _pick(months_old_first: list[str], wanted: str | None) -> tuple[str | None, str | None]:
    """(the month to show, the requested month when it had to be replaced). The default is
    the latest month that has ended, not the month in progress."""
    latest = clock.default_month(months_old_first)
    if not wanted:
        return latest, None
    if wanted in months_old_first:
        return wanted, None
    return latest, wanted


# --------------------------------------------------------------------------- parts


def _threshold(rb: Rulebook, level: int, track: str) -> Decimal | None:
    promo = rb.promotion_to(level + 1) if level < rb.max_level else None
    return None if promo is None else promo.threshold.get(track)


def _band_label(rb: Rulebook, key: str | None, lang: str) -> str | None:
    if key is None:
        return None
    for b in rb.bands:
        if b.key == key:
            return (b.name_zh if lang == "zh" else b.name_en) or key
    return key


def _history_row(row: MonthResultRow, result: MonthResult, rb: Rulebook, lang: str, *, explain: bool = True) -> HistoryRow:
    return HistoryRow(
        month=row.month,
        level=row.level,
        next_level=row.next_level,
        complete=row.complete,
        composite=row.composite,
        band=row.band,
        band_label=_band_label(rb, row.band, lang),
        event=row.event,
        rule=row.rule,
        explanation=explain_text(result, lang, rb) if explain else None,
        threshold=_threshold(rb, row.level, row.track),
        floor=rb.floors.get(row.level),
        total_pay=row.total_pay,
    )


def pay_view(row: MonthResultRow, rb: Rulebook) -> PayView:
    """Pay of the month of ``row`` with the figures behind it (spec §6)."""
    base = dict(
        month=row.month, level=row.level, pay_grade=row.pay_grade, complete=row.complete,
        on_probation=row.on_probation, composite=row.composite,
    )
    if not row.complete or row.composite is None or row.total_pay is None:
        has_metrics = any(d.key in (row.dimensions or {}) for d in rb.dimensions if d.source != "quality")
        return PayView(
            **base,  # type: ignore[arg-type]
            n_inspections=row.n_inspections,
            min_inspections=rb.min_inspections,
            missing_inspections=max(0, rb.min_inspections - row.n_inspections),
            missing_metrics=not has_metrics,
            needed_inputs=tuple((i.name("zh"), i.name("en")) for i in rb.inputs if i.required),
        )
    brackets = list(rb.coefficients)  # highest min first
    coef_min = coef_below = None
    for i, c in enumerate(brackets):
        if row.composite >= c.min:
            coef_min = c.min
            if c.min == 0 and i > 0:
                coef_below = brackets[i - 1].min
            break
    return PayView(
        **base,  # type: ignore[arg-type]
        fixed=row.fixed_pay,
        bonus_base=rb.pay_grade(row.level).bonus_base,
        coefficient=row.coefficient,
        coef_min=coef_min,
        coef_below=coef_below,
        performance=row.performance_pay,
        allowance=row.allowance,
        total=row.total_pay,
        probation_factor=rb.probation_factor if row.on_probation else None,
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


_WHY_CONDITION = {
    "incomplete": "complete",
    "below_threshold": "threshold",
    "below_pass_mark": "pass_mark",
    "below_item_floor": "item_floor",
    "red_line": "red_line",
}


def _window_parts(window: dict[str, Any], rows: list[MonthResultRow], since: str, pass_mark: Decimal) -> list[Condition]:
    """The window check of the engine, month by month, told one condition at a time (at this
    level, complete, above the threshold, every dimension at the pass mark, item floor, no red
    line). ``ok`` is None while no month at this level has been evaluated yet."""
    whys = list(window.get("why") or [])
    months = list(window.get("all_months") or window.get("months") or [])
    at_level = [m for m, why in zip(months, whys, strict=False) if why != "before_level"]
    also = window.get("also") or {}
    failed: dict[str, list[str]] = {}
    for i, (m, why) in enumerate(zip(months, whys, strict=False)):
        for reason in [why, *also.get(str(i), [])]:
            if reason in _WHY_CONDITION:
                failed.setdefault(_WHY_CONDITION[reason], []).append(m)

    def judged(key: str) -> bool | None:
        return None if not at_level else not failed.get(key)

    by_month = {r.month: r for r in rows}
    red_codes = [c for m in failed.get("red_line", []) for c in (by_month[m].red_line_codes or "").split(";") if m in by_month and c]
    need = len(whys)
    out = [
        Condition("at_level", len(at_level) == need, need=need, have=len(at_level), extra={"since": since}),
        Condition("complete", judged("complete"), need=len(at_level), have=len(at_level) - len(failed.get("complete", [])),
                  extra={"months": failed.get("complete", [])}),
        Condition("threshold", judged("threshold"), need=_dec(window.get("threshold")), extra={"months": failed.get("threshold", [])}),
        Condition("pass_mark", judged("pass_mark"), need=pass_mark, extra={"months": failed.get("pass_mark", [])}),
    ]
    if window.get("item_floor") is not None:
        out.append(Condition("item_floor", judged("item_floor"), need=_dec(window["item_floor"]),
                             extra={"months": failed.get("item_floor", [])}))
    out.append(Condition("red_line", judged("red_line"), extra={"months": failed.get("red_line", []), "codes": red_codes}))
    return out


def progress(
    agent: Agent, rows: list[MonthResultRow], rulebooks: list[Rulebook], results: list[MonthResult] | None = None,
    lang: str = "en",
) -> Progress | None:
    """Progress to the next star as of the last of ``rows`` (oldest first).

    The core figures come from :func:`starlevel.domain.explain.progress` under the
    rulebook of the month after the last one; the window's conditions (complete, at
    this level, above the threshold, every dimension at the pass mark, no red line)
    are added one by one from the stored results.
    """
    if not rows:
        return None
    last = rows[-1]
    rb = rulebook_for(rulebooks, M.add_months(last.month, 1))
    if results is None:
        results = [row_to_result(r) for r in rows]
    p = explain_progress(_domain_agent(agent), results, rb)
    level = p["level"]
    warning = warning_to = None
    if rb.demotion_enabled and p["warning"] and p["months_until_demotion"] == 1:
        warning = "demote" if level > rb.min_level else "review"
        warning_to = level - 1 if level > rb.min_level else None
    common: dict[str, Any] = dict(
        month=last.month, level=level, track=last.track, floor=_dec(p["floor"]), below_floor=p["below_floor"],
        after_months=p["after_months"], warning=warning, warning_to=warning_to, pass_mark=rb.pass_mark,
    )
    promo = p["promotion"]
    if promo is None:
        return Progress(target=None, conditions=[], direct=rb.is_direct, **common)
    conds: list[Condition] = []
    for c in promo["conditions"]:
        extra = {k: v for k, v in c.items() if k not in ("key", "ok", "need", "have")}
        need, have = c.get("need"), c.get("have")
        if c["key"] in ("error_rate", "condition"):
            need, have = _dec(need), _dec(have)
        for x in ([extra] if "of" in extra else []) + list(extra.get("conditions", [])):
            x["label"] = rb.figure_label(x["of"], lang)
            # A yes/no input reads "yes"/"no", never "= 1" (None: not a plain yes or no).
            wanted = yes_no_needed(rb, x["of"], x["op"], x.get("need", c.get("need")))
            if wanted is not None:
                figure = x.get("have", c.get("have"))
                x["answer"] = "yes" if wanted else "no"
                x["have_answer"] = None if figure is None else ("yes" if is_yes(figure) else "no")
        conds.append(Condition(c["key"], c["ok"], need=need, have=have, extra=extra))
        if c["key"] == "window":
            conds.extend(_window_parts(c, rows, p["level_since"], rb.pass_mark))
    if promo.get("direct"):
        return Progress(target=promo["to"], conditions=conds, direct=True, **common)
    window = next(c for c in conds if c.key == "window")
    return Progress(
        target=promo["to"],
        conditions=conds,
        window_have=promo["window_have"],
        window_need=promo["window"],
        window_months=list(window.extra.get("months", [])),
        tenure_have=p["tenure"],
        tenure_need=promo["min_tenure"],
        tenure_months_left=promo["tenure_months_needed"],
        threshold=_dec(promo["composite_needed"]),
        earliest=promo["earliest_month"],
        quota_limited=last.event == "waitlist",
        pending=p["pending_promotion"],
        **common,
    )


def _domain_agent(row: Agent) -> DomainAgent:
    return DomainAgent(row.agent_id, row.name, row.track, row.team, row.hired_on, row.left_on,
                       row.initial_level, row.probation_months)


_Text = tuple[int | None, str, str, Decimal | None]


def _defect_texts(session: Session, rb: Rulebook, codes: set[str], lang: str) -> dict[str, _Text]:
    """code -> (tier, tier name, description in ``lang``, deduction) from the month's
    rulebook, falling back to the stored catalog for codes a later version dropped."""
    zh = lang == "zh"

    def tier_name(tier: int) -> str:
        try:
            t = rb.tier(tier)
        except KeyError:
            return ""
        return (t.name_zh if zh else t.name_en) or ""

    out: dict[str, _Text] = {}
    unknown = []
    for code in codes:
        if rb.has_defect(code):
            d = rb.defect(code)
            out[code] = (d.tier, tier_name(d.tier), d.zh if zh else d.en, rb.deduction(code))
        else:
            unknown.append(code)
    if unknown:
        for d in session.scalars(select(DefectType).where(DefectType.code.in_(unknown))):
            out[d.code] = (d.tier, tier_name(d.tier), d.name_zh if zh else d.name_en, None)
    return out


def _defects(
    session: Session, agent_id: str, month: str | None, months: list[str], rb: Rulebook | None,
    quality: Decimal | None, lang: str,
) -> DefectsPanel:
    if month is None or rb is None:
        return DefectsPanel(month, months, [], 0, quality)
    # Plain rows, read-only: the inspections of the month, then their defects in one query.
    it, dt = Inspection.__table__, InspectionDefect.__table__
    of_month = (it.c.agent_id == agent_id, it.c.month == month)
    rows = session.execute(
        select(it.c.inspection_id, it.c.contact_on, it.c.channel, it.c.contact_ref, it.c.inspector,
               it.c.voided_at, it.c.void_reason, it.c.voided_by)
        .where(*of_month).order_by(it.c.contact_on, it.c.inspection_id)
    ).all()
    defects_of: dict[str, list[Any]] = {r.inspection_id: [] for r in rows}
    if rows:
        for d in session.execute(
            select(dt.c.inspection_id, dt.c.code, dt.c.note, dt.c.voided_at, dt.c.voided_by, dt.c.void_reason)
            .join(it, it.c.inspection_id == dt.c.inspection_id).where(*of_month)
            .order_by(dt.c.inspection_id, dt.c.position)
        ):
            defects_of[d.inspection_id].append(d)
    texts = _defect_texts(session, rb, {d.code for ds in defects_of.values() for d in ds}, lang)
    views = []
    for r in rows:
        defects = defects_of[r.inspection_id]
        live_codes = [d.code for d in defects if d.voided_at is None and rb.has_defect(d.code)]
        lines = []
        for d in defects:
            tier, tname, desc, ded = texts.get(d.code, (None, "", d.code, None))
            lines.append(DefectLine(d.code, tier, tname, desc, ded, d.note or "", d.voided_at is not None, d.void_reason, d.voided_by))
        views.append(InspectionView(
            r.inspection_id, r.contact_on, r.channel, r.contact_ref, r.inspector, inspection_score(live_codes, rb),
            lines, r.voided_at is not None, r.void_reason, r.voided_by, r.voided_at,
        ))
    return DefectsPanel(month, months, views, sum(1 for v in views if not v.voided), quality)


# --------------------------------------------------------------------------- services


def defects_panel(session: Session, agent_id: str, month: str | None, lang: str) -> DefectsPanel | None:
    """The inspections and defects of one month of ``agent_id`` (None: unknown agent).

    A month without an evaluation falls back to the latest evaluated month.
    """
    if session.get(Agent, agent_id) is None:
        return None
    evaluated = list(session.scalars(
        select(MonthResultRow.month).where(MonthResultRow.agent_id == agent_id).order_by(MonthResultRow.month)
    ))
    chosen, _ = _pick(evaluated, month if _is_month(month) else None)
    if chosen is None:
        return DefectsPanel(None, [], [], 0, None)
    row = session.get(MonthResultRow, (agent_id, chosen))
    assert row is not None
    rb = rulebook_store.for_version(rulebook_store.load_all(session), row.rulebook_version, chosen)
    return _defects(session, agent_id, chosen, evaluated[::-1], rb, row.quality, lang)


def agent_page(
    session: Session, agent_id: str, *, month: str | None = None, defects_month: str | None = None, lang: str = "en",
    show_pay: bool = True, explain_older: bool = False,
) -> AgentPage | None:
    """Everything the star page of ``agent_id`` shows, as of ``month`` (default: the
    latest evaluated month). None when the agent does not exist. Without ``show_pay``
    (see services.privacy) the page carries no pay figure at all. The history's months
    before the newest RECENT_MONTHS carry their explanations only with ``explain_older``."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        return None
    all_months = list(session.scalars(
        select(MonthResultRow.month).where(MonthResultRow.agent_id == agent_id).order_by(MonthResultRow.month)
    ))
    chosen, not_found = _pick(all_months, month if _is_month(month) else None)
    if month and not _is_month(month):
        not_found = month
    if chosen is None:
        return AgentPage(
            agent=agent, month=None, months=[], month_not_found=not_found, level_now=agent.initial_level,
            max_level=_top_level(session), pay_grade_now=None, latest=None, pay=None, progress=None, history=[],
            defects=DefectsPanel(None, [], [], 0, None),
        )
    rulebooks = rulebook_store.load_all(session)
    # The page shows a rolling window of history ending at the chosen month; earlier
    # periods are one pick of the month away.
    shown = _results(session, agent_id, M.add_months(chosen, -(HISTORY_MONTHS - 1)), chosen)
    results = [row_to_result(r) for r in shown]
    explained_from = 0 if explain_older else len(shown) - RECENT_MONTHS
    history = [
        _history_row(r, res, rulebook_store.for_version(rulebooks, r.rulebook_version, r.month), lang,
                     explain=i >= explained_from)
        for i, (r, res) in enumerate(zip(shown, results))
    ]
    if not show_pay:
        history = [replace(h, total_pay=None) for h in history]
    last = shown[-1]
    last_rb = rulebook_store.for_version(rulebooks, last.rulebook_version, last.month)
    next_rb = rulebook_for(rulebooks, M.add_months(last.month, 1))
    level_now = last.next_level
    dm, _ = _pick(all_months, defects_month if _is_month(defects_month) else chosen)
    drow = next((r for r in shown if r.month == dm), None) or session.get(MonthResultRow, (agent_id, dm)) or last
    so_far = None
    now = clock.current_month()
    if chosen < now and now in all_months:
        row = session.get(MonthResultRow, (agent_id, now))
        if row is not None:
            so_far = _history_row(row, row_to_result(row), rulebook_store.for_version(rulebooks, row.rulebook_version, row.month), lang)
    return AgentPage(
        agent=agent,
        month=chosen,
        months=all_months[::-1],
        month_not_found=not_found,
        level_now=level_now,
        max_level=next_rb.max_level,
        pay_grade_now=next_rb.pay_grade(level_now).grade if level_now in next_rb.levels else last.pay_grade,
        latest=history[-1],
        pay=pay_view(last, last_rb) if show_pay else None,
        progress=progress(agent, shown, rulebooks, results, lang),
        history=history,
        defects=_defects(session, agent_id, drow.month, all_months[::-1],
                         rulebook_store.for_version(rulebooks, drow.rulebook_version, drow.month), drow.quality, lang),
        in_progress=clock.in_progress(chosen),
        so_far=so_far,
        older_explained=explain_older,
    )
