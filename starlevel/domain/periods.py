"""Reports over longer periods (docs/rulebooks.md §2 ``[[periods]]`` and ``[[awards]]``):
quarterly, half-yearly and yearly scores and grades, and yearly awards, computed from the
stored month results. Pure functions; all arithmetic exact decimal, half-up to 2 places."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from starlevel.domain.model import MonthResult
from starlevel.domain.rulebook import Band, Period, Rulebook
from starlevel.domain.scoring import CTX, Q2

__all__ = ["AwardResult", "PeriodScore", "awards", "grade_of", "period_label", "period_scores"]


@dataclass(frozen=True, slots=True)
class PeriodScore:
    """One agent's score for one period (e.g. ``2025-Q2``, ``2025-H1``, ``2025``)."""

    agent_id: str
    period: str  # the period key of the rulebook
    label: str
    score: Decimal | None
    grade: str | None
    months: tuple[str, ...]  # the complete months (or quarters) that made the score
    parts: tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class AwardResult:
    key: str
    year: int
    level: int
    months: int  # the winners' number of months at the level
    agent_ids: tuple[str, ...]


def period_label(month: str, months: int) -> str:
    year, m = int(month[:4]), int(month[5:7])
    if months == 3:
        return f"{year}-Q{(m - 1) // 3 + 1}"
    if months == 6:
        return f"{year}-H{(m - 1) // 6 + 1}"
    return str(year)


def grade_of(score: Decimal | None, grades: Sequence[Band]) -> str | None:
    if score is None:
        return None
    for b in grades:
        if score >= b.min:
            return b.key
    return grades[-1].key if grades else None


def _mean(values: Sequence[Decimal]) -> Decimal:
    with localcontext(CTX):
        return (sum(values, Decimal(0)) / len(values)).quantize(Q2, ROUND_HALF_UP)


def period_scores(rb: Rulebook, results: Iterable[MonthResult]) -> list[PeriodScore]:
    """Every agent's score per period of the rulebook: the mean of the period's complete
    months' composites (rounded half-up), or for ``of = "quarter"`` the mean of the year's
    quarter scores; a period with nothing to average has no score."""
    by_agent: dict[str, list[MonthResult]] = {}
    for r in results:
        by_agent.setdefault(r.agent_id, []).append(r)
    out: list[PeriodScore] = []
    quarterly = next((p for p in rb.periods if p.months == 3), None)
    for aid in sorted(by_agent):
        rows = sorted(by_agent[aid], key=lambda r: r.month)
        quarter_scores: dict[str, PeriodScore] = {}
        for period in sorted(rb.periods, key=lambda p: (p.of != "composite", p.months)):
            mine = _agent_period(aid, rows, period, quarter_scores if quarterly else {})
            out.extend(mine)
            if period is quarterly:  # this agent's quarters only (not a scan of everyone's so far)
                quarter_scores = {s.label: s for s in mine}
    return out


def _agent_period(aid: str, rows: list[MonthResult], period: Period, quarters: dict[str, PeriodScore]) -> list[PeriodScore]:
    groups: dict[str, list[MonthResult]] = {}
    for r in rows:
        groups.setdefault(period_label(r.month, period.months), []).append(r)
    out = []
    for label, members in groups.items():
        if period.of == "quarter":
            parts = [q for q in quarters.values() if q.label.startswith(f"{label}-Q") and q.score is not None]
            values = [q.score for q in parts]  # type: ignore[misc]
            used = tuple(q.label for q in parts)
        else:
            done = [r for r in members if r.complete and r.composite is not None]
            values = [r.composite for r in done]  # type: ignore[misc]
            used = tuple(r.month for r in done)
        score = _mean(values) if values else None  # type: ignore[arg-type]
        out.append(PeriodScore(aid, period.key, label, score, grade_of(score, period.grades), used, tuple(values)))  # type: ignore[arg-type]
    return out


def awards(rb: Rulebook, results: Iterable[MonthResult]) -> list[AwardResult]:
    """Each award of the rulebook per calendar year: the agent(s) with the most months at the
    award's level (ties: every one of them); a year in which nobody reached it names nobody."""
    if not rb.awards:
        return []
    counts: dict[tuple[str, int, int], Counter[str]] = {}
    for r in results:
        for a in rb.awards:
            if r.level == a.level and r.complete:
                counts.setdefault((a.key, a.level, int(r.month[:4])), Counter())[r.agent_id] += 1
    out = []
    for (key, level, year), c in sorted(counts.items(), key=lambda kv: (kv[0][2], kv[0][0])):
        best = max(c.values())
        out.append(AwardResult(key, year, level, best, tuple(sorted(a for a, n in c.items() if n == best))))
    return out
