"""HR read models and actions: the month review, decisions, payroll, rulebook versions.

Everything here takes a plain ``Session``; the web layer only translates HTTP. The
month review filters in SQL by month and event (index ``ix_month_results_month_event_rule``)
and pages every list, so a company of 10,000 agents stays fast. Money and scores stay
``Decimal`` throughout (SQLite stores them as text, so sums are taken in Python).
"""

from __future__ import annotations

import io
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, HrDecisionRow, MonthResultRow, RulebookVersion
from starlevel.db.queries import result_bounds
from starlevel.domain import months as M
from starlevel.domain.explain import explain_text
from starlevel.domain.records import Explanation
from starlevel.domain.ladder import evaluate, evaluated_months, prior_months_needed
from starlevel.domain.model import EVENTS
from starlevel.domain.rulebook import Problem, Rulebook, RulebookError, loads_toml, parse_rulebook, rulebook_to_document
from starlevel.services import audit, clock, corrections, months, recompute as recompute_service, rulebooks as rulebook_store
from starlevel.services.corrections import CorrectionError
from starlevel.services.export import LADDER_COLUMNS, SafeWriter, ladder_rows

__all__ = [
    "SECTIONS",
    "BOM",
    "DecisionInfo",
    "MonthReview",
    "PreviewResult",
    "ReviewItem",
    "csv_stream",
    "decide_and_recompute",
    "ladder_csv_stream",
    "month_range",
    "month_review",
    "parse_candidate",
    "payroll_summary",
    "preview_rulebook",
    "review_item",
    "rulebook_versions",
    "store_rulebook",
    "to_toml",
]

#: The month review's lists, in page order. ``pending`` are proposals waiting for HR
#: (rule ``promote_pending``); ``promote`` are promotions that took effect.
SECTIONS: tuple[str, ...] = ("pending", "promote", "hold", "waitlist", "demote", "review")
#: Excel opens a UTF-8 CSV with Chinese names correctly only when it starts with a BOM.
BOM = "\ufeff"
ZERO = Decimal(0)


# ------------------------------------------------------------------ months

def month_range(session: Session) -> tuple[str | None, str | None]:
    """First and last evaluated month (evaluated months are consecutive)."""
    first, last = result_bounds(session)
    return first, last


def pick_month(session: Session, month: str | None) -> tuple[str | None, list[str]]:
    """The month asked for when it was evaluated, else the latest ended one; plus every evaluated month (newest first)."""
    first, last = month_range(session)
    if first is None or last is None:
        return None, []
    options = list(reversed(M.months_between(first, last)))
    if month and M.is_month(month) and first <= month <= last:
        return month, options
    return clock.default_month(options), options  # the latest month that has ended


# ------------------------------------------------------------------ the month review

@dataclass(frozen=True)
class DecisionInfo:
    action: str
    reason: str
    decided_by: str
    decided_at: datetime
    superseded: int = 0  # earlier decisions on the same proposal


@dataclass(frozen=True)
class ReviewItem:
    agent_id: str
    name: str
    team: str
    track: str
    month: str
    level: int
    next_level: int
    event: str
    rule: str
    section: str
    composite: Decimal | None
    average: Decimal | None
    target: int | None
    rank: int | None
    cap: int | None
    holding: int | None
    explanation: str
    decision: DecisionInfo | None
    decidable: bool  # the month's rulebook asks for HR approval and this is a proposal


@dataclass(frozen=True)
class QuotaLine:
    level: int
    share: Decimal | None
    cap: int | None
    holders: int  # level in effect during the month
    next_holders: int  # level in effect next month
    pending: int  # proposals into this level waiting for HR


@dataclass
class MonthReview:
    month: str | None
    months: list[str]
    rulebook: Rulebook | None
    approval_required: bool
    headcount: int
    counts: dict[str, int]
    sections: dict[str, list[ReviewItem]]
    pages: dict[str, tuple[int, int]]  # section -> (page, pages)
    quotas: list[QuotaLine]
    teams: list[str]
    tracks: list[str]
    team: str = ""
    track: str = ""
    per_page: int = 50


def _section_of(event: str, rule: str) -> str | None:
    if event == "promote":
        return "pending" if rule == "promote_pending" else "promote"
    return event if event in SECTIONS else None


def _section_where(section: str) -> list[Any]:
    if section == "pending":
        return [MonthResultRow.event == "promote", MonthResultRow.rule == "promote_pending"]
    if section == "promote":
        return [MonthResultRow.event == "promote", MonthResultRow.rule != "promote_pending"]
    return [MonthResultRow.event == section]


def _filters(month: str, team: str, track: str) -> list[Any]:
    where: list[Any] = [MonthResultRow.month == month]
    if team:
        where.append(MonthResultRow.team == team)
    if track:
        where.append(MonthResultRow.track == track)
    return where


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def live_decisions(session: Session, month: str, agent_ids: Iterable[str]) -> dict[str, DecisionInfo]:
    """The newest live HR decision per agent for ``month``, with how many it superseded."""
    ids = list(agent_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            HrDecisionRow.agent_id, HrDecisionRow.action, HrDecisionRow.reason, HrDecisionRow.decided_by,
            HrDecisionRow.decided_at, HrDecisionRow.voided_at,
        )
        .where(HrDecisionRow.month == month, HrDecisionRow.agent_id.in_(ids))
        .order_by(HrDecisionRow.decided_at, HrDecisionRow.id)
    ).all()
    earlier: Counter[str] = Counter()
    live: dict[str, DecisionInfo] = {}
    for agent_id, action, reason, by, at, voided in rows:
        if voided is not None:
            earlier[agent_id] += 1
        else:
            live[agent_id] = DecisionInfo(action, reason or "", by or "", at)
    return {
        a: DecisionInfo(d.action, d.reason, d.decided_by, d.decided_at, earlier[a]) for a, d in live.items()
    }


def _item(row: MonthResultRow, name: str, lang: str, decision: DecisionInfo | None, rb: Rulebook) -> ReviewItem:
    """One review row; ``rb`` is the rulebook in force in the row's month (approval, labels)."""
    result = recompute_service.row_to_result(row)
    params = Explanation.of_json(row.explanation, row.rule).params
    section = _section_of(row.event, row.rule) or "none"
    return ReviewItem(
        agent_id=row.agent_id, name=name, team=row.team, track=row.track, month=row.month,
        level=row.level, next_level=row.next_level, event=row.event, rule=row.rule, section=section,
        composite=row.composite, average=_dec(params.average), target=_int(params.to if params.to is not None else params.earned),
        rank=_int(params.rank), cap=_int(params.cap), holding=_int(params.holding),
        explanation=explain_text(result, lang, rb), decision=decision,
        decidable=rb.approval_required and row.event in ("promote", "hold"),
    )


def _approval_in(session: Session, month: str) -> tuple[Rulebook, bool]:
    rb = rulebook_store.current(session, month)
    return rb, rb.approval_required


def review_item(session: Session, agent_id: str, month: str, lang: str) -> ReviewItem | None:
    """One row of the month review (after a decision the row is re-rendered from this)."""
    found = session.execute(
        select(MonthResultRow, Agent.name)
        .join(Agent, Agent.agent_id == MonthResultRow.agent_id)
        .where(MonthResultRow.agent_id == agent_id, MonthResultRow.month == month)
    ).first()
    if found is None:
        return None
    row, name = found
    rb, _approval = _approval_in(session, month)
    return _item(row, name, lang, live_decisions(session, month, [agent_id]).get(agent_id), rb)


def section_items(
    session: Session, month: str, section: str, *, team: str = "", track: str = "", page: int = 1,
    per_page: int = 50, lang: str = "en", rb: Rulebook,
) -> list[ReviewItem]:
    q = (
        select(MonthResultRow, Agent.name)
        .join(Agent, Agent.agent_id == MonthResultRow.agent_id)
        .where(*_filters(month, team, track), *_section_where(section))
        # Target level first (as the engine ranks), then the strongest record.
        .order_by(MonthResultRow.next_level.desc(), MonthResultRow.level.desc(), MonthResultRow.tenure.desc(),
                  MonthResultRow.agent_id)
        .limit(per_page)
        .offset((max(1, page) - 1) * per_page)
    )
    found = session.execute(q).all()
    decisions = live_decisions(session, month, [r.agent_id for r, _n in found])
    items = [_item(r, n, lang, decisions.get(r.agent_id), rb) for r, n in found]
    if section == "waitlist":
        # The engine's own rank within each target level (kept in the explanation).
        items.sort(key=lambda i: (-(i.target or 0), i.rank or 0, i.agent_id))
    return items


def section_counts(session: Session, month: str, *, team: str = "", track: str = "") -> dict[str, int]:
    counts = dict.fromkeys(("none", *SECTIONS), 0)
    rows = session.execute(
        select(MonthResultRow.event, MonthResultRow.rule, func.count())
        .where(*_filters(month, team, track))
        .group_by(MonthResultRow.event, MonthResultRow.rule)
    )
    for event, rule, n in rows:
        counts[_section_of(event, rule) or "none"] += int(n)
    return counts


def quota_usage(session: Session, month: str, rb: Rulebook) -> tuple[int, list[QuotaLine]]:
    """Company-wide headcount and, per level, holders against cap = floor(share × headcount)."""
    by_level = dict(session.execute(
        select(MonthResultRow.level, func.count()).where(MonthResultRow.month == month).group_by(MonthResultRow.level)
    ).all())
    by_next = dict(session.execute(
        select(MonthResultRow.next_level, func.count()).where(MonthResultRow.month == month)
        .group_by(MonthResultRow.next_level)
    ).all())
    headcount = sum(int(n) for n in by_level.values())
    pending: Counter[int] = Counter()
    for (expl,) in session.execute(
        select(MonthResultRow.explanation).where(*_filters(month, "", ""), *_section_where("pending"))
    ):
        to = _int(((expl or {}).get("params") or {}).get("to"))
        if to is not None:
            pending[to] += 1
    lines = []
    for level in rb.levels:
        share = rb.quota(level)
        cap = None if share is None else int(share * headcount)  # floor: both are >= 0
        lines.append(QuotaLine(level, share, cap, int(by_level.get(level, 0)), int(by_next.get(level, 0)), pending[level]))
    return headcount, lines


def teams(session: Session) -> list[str]:
    return [t for (t,) in session.execute(select(Agent.team).distinct().order_by(Agent.team)) if t]


def month_review(
    session: Session, month: str | None = None, *, team: str = "", track: str = "", section: str | None = None,
    page: int = 1, per_page: int = 50, lang: str = "en", only: bool = False,
) -> MonthReview:
    """The review of one month; ``page`` applies to ``section`` (with ``only``: just that section)."""
    chosen, options = pick_month(session, month)
    if chosen is None:
        return MonthReview(None, [], None, False, 0, dict.fromkeys(("none", *SECTIONS), 0), {}, {}, [], [], [],
                           team, track, per_page)
    rb, approval = _approval_in(session, chosen)
    counts = section_counts(session, chosen, team=team, track=track)
    only = only and section in SECTIONS
    wanted = [section] if only else list(SECTIONS)
    sections: dict[str, list[ReviewItem]] = {}
    pages: dict[str, tuple[int, int]] = {}
    for s in wanted:
        n_pages = max(1, -(-counts[s] // per_page))
        p = min(max(1, page if s == section else 1), n_pages)
        pages[s] = (p, n_pages)
        sections[s] = section_items(session, chosen, s, team=team, track=track, page=p, per_page=per_page,
                                    lang=lang, rb=rb) if counts[s] else []
    headcount, quotas = (0, []) if only else quota_usage(session, chosen, rb)
    return MonthReview(
        month=chosen, months=options, rulebook=rb, approval_required=approval, headcount=headcount,
        counts=counts, sections=sections, pages=pages, quotas=quotas, teams=teams(session),
        tracks=list(rb.tracks), team=team, track=track, per_page=per_page,
    )


# ------------------------------------------------------------------ HR decisions

class DecisionError(ValueError):
    """A decision that cannot be made; ``code`` names the problem for a translated message."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


def decide_and_recompute(session: Session, agent_id: str, month: str, *, action: str, reason: str, actor: str) -> None:
    """Approve or hold a proposal, then recompute from its month (same transaction)."""
    if action not in ("approve", "hold"):
        raise DecisionError("bad_action")
    if action == "hold" and not (reason or "").strip():
        raise DecisionError("reason_required")
    if len((reason or "").strip()) > audit.REASON_LIMIT:
        raise DecisionError("reason_too_long")
    if not M.is_month(month) or session.get(MonthResultRow, (agent_id, month)) is None:
        raise DecisionError("not_found")
    if months.is_closed(session, month):
        raise DecisionError("month_closed")
    _rb, approval = _approval_in(session, month)
    if not approval:
        raise DecisionError("approval_off")
    try:
        corrections.decide(session, agent_id, month, action=action, reason=reason, actor=actor)
    except CorrectionError as exc:
        raise DecisionError("not_a_proposal", str(exc)) from exc
    recompute_service.recompute(session, start=month)
    session.flush()


# ------------------------------------------------------------------ CSV streaming

def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True, chunk: int = 500) -> Iterator[bytes]:
    """Encode rows as UTF-8 CSV in chunks (a BOM first, so Excel reads Chinese names right)."""
    buf = io.StringIO()
    writer = SafeWriter(buf, lineterminator="\r\n")  # formula-like cells neutralised
    if bom:
        buf.write(BOM)
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
        if n % chunk == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def ladder_csv_stream(session: Session, *, lang: str = "en") -> Iterator[bytes]:
    """The full ladder export (services/export.py's columns and rows), streamed."""
    return csv_stream(LADDER_COLUMNS, ladder_rows(session, lang=lang))


@dataclass
class TeamPay:
    team: str
    agents: int = 0
    complete: int = 0
    incomplete: int = 0
    fixed: Decimal = ZERO
    performance: Decimal = ZERO
    allowance: Decimal = ZERO
    total: Decimal = ZERO

    def add(self, fixed: Decimal | None, perf: Decimal | None, allowance: Decimal | None, total: Decimal | None) -> None:
        self.agents += 1
        if total is None:
            self.incomplete += 1
            return
        self.complete += 1
        self.fixed += fixed or ZERO
        self.performance += perf or ZERO
        self.allowance += allowance or ZERO
        self.total += total


def payroll_summary(session: Session, month: str) -> tuple[list[TeamPay], TeamPay]:
    """Pay totals per team for ``month`` (and the grand total); incomplete months have no pay yet."""
    by_team: dict[str, TeamPay] = {}
    grand = TeamPay("")
    q = select(
        MonthResultRow.team, MonthResultRow.fixed_pay, MonthResultRow.performance_pay, MonthResultRow.allowance,
        MonthResultRow.total_pay,
    ).where(MonthResultRow.month == month).execution_options(yield_per=5000)
    for team, fixed, perf, allowance, total in session.execute(q):
        by_team.setdefault(team, TeamPay(team)).add(fixed, perf, allowance, total)
        grand.add(fixed, perf, allowance, total)
    return [by_team[t] for t in sorted(by_team)], grand


# ------------------------------------------------------------------ rulebook versions

@dataclass(frozen=True)
class VersionInfo:
    version: int
    effective_from: str
    label: str
    created_by: str
    created_at: datetime
    note: str
    status: str  # "in_force", "scheduled" or "past"


def rulebook_versions(session: Session, at_month: str | None) -> list[VersionInfo]:
    """Every stored version, newest first, marked in force / scheduled / past at ``at_month``."""
    rulebook_store.ensure_default(session)
    rows = session.scalars(select(RulebookVersion).order_by(RulebookVersion.effective_from, RulebookVersion.version)).all()
    month = at_month or "9999-12"
    in_force = rows[0].version if rows else None
    for r in rows:
        if r.effective_from <= month:
            in_force = r.version
    out = []
    seen_in_force = False
    for r in reversed(rows):
        if r.version == in_force:
            status, seen_in_force = "in_force", True
        elif not seen_in_force and r.effective_from > month:
            status = "scheduled"
        else:
            status = "past"
        out.append(VersionInfo(r.version, r.effective_from, r.label, r.created_by, r.created_at, r.note, status))
    return out


def version_document(session: Session, version: int) -> tuple[Rulebook, dict[str, Any]] | None:
    row = session.get(RulebookVersion, version)
    if row is None:
        return None
    rb = parse_rulebook(row.document, version=row.version, effective_from=row.effective_from)
    return rb, rulebook_to_document(rb)


def parse_candidate(text: str, effective_from: str) -> dict[str, Any]:
    """TOML text -> a validated rulebook document. Raises RulebookError listing every problem."""
    problems: list[str] = []
    if not M.is_month(effective_from or ""):
        problems.append(Problem("{path}: not a month (YYYY-MM): {value}", path="effective_from", value=repr(effective_from)))
    if not (text or "").strip():
        raise RulebookError([*problems, Problem("document: empty")])
    try:
        doc = loads_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError([*problems, Problem("document: not valid TOML: {error}", error=str(exc))]) from exc
    try:
        parse_rulebook(doc, version=1, effective_from=effective_from if not problems else "2000-01")
    except RulebookError as exc:
        problems.extend(exc.problems)
    if problems:
        raise RulebookError(problems)
    return doc


@dataclass(frozen=True)
class LevelChange:
    agent_id: str
    name: str
    month: str  # first month whose level or next level differs
    before: int  # level next month at the latest month, stored
    after: int  # the same under the candidate


@dataclass(frozen=True)
class PreviewResult:
    effective_from: str
    start: str | None  # first evaluated month affected (None: none yet)
    end: str | None
    months: int
    events_before: dict[str, int]
    events_after: dict[str, int]
    changed_results: int  # agent-months whose event, level or pay differs
    latest_month: str | None
    pay_before: Decimal
    pay_after: Decimal
    level_changes: list[LevelChange]
    level_changes_total: int

    @property
    def pay_difference(self) -> Decimal:
        return self.pay_after - self.pay_before

    @property
    def changed(self) -> bool:
        return bool(self.changed_results or self.level_changes_total)


def evaluate_in_memory(
    session: Session, rulebooks: Sequence[Rulebook], start: str, *, end: str | None = None,
    agents: Sequence[Any] | None = None, first: str | None = None, last_data: str | None = None,
) -> list[Any]:
    """Run the ladder with ``rulebooks`` from ``start`` (to ``end``, default the last
    evaluated month) over the stored inputs, resuming from the stored results before
    ``start``. Nothing is written: the rulebook preview and the what-if both use this."""
    if agents is None:
        agents = recompute_service.load_agents(session)
    if last_data is None:
        last_data = recompute_service.last_data_month(session)
    evaluated = evaluated_months(agents, last_data)
    if first is None:
        first = evaluated[0] if evaluated else start
    if end is not None:
        agents = [a for a in agents if M.month_of(a.hired_on) <= end]
        last_data = min(last_data, end) if last_data else end
    prior = {} if start <= first else recompute_service.load_prior(session, start, prior_months_needed(rulebooks) + 1)
    evidence = recompute_service.load_evidence(session, rulebooks, start, end or evaluated[-1])
    metrics = recompute_service.load_metrics(session, start, end=end)
    decisions = recompute_service.load_decisions(session, start)
    results = evaluate(agents, evidence, metrics, decisions, rulebooks, last_data_month=last_data,
                       start=None if start <= first else start, prior=prior)
    return results if end is None else [r for r in results if r.month <= end]


def preview_rulebook(session: Session, document: Mapping[str, Any], effective_from: str, *, max_listed: int = 200) -> PreviewResult:
    """Run the ladder with the candidate version added and compare with the stored results.

    Nothing is written: the inputs are loaded the way services/recompute.py loads them
    and :func:`starlevel.domain.ladder.evaluate` runs in memory from the effective month.
    """
    rulebook_store.ensure_default(session)
    stored = rulebook_store.load_all(session)
    next_version = max(rb.version for rb in stored) + 1
    candidate = parse_rulebook(document, version=next_version, effective_from=effective_from)
    rulebooks = sorted([*stored, candidate], key=lambda rb: (rb.effective_from, rb.version))

    agents = recompute_service.load_agents(session)
    last = recompute_service.last_data_month(session)
    evaluated = evaluated_months(agents, last)
    empty = dict.fromkeys(EVENTS, 0)
    if not evaluated or effective_from > evaluated[-1]:
        return PreviewResult(effective_from, None, evaluated[-1] if evaluated else None, 0, empty, dict(empty), 0,
                             None, ZERO, ZERO, [], 0)
    first, end = evaluated[0], evaluated[-1]
    start = max(first, effective_from)
    results = evaluate_in_memory(session, rulebooks, start, agents=agents, first=first, last_data=last)

    old = {
        (aid, m): (event, level, nxt, total)
        for aid, m, event, level, nxt, total in session.execute(
            select(MonthResultRow.agent_id, MonthResultRow.month, MonthResultRow.event, MonthResultRow.level,
                   MonthResultRow.next_level, MonthResultRow.total_pay).where(MonthResultRow.month >= start)
        )
    }
    before: Counter[str] = Counter(v[0] for v in old.values())
    after: Counter[str] = Counter()
    changed = 0
    pay_before = sum((v[3] for (a, m), v in old.items() if m == end and v[3] is not None), ZERO)
    pay_after = ZERO
    first_diff: dict[str, str] = {}
    latest_next: dict[str, tuple[int | None, int]] = {}
    for r in results:
        after[r.event] += 1
        total = r.pay.total if r.pay else None
        if r.month == end and total is not None:
            pay_after += total
        was = old.pop((r.agent_id, r.month), None)
        if was != (r.event, r.level, r.next_level, total):
            changed += 1
        if was is None or was[1] != r.level or was[2] != r.next_level:
            first_diff.setdefault(r.agent_id, r.month)
        latest_next[r.agent_id] = (was[2] if was else None, r.next_level)
    changed += len(old)  # stored results the candidate would not produce
    for aid, m in old:
        first_diff.setdefault(aid, m)
    names = dict(session.execute(select(Agent.agent_id, Agent.name)).all()) if first_diff else {}
    changes = [
        LevelChange(aid, names.get(aid, ""), first_diff[aid], latest_next.get(aid, (None, 0))[0] or 0,
                    latest_next.get(aid, (None, 0))[1])
        for aid in sorted(first_diff)
    ]
    return PreviewResult(
        effective_from=effective_from, start=start, end=end, months=len(M.months_between(start, end)),
        events_before={e: before.get(e, 0) for e in EVENTS}, events_after={e: after.get(e, 0) for e in EVENTS},
        changed_results=changed, latest_month=end, pay_before=pay_before, pay_after=pay_after,
        level_changes=changes[:max_listed], level_changes_total=len(changes),
    )


def store_rulebook(
    session: Session, document: Mapping[str, Any], *, effective_from: str, actor: str, label: str = "", note: str = "",
) -> Rulebook:
    """Store a new version (audited) and recompute from its effective month."""
    rb = rulebook_store.add_version(session, dict(document), effective_from=effective_from, actor=actor,
                                    label=label.strip(), note=note.strip())
    recompute_service.recompute(session, start=effective_from)
    session.flush()
    return rb


# ------------------------------------------------------------------ TOML text of a document

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: Any) -> str:
    text = str(key)
    # Digit-only keys (levels) are quoted, as a person would write them.
    return text if _BARE_KEY.match(text) and not text.isdigit() else json.dumps(text, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit(lines: list[str], path: list[str], table: Mapping[str, Any], *, header: str | None, expand: str) -> None:
    """``expand``: "all" (the document), "lists" (a top-level table) or "none" (an array item)."""
    def expanded(v: Any) -> bool:
        return (expand == "all" and isinstance(v, Mapping)) or (expand != "none" and _is_table_list(v))

    if header is not None:
        if lines:
            lines.append("")
        lines.append(header)
    for k, v in table.items():
        if not expanded(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in table.items():
        if not expanded(v):
            continue
        dotted = ".".join(_key(p) for p in [*path, k])
        if isinstance(v, Mapping):
            _emit(lines, [*path, k], v, header=f"[{dotted}]", expand="lists")
        else:
            for item in v:
                _emit(lines, [*path, k], item, header=f"[[{dotted}]]", expand="none")


def to_toml(document: Mapping[str, Any]) -> str:
    """A rulebook document as TOML text that ``tomllib`` reads back to the same document.

    Top-level tables become ``[table]``, lists of tables ``[[table]]`` (also one level down,
    as in ``[[pay.grades]]``); anything deeper is written inline.
    """
    lines: list[str] = []
    _emit(lines, [], document, header=None, expand="all")
    return "\n".join(lines) + "\n"
