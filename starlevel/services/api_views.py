"""Read and write models of the JSON API (``/api``), built from the database.

The controllers in :mod:`starlevel.web.api` only translate HTTP to these functions.
Every response model is a msgspec ``Struct`` so Litestar's OpenAPI schema describes it.
Decimals (scores, money) are serialized as strings to keep them exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from msgspec import Struct
from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, Inspection, InspectionDefect, MonthResultRow, RulebookVersion
from starlevel.domain.explain import explain_text, progress
from starlevel.domain.model import Agent as DomainAgent
from starlevel.domain.months import is_month as is_month
from starlevel.domain.rulebook import Rulebook, parse_rulebook
from starlevel.services import corrections, hr, inspections, reports
from starlevel.services import rulebooks as rulebook_store
from starlevel.services.recompute import row_to_result

PER_PAGE = 50


# ---------------------------------------------------------------- models


class Problem(Struct):
    """One reason a request was refused: which field, and what is wrong with it
    (``key`` names the message for clients that translate it themselves)."""

    field: str
    problem: str
    key: str | None = None


class ProblemsOut(Struct):
    status_code: int
    detail: str
    problems: list[Problem]


class ApiProblem(Exception):
    """A request the API refuses with 400 (or ``status_code``) and a list of problems."""

    def __init__(self, problems: list[Problem], *, status_code: int = 400, detail: str = "invalid request") -> None:
        super().__init__(detail)
        self.problems = problems
        self.status_code = status_code
        self.detail = detail


class Missing(LookupError):
    """The record a request names does not exist (404)."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(value)
        self.field = field


class MeOut(Struct):
    username: str
    role: str
    agent_id: str | None
    display_name: str


class PayOut(Struct):
    """A month's pay; amounts are decimal strings."""

    pay_grade: str | None
    fixed: str | None
    coefficient: str | None
    performance: str | None
    allowance: str | None
    total: str | None


class ResultOut(Struct):
    """One evaluated agent-month (spec §4–§6). Scores and money are decimal strings."""

    agent_id: str
    month: str
    rulebook_version: int
    track: str
    tenure: int
    on_probation: bool
    complete: bool
    n_inspections: int
    quality: str | None
    dimensions: dict[str, str]
    composite: str | None
    band: str | None
    error_defects: int
    complaints: int
    red_line_codes: list[str]
    level: int
    next_level: int
    event: str
    rule: str
    explanation: str
    pay: PayOut | None  # null for a caller who may not see this agent's pay (services.privacy)


class StarOut(Struct):
    """An agent's standing: the level in effect now, its pay grade, the latest month."""

    agent_id: str
    name: str
    track: str
    level: int | None
    pay_grade: str | None
    latest_month: str | None
    latest: ResultOut | None
    progress: dict[str, Any] | None


class AgentOut(Struct):
    agent_id: str
    name: str
    track: str
    team: str
    hired_on: str
    left_on: str | None
    initial_level: int
    probation_months: int
    latest_month: str | None
    level: int | None
    next_level: int | None
    event: str | None
    composite: str | None


class AgentPage(Struct):
    items: list[AgentOut]
    total: int
    page: int
    pages: int
    month: str | None


class DefectOut(Struct):
    id: int
    code: str
    tier: int | None
    red_line: bool
    note: str
    voided: bool
    void_reason: str | None


class InspectionOut(Struct):
    """An inspection; ``score`` (decimal string) counts only the live defects."""

    inspection_id: str
    agent_id: str
    agent_name: str
    contact_on: str
    month: str
    channel: str
    contact_ref: str
    inspector: str
    score: str
    voided: bool
    void_reason: str | None
    defects: list[DefectOut]


class InspectionPage(Struct):
    items: list[InspectionOut]
    total: int
    page: int
    pages: int


class VoidOut(Struct):
    """A void was recorded and results recomputed from ``month``; ``inspection`` as it is now."""

    entity: str
    id: str
    month: str
    voided_by: str
    reason: str
    inspection: InspectionOut


class DecisionOut(Struct):
    agent_id: str
    month: str
    action: str
    reason: str
    decided_by: str
    result: ResultOut | None


class RulebookOut(Struct):
    version: int
    effective_from: str
    label: str
    note: str
    created_by: str
    created_at: str
    approval_required: bool
    min_inspections: int
    pass_mark: str


# ---------------------------------------------------------------- helpers


CENT = Decimal("0.01")


def _s(value: Decimal | None) -> str | None:
    """A stored score or amount (2 decimal places in the database) as the same string on
    every database: PostgreSQL's NUMERIC keeps "1.10", SQLite's text keeps "1.1"."""
    return None if value is None else str(value.quantize(CENT))


def _pages(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, math.ceil(total / per_page))


def result_out(row: MonthResultRow, lang: str, books: list[Rulebook], *, with_pay: bool = True) -> ResultOut:
    """One stored month; ``books`` are the stored rulebook versions (the one that judged the
    month names the figures of its explanation)."""
    return ResultOut(
        agent_id=row.agent_id,
        month=row.month,
        rulebook_version=row.rulebook_version,
        track=row.track,
        tenure=row.tenure,
        on_probation=row.on_probation,
        complete=row.complete,
        n_inspections=row.n_inspections,
        quality=_s(row.quality),
        dimensions={k: str(v) for k, v in (row.dimensions or {}).items()},
        composite=_s(row.composite),
        band=row.band,
        error_defects=row.error_defects,
        complaints=row.complaints,
        red_line_codes=[c for c in (row.red_line_codes or "").split(";") if c],
        level=row.level,
        next_level=row.next_level,
        event=row.event,
        rule=row.rule,
        explanation=explain_text(row_to_result(row), lang, rulebook_store.for_version(books, row.rulebook_version, row.month)),
        pay=PayOut(
            pay_grade=row.pay_grade, fixed=_s(row.fixed_pay), coefficient=_s(row.coefficient),
            performance=_s(row.performance_pay), allowance=_s(row.allowance), total=_s(row.total_pay),
        ) if with_pay else None,
    )


def agent_out(agent: Agent, latest: MonthResultRow | None) -> AgentOut:
    return AgentOut(
        agent_id=agent.agent_id, name=agent.name, track=agent.track, team=agent.team,
        hired_on=agent.hired_on.isoformat(), left_on=agent.left_on.isoformat() if agent.left_on else None,
        initial_level=agent.initial_level, probation_months=agent.probation_months,
        latest_month=latest.month if latest else None,
        level=latest.level if latest else None,
        next_level=latest.next_level if latest else None,
        event=latest.event if latest else None,
        composite=_s(latest.composite) if latest else None,
    )


def _latest_result(session: Session, agent_id: str) -> MonthResultRow | None:
    return session.scalars(
        select(MonthResultRow).where(MonthResultRow.agent_id == agent_id)
        .order_by(MonthResultRow.month.desc()).limit(1)
    ).first()


def _domain_agent(agent: Agent) -> DomainAgent:
    return DomainAgent(
        agent.agent_id, agent.name, agent.track, agent.team, agent.hired_on, agent.left_on,
        agent.initial_level, agent.probation_months,
    )


def _progress(session: Session, agent: Agent, latest: MonthResultRow) -> dict[str, Any]:
    """How far the agent is toward the next level (domain.explain.progress, JSON-ready)."""
    results = [row_to_result(r) for r in reports.agent_results(session, agent.agent_id)]
    return progress(_domain_agent(agent), results, rulebook_store.current(session, latest.month))


# ---------------------------------------------------------------- reads


def agent_star(session: Session, agent_id: str, lang: str) -> StarOut:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise Missing("agent_id", agent_id)
    latest = _latest_result(session, agent_id)
    level = latest.next_level if latest else None
    grade = None
    if latest is not None:
        rb = rulebook_store.current(session, latest.month)
        grade = rb.pay_grade(latest.next_level).grade
    return StarOut(
        agent_id=agent.agent_id, name=agent.name, track=agent.track, level=level, pay_grade=grade,
        latest_month=latest.month if latest else None,
        latest=result_out(latest, lang, rulebook_store.load_all(session)) if latest else None,
        progress=_progress(session, agent, latest) if latest else None,
    )


def agent_results(session: Session, agent_id: str, lang: str, *, with_pay: bool = True) -> list[ResultOut]:
    if session.get(Agent, agent_id) is None:
        raise Missing("agent_id", agent_id)
    books = rulebook_store.load_all(session)
    return [result_out(r, lang, books, with_pay=with_pay) for r in reports.agent_results(session, agent_id)]


def agents_page(session: Session, *, q: str, track: str, level: int | None, page: int) -> AgentPage:
    page = max(1, page)
    rows, total, month = reports.agent_overview(session, q=q, track=track, level=level, page=page, per_page=PER_PAGE)
    return AgentPage(items=[agent_out(a, r) for a, r in rows], total=total, page=page, pages=_pages(total), month=month)


def agent_detail(session: Session, agent_id: str) -> AgentOut:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise Missing("agent_id", agent_id)
    return agent_out(agent, _latest_result(session, agent_id))


def _inspection_out(row: inspections.Row) -> InspectionOut:
    insp = row.inspection
    return InspectionOut(
        inspection_id=insp.inspection_id, agent_id=insp.agent_id, agent_name=row.agent_name,
        contact_on=insp.contact_on.isoformat(), month=insp.month, channel=insp.channel,
        contact_ref=insp.contact_ref, inspector=insp.inspector, score=str(row.score),
        voided=row.voided, void_reason=insp.void_reason,
        defects=[
            DefectOut(id=d.id, code=d.code, tier=d.tier, red_line=d.red_line, note=d.note,
                      voided=d.voided_at is not None, void_reason=d.void_reason)
            for d in row.defects
        ],
    )


def inspection_out(session: Session, inspection_id: str) -> InspectionOut:
    insp = session.get(Inspection, inspection_id)
    if insp is None:
        raise Missing("inspection_id", inspection_id)
    return _inspection_out(inspections.row_of(session, insp))


def inspections_page(
    session: Session, *, month: str | None, agent_id: str | None, inspector: str | None, page: int,
) -> InspectionPage:
    filters = inspections.ListFilters(month=month or None, agent=agent_id or "", inspector=inspector or None)
    found = inspections.list_inspections(session, filters, page=page, per_page=PER_PAGE)
    return InspectionPage(items=[_inspection_out(r) for r in found.rows], total=found.total,
                          page=found.page, pages=found.pages)


def month_results(session: Session, month: str, event: str | None, lang: str) -> list[ResultOut]:
    q = select(MonthResultRow).where(MonthResultRow.month == month)
    if event:
        q = q.where(MonthResultRow.event == event)
    books = rulebook_store.load_all(session)
    return [result_out(r, lang, books) for r in session.scalars(q.order_by(MonthResultRow.agent_id))]


def rulebook_list(session: Session) -> list[RulebookOut]:
    rows = session.scalars(select(RulebookVersion).order_by(RulebookVersion.effective_from, RulebookVersion.version))
    return [_rulebook_out(row) for row in rows]


def _rulebook_out(row: RulebookVersion) -> RulebookOut:
    rb = parse_rulebook(row.document, version=row.version, effective_from=row.effective_from)
    return RulebookOut(
        version=row.version, effective_from=row.effective_from, label=row.label, note=row.note,
        created_by=row.created_by, created_at=row.created_at.isoformat(timespec="seconds"),
        approval_required=rb.approval_required, min_inspections=rb.min_inspections, pass_mark=str(rb.pass_mark),
    )


# ---------------------------------------------------------------- writes
# Each write calls the same service as the web pages; those services run the incremental
# recompute in the caller's transaction, which the request commits only on success.


class Texts(Protocol):
    """Words a refusal in the caller's language (the web layer owns the catalogs)."""

    def __call__(self, key: str, **params: Any) -> str: ...

    def problem(self, problem: inspections.Problem) -> str: ...



class DefectIn(Struct):
    code: str
    note: str = ""


class InspectionIn(Struct):
    """A new inspection. ``defects`` lists every occurrence: repeat a code to count it twice.
    Notes of repeated occurrences of one code are kept together (joined with " / ")."""

    agent_id: str
    contact_on: str
    channel: str
    contact_ref: str
    defects: list[DefectIn] = []


def draft_of(data: InspectionIn) -> inspections.Draft:
    """The API body as the web form's draft, so both go through one validation."""
    picks: dict[str, inspections.Pick] = {}
    notes: dict[str, list[str]] = {}
    for d in data.defects:
        code = d.code.strip()
        pick = picks.get(code)
        if pick is None:
            picks[code] = inspections.Pick(code, "1", "")
        else:
            pick.count = str(int(pick.count) + 1)
        note = d.note.strip()
        if note and note not in notes.setdefault(code, []):
            notes[code].append(note)
    for code, pick in picks.items():
        pick.note = " / ".join(notes.get(code, []))
    return inspections.Draft(
        agent_id=data.agent_id.strip(), contact_on=data.contact_on.strip(), channel=data.channel.strip(),
        contact_ref=data.contact_ref.strip(), picks=picks,
    )


def create_inspection(
    session: Session, data: InspectionIn, *, actor: str, texts: Texts, defer: bool = False
) -> InspectionOut:
    """Validate and store (then recompute); raises ApiProblem naming each bad field."""
    try:
        insp = inspections.create(session, draft_of(data), actor=actor, defer=defer)
    except inspections.InvalidInspection as exc:
        raise ApiProblem([_api_problem(p, texts) for p in exc.problems]) from exc
    return _inspection_out(inspections.row_of(session, insp))


def _api_problem(p: inspections.Problem, texts: Texts) -> Problem:
    # The form's per-code fields (n_T1-01, note_T1-01) are the API's "defects".
    name = "defects" if p.field == "codes" or p.field.startswith(("n_", "note_")) else p.field
    return Problem(field=name, problem=texts.problem(p), key=p.key)


def _void(
    session: Session, entity: str, field_name: str, model: type[Any], key: Any,
    void: Callable[..., Inspection], *, reason: str, actor: str, texts: Texts, defer: bool = False,
) -> VoidOut:
    """Void through the inspections service (the web form's), which recomputes from the month."""
    if session.get(model, key) is None:
        raise Missing(field_name, key)
    try:
        insp = void(session, key, reason=reason, actor=actor, defer=defer)
    except inspections.InvalidVoid as exc:
        raise ApiProblem([_api_problem(exc.problem, texts)]) from exc
    except corrections.CorrectionError as exc:
        raise ApiProblem([Problem(field_name, str(exc))]) from exc
    return VoidOut(entity, str(key), insp.month, actor, reason.strip(),
                   _inspection_out(inspections.row_of(session, insp)))


def void_inspection(
    session: Session, inspection_id: str, *, reason: str, actor: str, texts: Texts, defer: bool = False
) -> VoidOut:
    return _void(session, "inspection", "inspection_id", Inspection, inspection_id, inspections.void_inspection,
                 reason=reason, actor=actor, texts=texts, defer=defer)


def void_defect(
    session: Session, defect_id: int, *, reason: str, actor: str, texts: Texts, defer: bool = False
) -> VoidOut:
    return _void(session, "defect", "defect_id", InspectionDefect, defect_id, inspections.void_defect,
                 reason=reason, actor=actor, texts=texts, defer=defer)


# Which request field each of the HR service's refusals belongs to.
DECISION_FIELDS = {
    "bad_action": "action", "reason_required": "reason", "reason_too_long": "reason", "not_found": "month",
    "approval_off": "month", "not_a_proposal": "month", "month_closed": "month",
}


def decide(
    session: Session, *, agent_id: str, month: str, action: str, reason: str, actor: str, lang: str, texts: Texts,
) -> DecisionOut:
    """HR approves or holds a proposed promotion through the same service as the HR pages
    (which recomputes from ``month``)."""
    if session.get(Agent, agent_id) is None:
        raise ApiProblem([Problem("agent_id", texts("agent.unknown", agent_id=agent_id), "agent.unknown")])
    try:
        hr.decide_and_recompute(session, agent_id, month, action=action, reason=reason, actor=actor)
    except hr.DecisionError as exc:
        raise ApiProblem([Problem(DECISION_FIELDS.get(exc.code, "month"), texts(exc.code), exc.code)]) from exc
    row = session.scalars(
        select(MonthResultRow).where(MonthResultRow.agent_id == agent_id, MonthResultRow.month == month)
        .execution_options(populate_existing=True)
    ).first()
    return DecisionOut(agent_id, month, action, reason.strip(), actor, result_out(row, lang, rulebook_store.load_all(session)) if row else None)
