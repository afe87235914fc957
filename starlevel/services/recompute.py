"""Recompute the ladder: load inputs, run the pure engine, cache the results.

The database keeps inputs and caches results. A recompute from month ``m``
rebuilds the results of ``m`` and later only: the state at the start of ``m``
(levels, counters, windows) comes from the cached results of the months before.
Inspections are aggregated per agent-month inside the database (the only part
of the work that scales with the number of inspections).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import os
import threading
import time
from datetime import timedelta
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Engine, Row, Text, bindparam, case, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from starlevel.db.models import Agent as AgentRow
from starlevel.db.queries import RESULT_BOUNDS, core_connection, result_bounds
from starlevel.db.models import (
    HrDecisionRow,
    IdCounter,
    Inspection,
    InspectionDefect,
    MonthlyMetrics,
    MonthResultRow,
    RecomputeRequest,
    utcnow,
)
from starlevel.domain import months as M
from starlevel.domain.ladder import (
    agents_independent, evaluate, evaluated_months, make_result, prior_items_needed, prior_months_needed,
)
from starlevel.domain.model import Agent, HrDecision, Metrics, MonthEvidence, MonthResult, Pay
from starlevel.domain.rulebook import Rulebook
from starlevel.services import forked, locks, results_stamp
from starlevel.services import months as month_service
from starlevel.services import rulebooks as rulebook_store

log = logging.getLogger("starlevel.recompute")
HUNDRED = Decimal(100)
INSERT_CHUNK = 5000
# Months evaluated and written per step of a recompute (bounds the results held in memory).
CHUNK_MONTHS = 12


@dataclass(frozen=True)
class RecomputeStats:
    start: str | None
    end: str | None
    months: int
    results: int
    seconds: float
    phases: dict[str, float]
    processes: int = 1  # this one, and the children that evaluated for it


# ---------------------------------------------------------------- loading inputs

_AGENT_COLUMNS = (AgentRow.agent_id, AgentRow.name, AgentRow.track, AgentRow.team, AgentRow.hired_on,
                  AgentRow.left_on, AgentRow.initial_level, AgentRow.probation_months)
_AGENTS = select(*_AGENT_COLUMNS).order_by(AgentRow.agent_id)
_AGENT = select(*_AGENT_COLUMNS).where(AgentRow.agent_id == bindparam("agent_id"))
_HIRE_RANGE = select(  # two index lookups (one SELECT of both would scan)
    select(func.min(AgentRow.hired_on)).scalar_subquery(), select(func.max(AgentRow.hired_on)).scalar_subquery()
)
_LAST_DATA = select(
    select(func.max(Inspection.month)).where(Inspection.voided_at.is_(None)).scalar_subquery(),
    select(func.max(MonthlyMetrics.month)).scalar_subquery(),
)


def load_agents(session: Session) -> list[Agent]:
    return [Agent(*r) for r in core_connection(session).execute(_AGENTS)]


def load_agent(session: Session, agent_id: str) -> Agent | None:
    row = core_connection(session).execute(_AGENT, {"agent_id": agent_id}).first()
    return None if row is None else Agent(*row)


def _latest(*months: str | None) -> str | None:
    found = [m for m in months if m]
    return max(found) if found else None


def last_data_month(session: Session) -> str | None:
    return _latest(*core_connection(session).execute(_LAST_DATA).one())


def _version_ranges(rulebooks: Sequence[Rulebook], start: str, end: str) -> list[tuple[Rulebook, str, str]]:
    """Split [start, end] into the spans governed by each rulebook version."""
    spans: list[tuple[Rulebook, str, str]] = []
    month = start
    while month <= end:
        rb = rulebook_store.for_month(list(rulebooks), month)
        later = [r.effective_from for r in rulebooks if r.effective_from > month]
        stop = min([M.add_months(min(later), -1), end]) if later else end
        spans.append((rb, month, stop))
        month = M.add_months(stop, 1)
    return spans


def _centi(value: Decimal) -> int:
    scaled = value * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"deduction {value} has more than 2 decimal places")
    return int(scaled)


# Per parsed rulebook (parsed once per process): building these CASE expressions cost more
# than running the one-agent queries that use them.
_DEFECT_CASES: dict[int, tuple[Rulebook, Any, Any]] = {}


def _defect_cases(rb: Rulebook):  # type: ignore[no-untyped-def]
    cached = _DEFECT_CASES.get(id(rb))
    if cached is not None and cached[0] is rb:
        return cached[1], cached[2]
    deduction = case(
        {d.code: literal(_centi(rb.deduction(d.code))) for d in rb.defects},
        value=InspectionDefect.code,
        else_=literal(0),
    )
    is_error = case(
        {d.code: literal(1) for d in rb.defects if rb.is_error(d.code)} or {"": literal(0)},
        value=InspectionDefect.code,
        else_=literal(0),
    )
    if len(_DEFECT_CASES) > 256:
        _DEFECT_CASES.clear()
    _DEFECT_CASES[id(rb)] = (rb, deduction, is_error)
    return deduction, is_error


def _live_in_range(first: Any, last: Any, agent_id: Any | None, whole: bool = False) -> list[Any]:
    """Live inspections of the range (values, or bound parameters). Over everything, no month
    bounds: SQLite then groups along the (agent_id, month) index instead of sorting what the
    month index returns."""
    return [
        Inspection.voided_at.is_(None),
        *([] if whole else [Inspection.month >= first, Inspection.month <= last]),
        *([Inspection.agent_id == agent_id] if agent_id is not None else []),
    ]


@dataclass(frozen=True)
class EvidenceStatements:
    """The evidence aggregates of one rulebook for one shape of range, with the range as
    bound parameters (``first``, ``last`` unless ``whole``; ``agent_id`` for one agent)."""

    counts: Any
    sums: Any
    clamp: Any | None  # None: no inspection can reach the base
    red: Any | None  # None: the rulebook has no red-line defect
    base: int  # the inspection base in hundredths

    def params(self, first: str, last: str, agent_id: str | None, whole: bool) -> dict[str, str]:
        return {**({} if whole else {"first": first, "last": last}),
                **({"agent_id": agent_id} if agent_id is not None else {})}


# Per parsed rulebook and shape (rulebooks are parsed once per process). A statement built
# once keeps its compiled form and cache key: building and keying these CASE expressions
# anew cost far more than running the one-agent queries (about 2 ms of a 5 ms save).
_EVIDENCE: dict[tuple[int, bool, bool], tuple[Rulebook, EvidenceStatements]] = {}


def evidence_statements(rb: Rulebook, *, whole: bool = False, one_agent: bool = False) -> EvidenceStatements:
    """Four aggregates whose combination is exactly the per-inspection arithmetic:

    1. live inspections per agent-month;
    2. Σ deductions (in hundredths) and error occurrences per agent-month;
    3. the inspections whose deductions could pass the base (the only ones the
       ``max(0, …)`` clamp can touch), with their Σ deductions;
    4. the red-line defects per agent-month, in the order they were found.

    ``whole``: the range covers every inspection, so (3) needs no join.
    """
    key = (id(rb), whole, one_agent)
    cached = _EVIDENCE.get(key)
    if cached is not None and cached[0] is rb:
        return cached[1]
    deduction, is_error = _defect_cases(rb)
    live = _live_in_range(bindparam("first"), bindparam("last"), bindparam("agent_id") if one_agent else None, whole)
    counts = select(Inspection.agent_id, Inspection.month, func.count()).where(*live).group_by(
        Inspection.agent_id, Inspection.month
    )
    sums = (
        select(Inspection.agent_id, Inspection.month, func.sum(deduction), func.sum(is_error))
        .select_from(InspectionDefect)
        .join(Inspection, Inspection.inspection_id == InspectionDefect.inspection_id)
        .where(InspectionDefect.voided_at.is_(None), *live)
        .group_by(Inspection.agent_id, Inspection.month)
    )
    biggest = max((_centi(rb.deduction(d.code)) for d in rb.defects), default=0)
    base = _centi(rb.inspection_base)
    clamp = None
    if biggest > 0:
        at_least = -(-base // biggest)  # fewer defects than this cannot reach the base
        clamp = (
            select(InspectionDefect.inspection_id, func.sum(deduction))
            .where(InspectionDefect.voided_at.is_(None))
            .group_by(InspectionDefect.inspection_id)
            .having(func.count() >= at_least)
        )
        if not whole:
            clamp = clamp.join(Inspection, Inspection.inspection_id == InspectionDefect.inspection_id).where(*live)
    red_codes = [d.code for d in rb.defects if rb.is_red_line(d.code)]
    red = None
    if red_codes:
        red = (
            select(Inspection.agent_id, Inspection.month, InspectionDefect.code)
            .join(InspectionDefect, InspectionDefect.inspection_id == Inspection.inspection_id)
            .where(InspectionDefect.voided_at.is_(None), InspectionDefect.code.in_(red_codes), *live)
            .order_by(Inspection.agent_id, Inspection.contact_on, Inspection.inspection_id, InspectionDefect.position)
        )
    statements = EvidenceStatements(counts, sums, clamp, red, base)
    if len(_EVIDENCE) > 256:
        _EVIDENCE.clear()
    _EVIDENCE[key] = (rb, statements)
    return statements


def load_evidence(
    session: Session, rulebooks: Sequence[Rulebook], start: str, end: str, agent_id: str | None = None,
    *, whole: bool = False,
) -> dict[tuple[str, str], MonthEvidence]:
    evidence: dict[tuple[str, str], MonthEvidence] = {}
    spans = _version_ranges(rulebooks, start, end)
    whole = whole and len(spans) == 1
    conn = core_connection(session)
    for rb, first, last in spans:
        q = evidence_statements(rb, whole=whole, one_agent=agent_id is not None)
        params = q.params(first, last, agent_id, whole)
        base = q.base
        totals: dict[tuple[str, str], list[int]] = {}
        for aid, month, n in conn.execute(q.counts, params):
            totals[(aid, month)] = [int(n), int(n) * base, 0]
        for aid, month, ded, errs in conn.execute(q.sums, params):
            t = totals[(aid, month)]
            t[1] -= int(ded or 0)
            t[2] = int(errs or 0)
        if q.clamp is not None:
            over = {iid: int(ded) - base for iid, ded in conn.execute(q.clamp, params) if int(ded) > base}
            if over:
                for iid, aid, month in session.execute(
                    select(Inspection.inspection_id, Inspection.agent_id, Inspection.month).where(
                        Inspection.inspection_id.in_(list(over)), *_live_in_range(first, last, agent_id)
                    )
                ):
                    totals[(aid, month)][1] += over[iid]  # the score stops at 0, not below
        red: dict[tuple[str, str], list[str]] = defaultdict(list)
        if q.red is not None:
            for aid, month, code in conn.execute(q.red, params):
                red[(aid, month)].append(code)
        for key, (n, score_centi, errs) in totals.items():
            evidence[key] = MonthEvidence(
                n_inspections=n,
                score_sum=Decimal(score_centi) / HUNDRED,
                error_defects=errs,
                red_line_codes=tuple(red.get(key, ())),
            )
    return evidence


_METRICS: dict[tuple[bool, bool], Any] = {}


def _metrics_statement(to_end: bool, one_agent: bool) -> Any:
    stmt = _METRICS.get((to_end, one_agent))
    if stmt is None:
        t = MonthlyMetrics.__table__
        stmt = _METRICS[(to_end, one_agent)] = select(t.c.agent_id, t.c.month, cast(t.c["values"], Text)).where(
            t.c.month >= bindparam("start"), *([t.c.month <= bindparam("end")] if to_end else []),
            *([t.c.agent_id == bindparam("agent_id")] if one_agent else []),
        )
    return stmt


def load_metrics(
    session: Session, start: str, agent_id: str | None = None, *, end: str | None = None
) -> dict[tuple[str, str], Metrics]:
    # The JSON is read as text and parsed with orjson; equal decimal strings (most of
    # them repeat) share one Decimal.
    params = {"start": start, **({"end": end} if end else {}), **({"agent_id": agent_id} if agent_id else {})}
    rows = core_connection(session).execute(_metrics_statement(bool(end), bool(agent_id)), params)
    loads = orjson.loads
    decimals: dict[str, Decimal] = {}
    out: dict[tuple[str, str], Metrics] = {}
    for aid, month, text in rows:
        values: dict[str, Decimal] = {}
        for k, v in loads(text).items():
            d = decimals.get(v)
            if d is None:
                d = decimals[v] = Decimal(v)
            values[k] = d
        out[(aid, month)] = Metrics(aid, month, values)
    return out


_DECISIONS = {
    one_agent: select(
        HrDecisionRow.agent_id, HrDecisionRow.month, HrDecisionRow.action, HrDecisionRow.reason,
        HrDecisionRow.decided_by,
    ).where(
        HrDecisionRow.voided_at.is_(None), HrDecisionRow.month >= bindparam("start"),
        *([HrDecisionRow.agent_id == bindparam("agent_id")] if one_agent else []),
    ).order_by(HrDecisionRow.decided_at, HrDecisionRow.id)
    for one_agent in (False, True)
}


def load_decisions(session: Session, start: str, agent_id: str | None = None) -> dict[tuple[str, str], HrDecision]:
    """The newest live decision per agent-month."""
    params = {"start": start, **({"agent_id": agent_id} if agent_id else {})}
    rows = core_connection(session).execute(_DECISIONS[agent_id is not None], params)
    return {(r[0], r[1]): HrDecision(*r) for r in rows}


# ---------------------------------------------------------------- result rows

RESULT_COLUMNS = [c.name for c in MonthResultRow.__table__.columns]
# row_to_result unpacks rows by position: the table's columns in this order.
if RESULT_COLUMNS != [
    "agent_id", "month", "rulebook_version", "track", "team", "tenure", "on_probation", "complete", "n_inspections",
    "quality", "dimensions", "composite", "band", "all_dimensions_pass", "error_defects", "complaints",
    "red_line_codes", "level", "level_since", "below_floor", "event", "next_level", "rule", "explanation",
    "pay_grade", "fixed_pay", "coefficient", "performance_pay", "allowance", "total_pay",
]:  # pragma: no cover - a schema change must update row_to_result
    raise RuntimeError(f"month_results columns changed: {RESULT_COLUMNS}")

def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def result_to_row(r: MonthResult, pay_grade_of: Callable[[int], str]) -> dict[str, Any]:
    pay = r.pay
    return {
        "agent_id": r.agent_id,
        "month": r.month,
        "rulebook_version": r.rulebook_version,
        "track": r.track,
        "team": r.team,
        "tenure": r.tenure,
        "on_probation": r.on_probation,
        "complete": r.complete,
        "n_inspections": r.n_inspections,
        "quality": r.quality,
        "dimensions": {k: str(v) for k, v in r.dimensions.items()},
        "composite": r.composite,
        "band": r.band,
        "all_dimensions_pass": r.all_dimensions_pass,
        "error_defects": r.error_defects,
        "complaints": r.complaints,
        "red_line_codes": ";".join(r.red_line_codes),
        "level": r.level,
        "level_since": r.level_since,
        "below_floor": r.below_floor,
        "event": r.event,
        "next_level": r.next_level,
        "rule": r.rule,
        "explanation": r.explanation,
        "pay_grade": pay.pay_grade if pay else pay_grade_of(r.level),
        "fixed_pay": pay.fixed if pay else None,
        "coefficient": pay.coefficient if pay else None,
        "performance_pay": pay.performance if pay else None,
        "allowance": pay.allowance if pay else None,
        "total_pay": pay.total if pay else None,
    }


def row_to_result(row: MonthResultRow | Row[Any] | Sequence[Any]) -> MonthResult:
    """A stored result as the domain's MonthResult: from an ORM row, or from a Core row or
    tuple of the table's columns in RESULT_COLUMNS order (a page's two years of rows are
    read that way: unpacked by position and built by the ladder's positional constructor,
    a fifth of the cost of reading 30 attributes by name)."""
    values = tuple(getattr(row, c) for c in RESULT_COLUMNS) if isinstance(row, MonthResultRow) else tuple(row)
    (aid, month, version, track, team, tenure, probation, complete, n, quality, dims, composite, band, ap, errs,
     complaints, red, level, since, below, event, next_level, rule, explanation, grade, fixed, coefficient,
     performance, allowance, total) = values
    pay = None
    if total is not None:
        pay = Pay(pay_grade=grade or "", fixed=fixed, coefficient=coefficient, performance=performance,
                  allowance=allowance, total=total, on_probation=probation)
    return make_result(
        aid, month, version, track, team, tenure, probation, complete, n, quality,
        {k: Decimal(v) for k, v in dims.items()} if dims else {}, composite, band, ap, errs, complaints,
        tuple(c for c in red.split(";") if c) if red else (), level, since, below, event, next_level, rule,
        explanation or {}, pay,
    )  # fmt: skip


_PRIOR_COLUMNS = (
    "agent_id, month, rulebook_version, track, team, tenure, on_probation, complete, n_inspections, {quality}, {dims}, "
    "{composite}, band, all_dimensions_pass, error_defects, complaints, red_line_codes, level, level_since, "
    "below_floor, event, next_level, rule"
)


def load_prior(
    session: Session, start: str, months_back: int, agent_id: str | None = None, *, items: bool = True
) -> dict[str, list[MonthResult]]:
    """The stored results the engine needs to resume at ``start``: levels, counters and the
    window figures of the months before; no explanations or pay. ``items``: with the item
    scores too, which a promotion with an item floor reads over its window (see
    :func:`~starlevel.domain.ladder.prior_items_needed`). Each agent's list is in month order.

    Read through the driver's cursor, decimals and JSON as text, in the order of the month
    index (no sort), each result built by the ladder's positional constructor: the ORM's
    and even Core's per-row work cost more than reading the rows (at 10,000 agents a
    one-month recompute read 63,583 rows here in 1.5 s; now about 0.5 s)."""
    first = M.add_months(start, -months_back)
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    ph = "%s" if pg else "?"
    as_text = "::text" if pg else ""  # PostgreSQL: numbers and JSON as text, as SQLite stores them
    cols = _PRIOR_COLUMNS.format(quality=f"quality{as_text}", composite=f"composite{as_text}",
                                 dims=f"dimensions{as_text}" if items else "NULL")
    sql = (f"SELECT {cols} FROM month_results WHERE month >= {ph} AND month < {ph}"
           + (f" AND agent_id = {ph}" if agent_id else "") + " ORDER BY month")
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, (first, start, agent_id) if agent_id else (first, start))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    loads = orjson.loads
    make = make_result
    decimals: dict[str, Decimal] = {}
    prior: dict[str, list[MonthResult]] = {}
    for (aid, month, version, track, team, tenure, probation, complete, n, quality, dims_text, composite, band, ap,
         errs, complaints, red, level, since, below, event, next_level, rule) in rows:
        if quality is not None:
            q = decimals.get(quality)
            if q is None:
                q = decimals[quality] = Decimal(quality)
            quality = q
        if composite is not None:
            c = decimals.get(composite)
            if c is None:
                c = decimals[composite] = Decimal(composite)
            composite = c
        result = make(
            aid, month, version, track, team, tenure, bool(probation), bool(complete), n, quality,
            {k: Decimal(v) for k, v in loads(dims_text).items()} if dims_text and dims_text != "{}" else {},
            composite, band, bool(ap), errs, complaints, tuple(c for c in red.split(";") if c) if red else (),
            level, since, below, event, next_level, rule, {}, None,
        )  # fmt: skip
        got = prior.get(aid)
        if got is None:
            prior[aid] = [result]
        else:
            got.append(result)
    return prior




def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def result_values(r: MonthResult, pay_grade_of: Callable[[int], str], text_decimals: bool) -> tuple[Any, ...]:
    """One result as a row tuple in RESULT_COLUMNS order, values as the columns store them
    (decimals as text on SQLite, JSON encoded). Same content as :func:`result_to_row`.
    Written out field by field: a full recompute turns 440,000 results into rows."""
    pay = r.pay
    quality = r.quality
    composite = r.composite
    if text_decimals:
        if quality is not None:
            quality = str(quality)
        if composite is not None:
            composite = str(composite)
    dims = r.dimensions
    if pay is None:
        grade = pay_grade_of(r.level)
        fixed = coefficient = performance = allowance = total = None
    else:
        grade = pay.pay_grade
        fixed, coefficient, performance, allowance, total = (
            pay.fixed, pay.coefficient, pay.performance, pay.allowance, pay.total)
        if text_decimals:
            fixed = None if fixed is None else str(fixed)
            coefficient = None if coefficient is None else str(coefficient)
            performance = None if performance is None else str(performance)
            allowance = None if allowance is None else str(allowance)
            total = None if total is None else str(total)
    return (
        r.agent_id, r.month, r.rulebook_version, r.track, r.team, r.tenure, r.on_probation, r.complete,
        r.n_inspections, quality, _dumps({k: str(v) for k, v in dims.items()}) if dims else "{}", composite,
        r.band, r.all_dimensions_pass, r.error_defects, r.complaints, ";".join(r.red_line_codes), r.level,
        r.level_since, r.below_floor, r.event, r.next_level, r.rule, _dumps(r.explanation), grade, fixed,
        coefficient, performance, allowance, total,
    )


_SQLITE_INSERT = (f"INSERT INTO month_results ({', '.join(RESULT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in RESULT_COLUMNS)})")


def _graders(rulebooks: Sequence[Rulebook]) -> dict[int, Callable[[int], str]]:
    """Each rulebook version's pay grade of a level (for results that carry no pay)."""
    return {rb.version: (lambda level, rb=rb: rb.pay_grade(level).grade) for rb in rulebooks}


def _write(session: Session, results: Iterable[MonthResult], rulebooks: Sequence[Rulebook]) -> int:
    """Bulk-write results through the driver: executemany on SQLite, COPY on PostgreSQL.

    The ORM's per-value type processing costs more than the ladder itself at this
    volume, so values are prepared here exactly as the column types would store them.
    """
    graders = _graders(rulebooks)
    text_decimals = session.connection().dialect.name == "sqlite"
    return _insert_rows(session, (result_values(r, graders[r.rulebook_version], text_decimals) for r in results))


def _insert_rows(session: Session, rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert row tuples prepared by :func:`result_values` (for this session's database)."""
    conn = session.connection()
    raw = conn.connection.driver_connection
    written = 0
    if conn.dialect.name == "postgresql":
        cols = ", ".join(RESULT_COLUMNS)
        with raw.cursor() as cur, cur.copy(f"COPY month_results ({cols}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
                written += 1
        return written
    raw_cursor = raw.cursor()
    try:
        batch: list[tuple[Any, ...]] = []
        for values in rows:
            batch.append(values)
            if len(batch) >= INSERT_CHUNK:
                raw_cursor.executemany(_SQLITE_INSERT, batch)
                written += len(batch)
                batch = []
        if batch:
            raw_cursor.executemany(_SQLITE_INSERT, batch)
            written += len(batch)
    finally:
        raw_cursor.close()
    return written


def _pk_order(r: MonthResult) -> tuple[str, str]:
    return (r.agent_id, r.month)


# ---------------------------------------------------------------- the service

@dataclass
class _Plan:
    """What a recompute from ``start`` will evaluate. ``chunks`` evaluates lazily, a few
    months at a time, each chunk's results in primary-key order; everything it needs from
    the stored results was read before this is returned. ``start`` None: nothing is
    evaluated at all; ``months`` 0: nothing from ``start`` on (stale results only)."""

    start: str | None
    end: str | None
    first: str | None
    months: int
    rulebooks: list[Rulebook]
    chunks: Iterator[list[MonthResult]]
    # The same evaluation with the monthly inputs from elsewhere (a mapping of every month
    # from ``start``, loaded beforehand: the forked evaluation reads no database), with
    # the phases counted in another dict, and of some of the agents only (where
    # ladder.agents_independent allows it).
    chunks_with: Callable[..., Iterator[list[MonthResult]]]
    agents: Sequence[Agent] = ()


def _plan(session: Session, start: str | None, phases: dict[str, float]) -> _Plan:
    t0 = time.perf_counter()
    start = month_service.first_open(session, start)
    rulebook_store.ensure_default(session)
    rulebooks = rulebook_store.load_all(session)
    agents = load_agents(session)
    last = last_data_month(session)
    evaluated = evaluated_months(agents, last)
    if not evaluated:
        return _Plan(None, None, None, 0, rulebooks, iter(()), _no_chunks)
    first, end = evaluated[0], evaluated[-1]
    stored_end = result_bounds(session)[1]
    if start is not None and stored_end is not None and start > M.add_months(stored_end, 1):
        # Months between the stored results and ``start`` were never evaluated (the range grew).
        start = M.add_months(stored_end, 1)
    if start is None or start <= first or stored_end is None:
        start = first
        prior: dict[str, list[MonthResult]] = {}
    else:
        if start > end:
            return _Plan(start, end, first, 0, rulebooks, iter(()), _no_chunks)
        prior = load_prior(session, start, prior_months_needed(rulebooks) + 1, items=prior_items_needed(rulebooks))
    phases["load_static"] = time.perf_counter() - t0
    decisions = load_decisions(session, start)
    t = time.perf_counter()
    evidence = load_evidence(session, rulebooks, start, end, whole=start == first)
    phases["aggregate_inspections"] = time.perf_counter() - t
    months = len([m for m in evaluated if m >= start])

    def chunks_with(
        metrics_of: Callable[[str, str], Mapping[tuple[str, str], Metrics]], phases: dict[str, float] = phases,
        some: Sequence[Agent] = agents, months_per_chunk: int | None = None,
    ) -> Iterator[list[MonthResult]]:
        return _chunks(metrics_of, list(some), evidence, decisions, rulebooks, prior, first, start, end, last, phases,
                       months_per_chunk or CHUNK_MONTHS)

    return _Plan(start, end, first, months, rulebooks,
                 chunks_with(lambda a, b: load_metrics(session, a, end=b)), chunks_with, agents)


def _no_chunks(*_args: Any, **_kwargs: Any) -> Iterator[list[MonthResult]]:
    return iter(())


def _chunks(
    metrics_of: Callable[[str, str], Mapping[tuple[str, str], Metrics]], agents: list[Agent],
    evidence: dict[tuple[str, str], MonthEvidence], decisions: dict[tuple[str, str], HrDecision],
    rulebooks: list[Rulebook], prior: dict[str, list[MonthResult]], first: str, start: str, end: str,
    last: str | None, phases: dict[str, float], months_per_chunk: int,
) -> Iterator[list[MonthResult]]:
    """Evaluate a few months at a time, so memory holds one chunk of results. Exact,
    because the ladder is causal: each chunk resumes from the results before it.
    ``metrics_of(first, last)``: the monthly inputs of a chunk's months (it may hold more)."""
    keep = prior_months_needed(rulebooks) + 1
    hire_months = [M.month_of(a.hired_on) for a in agents]
    phases.setdefault("load_metrics", 0.0)
    phases.setdefault("ladder", 0.0)
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, M.add_months(chunk_start, months_per_chunk - 1))
        # Metrics are loaded a chunk at a time; the inspection aggregate is compact and
        # cheapest in one pass, so it was computed once by _plan.
        t = time.perf_counter()
        metrics = metrics_of(chunk_start, chunk_end)
        phases["load_metrics"] += time.perf_counter() - t
        t = time.perf_counter()
        # Agents hired after the chunk are not active in it; leaving them out also keeps
        # the evaluated range from stretching to their hire months.
        results = evaluate(
            [a for a, hired in zip(agents, hire_months) if hired <= chunk_end], evidence, metrics, decisions,
            rulebooks, last_data_month=last if chunk_end == end else chunk_end,
            start=None if chunk_start == first else chunk_start, prior=prior,
        )
        results = [r for r in results if r.month <= chunk_end]
        phases["ladder"] += time.perf_counter() - t
        # Primary-key order makes the B-tree inserts sequential (far fewer page writes).
        results.sort(key=_pk_order)
        del metrics
        yield results
        if chunk_end < end:
            rolling: dict[str, list[MonthResult]] = {aid: list(rs) for aid, rs in prior.items()}
            for r in results:
                rolling.setdefault(r.agent_id, []).append(r)
            prior = {aid: rs[-keep:] for aid, rs in rolling.items()}
        del results
        chunk_start = M.add_months(chunk_end, 1)


GENERATION = "results_generation"  # id_counters row: advanced by every company-wide write of results


def _advance_generation(session: Session) -> None:
    results_stamp.renew(session)  # level counts may change: caches keyed by the old stamp lapse
    done = session.execute(
        update(IdCounter).where(IdCounter.name == GENERATION).values(value=IdCounter.value + 1)
    ).rowcount
    if not done:
        session.add(IdCounter(name=GENERATION, value=1))
        session.flush()


_GENERATION = select(IdCounter.value).where(IdCounter.name == GENERATION)


def _generation(session: Session) -> int:
    return session.connection().execute(_GENERATION).scalar() or 0


class _GcPauses:
    """The pauses open in this process, and whether the collector was on before the first."""

    lock = threading.Lock()
    open = 0
    was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Keep Python's cyclic garbage collector from running while a recompute allocates its
    results. Nothing an evaluation builds forms a reference cycle, yet every full collection
    walks all of them again: at 10,000 agents × 36 months that was 4.3 s of a 27 s run, to
    free about 1,600 objects. Reference counting still frees everything as usual; the
    collector is switched back on (if it was on) when the last pause in the process ends."""
    with _GcPauses.lock:
        if _GcPauses.open == 0:
            _GcPauses.was_enabled = gc.isenabled()
            gc.disable()
        _GcPauses.open += 1
    try:
        yield
    finally:
        with _GcPauses.lock:
            _GcPauses.open -= 1
            if _GcPauses.open == 0 and _GcPauses.was_enabled:
                gc.enable()


@contextlib.contextmanager
def _secondary_indexes_rebuilt(session: Session) -> Iterator[None]:
    """SQLite, a rewrite of the whole results table: drop its secondary indexes first and
    create them again from their own stored definitions after the rows are in. Sorting once
    to build an index costs far less than keeping it up to date row by row (at 440,000 rows:
    8.7 s of inserts became 3.7 s plus 0.9 s for the indexes). It is all one transaction:
    readers keep the old snapshot, and a failure rolls the indexes back with the rows."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    indexes = [(name, sql) for name, sql in conn.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'month_results' AND sql IS NOT NULL"
    ))]
    for name, _sql in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _name, sql in indexes:
        conn.execute(text(sql))


def recompute(
    session: Session, *, start: str | None = None, only_changed: bool = False, processes: int | None = None
) -> RecomputeStats:
    """Re-evaluate from ``start`` (None: everything). The caller commits.

    Closed months are never re-evaluated: ``start`` moves past them (services.months).
    ``only_changed`` (PostgreSQL, a few months): rewrite only the rows that differ from the
    evaluation, as the deferred runs do (see :func:`_rewrite_changed_pg`).
    ``processes``: 1 evaluates here; more lets forked children evaluate while this process
    writes (one child for a ladder, two where agents do not depend on each other; see
    :mod:`starlevel.services.forked`); None forks for a large run in a single-threaded
    process (the command line, the background worker's process). The rows are the same."""
    with gc_paused():
        return _recompute(session, start, only_changed, processes)


# A run of fewer agent-months than this is evaluated in process: forking and handing the
# rows over would cost more than the overlap saves.
FORK_MIN_AGENT_MONTHS = 20_000
# A child evaluates fewer months at a time than a run in process: it holds the inputs this
# process read besides its chunk (its pages are shared until touched), and its first rows
# reach the writer sooner.
FORKED_CHUNK_MONTHS = 6


def _fork_pays(plan: _Plan, processes: int | None) -> bool:
    if processes is None:
        return len(plan.agents) * plan.months >= FORK_MIN_AGENT_MONTHS and forked.can_fork()
    return processes > 1 and hasattr(os, "fork")


def _child_parts(plan: _Plan) -> list[Sequence[Agent]]:
    """The agents each forked child evaluates: all of them in one, or, where agents do not
    depend on each other, half of them in each of two."""
    assert plan.start is not None and plan.end is not None
    agents = plan.agents
    if len(agents) > 1 and agents_independent(plan.rulebooks, plan.start, plan.end):
        half = len(agents) // 2  # agents are in id order: each child's rows stay in key order
        return [agents[:half], agents[half:]]
    return [agents]


def _forked_rows(
    session: Session, plan: _Plan, parts: list[Sequence[Agent]], phases: dict[str, float]
) -> contextlib.AbstractContextManager[Iterator[bytes]]:
    """Start the evaluation of ``plan`` in a forked child per part of the agents; they hand
    back row tuples ready to insert, INSERT_CHUNK at a time (marshalled). The monthly
    inputs of the whole range are read here first (the children read no database; by this
    transaction's reads they see exactly what an in-process evaluation would)."""
    assert plan.start is not None and plan.end is not None
    t = time.perf_counter()
    metrics = load_metrics(session, plan.start, end=plan.end)
    phases["load_metrics"] = time.perf_counter() - t

    def producer(some: Sequence[Agent]) -> Callable[[dict[str, float]], Iterator[bytes]]:
        def produce(child_phases: dict[str, float]) -> Iterator[bytes]:
            graders = _graders(plan.rulebooks)
            child_phases["to_rows"] = 0.0
            for results in plan.chunks_with(lambda _a, _b: metrics, child_phases, some, FORKED_CHUNK_MONTHS):
                for i in range(0, len(results), INSERT_CHUNK):
                    t = time.perf_counter()
                    # Decimals as text on both databases (COPY reads text anyway), so that a
                    # batch is plain str, int, bool and None: marshal packs those several
                    # times faster than pickle.
                    batch = marshal.dumps([result_values(r, graders[r.rulebook_version], True)
                                           for r in results[i:i + INSERT_CHUNK]])
                    child_phases["to_rows"] += time.perf_counter() - t
                    yield batch
                del results
        return produce

    return forked.batches_from_children([producer(some) for some in parts], phases)


def _write_from_child(session: Session, batches: Iterator[bytes], phases: dict[str, float]) -> int:
    written = 0
    phases["wait_for_child"] = 0.0
    while True:
        t = time.perf_counter()
        batch = next(batches, None)
        phases["wait_for_child"] += time.perf_counter() - t
        if batch is None:
            return written
        t = time.perf_counter()
        written += _insert_rows(session, marshal.loads(batch))
        phases["write_results"] += time.perf_counter() - t


def _recompute(session: Session, start: str | None, only_changed: bool, processes: int | None) -> RecomputeStats:
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    locks.results_exclusive(session)
    plan = _plan(session, start, phases)
    if (only_changed and plan.start is not None and 0 < plan.months <= SNAPSHOT_MONTHS
            and session.get_bind().dialect.name == "postgresql"):
        return _rewrite_changed_pg(session, plan, t0, phases)
    _advance_generation(session)
    if plan.start is None:
        session.execute(delete(MonthResultRow))
        return RecomputeStats(None, None, 0, 0, time.perf_counter() - t0, phases)
    if plan.months == 0:
        # Nothing left to evaluate past the data; drop stale results only.
        session.execute(delete(MonthResultRow).where(MonthResultRow.month >= plan.start))
        return RecomputeStats(plan.start, plan.end, 0, 0, time.perf_counter() - t0, phases)
    whole = plan.start == plan.first
    with contextlib.ExitStack() as stack:
        # The children evaluate while this process deletes the old rows and writes.
        parts = _child_parts(plan) if _fork_pays(plan, processes) else []
        rows_in_child = stack.enter_context(_forked_rows(session, plan, parts, phases)) if parts else None
        if whole:
            stack.enter_context(_secondary_indexes_rebuilt(session))
        t = time.perf_counter()
        if whole:
            session.execute(delete(MonthResultRow))
        else:
            session.execute(delete(MonthResultRow).where(MonthResultRow.month >= plan.start))
        phases["delete_old"] = time.perf_counter() - t
        phases["write_results"] = 0.0
        written = 0
        if rows_in_child is not None:
            written = _write_from_child(session, rows_in_child, phases)
        else:
            for results in plan.chunks:
                t = time.perf_counter()
                written += _write(session, results, plan.rulebooks)
                phases["write_results"] += time.perf_counter() - t
                del results  # else this chunk stays alive while the next one is evaluated
        t = time.perf_counter()
    if whole:
        phases["indexes"] = time.perf_counter() - t
    return RecomputeStats(plan.start, plan.end, plan.months, written, time.perf_counter() - t0, phases,
                          1 + len(parts))


# ---------------------------------------------------------------- one agent's change

QUOTA_EVENTS = frozenset({"promote", "waitlist", "hold"})


@dataclass(frozen=True)
class _AgentPlan:
    """The re-evaluated timeline of one agent from ``start``, which nobody else depends on."""

    agent_id: str
    start: str
    end: str
    results: list[MonthResult]
    rulebooks: list[Rulebook]


_AGENT_STEPS = (
    select(MonthResultRow.month, MonthResultRow.level, MonthResultRow.next_level, MonthResultRow.event)
    .where(MonthResultRow.agent_id == bindparam("agent_id"), MonthResultRow.month >= bindparam("start"))
    .order_by(MonthResultRow.month)
)


# What a one-agent re-evaluation asks first (the last month with data, the stored results'
# range, the hire range), six index lookups in one round trip.
_PLAN_FACTS = select(*_LAST_DATA.selected_columns, *RESULT_BOUNDS.selected_columns, *_HIRE_RANGE.selected_columns)


def _plan_agent(session: Session, agent_id: str, start: str) -> _AgentPlan | str:
    """Evaluate one agent alone from ``start`` (reads only). A plan when only this agent's
    rows can change; otherwise the month a company-wide recompute is owed from."""
    import dataclasses

    rulebooks = rulebook_store.load_all(session)
    me = load_agent(session, agent_id)
    last_inspection, last_metrics, first_result, last_result, first_hire, last_hire = (
        core_connection(session).execute(_PLAN_FACTS).one())
    last = _latest(last_inspection, last_metrics)
    bounds = (first_result, last_result)
    if me is None or not rulebooks or bounds[0] is None or any(rb.approval_required for rb in rulebooks):
        return start
    company_first = M.month_of(first_hire)
    company_end = max(M.month_of(last_hire), last) if last else M.month_of(last_hire)
    if (company_first, company_end) != (bounds[0], bounds[1]):
        return start  # the evaluated range itself moved
    hire = M.month_of(me.hired_on)
    start = max(start, hire)
    end = company_end
    uncapped = [dataclasses.replace(rb, quotas={}) for rb in rulebooks]
    prior = {} if start == hire else load_prior(session, start, prior_months_needed(rulebooks) + 1, agent_id,
                                                items=prior_items_needed(rulebooks))
    if start != hire and not prior.get(agent_id):
        return start
    new = evaluate(
        [me], load_evidence(session, rulebooks, start, end, agent_id), load_metrics(session, start, agent_id),
        load_decisions(session, start, agent_id), uncapped, last_data_month=last,
        start=None if start == hire else start, prior=prior,
    )
    new = [r for r in new if r.month <= end]
    old = core_connection(session).execute(_AGENT_STEPS, {"agent_id": agent_id, "start": start}).all()
    same_steps = [(o.month, o.level, o.next_level) for o in old] == [(r.month, r.level, r.next_level) for r in new]
    near_quota = any(o.event in QUOTA_EVENTS for o in old) or any(r.event in QUOTA_EVENTS for r in new)
    if not same_steps or near_quota:
        return start
    # (Only plans that keep every level step are applied: services.results_stamp relies on it.)
    return _AgentPlan(agent_id, start, end, new, rulebooks)


_RESULTS = MonthResultRow.__table__
_DELETE_AGENT_FROM = delete(_RESULTS).where(_RESULTS.c.agent_id == bindparam("agent_id"),
                                            _RESULTS.c.month >= bindparam("start"))


def _apply_agent(session: Session, plan: _AgentPlan) -> int:
    session.connection().execute(_DELETE_AGENT_FROM, {"agent_id": plan.agent_id, "start": plan.start})
    return _write(session, plan.results, plan.rulebooks)


def recompute_agent(session: Session, agent_id: str, start: str, *, defer: bool = False) -> RecomputeStats:
    """Re-evaluate after a change to one agent's inputs from ``start`` on.

    Other agents depend on this one only through quotas (holder counts and the ranking
    of eligible agents). So the agent is evaluated alone with quotas lifted; if neither
    the stored nor the new timeline has the agent near a quota (no promote, waitlist or
    hold) and every level step is unchanged, nobody else can be affected and only this
    agent's rows are rewritten. Otherwise the company-wide incremental recompute runs.
    Either way the stored results equal those of a full recompute.

    ``defer``: instead of running the company-wide recompute inside this transaction,
    record that it is owed (a RecomputeRequest committed with the change) for the web
    app's background worker; see :func:`run_pending`.
    """
    t0 = time.perf_counter()
    start = month_service.first_open(session, start) or start

    def fallback(month: str) -> RecomputeStats:
        if defer:
            session.add(RecomputeRequest(from_month=month, reason=f"change to {agent_id}"))
            session.flush()
            return RecomputeStats(month, None, 0, 0, time.perf_counter() - t0, {"deferred": 1.0})
        return recompute(session, start=month)

    if not locks.agent_results(session, agent_id, wait_for_company=not defer):
        return fallback(start)  # a company-wide run is under way: the request makes the next one cover this
    plan = _plan_agent(session, agent_id, start)
    if isinstance(plan, str):
        return fallback(plan)
    written = _apply_agent(session, plan)
    if not locks.is_postgres(session):
        # Tells a deferred run evaluating on an older snapshot that these rows moved.
        session.add(RecomputeRequest(from_month=plan.start, reason=f"change to {agent_id}", agent_id=agent_id,
                                     done_at=utcnow()))
        session.flush()
    return RecomputeStats(plan.start, plan.end, len(plan.results), written, time.perf_counter() - t0,
                          {"agent_only": 1.0})


def settle_agent_change(session: Session, agent_id: str, start: str) -> RecomputeStats:
    """SQLite: commit a change to one agent's inputs now, then re-evaluate the agent with
    the write lock held only to store the result. The caller has written the change in
    ``session`` (not committed); this commits it, so that the other writers queued
    behind it need not wait for the evaluation.

    1. The change commits together with a pending request naming the agent, as a deferred
       change would: if anything below does not happen (a crash, a quota in reach, another
       writer meanwhile) the background worker re-evaluates from it.
    2. The agent is evaluated on a read snapshot (:func:`_plan_agent`).
    3. A short write stores the agent's new rows and marks the request done, unless the
       request was taken by the worker, the results generation moved (a company-wide
       recompute), or the agent changed again (a later request naming it).
    """
    t0 = time.perf_counter()
    start = month_service.first_open(session, start) or start
    request_id = session.connection().execute(_ADD_REQUEST, {
        "from_month": start, "reason": f"change to {agent_id}", "agent_id": agent_id, "requested_at": utcnow(),
    }).scalar_one()
    session.commit()
    # The change is saved: from here on a failure only leaves the request to the worker.
    try:
        return _settle(session, request_id, agent_id, start, t0)
    except Exception:
        session.rollback()
        log.exception("re-evaluating %s after a saved change failed; the background worker will", agent_id)
        return RecomputeStats(start, None, 0, 0, time.perf_counter() - t0, {"deferred": 1.0})


_REQUESTS = RecomputeRequest.__table__
_ADD_REQUEST = insert(_REQUESTS).returning(_REQUESTS.c.id)
_TAKE_REQUEST = (update(_REQUESTS).where(_REQUESTS.c.id == bindparam("request_id"), _REQUESTS.c.done_at.is_(None))
                 .values(done_at=bindparam("done_at"), from_month=bindparam("from_month")))
_LATER_REQUESTS = select(func.count()).select_from(_REQUESTS).where(
    _REQUESTS.c.id > bindparam("request_id"), _REQUESTS.c.agent_id == bindparam("agent_id"))


def _settle(session: Session, request_id: int, agent_id: str, start: str, t0: float) -> RecomputeStats:
    bind = session.get_bind()
    # The evaluation reads in a session of its own, so that ending its snapshot does not
    # expire what the caller holds (the saved inspection its response shows: four reads).
    reader = Session(bind=bind, expire_on_commit=False) if isinstance(bind, Engine) else session
    try:
        reader.connection().exec_driver_sql("BEGIN")  # one snapshot for every read of the evaluation
        try:
            generation = _generation(reader)
            plan = _plan_agent(reader, agent_id, start)
        finally:
            reader.rollback()
    finally:
        if reader is not session:
            reader.close()
    if isinstance(plan, str):
        return RecomputeStats(plan, None, 0, 0, time.perf_counter() - t0, {"deferred": 1.0})
    conn = session.connection()
    taken = conn.execute(  # the first write: the write lock from here to the commit
        _TAKE_REQUEST, {"request_id": request_id, "done_at": utcnow(), "from_month": plan.start}).rowcount
    later = conn.execute(_LATER_REQUESTS, {"request_id": request_id, "agent_id": agent_id}).scalar()
    if not taken or later or _generation(session) != generation:
        session.rollback()  # the request (if still pending) leaves it to the worker
        return RecomputeStats(start, None, 0, 0, time.perf_counter() - t0, {"deferred": 1.0})
    written = _apply_agent(session, plan)
    session.commit()
    return RecomputeStats(plan.start, plan.end, len(plan.results), written, time.perf_counter() - t0,
                          {"agent_only": 1.0, "settled_after_commit": 1.0})


# ---------------------------------------------------------------- deferred requests

PENDING_FROM = select(func.min(RecomputeRequest.from_month)).where(RecomputeRequest.done_at.is_(None))


def pending_from(session: Session) -> str | None:
    """The earliest month a deferred recompute is still owed from (None: all caught up)."""
    return session.connection().execute(PENDING_FROM).scalar()


REST = "recompute_rest_until"  # id_counters row: no paced run starts before this (epoch ms)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _resting(session: Session) -> bool:
    until = session.scalar(select(IdCounter.value).where(IdCounter.name == REST))
    return until is not None and until > _now_ms()


def _rest(factory: Callable[[], Session], seconds: float) -> None:
    """No paced run starts, in any process, for ``seconds`` from now."""
    until = _now_ms() + int(seconds * 1000)
    with factory() as session:
        if not session.execute(update(IdCounter).where(IdCounter.name == REST).values(value=until)).rowcount:
            session.add(IdCounter(name=REST, value=until))
        try:
            session.commit()
        except IntegrityError:  # another process added the row just now: its rest will do
            session.rollback()


def run_pending(
    factory: Callable[[], Session], *, wait: bool = False, rest_factor: float = 0.0, max_rest: float = 30.0,
) -> RecomputeStats | None:
    """Run, once, the company-wide recompute owed by every request pending when it starts.

    ``rest_factor`` (the background workers): pace the runs. After a run of T seconds no
    paced run starts, in any server process, for T x ``rest_factor`` seconds (at most
    ``max_rest``); requests gather meanwhile and the next run covers them all. Under a
    steady stream of saves, back-to-back runs would otherwise take a core from them.
    Unpaced callers (a download, a command) are not held back by the rest.

    One run covers them all, from the earliest month. Any number of processes may call
    this at once:

    * PostgreSQL: the exclusive results lock (:mod:`starlevel.services.locks`) is taken at
      session level before the transaction, which then runs at REPEATABLE READ, so it sees
      one consistent state that includes everything earlier runs wrote; the claim (marking
      the requests done) and the recompute commit together, so a crash leaves them pending.
      Another caller gets None at once (``wait`` False) or waits and then runs what is left.
      Readers and one-agent saves are never blocked by it.
    * SQLite has one writer at a time, so the work is split to keep saves from waiting
      behind it (:func:`_run_outside_write_lock`): the evaluation runs on a read snapshot,
      and only the rows that changed are written, in a short write transaction. ``wait``
      (a download or command that must read current figures) runs it under the write lock.
    """
    with factory() as probe:  # a plain read first: idle polls take no lock of any kind
        if pending_from(probe) is None or (rest_factor and _resting(probe)):
            return None
        bind = probe.get_bind()
    stats = _run_pending_now(factory, bind, wait)
    if stats is not None and rest_factor:
        _rest(factory, min(stats.seconds * rest_factor, max_rest))
    return stats


def _run_pending_now(factory: Callable[[], Session], bind: Any, wait: bool) -> RecomputeStats | None:
    if bind.dialect.name != "postgresql":
        if wait:  # a caller that needs current figures now: run under the write lock at once
            with factory() as session:
                return _claim_and_run(session)
        with gc_paused():
            return _run_outside_write_lock(factory)
    engine = bind if isinstance(bind, Engine) else bind.engine
    with engine.connect() as conn:
        if not locks.hold_results(conn, wait=wait):
            return None
        try:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with Session(bind=conn, expire_on_commit=False) as session:
                return _claim_and_run(session)
        finally:
            locks.release_results(conn)


# At most this many months are evaluated on a snapshot and held in memory for the short
# write; a longer deferred run takes the write lock for its whole duration instead.
SNAPSHOT_MONTHS = CHUNK_MONTHS
LEASE = "recompute_lease"  # id_counters row: who is evaluating deferred requests (SQLite)
LEASE_SECONDS = 60
PLAN_ATTEMPTS = 3
KEEP_DONE = timedelta(days=1)  # done requests and one-agent records are kept this long


def _stored_rows(session: Session, start: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Stored results from ``start`` on as raw row tuples in RESULT_COLUMNS order, equal to
    what :func:`result_values` gives for this database when nothing changed: on SQLite text
    decimals and encoded JSON; on PostgreSQL Decimal, and the JSON columns as their text
    (a ``json`` column keeps it exactly as the writer sent it)."""
    cur = session.connection().connection.driver_connection.cursor()
    try:
        if session.get_bind().dialect.name == "postgresql":
            cols = ", ".join(f"{c}::text" if c in ("dimensions", "explanation") else c for c in RESULT_COLUMNS)
            cur.execute(f"SELECT {cols} FROM month_results WHERE month >= %s", (start,))
        else:
            cur.execute(f"SELECT {', '.join(RESULT_COLUMNS)} FROM month_results WHERE month >= ?", (start,))
        return {(row[0], row[1]): tuple(row) for row in cur}
    finally:
        cur.close()


def _fresh_rows(results: Iterable[MonthResult], rulebooks: Sequence[Rulebook], text_decimals: bool) -> dict[tuple[str, str], tuple[Any, ...]]:
    graders = _graders(rulebooks)
    return {(r.agent_id, r.month): result_values(r, graders[r.rulebook_version], text_decimals) for r in results}


def _changed_keys(fresh: dict[tuple[str, str], tuple[Any, ...]], stored: dict[tuple[str, str], tuple[Any, ...]]) -> set[tuple[str, str]]:
    """Rows to rewrite: new or different ones, and stored ones the evaluation no longer gives."""
    return {k for k, v in fresh.items() if stored.get(k) != v} | (stored.keys() - fresh.keys())


def _take_lease(factory: Callable[[], Session]) -> int | None:
    """A short write: claim the evaluation of deferred requests for LEASE_SECONDS, so that
    several server processes do not all evaluate the same requests. None: another holds it."""
    now = int(time.time())
    with factory() as session:
        session.execute(
            text("INSERT OR IGNORE INTO id_counters (name, value) VALUES (:n, 0)"), {"n": LEASE}
        )
        got = session.execute(
            update(IdCounter).where(IdCounter.name == LEASE, IdCounter.value < now - LEASE_SECONDS).values(value=now)
        ).rowcount
        session.commit()
    return now if got else None


def _release_lease(factory: Callable[[], Session], stamp: int) -> None:
    with factory() as session:
        session.execute(update(IdCounter).where(IdCounter.name == LEASE, IdCounter.value == stamp).values(value=0))
        session.commit()


def _run_outside_write_lock(factory: Callable[[], Session]) -> RecomputeStats | None:
    """SQLite: evaluate the pending requests on a read snapshot, then write what changed.

    1. A read transaction (WAL: it blocks no writer) notes the results generation, the
       last request and the pending requests; evaluates from their earliest month; and
       reads the stored rows of those months. Rows equal to the evaluation are left alone:
       a re-run with no change writes nothing.
    2. A write transaction marks exactly those requests done and writes the changed rows,
       unless the results moved meanwhile:

       * a company-wide recompute committed since the snapshot (the generation moved): the
         evaluation is stale; it is thrown away and made again (the requests stay pending);
       * a one-agent save rewrote an agent's rows since the snapshot (it leaves a record
         naming the agent): that agent's rows stay as the save wrote them, and a new
         request makes the next run look at them again.

       Requests made after the snapshot stay pending for the next run.
    """
    stamp = _take_lease(factory)
    if stamp is None:
        return None
    try:
        for _ in range(PLAN_ATTEMPTS):
            t0 = time.perf_counter()
            phases: dict[str, float] = {}
            with factory() as session:
                session.connection().exec_driver_sql("BEGIN")  # one snapshot for every read below
                generation = _generation(session)
                seen = session.scalar(select(func.max(RecomputeRequest.id))) or 0
                claimed = session.execute(
                    select(RecomputeRequest.id, RecomputeRequest.from_month).where(RecomputeRequest.done_at.is_(None))
                ).all()
                if not claimed:
                    return None
                plan = _plan(session, min(m for _, m in claimed), phases)
                if plan.start is None or plan.months == 0 or plan.months > SNAPSHOT_MONTHS:
                    session.rollback()
                    break  # nothing to evaluate, or too much to hold: the locked run below
                results = [r for chunk in plan.chunks for r in chunk]
                t = time.perf_counter()
                stored = _stored_rows(session, plan.start)
                phases["read_stored"] = time.perf_counter() - t
                session.rollback()
            t = time.perf_counter()
            fresh = _fresh_rows(results, plan.rulebooks, True)
            del results
            changed = _changed_keys(fresh, stored)
            phases["compare"] = time.perf_counter() - t
            with factory() as session:
                try:
                    session.execute(  # the claim is the first write: it takes the write lock
                        update(RecomputeRequest)
                        .where(RecomputeRequest.id.in_([i for i, _ in claimed]), RecomputeRequest.done_at.is_(None))
                        .values(done_at=utcnow())
                    )
                    if _generation(session) != generation:
                        session.rollback()
                        continue
                    moved = dict(session.execute(
                        select(RecomputeRequest.agent_id, func.min(RecomputeRequest.from_month))
                        .where(RecomputeRequest.id > seen, RecomputeRequest.agent_id.is_not(None))
                        .group_by(RecomputeRequest.agent_id)
                    ).all())
                    keys = sorted(k for k in changed if k[0] not in moved)
                    t = time.perf_counter()
                    written = _write_changed(session, keys, fresh)
                    phases["write_results"] = time.perf_counter() - t
                    for aid, month in sorted(moved.items()):
                        if any(k[0] == aid for k in changed):
                            session.add(RecomputeRequest(from_month=month, reason=f"{aid} changed during a recompute"))
                    if keys:
                        _advance_generation(session)
                    session.execute(delete(RecomputeRequest).where(RecomputeRequest.done_at < utcnow() - KEEP_DONE))
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
            phases["changed_rows"] = float(len(keys))
            return RecomputeStats(plan.start, plan.end, plan.months, written, time.perf_counter() - t0, phases)
        with factory() as session:
            return _claim_and_run(session)
    finally:
        _release_lease(factory, stamp)


def _write_changed(session: Session, keys: Sequence[tuple[str, str]], fresh: dict[tuple[str, str], tuple[Any, ...]]) -> int:
    """Replace the stored rows of ``keys`` by their fresh values (a key without one is deleted)."""
    if not keys:
        return 0
    mark = "%s" if session.get_bind().dialect.name == "postgresql" else "?"
    cur = session.connection().connection.driver_connection.cursor()
    try:
        cur.executemany(f"DELETE FROM month_results WHERE agent_id = {mark} AND month = {mark}", keys)
    finally:
        cur.close()
    return _insert_rows(session, (fresh[k] for k in keys if k in fresh))


def _rewrite_changed_pg(session: Session, plan: _Plan, t0: float, phases: dict[str, float]) -> RecomputeStats:
    """Write only the results that differ from what is stored (under the exclusive results
    lock, in the caller's transaction). A deferred run after a save changes a handful of rows
    of a month; rewriting all 10,000 left as many dead row versions each time, and until
    autovacuum came round the dashboard's index-only counts fetched them all from the heap."""
    t = time.perf_counter()
    fresh = _fresh_rows((r for chunk in plan.chunks for r in chunk), plan.rulebooks, False)
    changed = sorted(_changed_keys(fresh, _stored_rows(session, plan.start)))  # type: ignore[arg-type]
    phases["compare"] = time.perf_counter() - t
    t = time.perf_counter()
    if changed:
        _advance_generation(session)
    written = _write_changed(session, changed, fresh)
    phases["write_results"] = time.perf_counter() - t
    phases["changed_rows"] = float(len(changed))
    return RecomputeStats(plan.start, plan.end, plan.months, written, time.perf_counter() - t0, phases)


def _claim_and_run(session: Session) -> RecomputeStats | None:
    try:
        claimed = session.execute(
            update(RecomputeRequest).where(RecomputeRequest.done_at.is_(None)).values(done_at=utcnow())
            .returning(RecomputeRequest.from_month)
        ).scalars().all()
        if not claimed:
            session.rollback()
            return None
        stats = recompute(session, start=min(claimed), only_changed=True)
        session.commit()
        return stats
    except BaseException:
        session.rollback()
        raise
