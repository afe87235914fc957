"""The QA inspector's work: record inspections, void them, list them, see coverage, upload files.

Plain functions over a Session. Nothing here commits: the caller (a request, the CLI)
owns the transaction, so a new inspection or a void and the incremental recompute it
triggers land together or not at all.

Validation problems come back as :class:`Problem` values (field, message key,
parameters), never as text: the web layer turns the key into a sentence in the
user's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.orm import Session, make_transient_to_detached

from starlevel.db.models import Agent, DefectType, IdCounter, Inspection, InspectionDefect, utcnow
from starlevel.domain.model import CHANNELS
from starlevel.domain.months import add_months, is_month, month_of
from starlevel.domain.rulebook import Rulebook, Tier
from starlevel.domain.scoring import inspection_score
from starlevel.services import audit, clock, corrections, locks, months, rulebooks, search
from starlevel.services.importer import COLUMNS, KINDS, ImportResult, import_table
from starlevel.services.recompute import recompute, recompute_agent, settle_agent_change

__all__ = [
    "CHANNELS",
    "MAX_COUNT",
    "Coverage",
    "Draft",
    "InvalidInspection",
    "InvalidVoid",
    "KINDS",
    "ListFilters",
    "Problem",
    "create",
    "coverage",
    "is_month",
    "month_of",
    "list_inspections",
    "score_preview",
    "search_agents",
    "upload",
    "void_defect",
    "void_defects",
    "void_inspection",
]

#: How often one code may be counted in one inspection (a typo made 20 times is a lot).
MAX_COUNT = 20
#: Agents listed by the coverage panel (the totals count them all).
COVERAGE_LIMIT = 50
_REF_LIMIT = 200
_NOTE_LIMIT = 2000


# ------------------------------------------------------------------------------- the form


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a draft. ``field`` is the form field it belongs next to;
    ``key`` names the message (see ``starlevel.web.inspector.problem_text``)."""

    field: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


class InvalidInspection(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.key}" for p in problems))
        self.problems = problems


@dataclass
class Pick:
    """One ticked defect code: how many times it occurred (as typed) and a note."""

    code: str
    count: str = "1"
    note: str = ""

    @property
    def n(self) -> int | None:
        text = self.count.strip() or "1"
        if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_COUNT:
            return int(text)
        return None


def _one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name) or []
    return values[-1] if values else ""


@dataclass
class Draft:
    """The new-inspection form as typed (re-shown unchanged when it has problems).

    ``agent_id`` is the hidden field the type-ahead fills; ``agent_q`` the visible search
    text, which doubles as the agent id when nothing was picked (and without JavaScript).
    """

    agent_id: str = ""
    agent_q: str = ""
    contact_on: str = ""
    channel: str = ""
    contact_ref: str = ""
    picks: dict[str, Pick] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, Sequence[str]]) -> Draft:
        picks: dict[str, Pick] = {}
        for raw in form.get("code") or []:
            code = raw.strip()
            if code and code not in picks:
                picks[code] = Pick(code, _one(form, f"n_{code}").strip() or "1", _one(form, f"note_{code}").strip())
        return cls(
            agent_id=_one(form, "agent_id").strip(),
            agent_q=_one(form, "agent_q").strip(),
            contact_on=_one(form, "contact_on").strip(),
            channel=_one(form, "channel").strip(),
            contact_ref=_one(form, "contact_ref").strip(),
            picks=picks,
        )

    @property
    def chosen_agent_id(self) -> str:
        return self.agent_id or self.agent_q

    def contact_date(self) -> date | None:
        try:
            return date.fromisoformat(self.contact_on) if len(self.contact_on) == 10 else None
        except ValueError:
            return None

    def codes(self) -> list[str]:
        """Every occurrence, a code repeated by its count (codes with a bad count left out)."""
        out: list[str] = []
        for pick in self.picks.values():
            out.extend([pick.code] * (pick.n or 0))
        return out


def rulebook_for(session: Session, draft: Draft | None = None) -> Rulebook:
    """The rulebook of the contact's month (the current one while the date is unknown)."""
    day = draft.contact_date() if draft else None
    return rulebooks.current(session, month_of(day) if day else None)


@dataclass(frozen=True)
class TierGroup:
    tier: Tier
    name: str
    defects: list[tuple[str, str]]  # (code, description in the UI language)


def form_catalog(session: Session, lang: str) -> list[TierGroup]:
    """The current rulebook's catalog, as the new-inspection form shows it."""
    return catalog(rulebooks.current(session), lang)


def tiers(session: Session, month: str | None = None) -> tuple[Tier, ...]:
    return rulebooks.current(session, month).tiers


def catalog(rb: Rulebook, lang: str) -> list[TierGroup]:
    """The defect catalog grouped by tier, names in ``lang`` (English as the fallback)."""
    groups = []
    for tier in rb.tiers:
        name = (tier.name_zh if lang == "zh" else tier.name_en) or tier.name_en or str(tier.tier)
        defects = [(d.code, (d.zh if lang == "zh" else d.en) or d.en) for d in rb.defects if d.tier == tier.tier]
        groups.append(TierGroup(tier, name, defects))
    return groups


@dataclass(frozen=True)
class ScorePreview:
    score: Decimal
    lines: list[tuple[str, int, Decimal]]  # (code, occurrences, points deducted in all)
    red_line: list[str]


def score_preview(rb: Rulebook, draft: Draft) -> ScorePreview:
    """What the inspection would score, by the domain's own ``inspection_score``."""
    known = [c for c in draft.codes() if rb.has_defect(c)]
    lines = []
    for pick in draft.picks.values():
        if rb.has_defect(pick.code) and pick.n:
            lines.append((pick.code, pick.n, rb.deduction(pick.code) * pick.n))
    red = [c for c in dict.fromkeys(known) if rb.is_red_line(c)]
    return ScorePreview(inspection_score(known, rb), lines, red)


def search_agents(session: Session, q: str, limit: int = 8) -> list[Agent]:
    """Agents whose id starts with ``q`` or whose name contains it (ids first)."""
    q = q.strip()
    if not q:
        return []
    exact = func.lower(Agent.agent_id) == q.lower()
    stmt = (
        select(Agent)
        .where(or_(search.starts_with(Agent.agent_id, q), search.contains(Agent.name, q)))
        .order_by(exact.desc(), Agent.agent_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def find_agent(session: Session, agent_id: str) -> Agent | None:
    """An agent by id; an exact match first, else a case-insensitive one."""
    if not agent_id:
        return None
    agent = session.get(Agent, agent_id)
    if agent is None:
        agent = session.scalar(select(Agent).where(func.lower(Agent.agent_id) == agent_id.lower()).limit(2))
    return agent


def _duplicate(session: Session, agent_id: str, contact_ref: str) -> Problem | None:
    """The problem when ``agent_id`` already has a live inspection of ``contact_ref``."""
    other = session.scalar(
        select(Inspection.inspection_id).where(
            Inspection.agent_id == agent_id, Inspection.contact_ref == contact_ref, Inspection.voided_at.is_(None),
        ).limit(1)
    )
    if other is None:
        return None
    return Problem("contact_ref", "ref.duplicate", {"agent_id": agent_id, "ref": contact_ref, "other": other})


def validate(session: Session, draft: Draft, *, today: date) -> tuple[list[Problem], Agent | None, Rulebook]:
    problems: list[Problem] = []
    add = problems.append
    agent_id = draft.chosen_agent_id
    agent = find_agent(session, agent_id)
    if not agent_id:
        add(Problem("agent_id", "agent.missing"))
    elif agent is None:
        add(Problem("agent_id", "agent.unknown", {"agent_id": agent_id}))

    day = draft.contact_date()
    if not draft.contact_on:
        add(Problem("contact_on", "date.missing"))
    elif day is None:
        add(Problem("contact_on", "date.invalid", {"value": draft.contact_on}))
    elif day > today:
        add(Problem("contact_on", "date.future", {"today": today}))
    elif agent is not None and day < agent.hired_on:
        add(Problem("contact_on", "date.before_hire", {"agent_id": agent.agent_id, "hired_on": agent.hired_on}))
    elif agent is not None and agent.left_on is not None and day > agent.left_on:
        add(Problem("contact_on", "date.after_leave", {"agent_id": agent.agent_id, "left_on": agent.left_on}))
    elif months.is_closed(session, month_of(day)):
        add(Problem("contact_on", "month.closed", {"month": month_of(day)}))

    if not draft.channel:
        add(Problem("channel", "channel.missing"))
    elif draft.channel not in CHANNELS:
        add(Problem("channel", "channel.unknown", {"value": draft.channel}))

    if not draft.contact_ref:
        add(Problem("contact_ref", "ref.missing"))
    elif len(draft.contact_ref) > _REF_LIMIT:
        add(Problem("contact_ref", "ref.too_long", {"limit": _REF_LIMIT}))
    elif agent is not None and (dup := _duplicate(session, agent.agent_id, draft.contact_ref)) is not None:
        add(dup)

    rb = rulebook_for(session, draft)
    for pick in draft.picks.values():
        if not rb.has_defect(pick.code):
            add(Problem("codes", "code.unknown", {"code": pick.code}))
        elif pick.n is None:
            add(Problem(f"n_{pick.code}", "code.count", {"code": pick.code, "max": MAX_COUNT}))
        elif len(pick.note) > _NOTE_LIMIT:
            add(Problem(f"note_{pick.code}", "note.too_long", {"limit": _NOTE_LIMIT}))
    return problems, agent, rb


_WEB_ID = re.compile(r"^W\d{8}-(\d{1,18})$")
COUNTER = "inspection"


_NEXTVAL = text("SELECT nextval('inspection_number_seq')")
_ADVANCE = (update(IdCounter.__table__).where(IdCounter.__table__.c.name == COUNTER)
            .values(value=IdCounter.__table__.c.value + 1).returning(IdCounter.__table__.c.value))


def _next_number(session: Session) -> int:
    """The next running number for a web-entered inspection, safe under concurrency.

    PostgreSQL: a sequence (never blocks, never repeats, gaps after a rollback are fine).
    SQLite: the ``id_counters`` row, advanced in the saving transaction, which already
    holds SQLite's single write lock.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return int(conn.execute(_NEXTVAL).scalar_one())
    value = conn.execute(_ADVANCE).scalar()
    if value is None:  # a database whose counter row went missing: start above every id in use
        ids = session.scalars(select(Inspection.inspection_id).where(Inspection.inspection_id.like("W%-%")))
        value = max((int(m.group(1)) for m in map(_WEB_ID.match, ids) if m), default=0) + 1
        session.add(IdCounter(name=COUNTER, value=value))
        session.flush()
    return int(value)


def _next_id(session: Session, day: date) -> str:
    return f"W{day:%Y%m%d}-{_next_number(session):04d}"


_KNOWN_CODES = select(DefectType.code).where(DefectType.code.in_(bindparam("codes", expanding=True)))


def _ensure_defect_types(session: Session, rb: Rulebook, codes: set[str]) -> None:
    """inspection_defects.code refers to defect_types: add any catalog entry it lacks."""
    if not codes:
        return
    missing = codes - set(session.connection().execute(_KNOWN_CODES, {"codes": sorted(codes)}).scalars())
    for code in sorted(missing):
        d = rb.defect(code)
        session.add(DefectType(code=d.code, tier=d.tier, name_zh=d.zh, name_en=d.en, active=True))
    if missing:
        session.flush()  # before the defects that refer to them, which are written through Core


_INSPECTIONS = Inspection.__table__
_DEFECTS = InspectionDefect.__table__
_ADD_DEFECTS = insert(_DEFECTS).returning(_DEFECTS.c.id, sort_by_parameter_order=True)
_ADD_INSPECTION: dict[str, Any] = {}


def _add_inspection(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the id: an id an import already took is
    skipped without a savepoint (both databases then return no row)."""
    stmt = _ADD_INSPECTION.get(dialect)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = _ADD_INSPECTION[dialect] = dialect_insert(_INSPECTIONS).on_conflict_do_nothing(
            index_elements=[_INSPECTIONS.c.inspection_id]).returning(_INSPECTIONS.c.inspection_id)
    return stmt


def _store(session: Session, today: date, values: dict[str, Any], codes: list[str],
           notes: Mapping[str, str]) -> Inspection:
    """Write one new inspection and its defects through Core (a save is the busiest write
    there is: the unit of work, a savepoint and the relationship loading cost more than the
    statements), then hand the session the same rows as a persistent instance without
    reading them back."""
    conn = session.connection()
    statement = _add_inspection(conn.dialect.name)
    for _attempt in range(50):
        values["inspection_id"] = _next_id(session, today)
        if conn.execute(statement, values).first() is not None:  # (PostgreSQL reports no insert rowcount)
            break
        # an imported inspection already has this id: take the next number
    else:  # pragma: no cover - fifty imported ids in a row
        raise RuntimeError("could not allocate an inspection id")
    defects = [{"inspection_id": values["inspection_id"], "position": i, "code": c, "note": notes.get(c, ""),
                "voided_at": None, "voided_by": None, "void_reason": None} for i, c in enumerate(codes)]
    ids = conn.execute(_ADD_DEFECTS, defects).scalars().all() if defects else []
    insp = Inspection(**values)
    insp.defects = [InspectionDefect(id=i, **d) for i, d in zip(ids, defects)]
    for obj in (insp, *insp.defects):
        make_transient_to_detached(obj)
    session.add(insp)
    return insp


def create(session: Session, draft: Draft, *, actor: str, today: date | None = None, defer: bool = False) -> Inspection:
    """Validate and store one inspection (``inspector`` = ``actor``), then re-evaluate the
    agent from its month (company-wide when a quota could be touched; with ``defer`` that
    part is left to the background worker). Raises :class:`InvalidInspection` listing every problem; nothing is written then.

    With ``defer`` on SQLite the inspection is committed here, before the re-evaluation
    (see :func:`~starlevel.services.recompute.settle_agent_change`)."""
    today = today or clock.today()
    problems, agent, rb = validate(session, draft, today=today)
    if problems:
        raise InvalidInspection(problems)
    assert agent is not None
    day = draft.contact_date()
    assert day is not None
    codes = draft.codes()
    _ensure_defect_types(session, rb, set(codes))
    notes = {p.code: p.note for p in draft.picks.values()}
    month = month_of(day)
    # The check of the contact reference above could not see a save of the same contact that
    # is under way (a double click, a client's retry): it is made again once no other change
    # to the agent can be, so that only one of them is stored.
    locks.agent_changes(session, agent.agent_id)
    if (dup := _duplicate(session, agent.agent_id, draft.contact_ref)) is not None:
        raise InvalidInspection([dup])
    insp = _store(session, today, {
        "agent_id": agent.agent_id, "contact_on": day, "month": month, "channel": draft.channel,
        "contact_ref": draft.contact_ref, "inspector": actor, "created_at": utcnow(), "created_by": actor,
        "voided_at": None, "voided_by": None, "void_reason": None,
    }, codes, notes)
    audit.record_many(session, [audit.Entry(actor, "create", "inspection", insp.inspection_id,
                                            detail={"agent_id": agent.agent_id, "month": month, "codes": codes})])
    if defer and session.get_bind().dialect.name == "sqlite":
        # One writer at a time on SQLite: commit the inspection first and hold the write
        # lock only to store the agent's re-evaluation (services.recompute).
        settle_agent_change(session, agent.agent_id, month)
    else:
        recompute_agent(session, agent.agent_id, month, defer=defer)
    return insp


# ----------------------------------------------------------------------------- voiding


class InvalidVoid(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.key)
        self.problem = problem


def _check_void(reason: str, voided_at: Any) -> None:
    if not (reason or "").strip():
        raise InvalidVoid(Problem("reason", "reason.missing"))
    if len(reason.strip()) > audit.REASON_LIMIT:
        raise InvalidVoid(Problem("reason", "reason.too_long", {"limit": audit.REASON_LIMIT}))
    if voided_at is not None:
        raise InvalidVoid(Problem("reason", "void.already"))


def _check_open(session: Session, month: str | None) -> None:
    if month is not None and months.is_closed(session, month):
        raise InvalidVoid(Problem("reason", "month.closed", {"month": month}))


def void_inspection(
    session: Session, inspection_id: str, *, reason: str, actor: str, defer: bool = False
) -> Inspection:
    """Void with a reason (audited) and recompute from its month. Raises InvalidVoid
    (no reason, void already) or CorrectionError (no such inspection)."""
    insp = session.get(Inspection, inspection_id)
    _check_void(reason, insp.voided_at if insp else None)
    _check_open(session, insp.month if insp else None)
    month = corrections.void_inspection(session, inspection_id, reason=reason, actor=actor)
    assert insp is not None
    recompute_agent(session, insp.agent_id, month, defer=defer)
    return insp


def void_defect(session: Session, defect_id: int, *, reason: str, actor: str, defer: bool = False) -> Inspection:
    """Void one defect occurrence; returns its inspection. The same errors as above
    (a defect of a void inspection counts as void already)."""
    return void_defects(session, [defect_id], reason=reason, actor=actor, defer=defer)


def void_defects(session: Session, defect_ids: list[int], *, reason: str, actor: str, defer: bool = False) -> Inspection:
    """Void occurrences of defects of one inspection together (a code ticked three times,
    voided at once): each is audited, all or none are voided, one re-evaluation."""
    _check_void(reason, None)
    defects = [session.get(InspectionDefect, i) for i in dict.fromkeys(defect_ids)]
    found = [d for d in defects if d is not None]
    if not found or len(found) != len(defects) or len({d.inspection_id for d in found}) != 1:
        raise corrections.CorrectionError(f"no such defects {defect_ids!r} of one inspection")
    for d in found:
        _check_void(reason, d.voided_at or d.inspection.voided_at)
    _check_open(session, found[0].inspection.month)
    month = ""
    for d in found:
        month = corrections.void_defect(session, d.id, reason=reason, actor=actor)
    recompute_agent(session, found[0].inspection.agent_id, month, defer=defer)
    return found[0].inspection


# ------------------------------------------------------------------------------ listing


@dataclass(frozen=True)
class DefectView:
    id: int
    code: str
    tier: int | None
    red_line: bool
    note: str
    voided_at: Any
    voided_by: str | None
    void_reason: str | None


@dataclass(frozen=True)
class Row:
    inspection: Inspection
    agent_name: str
    defects: list[DefectView]
    score: Decimal

    @property
    def voided(self) -> bool:
        return self.inspection.voided_at is not None

    @property
    def defect_groups(self) -> list[list[DefectView]]:
        """Live occurrences of one code with the same note on one line ("×3"); each voided
        occurrence on its own line (it has its own reason)."""
        groups: dict[tuple[str, str], list[DefectView]] = {}
        out: list[list[DefectView]] = []
        for d in self.defects:
            if d.voided_at is not None:
                out.append([d])
                continue
            key = (d.code, d.note)
            if key not in groups:
                groups[key] = []
                out.append(groups[key])
            groups[key].append(d)
        return out


def row_of(session: Session, insp: Inspection, agent_name: str | None = None,
           books: list[Rulebook] | None = None) -> Row:
    """The list view of one inspection: live defects scored by the rulebook of its month."""
    books = books if books is not None else rulebooks.load_all(session)
    rb = rulebooks.for_month(books, insp.month)
    if agent_name is None:
        agent = session.get(Agent, insp.agent_id)
        agent_name = agent.name if agent else ""
    defects = []
    live = []
    for d in insp.defects:
        known = rb.has_defect(d.code)
        defects.append(DefectView(d.id, d.code, rb.tier_of(d.code) if known else None,
                                  known and rb.is_red_line(d.code), d.note, d.voided_at, d.voided_by, d.void_reason))
        if d.voided_at is None and known:
            live.append(d.code)
    return Row(insp, agent_name, defects, inspection_score(live, rb))


@dataclass
class ListFilters:
    month: str | None = None
    agent: str = ""
    tier: int | None = None
    inspector: str | None = None  # "mine only": the signed-in username


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int
    page: int
    pages: int


def latest_month(session: Session, inspector: str | None = None) -> str | None:
    """The latest month holding a live inspection (by ``inspector``, else by anyone)."""
    q = select(func.max(Inspection.month)).where(Inspection.voided_at.is_(None))
    if inspector:
        mine = session.scalar(q.where(Inspection.inspector == inspector))
        if mine:
            return mine
    return session.scalar(q)


def list_inspections(session: Session, filters: ListFilters, *, page: int = 1, per_page: int = 25) -> Page:
    """Newest recorded first; voided rows stay in the list (shown struck through)."""
    stmt = select(Inspection, Agent.name).join(Agent, Agent.agent_id == Inspection.agent_id)
    if filters.month:
        stmt = stmt.where(Inspection.month == filters.month)
    if filters.inspector:
        stmt = stmt.where(Inspection.inspector == filters.inspector)
    if filters.agent:
        text = filters.agent.strip()
        stmt = stmt.where(or_(func.lower(Inspection.agent_id) == text.lower(),
                              search.contains(Agent.name, text)))
    if filters.tier is not None:
        rb = rulebooks.current(session, filters.month)
        codes = [d.code for d in rb.defects if d.tier == filters.tier]
        stmt = stmt.where(exists().where(
            InspectionDefect.inspection_id == Inspection.inspection_id,
            InspectionDefect.voided_at.is_(None),
            InspectionDefect.code.in_(codes or [""]),
        ))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, (total + per_page - 1) // per_page)
    page = min(max(1, page), pages)
    result = session.execute(
        stmt.order_by(Inspection.created_at.desc(), Inspection.contact_on.desc(), Inspection.inspection_id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    books = rulebooks.load_all(session)
    return Page([row_of(session, insp, name, books) for insp, name in result], total, page, pages)


# ----------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Coverage:
    month: str
    required: int
    rows: list[tuple[str, str, int, int]]  # (agent_id, name, live inspections, how many more)
    short: int  # agents below the minimum (all of them, not only those listed)
    missing: int  # inspections still needed in all
    active: int  # agents active in the month


def coverage(session: Session, month: str, *, limit: int = COVERAGE_LIMIT) -> Coverage:
    """Agents active in ``month`` with fewer live inspections than the rulebook's minimum.

    One aggregate query (inspections counted per agent in the database), so it stays fast
    with 10,000 agents and millions of inspections.
    """
    required = rulebooks.current(session, month).min_inspections
    first = date(int(month[:4]), int(month[5:7]), 1)
    last = date.fromisoformat(add_months(month, 1) + "-01") - timedelta(days=1)
    counts = (
        select(Inspection.agent_id.label("agent_id"), func.count().label("n"))
        .where(Inspection.month == month, Inspection.voided_at.is_(None))
        .group_by(Inspection.agent_id)
        .subquery()
    )
    n = func.coalesce(counts.c.n, literal(0))
    active = and_(Agent.hired_on <= last, or_(Agent.left_on.is_(None), Agent.left_on >= first))
    base = select(Agent.agent_id, Agent.name, n.label("n")).outerjoin(counts, counts.c.agent_id == Agent.agent_id)
    short = base.where(active, n < required)
    sq = short.subquery()
    summary = session.execute(select(func.count(), func.coalesce(func.sum(required - sq.c.n), 0))).one()
    n_active = session.scalar(select(func.count()).select_from(Agent).where(active)) or 0
    rows = [
        (a, name, int(k), required - int(k))
        for a, name, k in session.execute(short.order_by(n, Agent.agent_id).limit(limit))
    ]
    return Coverage(month, required, rows, int(summary[0]), int(summary[1]), n_active)


# ------------------------------------------------------------------------------ uploads


def upload_kinds(role: str) -> tuple[str, ...]:
    """What a role may upload: agent records are HR's (and the admin's)."""
    return KINDS if role in ("hr", "admin") else tuple(k for k in KINDS if k != "agents")


#: One example row per kind of upload, in the column order of ``COLUMNS`` (replace it with real rows).
EXAMPLE_ROWS = {
    "agents": "A101,张伟,phone,Team 1,2025-01-06,,1,3",
    "inspections": "Q000001,A101,2025-01-20,phone,CALL-0001,qa,T1-01;T2-05",
}


def template_csv(session: Session, kind: str, month: str | None = None) -> str:
    """The header and one example row of a kind of upload; a metrics file's columns are the
    inputs of the rulebook in force for ``month`` (the newest rulebook without one)."""
    if kind == "metrics":
        from starlevel.services.metrics import template_csv as metrics_template

        return metrics_template(session, month)
    required, optional = COLUMNS[kind]
    return ",".join(required + optional) + "\n" + EXAMPLE_ROWS[kind] + "\n"


def upload(session: Session, kind: str, data: bytes, *, filename: str, actor: str,
           today: date | None = None, role: str = "inspector") -> ImportResult:
    """Import a file all or nothing (raises ImportRejected) and recompute from the first
    month it touched. An inspector uploads only inspections in their own name; HR and the
    admin may upload anyone's (moving records over from another system)."""
    rulebooks.ensure_default(session)  # a fresh database: the first upload needs the rules
    result = import_table(session, kind, data, filename=filename, actor=actor,
                          rulebook=rulebooks.current(session), today=today or date.today(),
                          own_inspector=actor if role == "inspector" else None)
    if result.first_affected_month is not None:
        recompute(session, start=result.first_affected_month)
    return result
