"""Builders for domain tests: agents, months with a chosen composite, and a runner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlevel.domain.ladder import evaluate
from starlevel.domain.model import Agent, HrDecision, Metrics, legacy_metrics, MonthEvidence, MonthResult
from starlevel.domain.months import months_between
from starlevel.domain.rulebook import Rulebook, default_rulebook, default_rulebook_document, parse_rulebook
from starlevel.domain.scoring import evidence_of, month_scores

D = Decimal


def rulebook(version: int = 0, effective_from: str = "0000-01", **changes: Any) -> Rulebook:
    """The default rulebook with some document changes, given as dotted paths:
    ``rulebook(**{"rulebook.approval_required": True, "promotions.0.window": 1})``."""
    doc = default_rulebook_document()
    for path, value in changes.items():
        parts = path.split(".")
        node: Any = doc
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_rulebook(doc, version=version, effective_from=effective_from)


def _q2(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def month_inputs(
    composite: Decimal | str | int, *, pass_all: bool = True, rb: Rulebook | None = None
) -> tuple[list[list[str]], Decimal, Decimal, int]:
    """Inspections (code lists) and metrics (efficiency = satisfaction, attitude) whose
    composite under the default weights is exactly ``composite``; with ``pass_all`` every
    dimension is at least 60 (needs composite >= 60)."""
    c = D(str(composite))
    codes: list[list[str]]
    if not pass_all:  # attitude 1 (-> 20) fails the pass mark
        codes, q, a = [[], [], []], D(100), 1
    elif c >= 82:
        codes, q, a = [[], [], []], D(100), 5
    elif c >= 76:
        codes, q, a = [[], [], []], D(100), 3
    else:
        assert c >= 60, "every dimension >= 60 needs a composite >= 60"
        q = ((c - 36) / D("0.4")).to_integral_value(rounding="ROUND_FLOOR")
        if q % 2:
            q -= 1
        k = int((100 - q) / 2)
        codes = [["T1-01"] * k for _ in range(3)]
        a = 3
    x = _q2((c - D("0.4") * q - 3 * a) / D("0.45"))
    rb = rb or default_rulebook()
    ev = evidence_of(codes, rb)
    m = legacy_metrics("x", "2000-01", x, x, a, 0)
    dims, comp, complete, ap = month_scores(ev, m, rb)
    assert comp == c, (composite, dims, comp)
    assert ap is pass_all, dims
    return codes, x, x, a


@dataclass
class World:
    rb: Rulebook = field(default_factory=default_rulebook)
    agents: list[Agent] = field(default_factory=list)
    inspections: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict)
    metrics: dict[tuple[str, str], Metrics] = field(default_factory=dict)
    decisions: dict[tuple[str, str], HrDecision] = field(default_factory=dict)
    last_data_month: str | None = None

    def agent(
        self,
        agent_id: str,
        hired: str | date = "2024-01-05",
        *,
        track: str = "phone",
        level: int = 1,
        left: str | date | None = None,
        probation: int = 3,
        team: str = "t1",
    ) -> Agent:
        a = Agent(
            agent_id=agent_id,
            name=agent_id,
            track=track,
            team=team,
            hired_on=hired if isinstance(hired, date) else date.fromisoformat(hired),
            left_on=left if isinstance(left, date) or left is None else date.fromisoformat(left),
            initial_level=level,
            probation_months=probation,
        )
        self.agents.append(a)
        return a

    def fillers(self, n: int, hired: str = "2024-01-05") -> None:
        """Agents without any data: they only make up the headcount."""
        for i in range(n):
            self.agent(f"Z{i:03d}", hired)

    def month(
        self,
        agent_id: str,
        month: str,
        composite: Decimal | str | int | None = None,
        *,
        extra: Sequence[Sequence[str]] = (),
        n: int | None = None,
        complaints: int = 0,
        metrics: bool = True,
        pass_all: bool = True,
    ) -> None:
        """One month of data. ``extra`` adds inspections (code lists) after the ones that
        produce ``composite`` (so the composite changes if extras are given); ``n`` keeps only
        the first n inspections."""
        if composite is None:
            codes: list[list[str]] = [[], [], []]
            e = s = D(90)
            a = 4
        else:
            codes, e, s, a = month_inputs(composite, pass_all=pass_all)
        codes = [list(c) for c in codes] + [list(x) for x in extra]
        if n is not None:
            codes = codes[:n]
        self.inspections[agent_id, month] = codes
        if metrics:
            self.metrics[agent_id, month] = legacy_metrics(agent_id, month, s, e, a, complaints)
        else:
            self.metrics.pop((agent_id, month), None)
        if self.last_data_month is None or month > self.last_data_month:
            self.last_data_month = month

    def months(self, agent_id: str, first: str, last: str, composite: Decimal | str | int, **kw: Any) -> None:
        for m in months_between(first, last):
            self.month(agent_id, m, composite, **kw)

    def decide(self, agent_id: str, month: str, action: str, reason: str = "") -> None:
        self.decisions[agent_id, month] = HrDecision(agent_id, month, action, reason, "hr1")  # type: ignore[arg-type]

    def evidence(self, rb: Rulebook | None = None) -> dict[tuple[str, str], MonthEvidence]:
        rb = rb or self.rb
        return {k: evidence_of(v, rb) for k, v in self.inspections.items()}

    def run(self, rulebooks: Sequence[Rulebook] | None = None, **kw: Any) -> Results:
        rbs = list(rulebooks) if rulebooks is not None else [self.rb]
        kw.setdefault("last_data_month", self.last_data_month)
        res = evaluate(self.agents, self.evidence(rbs[0]), self.metrics, self.decisions, rbs, **kw)
        return Results(res)


class Results(list[MonthResult]):
    def at(self, agent_id: str, month: str) -> MonthResult:
        for r in self:
            if r.agent_id == agent_id and r.month == month:
                return r
        raise KeyError((agent_id, month))

    def of(self, agent_id: str) -> list[MonthResult]:
        return [r for r in self if r.agent_id == agent_id]

    def events(self, agent_id: str) -> dict[str, str]:
        """month -> event, only months whose event is not 'none'."""
        return {r.month: r.event for r in self.of(agent_id) if r.event != "none"}

    def in_month(self, month: str) -> list[MonthResult]:
        return [r for r in self if r.month == month]


def by_agent(results: Iterable[MonthResult]) -> Mapping[str, list[MonthResult]]:
    out: dict[str, list[MonthResult]] = {}
    for r in results:
        out.setdefault(r.agent_id, []).append(r)
    return out
