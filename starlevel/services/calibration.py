"""Calibration sessions: several inspectors score the same contacts blind.

HR or an inspector acting as QA lead (the session's creator) picks contacts already
inspected and the inspectors who score them. Each inspector scores each contact without
seeing the original score or anyone else's; once everyone has scored everything, the
session shows the scores and defects side by side, the spread, and a proposed agreed set
of defects (each code at the count most inspectors gave). The lead records the agreed
set; the original inspection stays as it is unless the lead applies the agreement, which
voids the original's defects the session did not agree on, with the session as the
reason (through the ordinary void use case, so the agent is re-evaluated).

Functions leave their changes in the caller's session and flush; the caller commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import (
    Agent,
    CalibrationItem,
    CalibrationScore,
    CalibrationSession,
    Inspection,
    User,
    utcnow,
)
from starlevel.domain.scoring import inspection_score
from starlevel.services import audit, inspections, rulebooks
from starlevel.services.inspections import Problem

MAX_CONTACTS = 20
MAX_INSPECTORS = 10
TITLE_LIMIT = 200


class CalibrationError(ValueError):
    def __init__(self, problems: list[Problem], status: int = 400) -> None:
        super().__init__("; ".join(p.key for p in problems))
        self.problems = problems
        self.status = status


def _one(field_: str, key: str, status: int = 400, **params: Any) -> CalibrationError:
    return CalibrationError([Problem(field_, key, params)], status)


def _ids(raw: str | Iterable[str]) -> list[str]:
    items = raw.replace(",", " ").split() if isinstance(raw, str) else [str(x).strip() for x in raw]
    return list(dict.fromkeys(i for i in items if i))


# ---------------------------------------------------------------------------- creating


def inspector_names(session: Session) -> list[str]:
    """Usernames of every active inspector (the create form's choices)."""
    return list(session.scalars(
        select(User.username).where(User.role == "inspector", User.disabled.is_(False)).order_by(User.username)
    ))


def create(session: Session, *, title: str, inspection_ids: str | Iterable[str], inspectors: Iterable[str],
           actor: str) -> CalibrationSession:
    """A new session over live inspections, scored by at least two inspectors."""
    problems: list[Problem] = []
    title = (title or "").strip()
    if not title:
        problems.append(Problem("title", "title.missing"))
    elif len(title) > TITLE_LIMIT:
        problems.append(Problem("title", "text.too_long", {"limit": TITLE_LIMIT}))
    ids = _ids(inspection_ids)
    if not ids:
        problems.append(Problem("inspection_ids", "contacts.missing"))
    elif len(ids) > MAX_CONTACTS:
        problems.append(Problem("inspection_ids", "contacts.too_many", {"max": MAX_CONTACTS}))
    else:
        live = set(session.scalars(select(Inspection.inspection_id).where(
            Inspection.inspection_id.in_(ids), Inspection.voided_at.is_(None))))
        for i in ids:
            if i not in live:
                problems.append(Problem("inspection_ids", "contact.unknown", {"value": i[:64]}))
    names = _ids(inspectors)
    known = set(inspector_names(session))
    for n in names:
        if n not in known:
            problems.append(Problem("inspectors", "inspector.unknown", {"value": n[:100]}))
    if len(names) < 2:
        problems.append(Problem("inspectors", "inspectors.too_few"))
    elif len(names) > MAX_INSPECTORS:
        problems.append(Problem("inspectors", "inspectors.too_many", {"max": MAX_INSPECTORS}))
    if problems:
        raise CalibrationError(problems)
    row = CalibrationSession(title=title, created_by=actor, created_at=utcnow(), inspectors=names)
    session.add(row)
    session.flush()
    for iid in ids:
        session.add(CalibrationItem(session_id=row.id, inspection_id=iid))
    audit.record(session, actor, "create", "calibration", str(row.id), detail={"inspections": ids, "inspectors": names})
    session.flush()
    return row


# ---------------------------------------------------------------------------- scoring


def _session(session: Session, session_id: int, *, viewer: str, role: str) -> CalibrationSession:
    row = session.get(CalibrationSession, session_id)
    if row is None or not may_see(row, viewer=viewer, role=role):
        raise _one("session", "session.missing", 404, value=session_id)
    return row


def may_see(row: CalibrationSession, *, viewer: str, role: str) -> bool:
    return role == "hr" or viewer == row.created_by or viewer in row.inspectors


def _item(session: Session, row: CalibrationSession, item_id: int) -> CalibrationItem:
    item = session.get(CalibrationItem, item_id)
    if item is None or item.session_id != row.id:
        raise _one("item", "item.missing", 404, value=item_id)
    return item


def _complete(session: Session, row: CalibrationSession) -> bool:
    items = session.scalar(select(func.count()).select_from(CalibrationItem).where(CalibrationItem.session_id == row.id)) or 0
    scored = session.scalar(
        select(func.count()).select_from(CalibrationScore).join(CalibrationItem)
        .where(CalibrationItem.session_id == row.id, CalibrationScore.inspector.in_(row.inspectors))
    ) or 0
    return scored >= items * len(row.inspectors)


def score(session: Session, session_id: int, item_id: int, *, inspector: str, role: str,
          form: Mapping[str, Sequence[str]]) -> CalibrationScore:
    """An inspector of the session scores one contact (ticked codes and counts, as on the
    inspection form); they may change it until everyone has scored everything."""
    row = _session(session, session_id, viewer=inspector, role=role)
    item = _item(session, row, item_id)
    if inspector not in row.inspectors:
        raise _one("session", "score.not_member", 403)
    if _complete(session, row):
        raise _one("session", "score.closed", 409)
    insp = session.get(Inspection, item.inspection_id)
    assert insp is not None
    rb = rulebooks.current(session, insp.month)
    draft = inspections.Draft.from_form(form)
    problems = []
    for pick in draft.picks.values():
        if not rb.has_defect(pick.code):
            problems.append(Problem("codes", "code.unknown", {"code": pick.code[:32]}))
        elif pick.n is None:
            problems.append(Problem(f"n_{pick.code}", "code.count", {"code": pick.code, "max": inspections.MAX_COUNT}))
    if problems:
        raise CalibrationError(problems)
    codes = draft.codes()
    value = inspection_score(codes, rb)
    mine = session.scalar(select(CalibrationScore).where(
        CalibrationScore.item_id == item.id, CalibrationScore.inspector == inspector))
    if mine is None:
        mine = CalibrationScore(item_id=item.id, inspector=inspector, codes=codes, score=value, scored_at=utcnow())
        session.add(mine)
    else:
        mine.codes, mine.score, mine.scored_at = codes, value, utcnow()
    audit.record(session, inspector, "calibrate", "calibration", f"{row.id}/{item.id}",
                 detail={"inspection_id": item.inspection_id, "codes": codes, "score": str(value)})
    session.flush()
    return mine


# ---------------------------------------------------------------------------- agreeing


def majority(code_lists: Sequence[Sequence[str]]) -> list[str]:
    """Each code at the count more than half of the scorers reached (the lower median)."""
    counts = [Counter(c) for c in code_lists]
    out: list[str] = []
    for code in sorted({c for cs in code_lists for c in cs}):
        ns = sorted((c[code] for c in counts), reverse=True)
        out.extend([code] * ns[len(ns) // 2])
    return out


def _lead_and_complete(session: Session, session_id: int, item_id: int, actor: str, role: str
                       ) -> tuple[CalibrationSession, CalibrationItem, Inspection]:
    row = _session(session, session_id, viewer=actor, role=role)
    item = _item(session, row, item_id)
    if actor != row.created_by:
        raise _one("session", "agree.not_lead", 403)
    if not _complete(session, row):
        raise _one("session", "agree.waiting", 409)
    insp = session.get(Inspection, item.inspection_id)
    assert insp is not None
    return row, item, insp


def agree(session: Session, session_id: int, item_id: int, *, actor: str, role: str,
          form: Mapping[str, Sequence[str]]) -> CalibrationItem:
    """The lead records the agreed defects of one contact (scored by the rulebook of its month)."""
    row, item, insp = _lead_and_complete(session, session_id, item_id, actor, role)
    rb = rulebooks.current(session, insp.month)
    draft = inspections.Draft.from_form(form)
    bad = [p.code for p in draft.picks.values() if not rb.has_defect(p.code) or p.n is None]
    if bad:
        raise CalibrationError([Problem("codes", "code.unknown", {"code": bad[0][:32]})])
    codes = draft.codes()
    item.agreed_codes, item.agreed_score = codes, inspection_score(codes, rb)
    item.agreed_by, item.agreed_at = actor, utcnow()
    audit.record(session, actor, "calibration_agree", "calibration", f"{row.id}/{item.id}",
                 detail={"inspection_id": item.inspection_id, "codes": codes, "score": str(item.agreed_score)})
    session.flush()
    return item


def apply(session: Session, session_id: int, item_id: int, *, actor: str, role: str, defer: bool = False) -> int:
    """Void the original's live defects beyond the agreed set, with the session as the
    reason. Returns how many were voided (0: the original already agrees)."""
    row, item, insp = _lead_and_complete(session, session_id, item_id, actor, role)
    if item.agreed_codes is None:
        raise _one("session", "apply.no_agreement", 409)
    allowed = Counter(item.agreed_codes)
    extra = []
    for d in insp.defects:
        if d.voided_at is not None:
            continue
        if allowed[d.code] > 0:
            allowed[d.code] -= 1
        else:
            extra.append(d.id)
    reason = f"calibration session #{row.id} ({row.title}): agreed score {item.agreed_score}"
    for defect_id in extra:
        inspections.void_defect(session, defect_id, reason=reason, actor=actor, defer=defer)
    item.applied_at = utcnow()
    audit.record(session, actor, "calibration_apply", "calibration", f"{row.id}/{item.id}",
                 detail={"inspection_id": item.inspection_id, "voided_defects": extra})
    session.flush()
    return len(extra)


# ---------------------------------------------------------------------------- viewing


@dataclass(frozen=True)
class ItemView:
    item: CalibrationItem
    inspection: Inspection
    agent_name: str
    mine: CalibrationScore | None
    scores: list[CalibrationScore]  # everyone's, in the session's inspector order (only when complete)
    original_codes: list[str]  # only when complete
    original_score: Decimal | None  # only when complete
    proposed: list[str]  # majority codes (only when complete)
    spread: Decimal | None
    mean: Decimal | None


@dataclass(frozen=True)
class SessionView:
    session: CalibrationSession
    items: list[ItemView]
    complete: bool
    scored: dict[str, int]  # inspector -> contacts scored so far
    is_lead: bool
    is_member: bool
    spread: Decimal | None  # the widest spread of any contact


def view(session: Session, session_id: int, *, viewer: str, role: str) -> SessionView:
    row = _session(session, session_id, viewer=viewer, role=role)
    complete = _complete(session, row)
    items = list(session.scalars(select(CalibrationItem).where(CalibrationItem.session_id == row.id)
                                 .order_by(CalibrationItem.id)))
    scores = list(session.scalars(select(CalibrationScore).where(
        CalibrationScore.item_id.in_([i.id for i in items] or [0]))))
    order = {n: k for k, n in enumerate(row.inspectors)}
    books = rulebooks.load_all(session)
    out = []
    for it in items:
        insp = session.get(Inspection, it.inspection_id)
        assert insp is not None
        agent = session.get(Agent, insp.agent_id)
        mine_all = sorted((s for s in scores if s.item_id == it.id and s.inspector in order),
                          key=lambda s: order[s.inspector])
        mine = next((s for s in mine_all if s.inspector == viewer), None)
        if complete:
            values = [s.score for s in mine_all]
            live = [d.code for d in insp.defects if d.voided_at is None]
            rb = rulebooks.for_month(books, insp.month)
            out.append(ItemView(it, insp, agent.name if agent else "", mine, mine_all, live,
                                inspection_score([c for c in live if rb.has_defect(c)], rb),
                                majority([s.codes for s in mine_all]), max(values) - min(values),
                                (sum(values) / len(values)).quantize(Decimal("0.01"))))
        else:
            out.append(ItemView(it, insp, agent.name if agent else "", mine, [], [], None, [], None, None))
    scored = {n: sum(1 for s in scores if s.inspector == n) for n in row.inspectors}
    spreads = [v.spread for v in out if v.spread is not None]
    return SessionView(row, out, complete, scored, viewer == row.created_by, viewer in row.inspectors,
                       max(spreads) if spreads else None)


def sessions_for(session: Session, *, viewer: str, role: str, limit: int = 100) -> list[CalibrationSession]:
    """Sessions ``viewer`` leads or scores in (HR: all), newest first."""
    rows = list(session.scalars(select(CalibrationSession).order_by(CalibrationSession.id.desc()).limit(1000)))
    return [r for r in rows if may_see(r, viewer=viewer, role=role)][:limit]


def deviations(session: Session, month: str | None = None) -> dict[str, tuple[Decimal, int]]:
    """inspector -> (mean absolute difference from the agreed score, contacts), over agreed
    contacts (of inspections of ``month`` when given)."""
    q = (select(CalibrationScore.inspector, CalibrationScore.score, CalibrationItem.agreed_score)
         .join(CalibrationItem, CalibrationItem.id == CalibrationScore.item_id)
         .where(CalibrationItem.agreed_score.is_not(None)))
    if month:
        q = q.join(Inspection, Inspection.inspection_id == CalibrationItem.inspection_id).where(Inspection.month == month)
    acc: dict[str, list[Decimal]] = {}
    for name, value, agreed in session.execute(q):
        acc.setdefault(name, []).append(abs(Decimal(value) - Decimal(agreed)))
    return {n: ((sum(v) / len(v)).quantize(Decimal("0.01")), len(v)) for n, v in acc.items()}
