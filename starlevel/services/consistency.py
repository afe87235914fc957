"""Inspector consistency: do inspectors score alike?

Per inspector and month: live inspections recorded, the mean score given, defects per
inspection by tier, disputes received on that month's inspections and the share upheld
(at review or by HR), and the mean distance from the agreed score in calibration
sessions; each against the team's figure. The inspectors whose mean score is farthest
from the team's are flagged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from starlevel.db.models import Dispute, Inspection, InspectionDefect
from starlevel.domain.scoring import inspection_score
from starlevel.services import calibration, rulebooks

CENT = Decimal("0.01")
UPHELD = ("upheld", "hr_upheld")


@dataclass(frozen=True)
class Row:
    inspector: str
    inspections: int
    mean_score: Decimal | None
    per_tier: dict[int, Decimal]  # tier -> defects per inspection
    disputes: int
    upheld: int
    upheld_rate: Decimal | None  # of decided disputes
    calibration: Decimal | None  # mean |score - agreed| in calibration sessions
    calibrated: int
    gap: Decimal | None  # mean score minus the team's
    flagged: bool


@dataclass(frozen=True)
class Table:
    month: str
    tiers: tuple[int, ...]
    rows: list[Row]
    team: Row | None


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def table(session: Session, month: str, *, only: str | None = None) -> Table:
    """The consistency table of ``month`` (``only``: one inspector's row, the team's figures
    still over everyone)."""
    rb = rulebooks.current(session, month)
    tiers = tuple(t.tier for t in rb.tiers)
    insp = dict(session.execute(
        select(Inspection.inspection_id, Inspection.inspector)
        .where(Inspection.month == month, Inspection.voided_at.is_(None))
    ).all())
    codes: dict[str, list[str]] = defaultdict(list)
    for iid, code in session.execute(
        select(InspectionDefect.inspection_id, InspectionDefect.code).join(Inspection)
        .where(Inspection.month == month, Inspection.voided_at.is_(None), InspectionDefect.voided_at.is_(None))
    ):
        codes[iid].append(code)
    count: Counter[str] = Counter()
    total: dict[str, Decimal] = defaultdict(Decimal)
    tier_n: dict[str, Counter[int]] = defaultdict(Counter)
    for iid, who in insp.items():
        known = [c for c in codes.get(iid, []) if rb.has_defect(c)]
        count[who] += 1
        total[who] += inspection_score(known, rb)
        for c in known:
            tier_n[who][rb.tier_of(c)] += 1
    disputes: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    upheld: Counter[str] = Counter()
    for who, status, n in session.execute(
        select(Dispute.inspector, Dispute.status, func.count()).where(Dispute.month == month)
        .group_by(Dispute.inspector, Dispute.status)
    ):
        disputes[who] += n
        if status not in ("open", "escalated"):
            decided[who] += n
        if status in UPHELD:
            upheld[who] += n
    devs = calibration.deviations(session, month)
    names = sorted(set(count) | set(disputes) | set(devs))
    all_n = sum(count.values())
    team_mean = _q(sum(total.values(), Decimal(0)) / all_n) if all_n else None
    rows = []
    for name in names:
        n = count[name]
        mean = _q(total[name] / n) if n else None
        rows.append(Row(
            name, n, mean,
            {t: _q(Decimal(tier_n[name][t]) / n) for t in tiers} if n else {},
            disputes[name], upheld[name], _q(Decimal(upheld[name]) / decided[name] * 100) if decided[name] else None,
            devs[name][0] if name in devs else None, devs[name][1] if name in devs else 0,
            mean - team_mean if mean is not None and team_mean is not None else None, False,
        ))
    # Flag the fifth (at least one) whose mean score is farthest from the team's, when it differs at all.
    if len(rows) > 1:
        apart = sorted((r for r in rows if r.gap), key=lambda r: abs(r.gap or 0), reverse=True)
        flagged = {r.inspector for r in apart[:math.ceil(len(rows) / 5)]}
        rows = [replace(r, flagged=r.inspector in flagged) for r in rows]
    all_disputes = sum(disputes.values())
    all_decided = sum(decided.values())
    cal = [v for v, _n in devs.values()]
    team = Row(
        "", all_n, team_mean,
        {t: _q(Decimal(sum(c[t] for c in tier_n.values())) / all_n) for t in tiers} if all_n else {},
        all_disputes, sum(upheld.values()),
        _q(Decimal(sum(upheld.values())) / all_decided * 100) if all_decided else None,
        _q(sum(cal, Decimal(0)) / len(cal)) if cal else None, sum(n for _v, n in devs.values()), None, False,
    ) if names else None
    if only is not None:
        rows = [r for r in rows if r.inspector == only]
    rows.sort(key=lambda r: (not r.flagged, -(abs(r.gap) if r.gap is not None else Decimal(0)), r.inspector))
    return Table(month, tiers, rows, team)


def latest_month(session: Session) -> str | None:
    return session.scalar(select(func.max(Inspection.month)).where(Inspection.voided_at.is_(None)))
