"""What-if: a draft rulebook run over a past period against the live results, with cost.

The draft governs the whole period ``start``..``end`` (stored versions that take effect
inside it are set aside for the run); the state at ``start`` is the live one. The run
goes through the rulebook preview's evaluation (services.hr.evaluate_in_memory) and
writes nothing. The result lists the agent-months whose level or pay differ, the
promotion, demotion and waitlist counts and the payroll cost per month, live and draft.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, MonthResultRow
from starlevel.domain import months as M
from starlevel.domain.rulebook import RulebookError, parse_rulebook
from starlevel.services import hr, rulebooks as rulebook_store

ZERO = Decimal(0)
COUNTED = ("promote", "demote", "waitlist")
MAX_MONTHS = 36
CSV_COLUMNS = ("agent_id", "month", "level_live", "level_draft", "next_level_live", "next_level_draft",
               "event_live", "event_draft", "total_pay_live", "total_pay_draft", "pay_difference")


@dataclass(frozen=True)
class Diff:
    agent_id: str
    name: str
    month: str
    level_live: int | None
    level_draft: int | None
    next_level_live: int | None
    next_level_draft: int | None
    event_live: str | None
    event_draft: str | None
    total_pay_live: Decimal | None
    total_pay_draft: Decimal | None

    @property
    def pay_difference(self) -> Decimal:
        return (self.total_pay_draft or ZERO) - (self.total_pay_live or ZERO)


@dataclass(frozen=True)
class MonthCost:
    month: str
    live: Decimal
    draft: Decimal
    live_events: dict[str, int]
    draft_events: dict[str, int]
    changed: int  # agents whose level or pay differ this month

    @property
    def difference(self) -> Decimal:
        return self.draft - self.live


@dataclass(frozen=True)
class WhatIf:
    start: str
    end: str
    months: list[MonthCost]
    diffs: list[Diff]  # every differing agent-month, by month then agent

    @property
    def live_total(self) -> Decimal:
        return sum((m.live for m in self.months), ZERO)

    @property
    def draft_total(self) -> Decimal:
        return sum((m.draft for m in self.months), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.draft_total - self.live_total

    @property
    def agents(self) -> int:
        return len({d.agent_id for d in self.diffs})

    def events(self, which: str) -> dict[str, int]:
        total: Counter[str] = Counter()
        for m in self.months:
            total.update(m.live_events if which == "live" else m.draft_events)
        return {e: total.get(e, 0) for e in COUNTED}


class WhatIfError(ValueError):
    """``code``: bad_period (not months, reversed, too long) or no_data (nothing evaluated then)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


def check_period(session: Session, start: str, end: str) -> tuple[str, str]:
    if not (M.is_month(start or "") and M.is_month(end or "")) or start > end:
        raise WhatIfError("bad_period", f"{start}..{end}: give two months YYYY-MM, the first not after the second")
    if len(M.months_between(start, end)) > MAX_MONTHS:
        raise WhatIfError("bad_period", f"{start}..{end}: at most {MAX_MONTHS} months")
    first, last = hr.month_range(session)
    if first is None or last is None or end < first or start > last:
        raise WhatIfError("no_data", f"{start}..{end}: no evaluated month in this period")
    return max(start, first), min(end, last)


def run(session: Session, document: Mapping[str, Any], *, start: str, end: str) -> WhatIf:
    """Evaluate ``document`` over ``start``..``end`` and compare with the live results.
    Raises RulebookError (invalid draft) or WhatIfError (period)."""
    start, end = check_period(session, start, end)
    stored = rulebook_store.load_all(session)
    version = max(rb.version for rb in stored) + 1
    try:
        draft = parse_rulebook(document, version=version, effective_from=start)
    except RulebookError:
        raise
    rulebooks = sorted([*(rb for rb in stored if rb.effective_from < start), draft],
                       key=lambda rb: (rb.effective_from, rb.version))
    results = hr.evaluate_in_memory(session, rulebooks, start, end=end)
    R = MonthResultRow
    live = {
        (aid, m): (lv, nxt, ev, total) for aid, m, lv, nxt, ev, total in session.execute(
            select(R.agent_id, R.month, R.level, R.next_level, R.event, R.total_pay)
            .where(R.month >= start, R.month <= end))
    }
    names = dict(session.execute(select(Agent.agent_id, Agent.name)).tuples().all())
    period = M.months_between(start, end)
    cost = {m: [ZERO, ZERO] for m in period}
    events = {m: (Counter[str](), Counter[str]()) for m in period}
    changed: Counter[str] = Counter()
    diffs: list[Diff] = []
    for (_aid, m), (_lv, _nxt, ev, total) in live.items():
        if total is not None:
            cost[m][0] += total
        events[m][0][ev] += 1
    for r in results:
        total = r.pay.total if r.pay else None
        if total is not None:
            cost[r.month][1] += total
        events[r.month][1][r.event] += 1
        was = live.pop((r.agent_id, r.month), None)
        if was is None or (was[0], was[1], was[3]) != (r.level, r.next_level, total):
            diffs.append(Diff(r.agent_id, names.get(r.agent_id, ""), r.month, was[0] if was else None, r.level,
                              was[1] if was else None, r.next_level, was[2] if was else None, r.event,
                              was[3] if was else None, total))
            changed[r.month] += 1
    for (aid, m), (lv, nxt, ev, total) in live.items():  # live results the draft would not produce
        diffs.append(Diff(aid, names.get(aid, ""), m, lv, None, nxt, None, ev, None, total, None))
        changed[m] += 1
    diffs.sort(key=lambda d: (d.month, d.agent_id))
    months = [MonthCost(m, cost[m][0], cost[m][1], {e: events[m][0].get(e, 0) for e in COUNTED},
                        {e: events[m][1].get(e, 0) for e in COUNTED}, changed[m]) for m in period]
    return WhatIf(start, end, months, diffs)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def csv_rows(result: WhatIf) -> Iterator[list[str]]:
    """One row per differing agent-month (CSV_COLUMNS)."""
    for d in result.diffs:
        yield [_cell(v) for v in (d.agent_id, d.month, d.level_live, d.level_draft, d.next_level_live,
                                  d.next_level_draft, d.event_live, d.event_draft, d.total_pay_live,
                                  d.total_pay_draft, d.pay_difference)]
