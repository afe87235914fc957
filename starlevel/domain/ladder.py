"""The ladder engine (spec §5): levels, events and pay for every active agent-month.

:func:`evaluate` is a pure function of its inputs. Months are handled as integers
internally (see :mod:`starlevel.domain.months`); the per-agent state carried from month
to month is the level in effect, the month it took effect, the below-floor counter and
the records of the last few months (enough for the longest promotion window).

Explanations
------------
Every :class:`MonthResult` carries ``explanation = {"rule", "params", "checks"}`` plus,
for promote events, ``"status"`` (``"auto"`` | ``"approved"`` | ``"pending"``) and, when an
HR decision exists for the agent-month, ``"hr": {"action", "reason", "decided_by",
"applied"}`` (``applied`` is false when the decision had no effect). Everything is
JSON-ready: decimals are strings, months ``"YYYY-MM"``. Treat explanations as read-only:
some lists (e.g. a month's window months) are shared between results to save memory.
``rule`` is one of :data:`RULES`:

====================  ========  =========================================================
rule                  event     when
====================  ========  =========================================================
``incomplete``        none      the month lacks a metrics row or enough inspections
``probation``         none      complete month on probation
``not_eligible``      none      some promotion condition failed (see ``checks``)
``steady``            none      at the top level, nothing triggered
``promote``           promote   granted (approval off, or HR approved)
``promote_pending``   promote   proposed, waiting for HR: level unchanged, quota slot taken
``hold``              hold      HR held the proposal: no quota slot
``waitlist``          waitlist  eligible, but the target level's quota is full
``demote_red_line``   demote    a red-line defect this month (complete or not)
``demote_floor``      demote    ``after_months`` consecutive complete months below the floor
``review_red_line``   review    as demote_red_line, at the lowest level
``review_floor``      review    as demote_floor, at the lowest level
====================  ========  =========================================================

``params`` by rule:

- promote, promote_pending, hold, waitlist: ``to``, ``window`` (months), ``composites``
  (per window month), ``threshold``, ``average`` (2 places, display only: ranking uses
  the exact mean), ``error_rate`` (4 places, only when the target has a max error rate),
  ``rank`` (1-based among the month's eligible agents for that target), ``cap`` (``None``
  without a quota) and ``holding`` (agents whose next-month level is the target just
  before this agent was considered; pending proposals included).
- not_eligible, probation, incomplete below the top: ``to``, ``window``,
  ``composites``, ``threshold``, ``missing`` (keys of the failed checks), ``floor``,
  ``below_floor``, ``after_months``; incomplete adds ``n_inspections``,
  ``min_inspections``, ``has_metrics``; probation adds ``tenure``, ``probation_months``.
- steady (and incomplete at the top level): ``level``, ``floor``, ``below_floor``,
  ``after_months`` (+ the incomplete keys).
- demote_* / review_*: ``level``, ``to`` (the next-month level), ``codes`` (red-line
  occurrences), ``floor``, ``below_floor``, ``after_months``, ``months`` and
  ``composites`` of the below-floor streak (at most ``after_months``).

``checks`` (empty for steady, demote and review) lists the §5.1 conditions for the next
level in this order, each ``{"key", "ok", "need", "have", ...}``:

- ``track`` (only if the rulebook has no threshold for the agent's track),
- ``probation`` (need = probation months + 1, have = tenure),
- ``tenure`` (need = the row's tenure, have = tenure),
- ``window`` (need = W, have = consecutive qualifying months ending this month, plus
  ``months``, ``threshold``, ``composites`` and ``why``: per month ``None`` or one of
  :data:`WINDOW_REASONS`),
- ``error_rate`` (need = max rate, have = rate or ``None``, plus ``errors``,
  ``complaints``, ``inspections``) when the target has a max error rate,
- ``zero_errors`` (need 0, have = errors + complaints) when the target requires it,
- ``no_demotion`` (always ok here: a triggered month is a demote/review instead).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, fields
from decimal import Decimal, localcontext
from types import CodeType
from typing import Any

from starlevel.domain.model import Agent, HrDecision, Metrics, MonthEvidence, MonthResult, Month, Pay
from starlevel.domain.months import from_index, month_index
from starlevel.domain.pay import compute_pay, coefficient
from starlevel.domain.rulebook import SPECIAL_FIGURES, Rulebook
from starlevel.domain.scoring import CTX, Q2, ROUND_HALF_UP, band, figure, month_scores, quality, vetoed

__all__ = [
    "CHECK_KEYS",
    "RULES",
    "WINDOW_REASONS",
    "direct_checks",
    "evaluate",
    "evaluated_months",
    "prior_months_needed",
    "rulebook_for",
]

RULES: tuple[str, ...] = (
    "incomplete",
    "probation",
    "not_eligible",
    "steady",
    "promote",
    "promote_pending",
    "hold",
    "waitlist",
    "demote_red_line",
    "demote_floor",
    "review_red_line",
    "review_floor",
    "direct",
)
#: rule id -> event
RULE_EVENT: dict[str, str] = {
    "incomplete": "none",
    "probation": "none",
    "not_eligible": "none",
    "steady": "none",
    "promote": "promote",
    "promote_pending": "promote",
    "hold": "hold",
    "waitlist": "waitlist",
    "demote_red_line": "demote",
    "demote_floor": "demote",
    "review_red_line": "review",
    "review_floor": "review",
    "direct": "none",
}
CHECK_KEYS: tuple[str, ...] = (
    "decision_month", "track", "probation", "tenure", "window", "error_rate", "zero_errors", "no_complaints",
    "requires", "no_demotion",
)  # fmt: skip
#: why a window month does not qualify, in the order they are tested
WINDOW_REASONS: tuple[str, ...] = (
    "before_level", "incomplete", "red_line", "below_threshold", "below_pass_mark", "below_item_floor",
)  # fmt: skip

_ERR_Q = Decimal("0.0001")


# --------------------------------------------------------------------------- months


def rulebook_for(rulebooks: Sequence[Rulebook], month: Month) -> Rulebook:
    """The version in force in ``month``: greatest ``effective_from`` <= month (ties: the
    highest version), or the earliest version if none has started yet."""
    if not rulebooks:
        raise ValueError("no rulebook")
    ordered = sorted(rulebooks, key=lambda rb: (rb.effective_from, rb.version))
    chosen = ordered[0]
    for rb in ordered:
        if rb.effective_from <= month:
            chosen = rb
    return chosen


def evaluated_months(agents: Sequence[Agent], last_data_month: Month | None) -> list[Month]:
    """Earliest hire month .. max(last data month, latest hire month) (spec §1)."""
    if not agents:
        return []
    hires = [a.hired_on.year * 12 + a.hired_on.month - 1 for a in agents]
    last = max(hires)
    if last_data_month is not None:
        last = max(last, month_index(last_data_month))
    return [from_index(i) for i in range(min(hires), last + 1)]


def prior_months_needed(rulebooks: Sequence[Rulebook]) -> int:
    """How many months before ``start`` an incremental :func:`evaluate` needs in ``prior``
    (the longest promotion window or demotion streak of any version, at least 1)."""
    return max([1] + [rb.history_months for rb in rulebooks])


def agents_independent(rulebooks: Sequence[Rulebook], first: Month, last: Month) -> bool:
    """Whether each agent's results of the months ``first`` .. ``last`` depend on its own
    inputs (and its own earlier results) only, so that evaluating any split of the agents
    and putting the results together gives the evaluation of all of them. True when every
    version in force in those months reads stars directly off the month's figures; a ladder
    ranks each month's eligible agents together (for its quotas, and in every explanation)."""
    return all(rulebook_for(rulebooks, from_index(i)).is_direct
               for i in range(month_index(first), month_index(last) + 1))


def prior_items_needed(rulebooks: Sequence[Rulebook]) -> bool:
    """Whether ``prior`` must carry item scores (``dimensions``): a promotion with an item
    floor reads the lowest item of every month of its window."""
    return any(p.item_floor is not None for rb in rulebooks for p in rb.promotions)


# --------------------------------------------------------------------------- internals


class _Promo:
    __slots__ = (
        "to", "min_tenure", "window", "thr", "thr_s", "max_err", "max_err_s", "zero", "tracks", "item_floor",
        "item_floor_s", "no_complaints", "requires",
    )  # fmt: skip

    def __init__(self, rb: Rulebook, to: int) -> None:
        p = rb.promotion_to(to)
        assert p is not None
        self.to = to
        self.min_tenure = p.min_tenure
        self.window = p.window
        self.thr = dict(p.threshold)
        self.thr_s = {k: str(v) for k, v in p.threshold.items()}
        self.max_err = p.max_error_rate
        self.max_err_s = None if p.max_error_rate is None else str(p.max_error_rate)
        self.zero = p.zero_errors
        self.tracks = sorted(p.threshold)
        self.item_floor = p.item_floor
        self.item_floor_s = None if p.item_floor is None else str(p.item_floor)
        self.no_complaints = p.no_complaints
        self.requires = p.requires


# dimension kinds
_QUALITY, _PLAIN, _SCALED, _BANDED = 0, 1, 2, 3


class _Info:
    """Per-rulebook data prepared once per evaluate() call."""

    __slots__ = (
        "rb",
        "version",
        "min_level",
        "max_level",
        "floors",
        "floor_s",
        "after",
        "demote_on",
        "red_demotes",
        "approval",
        "promos",
        "quotas",
        "pass_mark",
        "min_insp",
        "dims",
        "qkey",
        "comp_cache",
        "pay_cache",
        "score",
        "direct",
        "policy",
        "req_keys",
        "top_keys",
        "has_veto",
        "allowance_n",
        "commission",
        "floors_on",
        "down_band",
        "wend",
        "mean_test",
        "min_complete",
        "decide_in",
        "skip",
        "stars",
        "star_figures",
        "otherwise",
    )

    def __init__(self, rb: Rulebook) -> None:
        self.rb = rb
        self.version = rb.version
        self.min_level = rb.min_level
        self.max_level = rb.max_level
        self.floors = {lvl: rb.floor(lvl) for lvl in rb.levels}
        self.floor_s = {k: str(v) for k, v in self.floors.items()}
        self.after = rb.after_months
        self.demote_on = rb.demotion_enabled
        self.red_demotes = rb.red_line_demotes
        self.approval = rb.approval_required
        self.promos = {p.to: _Promo(rb, p.to) for p in rb.promotions}
        self.quotas = dict(rb.quotas)
        self.pass_mark = rb.pass_mark
        self.min_insp = rb.min_inspections
        dims = []
        for d in rb.dimensions:
            if d.source == "quality":
                kind = _QUALITY
            elif d.bands:
                kind = _BANDED
            elif d.scale is not None:
                kind = _SCALED
            else:
                kind = _PLAIN
            dims.append((d.key, kind, d.metric, d.scale, d.weight, d.bands, d.direction == "lower"))
        self.dims = tuple(dims)
        self.qkey = next((d.key for d in rb.dimensions if d.source == "quality"), None)
        self.direct = rb.is_direct
        self.policy = rb.policy
        self.req_keys = tuple(i.key for i in rb.inputs if i.required)
        self.top_keys = tuple(d.key for d in rb.dimensions)
        self.has_veto = bool(rb.veto)
        self.allowance_n = rb.allowance_months_without_complaints
        self.commission = rb.commission
        self.floors_on = rb.floors_on
        self.down_band = rb.down_to == "band"
        self.wend = rb.policy.window_end
        self.mean_test = rb.policy.window_test == "mean"
        self.min_complete = rb.policy.min_complete
        self.decide_in = frozenset(rb.policy.decide_in)
        self.skip = rb.policy.skip_levels
        self.stars = _compile_stars(rb) if rb.is_direct else ()
        # Every figure a star's condition reads, once each: a direct month stores these, and
        # its star checks are derived from them on read (:func:`direct_checks`).
        self.star_figures = tuple(dict.fromkeys(name for _level, conds in self.stars for name, *_ in conds))
        self.otherwise = rb.policy.otherwise if rb.policy.otherwise is not None else rb.min_level
        self.comp_cache: dict[Decimal, tuple[str | None, tuple[list[Pay | None], list[Pay | None]]]] = {}
        self.score = _compile_scorer(self) if rb.simple_scoring else _generic_scorer(rb)
        # pay depends on the composite only through its coefficient
        self.pay_cache: dict[Decimal, tuple[list[Pay | None], list[Pay | None]]] = {}

    def band_pay(self, comp: Decimal) -> tuple[str | None, tuple[list[Pay | None], list[Pay | None]]]:
        """(grade band, pay by level when not on probation / on probation) of a composite."""
        try:
            return self.comp_cache[comp]
        except KeyError:
            pass
        rb = self.rb
        coef = coefficient(comp, rb)
        pays = self.pay_cache.get(coef)
        if pays is None:
            levels = range(rb.max_level + 1)
            pays = self.pay_cache[coef] = (
                [None if lvl < rb.min_level else compute_pay(lvl, comp, False, rb) for lvl in levels],
                [None if lvl < rb.min_level else compute_pay(lvl, comp, True, rb) for lvl in levels],
            )
        value = self.comp_cache[comp] = (band(comp, rb), pays)
        return value


def _score(
    info: _Info, ev: MonthEvidence | None, mt: Metrics | None
) -> tuple[dict[str, Decimal], Decimal | None, bool, bool, Decimal | None]:
    """(dimensions, composite or None, complete, all dimensions pass, quality).

    The same arithmetic as :func:`scoring.month_scores`, specialised for speed. Must run
    under ``localcontext(CTX)`` (wide precision: the operators below are exact).
    """
    n = 0 if ev is None else ev.n_inspections
    q = (ev.score_sum / n).quantize(Q2, ROUND_HALF_UP) if n > 0 else None  # type: ignore[union-attr]
    dims: dict[str, Decimal] = {}
    total = _ZERO
    ap = True
    missing = False
    pm = info.pass_mark
    for key, kind, attr, scale, weight, bands, lower in info.dims:
        if kind == _QUALITY:
            v = q
        elif mt is None:
            v = None
        else:
            v = mt.values.get(attr)
            if v is None:
                missing = True
                ap = False
                continue
            if type(v) is not Decimal:
                if isinstance(v, float):
                    raise TypeError(f"metric {attr} of {mt.agent_id} {mt.month} is a float ({v!r}); pass a Decimal")
                v = Decimal(v)
            if kind == _SCALED:
                v = v * scale
            elif kind == _BANDED:
                for b in bands:
                    if b.limit is None or (v <= b.limit if lower else v >= b.limit):
                        v = b.score
                        break
        if v is None:
            missing = True
            ap = False
            continue
        dims[key] = v
        if v < pm:
            ap = False
        total += weight * v
    complete = n >= info.min_insp and _has_required(info, mt)
    comp = total.quantize(Q2, ROUND_HALF_UP) if complete and not missing else None
    return dims, comp, complete, ap, q


def _has_required(info: _Info, mt: Metrics | None) -> bool:
    if mt is None:
        return not info.req_keys
    vals = mt.values
    for k in info.req_keys:
        if k not in vals:
            return False
    return True


def _generic_scorer(rb: Rulebook) -> Callable[[MonthEvidence | None, Metrics | None], tuple[Any, ...]]:
    """The reference scoring (exact fractions, every item kind, the veto) in the engine's shape."""

    def score(ev: MonthEvidence | None, mt: Metrics | None) -> tuple[Any, ...]:
        dims, comp, complete, ap = month_scores(ev, mt, rb)
        return dims, comp, complete, ap, quality(ev)

    return score


def _to_decimal(v: Any, attr: str, mt: Metrics) -> Decimal:
    if isinstance(v, float):
        raise TypeError(f"metric {attr} of {mt.agent_id} {mt.month} is a float ({v!r}); pass a Decimal")
    return Decimal(v)


def _compile_scorer(info: _Info) -> Callable[[MonthEvidence | None, Metrics | None], tuple[Any, ...]]:
    """Straight-line version of :func:`_score` for the common case (metrics present and at
    least one inspection), falling back to :func:`_score` otherwise. Generated from the
    rulebook's dimensions; only validated names and indexes go into the source text."""
    ns: dict[str, Any] = {
        "_score": _score, "_info": info, "_D": Decimal, "_conv": _to_decimal, "_Q2": Q2,
        "_HU": ROUND_HALF_UP, "_pm": info.pass_mark, "_min": info.min_insp,
    }  # fmt: skip
    read = {attr for _key, kind, attr, *_ in info.dims if kind != _QUALITY}
    others = [k for k in info.req_keys if k not in read]
    if info.qkey is not None:
        body = [
            "def score(ev, mt):",
            "    if ev is None or mt is None or ev.n_inspections <= 0:",
            "        return _score(_info, ev, mt)",
            "    vals = mt.values",
            "    n = ev.n_inspections",
            "    q = (ev.score_sum / n).quantize(_Q2, _HU)",
        ]
    else:  # no QA item: a month needs no inspection to be scored
        body = [
            "def score(ev, mt):",
            "    if mt is None:",
            "        return _score(_info, ev, mt)",
            "    vals = mt.values",
            "    n = 0 if ev is None else ev.n_inspections",
            "    q = (ev.score_sum / n).quantize(_Q2, _HU) if n > 0 else None",
        ]
    names = []
    terms = []
    for i, (key, kind, attr, scale, weight, bands, lower) in enumerate(info.dims):
        v = f"v{i}"
        ns[f"_w{i}"] = weight
        names.append((key, v))
        if kind == _QUALITY:
            body.append(f"    {v} = q")
        else:
            assert attr is not None and attr.isidentifier()
            body.append(f"    {v} = vals.get({attr!r})")
            body.append(f"    if {v} is None: return _score(_info, ev, mt)")
            if kind == _SCALED:  # int * Decimal is a Decimal: ratings need no conversion
                body.append(f"    if type({v}) is not _D and type({v}) is not int: {v} = _conv({v}, {attr!r}, mt)")
            else:
                body.append(f"    if type({v}) is not _D: {v} = _conv({v}, {attr!r}, mt)")
            if kind == _SCALED:
                ns[f"_s{i}"] = scale
                body.append(f"    {v} = {v} * _s{i}")
            elif kind == _BANDED:
                ns[f"_b{i}"] = tuple((b.limit, b.score) for b in bands)
                op = "<=" if lower else ">="
                body.append(f"    for lim, sc in _b{i}:")
                body.append(f"        if lim is None or {v} {op} lim:")
                body.append(f"            {v} = sc")
                body.append("            break")
        terms.append(f"_w{i} * {v}")
    ns["_keys"] = tuple(k for k, _ in names)
    body.append("    dims = {" + ", ".join(f"_keys[{i}]: {v}" for i, (_, v) in enumerate(names)) + "}")
    body.append("    ap = " + " and ".join(f"{v} >= _pm" for _, v in names))
    body.append("    if n >= _min" + "".join(f" and {k!r} in vals" for k in others) + ":")
    body.append("        return dims, (" + " + ".join(terms) + ").quantize(_Q2, _HU), True, ap, q")
    body.append("    return dims, None, False, ap, q")
    exec(_compiled("\n".join(body)), ns)  # noqa: S102
    return ns["score"]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> CodeType:
    """Compiling is most of a scorer's cost and the source depends only on the rulebook's
    shape, so each distinct source is compiled once per process (a page view evaluates the
    outlook of one agent and would otherwise compile it on every request)."""
    return compile(source, "<scorer>", "exec")


# A month record: (complete, composite, all_pass, red_line, error_defects, complaints,
# n_inspections, composite as text, why the month cannot count whatever the threshold:
# "incomplete" | "red_line" | None, the lowest top-level item or None).
_Rec = tuple[bool, "Decimal | None", bool, bool, int, int, int, "str | None", "str | None", "Decimal | None"]
_ZERO = Decimal(0)
# Stands in for a month missing from ``prior`` in an incremental run.
_NO_REC: _Rec = (False, None, False, False, 0, 0, 0, None, "before_level", None)


def _rec(
    complete: bool, comp: Decimal | None, ap: bool, red: bool, errs: int, complaints: int, n: int, low: Decimal | None = None
) -> _Rec:
    base = None if complete and not red else ("incomplete" if not complete else "red_line")
    return (complete, comp, ap, red, errs, complaints, n, None if comp is None else str(comp.quantize(Q2)), base, low)


class _St:
    __slots__ = ("aid", "agent", "track", "team", "hire", "leave", "prob", "level", "since", "counter", "hist")

    def __init__(self, agent: Agent) -> None:
        self.aid = agent.agent_id
        self.agent = agent
        self.track = agent.track
        self.team = agent.team
        self.hire = agent.hired_on.year * 12 + agent.hired_on.month - 1
        lo = agent.left_on
        self.leave = 10**9 if lo is None else lo.year * 12 + lo.month - 1
        self.prob = agent.probation_months
        self.level = -1  # not started yet
        self.since = 0
        self.counter = 0
        # Records of the last months, oldest first, the newest being the month last evaluated.
        self.hist: list[_Rec] = []


class _Pending:
    """An eligible agent waiting for the quota step of its month."""

    __slots__ = (
        "idx", "st", "level", "tenure", "prob", "ev", "mt", "dims", "comp", "complete", "ap", "q",
        "promo", "checks", "wsum", "comps", "err_s", "rule", "next_level", "qparams", "status", "hr",
    )  # fmt: skip


def _window(
    st: _St, mi: int, tenure: int, prob: bool, promo: _Promo, months: list[str], info: _Info | None = None,
    fig: Callable[[str], Decimal | None] | None = None,
) -> tuple[bool, list[dict[str, Any]], Decimal, list[str | None], str | None, list[str]]:
    """The promotion conditions (§5.1 and the rulebook's options) for promotion to
    ``promo.to`` at the end of month ``mi``. The one implementation of eligibility: the
    engine decides with it, and the progress panel and the explanation read its checks.

    Returns (eligible, checks, ranking sum (the window's composites, or its mean × W),
    window composites, error rate or None, keys of the failed checks).
    """
    track = st.track
    thr = promo.thr.get(track)
    not_prob = not prob
    ten_ok = tenure >= promo.min_tenure
    missing: list[str] = []
    checks: list[dict[str, Any]] = []
    if info is not None and info.decide_in:
        cal = mi % 12 + 1
        d_ok = cal in info.decide_in
        checks.append({"key": "decision_month", "ok": d_ok, "need": sorted(info.decide_in), "have": cal})
        if not d_ok:
            missing.append("decision_month")
    if thr is None:
        checks.append({"key": "track", "ok": False, "need": promo.tracks, "have": track})
        missing.append("track")
    checks.append({"key": "probation", "ok": not_prob, "need": st.prob + 1, "have": tenure})
    if not not_prob:
        missing.append("probation")
    checks.append({"key": "tenure", "ok": ten_ok, "need": promo.min_tenure, "have": tenure})
    if not ten_ok:
        missing.append("tenure")

    w = promo.window
    wend = 0 if info is None else info.wend
    end = mi - wend
    since = st.since
    first = end - w + 1
    start = first if first > since else since
    take = end - start + 1  # window months at the current level
    hist = st.hist
    top = len(hist) - wend
    wrecs = hist[top - take : top] if take > 0 else []
    cmp = thr if thr is not None else _ZERO
    floor = promo.item_floor
    pad = w - len(wrecs)
    comps: list[str | None] = [None] * pad
    whys: list[str | None] = ["before_level"] * pad
    mean_test = info is not None and info.mean_test
    streak = 0
    n_ok = 0
    csum = _ZERO
    also: dict[int, list[str]] = {}  # window position -> further reasons a failing month did not count
    for r in wrecs:
        comps.append(r[7])
        why = r[8]
        if why is None:
            if mean_test:
                whys.append(None)
                n_ok += 1
                csum += r[1]
                continue
            if r[1] < cmp:
                why = "below_threshold"
            elif not r[2]:
                why = "below_pass_mark"
            elif floor is not None and (r[9] is None or r[9] < floor):
                why = "below_item_floor"
            else:
                whys.append(None)
                streak += 1
                continue
            more = _more_reasons(r, why, floor)
            if more:
                also[len(whys)] = more
        elif why == "red_line" and r[1] is not None and not mean_test:
            more = _more_reasons(r, why, floor, cmp)
            if more:
                also[len(whys)] = more
        whys.append(why)
        streak = 0
    if mean_test:
        assert info is not None
        mean = csum / n_ok if n_ok else None
        bad = n_ok < info.min_complete or mean is None or mean < cmp
        have: Any = n_ok
        need: Any = info.min_complete
    else:
        mean = None
        bad = streak < w
        have, need = streak, promo.window
    wcheck = {
        "key": "window",
        "ok": not bad,
        "need": need,
        "have": have,
        "months": months,
        "threshold": promo.thr_s.get(track),
        "composites": comps,
        "why": whys,
    }
    if also:
        wcheck["also"] = {str(k): v for k, v in also.items()}
    if mean_test:
        wcheck["test"] = "mean"
        wcheck["mean"] = None if mean is None else str(mean.quantize(Q2, ROUND_HALF_UP))
    if floor is not None:
        wcheck["item_floor"] = promo.item_floor_s
    checks.append(wcheck)
    if bad:
        missing.append("window")
    err_s: str | None = None
    errs = compl = n = 0
    if promo.max_err is not None or promo.zero or promo.no_complaints:
        for r in wrecs:
            errs += r[4]
            compl += r[5]
            n += r[6]
    if promo.max_err is not None:
        if n > 0:
            e_ok = (errs + compl) < promo.max_err * n
            err_s = _err_text(errs + compl, n)
        else:
            e_ok = False
        checks.append(
            {
                "key": "error_rate",
                "ok": e_ok,
                "need": promo.max_err_s,
                "have": err_s,
                "errors": errs,
                "complaints": compl,
                "inspections": n,
            }
        )
        if not e_ok:
            missing.append("error_rate")
    if promo.zero:
        z_ok = errs + compl == 0
        checks.append({"key": "zero_errors", "ok": z_ok, "need": 0, "have": errs + compl, "errors": errs, "complaints": compl})
        if not z_ok:
            missing.append("zero_errors")
    if promo.no_complaints:
        c_ok = compl == 0
        checks.append({"key": "no_complaints", "ok": c_ok, "need": 0, "have": compl})
        if not c_ok:
            missing.append("no_complaints")
    for cond in promo.requires:
        c_checks = _condition_checks(cond, fig)
        ok = all(c["ok"] for c in c_checks)
        checks.append({"key": "requires", "ok": ok, "conditions": c_checks})
        if not ok:
            missing.append("requires")
    checks.append({"key": "no_demotion", "ok": True})
    if missing:
        return False, checks, _ZERO, comps, err_s, missing
    if mean_test:
        return True, checks, mean * w, comps, err_s, missing  # type: ignore[operator]
    wsum = _ZERO
    for r in wrecs:
        wsum += r[1]
    return True, checks, wsum, comps, err_s, missing


def _more_reasons(r: _Rec, why: str, floor: Decimal | None, cmp: Decimal | None = None) -> list[str]:
    """The reasons after the first why a complete month did not count (for the progress panel)."""
    more = []
    if why == "red_line" and cmp is not None and r[1] < cmp:
        more.append("below_threshold")
    if why in ("red_line", "below_threshold") and not r[2]:
        more.append("below_pass_mark")
    if floor is not None and why != "below_item_floor" and r[9] is not None and r[9] < floor:
        more.append("below_item_floor")
    return more


def _condition_checks(cond: Any, fig: Callable[[str], Decimal | None] | None) -> list[dict[str, Any]]:
    """One check per figure of a condition: ``{of, op, need, have, ok}`` (have None: no figure)."""
    out = []
    for name in cond.of:
        have = None if fig is None else fig(name)
        out.append({"of": name, "op": cond.op, "need": str(cond.value), "have": None if have is None else str(have),
                    "ok": have is not None and cond.test(have)})  # fmt: skip
    return out


def direct_star(rb: Rulebook, fig: Callable[[str], Decimal | None]) -> tuple[int, list[dict[str, Any]]]:
    """The star a month's figures earn under a direct policy, with the checks of the stars
    from the top down to the one earned (each ``{"key": "star", "level", "ok",
    "conditions": [...]}``): why not higher, and why this one. The engine, the progress panel
    and the explanation all read these."""
    checks: list[dict[str, Any]] = []
    for star in rb.policy.stars:
        conds = [c for cond in star.when for c in _condition_checks(cond, fig)]
        ok = all(c["ok"] for c in conds)
        checks.append({"key": "star", "level": star.level, "ok": ok, "conditions": conds})
        if ok:
            return star.level, checks
    return (rb.policy.otherwise if rb.policy.otherwise is not None else rb.min_level), checks


_OP_TESTS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "at_least": lambda x, v: x >= v, "above": lambda x, v: x > v, "at_most": lambda x, v: x <= v,
    "below": lambda x, v: x < v, "equals": lambda x, v: x == v,
}  # fmt: skip


def _compile_stars(rb: Rulebook) -> tuple[tuple[int, tuple[tuple[str, str, Callable[..., bool], Decimal, str], ...]], ...]:
    return tuple(
        (star.level, tuple((name, c.op, _OP_TESTS[c.op], c.value, str(c.value)) for c in star.when for name in c.of))
        for star in rb.policy.stars
    )


def _direct_level(info: _Info, fig: Callable[[str], Decimal | None]) -> tuple[int, dict[str, str]]:
    """The star :func:`direct_star` names for these figures, without its check records, and
    the figures its conditions read (as text; a missing figure is left out). The records are
    derived from those figures on read by :func:`direct_checks`, through ``direct_star``
    itself, so the stored month and its explanation cannot disagree (proved equal by a
    property test)."""
    have: dict[str, Decimal | None] = {name: fig(name) for name in info.star_figures}
    earned = info.otherwise
    for level, conds in info.stars:
        for name, _op, test, value, _value_s in conds:
            x = have[name]
            if x is None or not test(x, value):
                break
        else:  # every condition of this star holds
            earned = level
            break
    return earned, {k: str(v) for k, v in have.items() if v is not None}


def direct_checks(rb: Rulebook, explanation: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The star checks of a direct month (see :func:`direct_star`): derived from the figures
    its explanation stores, or, for results stored before figures were, the checks stored."""
    explanation = explanation or {}
    figures = explanation.get("figures")
    if figures is None or not rb.is_direct:
        return list(explanation.get("checks") or [])
    values = {k: Decimal(v) for k, v in figures.items()}
    return direct_star(rb, values.get)[1]


@functools.lru_cache(maxsize=4096)
def _err_text(count: int, n: int) -> str:
    """count / n rounded half-up to 4 places, as text (exact whatever the decimal context)."""
    with localcontext(CTX):
        return str((Decimal(count) / n).quantize(_ERR_Q, ROUND_HALF_UP))


def _streak(st: _St, mi: int, count: int, mstr: Mapping[int, str]) -> tuple[list[str], list[str | None]]:
    """The months (and composites) of the current below-floor streak, at most ``count``."""
    recs = st.hist[-count:] if count > 0 else []
    first = mi - len(recs) + 1
    return [mstr[first + k] for k in range(len(recs))], [r[7] for r in recs]


def _lowest(dims: Mapping[str, Any], keys: Sequence[str]) -> Decimal | None:
    low: Decimal | None = None
    for k in keys:
        v = dims.get(k)
        if v is None:
            return None
        v = v if type(v) is Decimal else Decimal(v)
        if low is None or v < low:
            low = v
    return low


def _restore(st: _St, start: int, prior: Sequence[MonthResult], keep: int, top_keys: Sequence[str] = ()) -> None:
    by_month: dict[int, MonthResult] = {}
    for r in prior:
        by_month[month_index(r.month)] = r
    last = by_month.get(start - 1)
    if last is None:
        raise ValueError(
            f"incremental evaluation from {from_index(start)} needs the stored result of "
            f"agent {st.aid!r} for {from_index(start - 1)}"
        )
    st.level = last.next_level
    if last.next_level != last.level:
        st.since = start
        st.counter = 0
    else:
        st.since = month_index(last.level_since)
        st.counter = last.below_floor
    hist = st.hist
    for i in range(start - keep, start):
        r = by_month.get(i)
        if r is None:
            if hist:  # a gap: what came before it cannot count any more
                hist.append(_NO_REC)
            continue
        hist.append(
            _rec(
                r.complete,
                r.composite,
                r.all_dimensions_pass,
                bool(r.red_line_codes),
                r.error_defects,
                r.complaints,
                r.n_inspections,
                _lowest(r.dimensions, top_keys),
            )
        )


class _MonthNames(dict[int, str]):
    def __missing__(self, key: int) -> str:
        value = self[key] = from_index(key)
        return value


def _result_factory() -> Callable[..., MonthResult]:
    """A positional constructor for MonthResult that skips the frozen dataclass's
    per-field ``object.__setattr__`` (several times faster; same object)."""
    names = [f.name for f in fields(MonthResult)]
    ours = [
        "agent_id", "month", "rulebook_version", "track", "team", "tenure", "on_probation", "complete",
        "n_inspections", "quality", "dimensions", "composite", "band", "all_dimensions_pass", "error_defects",
        "complaints", "red_line_codes", "level", "level_since", "below_floor", "event", "next_level", "rule",
        "explanation", "pay",
    ]  # fmt: skip
    try:
        if hasattr(MonthResult, "__post_init__"):
            raise AttributeError("__post_init__")  # it must run: use the ordinary constructor
        setters = {n: getattr(MonthResult, n).__set__ for n in names}
    except AttributeError:  # not a plain slots dataclass
        return lambda *args: MonthResult(**dict(zip(ours, args, strict=True)))
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": MonthResult}
    lines = [f"def make({', '.join(ours)}):", "    o = _new(_cls)"]
    for n in names:
        ns["_set_" + n] = setters[n]
        if n in ours:
            lines.append(f"    _set_{n}(o, {n})")
        else:
            f = next(x for x in fields(MonthResult) if x.name == n)
            if f.default is not MISSING:
                ns["_def_" + n] = f.default
                lines.append(f"    _set_{n}(o, _def_{n})")
            elif f.default_factory is not MISSING:
                ns["_fac_" + n] = f.default_factory
                lines.append(f"    _set_{n}(o, _fac_{n}())")
            else:
                raise TypeError(f"MonthResult.{n} has no default")
    lines.append("    return o")
    exec("\n".join(lines), ns)  # noqa: S102 - generated from dataclass field names only
    return ns["make"]  # type: ignore[no-any-return]


#: MonthResult's positional constructor without the frozen dataclass's per-field checks:
#: arguments in the order of :func:`_result_factory` (the engine, and readers of many stored rows).
make_result: Callable[..., MonthResult] = _result_factory()
_TRIGGER_RULES = {
    (True, "red_line"): "demote_red_line",
    (True, "floor"): "demote_floor",
    (False, "red_line"): "review_red_line",
    (False, "floor"): "review_floor",
}



def _complaints(info: _Info, mt: Metrics | None) -> int:
    key = info.rb.complaints_input
    if mt is None or key is None:
        return 0
    v = mt.values.get(key)
    return 0 if v is None else int(v)


def _figures(
    mt: Metrics | None, dims: Mapping[str, Decimal], comp: Decimal | None, ev: MonthEvidence, complaints: int
) -> Callable[[str], Decimal | None]:
    values = None if mt is None else mt.values

    def fig(name: str) -> Decimal | None:
        if values is not None and name in values and name not in dims and name not in SPECIAL_FIGURES:
            return values[name]
        return figure(name, values=values, dims=dims, composite=comp, evidence=ev, complaints=complaints)

    return fig


def _band_level(info: _Info, comp: Decimal | None, level: int) -> int:
    """The highest level below ``level`` whose floor ``comp`` reaches (at least one step down)."""
    for lvl in range(level - 1, info.min_level, -1):
        if comp is not None and comp >= info.floors.get(lvl, _ZERO):
            return lvl
    return info.min_level


def _adjust_pay(info: _Info, pay: Pay | None, st: _St, mt: Metrics | None, veto: bool) -> Pay | None:
    """The pay parts that depend on more than level and composite: a veto (no performance pay
    and no allowance), the allowance rule (months without complaints), commission."""
    if pay is None:
        return None
    perf = pay.performance
    allowance = pay.allowance
    note_allow = allowance
    if veto:
        perf = allowance = _ZERO.quantize(Q2)
    n = info.allowance_n
    withheld = ""
    if n and allowance:
        recent = st.hist[-n:]
        if len(recent) < n or any(r[5] for r in recent):
            allowance = _ZERO.quantize(Q2)
            withheld = "too_new" if len(recent) < n else "complaint"
    commission = _ZERO.quantize(Q2)
    c = info.commission
    if c is not None and mt is not None and not veto:
        sales = mt.values.get(c.input)
        base = mt.values.get(c.base_input)
        if sales is not None and base is not None:
            above = sales - c.base_share * base
            if above > 0:
                commission = (c.rate * above).quantize(Q2, ROUND_HALF_UP)
    if perf == pay.performance and allowance == note_allow and not commission:
        return pay
    if pay.on_probation:
        total = (info.rb.probation_factor * (pay.fixed + perf)).quantize(Q2, ROUND_HALF_UP) + (
            allowance if info.rb.probation_allowance else _ZERO
        )
    else:
        total = pay.fixed + perf + allowance
    total = (total + commission).quantize(Q2, ROUND_HALF_UP)
    return Pay(pay.pay_grade, pay.fixed, _ZERO if veto else pay.coefficient, perf, allowance, total, pay.on_probation,
               commission, veto, withheld)


def _direct_result(
    info: _Info, st: _St, mi: int, m: str, key: tuple[str, str], tenure: int, prob: bool, ev: MonthEvidence,
    mt: Metrics | None, dims: dict[str, Decimal], comp: Decimal | None, complete: bool, ap: bool, q: Decimal | None,
    complaints: int, fig: Any, veto: tuple[str, ...], dec_get: Any, band_pay: Any, make: Any, mstr: Mapping[int, str],
    next_count: dict[int, int],
) -> MonthResult:
    """One agent-month under a direct policy: the month's figures name the month's level."""
    rb = info.rb
    prev = st.level
    params: dict[str, Any] = {}
    figures: dict[str, str] | None = None
    status = None
    dec = dec_get(key) if dec_get is not None else None
    if not complete:
        rule = "incomplete"
        level = prev
        params = {"n_inspections": ev.n_inspections, "min_inspections": info.min_insp, "has_metrics": mt is not None}
    else:
        earned, figures = _direct_level(info, fig)
        base = rb.policy.otherwise if rb.policy.otherwise is not None else rb.min_level
        if veto:
            earned = base
        level = earned
        rule = "direct"
        params = {"earned": earned, "otherwise": base}
        if earned > base and info.approval:
            if dec is not None and dec.action == "approve":
                status = "approved"
            elif dec is not None and dec.action == "hold":
                rule, level = "hold", base
            else:
                rule, level, status = "promote_pending", base, "pending"
        elif earned > base:
            status = "auto"
    if level != prev:
        st.since = mi
    st.level = level
    event = "hold" if rule == "hold" else "promote" if rule == "promote_pending" else (
        "promote" if level > prev else "demote" if level < prev else "none"
    )
    expl: dict[str, Any] = {"rule": rule, "params": params, "checks": []}
    if figures is not None:
        expl["figures"] = figures  # the star checks are derived from these on read
    if status is not None:
        expl["status"] = status
    if veto:
        expl["veto"] = list(veto)
    if dec is not None:
        applied = (rule == "hold" and dec.action == "hold") or status == "approved"
        expl["hr"] = {"action": dec.action, "reason": dec.reason, "decided_by": dec.decided_by, "applied": applied}
    next_count[level] = next_count.get(level, 0) + 1
    if comp is None:
        band_key = pay = None
    else:
        band_key, pays = band_pay(comp)
        pay = pays[prob][level]
        if info.has_veto or info.allowance_n or info.commission is not None:
            pay = _adjust_pay(info, pay, st, mt, bool(veto))
            if pay is not None and pay.allowance_withheld:
                expl["allowance_withheld"] = {"why": pay.allowance_withheld, "months": info.allowance_n}
    return make(  # type: ignore[no-any-return]
        st.aid, m, info.version, st.track, st.team, tenure, prob, complete, ev.n_inspections,
        q if info.qkey is None else dims.get(info.qkey), dims, comp, band_key, ap, ev.error_defects,
        complaints, ev.red_line_codes, level, mstr[st.since], 0, event, level, rule, expl, pay,
    )  # fmt: skip


# --------------------------------------------------------------------------- engine


def evaluate(
    agents: Sequence[Agent],
    evidence: Mapping[tuple[str, Month], MonthEvidence],
    metrics: Mapping[tuple[str, Month], Metrics],
    decisions: Mapping[tuple[str, Month], HrDecision],
    rulebooks: Sequence[Rulebook],
    *,
    last_data_month: Month | None,
    start: Month | None = None,
    prior: Mapping[str, Sequence[MonthResult]] | None = None,
) -> list[MonthResult]:
    """Evaluate the ladder: one :class:`MonthResult` per active agent per evaluated month
    >= ``start``, sorted by (month, agent_id).

    ``evidence`` should have been computed with the rulebook in force in its month
    (:func:`rulebook_for`). For an incremental run (``start`` after the first evaluated
    month), ``prior`` must hold, for every agent active in the month before ``start``, its
    stored results of at least the last :func:`prior_months_needed` months before
    ``start``; the output then equals the full evaluation's for months >= ``start``.
    """
    months = evaluated_months(agents, last_data_month)
    if not months:
        return []
    if not rulebooks:
        raise ValueError("evaluate() needs at least one rulebook")
    first = month_index(months[0])
    last = month_index(months[-1])
    begin = first if start is None else max(first, month_index(start))
    if begin > last:
        return []

    ordered = sorted(rulebooks, key=lambda rb: (rb.effective_from, rb.version))
    infos = [_Info(rb) for rb in ordered]
    eff = [month_index(rb.effective_from) for rb in ordered]
    keep = prior_months_needed(ordered)
    top_keys = sorted({k for info in infos for k in info.top_keys})

    states = sorted((_St(a) for a in agents), key=lambda s: s.aid)
    for a, b in zip(states, states[1:], strict=False):
        if a.aid == b.aid:
            raise ValueError(f"duplicate agent_id {a.aid!r}")
    if begin > first:
        prior = prior or {}
        for st in states:
            if st.hire < begin <= st.leave:
                _restore(st, begin, prior.get(st.aid, ()), keep, top_keys)

    # Hundreds of thousands of acyclic objects: the cyclic collector would only rescan
    # them over and over (it more than doubles the run time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with localcontext(CTX):
            return _run(states, infos, eff, keep, begin, last, evidence, metrics, decisions)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run(
    states: list[_St],
    infos: list[_Info],
    eff: list[int],
    keep: int,
    begin: int,
    last: int,
    evidence: Mapping[tuple[str, Month], MonthEvidence],
    metrics: Mapping[tuple[str, Month], Metrics],
    decisions: Mapping[tuple[str, Month], HrDecision],
) -> list[MonthResult]:
    mstr = _MonthNames((i, from_index(i)) for i in range(begin - keep - 1, last + 2))
    ev_get = evidence.get
    mt_get = metrics.get
    dec_get = decisions.get
    has_decisions = bool(decisions)
    empty_ev = MonthEvidence()
    results: list[Any] = []
    out = results.append
    make = make_result
    trigger_rules = _TRIGGER_RULES
    rule_event = RULE_EVENT

    for mi in range(begin, last + 1):
        m = mstr[mi]
        info = infos[0]
        for j, e in enumerate(eff):
            if e <= mi:
                info = infos[j]
        version = info.version
        floors = info.floors
        floor_s = info.floor_s
        min_level = info.min_level
        max_level = info.max_level
        after = info.after
        demote_on = info.demote_on
        red_demotes = info.red_demotes
        promos = info.promos
        qkey = info.qkey
        band_pay = info.band_pay
        score = info.score
        min_insp = info.min_insp
        wend = info.wend
        window_months = {
            w: [mstr[i] for i in range(mi - wend - w + 1, mi - wend + 1)] for w in {p.window for p in promos.values()}
        }
        direct = info.direct
        need_low = any(p.item_floor is not None for p in promos.values())
        pay_extras = info.has_veto or info.allowance_n or info.commission is not None
        has_requires = any(p.requires for p in promos.values())

        headcount = 0
        next_count: dict[int, int] = {}
        eligible: dict[int, list[_Pending]] = {}

        # Step 1 (§5.1, §5.2): scores, counter, demote/review, eligibility. Every agent
        # that is not eligible for a promotion is final now; eligible ones keep a slot.
        for st in states:
            if not st.hire <= mi <= st.leave:
                continue
            headcount += 1
            aid = st.aid
            level = st.level
            if level < 0:
                level = st.level = info.rb.starting_level(st.agent.initial_level)
                st.since = mi
                st.counter = 0
            elif level > max_level:  # a later rulebook version with fewer levels
                level = st.level = max_level
                st.since = mi
                st.counter = 0
            tenure = mi - st.hire + 1
            prob = tenure <= st.prob
            key = (aid, m)
            ev = ev_get(key)
            mt = mt_get(key)
            dims, comp, complete, ap, q = score(ev, mt)
            if ev is None:
                ev = empty_ev
            red = bool(ev.red_line_codes)
            if complete and comp < floors.get(level, _ZERO):  # type: ignore[operator]
                counter = st.counter = st.counter + 1
            else:
                counter = st.counter = 0
            complaints = _complaints(info, mt)
            hist = st.hist
            hist.append(
                (
                    complete, comp, ap, red, ev.error_defects, complaints, ev.n_inspections,
                    None if comp is None else str(comp), None if complete and not red else ("incomplete" if not complete else "red_line"),
                    _lowest(dims, info.top_keys) if need_low else None,
                )
            )  # fmt: skip (same as _rec(); comp is already quantized to 2 places)
            if len(hist) > keep:
                del hist[0]
            veto = vetoed(info.rb, mt, ev) if info.has_veto else ()
            fig = None
            if direct or has_requires:
                fig = _figures(mt, dims, comp, ev, complaints)

            if direct:
                out(_direct_result(info, st, mi, m, key, tenure, prob, ev, mt, dims, comp, complete, ap, q, complaints,
                                   fig, veto, dec_get if has_decisions else None, band_pay, make, mstr, next_count))  # fmt: skip
                continue

            trigger = None
            if demote_on:
                if red and red_demotes:
                    trigger = "red_line"
                elif counter >= after and info.floors_on:
                    trigger = "floor"
            next_level = level
            checks: list[dict[str, Any]]
            params: dict[str, Any]
            if trigger is not None:
                down = level > min_level
                rule = trigger_rules[down, trigger]
                if down:
                    next_level = level - 1
                    if trigger == "floor" and info.down_band:
                        next_level = _band_level(info, comp, level)
                checks = []
                smonths, scomps = _streak(st, mi, min(counter, after), mstr)
                params = {
                    "level": level,
                    "to": next_level,
                    "codes": list(ev.red_line_codes),
                    "floor": floor_s[level],
                    "below_floor": counter,
                    "after_months": after,
                    "months": smonths,
                    "composites": scomps,
                }
            else:
                promo = promos.get(level + 1) if level < max_level else None
                if promo is not None and info.skip:
                    # Multi-step: the highest target whose conditions all hold wins.
                    for target in range(max_level, level + 1, -1):
                        hi = promos.get(target)
                        if hi is not None and _window(st, mi, tenure, prob, hi, window_months[hi.window], info, fig)[0]:
                            promo = hi
                            break
                if promo is None:  # the top level
                    checks = []
                    params = {"level": level, "floor": floor_s[level], "below_floor": counter, "after_months": after}
                    if complete:
                        rule = "steady"
                    else:
                        rule = "incomplete"
                        params["n_inspections"] = ev.n_inspections
                        params["min_inspections"] = min_insp
                        params["has_metrics"] = mt is not None
                else:
                    wm = window_months[promo.window]
                    ok, checks, wsum, comps, err_s, missing = _window(st, mi, tenure, prob, promo, wm, info, fig)
                    if ok:
                        p = _Pending()
                        p.idx = len(results)
                        out(None)  # filled in by step 2
                        p.st = st
                        p.level = level
                        p.tenure = tenure
                        p.prob = prob
                        p.ev = ev
                        p.mt = mt
                        p.dims = dims
                        p.comp = comp
                        p.complete = complete
                        p.ap = ap
                        p.q = q
                        p.promo = promo
                        p.checks = checks
                        p.wsum = wsum
                        p.comps = comps
                        p.err_s = err_s
                        p.next_level = level
                        p.status = None
                        p.hr = None
                        eligible.setdefault(promo.to, []).append(p)
                        next_count[level] = next_count.get(level, 0) + 1
                        continue
                    params = {
                        "to": promo.to,
                        "window": wm,
                        "composites": comps,
                        "threshold": promo.thr_s.get(st.track),
                        "missing": missing,
                        "floor": floor_s[level],
                        "below_floor": counter,
                        "after_months": after,
                    }
                    if not complete:
                        rule = "incomplete"
                        params["n_inspections"] = ev.n_inspections
                        params["min_inspections"] = min_insp
                        params["has_metrics"] = mt is not None
                    elif prob:
                        rule = "probation"
                        params["tenure"] = tenure
                        params["probation_months"] = st.prob
                    else:
                        rule = "not_eligible"
            next_count[next_level] = next_count.get(next_level, 0) + 1

            expl: dict[str, Any] = {"rule": rule, "params": params, "checks": checks}
            dec = dec_get(key) if has_decisions else None
            if dec is not None:
                expl["hr"] = {"action": dec.action, "reason": dec.reason, "decided_by": dec.decided_by, "applied": False}
            if veto:
                expl["veto"] = list(veto)
            if comp is None:
                band_key = pay = None
            else:
                band_key, pays = band_pay(comp)
                pay = pays[prob][level]
                if pay_extras:
                    pay = _adjust_pay(info, pay, st, mt, bool(veto))
                    if pay is not None and pay.allowance_withheld:
                        expl["allowance_withheld"] = {"why": pay.allowance_withheld, "months": info.allowance_n}
            out(
                make(
                    aid, m, version, st.track, st.team, tenure, prob, complete, ev.n_inspections,
                    q if qkey is None else dims.get(qkey), dims, comp, band_key, ap, ev.error_defects,
                    complaints, ev.red_line_codes, level, mstr[st.since], counter, rule_event[rule],
                    next_level, rule, expl, pay,
                )
            )  # fmt: skip
            if next_level != level:
                st.level = next_level
                st.since = mi + 1
                st.counter = 0

        if not eligible:
            continue

        # Step 2 (§5.3, §5.4, §5.6): promotions, highest target first, within quotas.
        approval = info.approval
        for target in sorted(eligible, reverse=True):
            cands = eligible[target]
            cands.sort(key=lambda r: (-r.wsum, -r.tenure, r.st.aid))
            share = info.quotas.get(target)
            cap = None if share is None else int(share * headcount)
            for rank, p in enumerate(cands, 1):
                dec = dec_get((p.st.aid, m)) if approval else None
                holding = next_count.get(target, 0)
                p.qparams = {"rank": rank, "cap": cap, "holding": holding}
                if dec is not None and dec.action == "hold":
                    p.rule = "hold"
                    p.hr = dec
                    continue
                if cap is not None and holding >= cap:
                    p.rule = "waitlist"
                    continue
                next_count[target] = holding + 1
                if not approval:
                    p.rule = "promote"
                    p.status = "auto"
                elif dec is not None and dec.action == "approve":
                    p.rule = "promote"
                    p.status = "approved"
                    p.hr = dec
                else:
                    p.rule = "promote_pending"
                    p.status = "pending"
                    continue  # the slot is taken, but the level does not change yet
                next_count[p.level] -= 1
                p.next_level = target

        # Step 3: the eligible agents' results.
        for cands in eligible.values():
            for p in cands:
                st = p.st
                level = p.level
                rule = p.rule
                comp = p.comp
                ev = p.ev
                mt = p.mt
                promo = p.promo
                params = {
                    "to": promo.to,
                    "window": window_months[promo.window],
                    "composites": p.comps,
                    "threshold": promo.thr_s[st.track],
                    "average": str((p.wsum / promo.window).quantize(Q2, ROUND_HALF_UP)),
                }
                if p.err_s is not None:
                    params["error_rate"] = p.err_s
                params.update(p.qparams)
                expl = {"rule": rule, "params": params, "checks": p.checks}
                if p.status is not None:
                    expl["status"] = p.status
                dec = p.hr
                if dec is not None:
                    expl["hr"] = {"action": dec.action, "reason": dec.reason, "decided_by": dec.decided_by, "applied": True}
                else:
                    dec = dec_get((st.aid, m))
                    if dec is not None:
                        expl["hr"] = {"action": dec.action, "reason": dec.reason, "decided_by": dec.decided_by, "applied": False}
                band_key, pays = band_pay(comp)  # type: ignore[arg-type]
                pay = pays[p.prob][level]
                if pay_extras:
                    pay = _adjust_pay(info, pay, st, mt, False)
                    if pay is not None and pay.allowance_withheld:
                        expl["allowance_withheld"] = {"why": pay.allowance_withheld, "months": info.allowance_n}
                results[p.idx] = make(
                    st.aid, m, version, st.track, st.team, p.tenure, p.prob, p.complete, ev.n_inspections,
                    p.q if qkey is None else p.dims.get(qkey), p.dims, comp, band_key, p.ap, ev.error_defects,
                    _complaints(info, mt), ev.red_line_codes, level, mstr[st.since], st.counter,
                    rule_event[rule], p.next_level, rule, expl, pay,
                )  # fmt: skip
                if p.next_level != level:
                    st.level = p.next_level
                    st.since = mi + 1
                    st.counter = 0
    return results


# --------------------------------------------------------------------------- outlook


def outlook(agent: Agent, results: Sequence[MonthResult], rb: Rulebook) -> dict[str, Any]:
    """Where ``agent`` stands after its last result, judged by the engine's own code.

    ``results`` are the agent's stored results, oldest first (at least the last
    :func:`prior_months_needed` months). The state after the last month is rebuilt exactly as
    an incremental run resumes it, and the promotion conditions for the next level are judged
    by :func:`_window` at the end of the last month, the same function that decided it: the
    engine, the progress panel and the explanation cannot disagree.

    Returns a JSON-ready dict: ``level`` (in effect from the month after), ``level_since``,
    ``tenure``, ``below_floor``, ``target`` (None at the top), ``eligible``, ``checks`` (the
    engine's check records) and ``missing``; under a direct policy ``checks`` are the stars'
    conditions from the last month's own explanation.
    """
    if not results:
        raise ValueError("outlook() needs at least one result")
    last = results[-1]
    mi = month_index(last.month)
    st = _St(agent)
    info = _Info(rb)
    _restore(st, mi + 1, results, prior_months_needed([rb]), info.top_keys)
    level = min(max(st.level, rb.min_level), rb.max_level)
    st.level = level
    tenure = mi - st.hire + 1
    prob = tenure <= st.prob
    out: dict[str, Any] = {
        "as_of": last.month,
        "level": level,
        "level_since": from_index(st.since),
        "tenure": tenure,
        "on_probation": prob,
        "below_floor": st.counter,
        "target": None,
        "eligible": False,
        "checks": [],
        "missing": [],
        "pending": last.rule == "promote_pending",
    }
    if rb.is_direct:
        # The month's own figures name the level: the next star up and what held it back.
        stars = [c for c in direct_checks(rb, last.explanation) if c.get("key") == "star"]
        above = [c for c in stars if c.get("level", 0) > last.level]
        if above:
            nearest = above[-1]
            out["target"] = nearest["level"]
            out["checks"] = list(nearest.get("conditions", []))
            out["missing"] = [c["of"] for c in out["checks"] if not c.get("ok")]
        return out
    promo = info.promos.get(level + 1) if level < rb.max_level else None
    if promo is None:
        return out
    wend = info.wend
    months = [from_index(i) for i in range(mi - wend - promo.window + 1, mi - wend + 1)]
    ok, checks, _wsum, _comps, _err, missing = _window(st, mi, tenure, prob, promo, months, info, None)
    out.update(target=promo.to, eligible=ok, checks=checks, missing=missing)
    return out
