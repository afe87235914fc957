"""Property tests of the ladder engine on random small companies."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starlevel.domain.ladder import RULE_EVENT, RULES, evaluate, prior_months_needed, rulebook_for
from starlevel.domain.model import Agent, HrDecision, Metrics, legacy_metrics, MonthEvidence, MonthResult
from starlevel.domain.months import add_months, month_index, month_of, months_between
from starlevel.domain.rulebook import Rulebook
from starlevel.domain.scoring import month_scores

from .helpers import by_agent, rulebook

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BASE = "2024-01"
IDS = ["A1", "a1", "B", "b2", "C", "c", "D7", "e"]


@dataclass
class Case:
    agents: list[Agent]
    evidence: dict[tuple[str, str], MonthEvidence]
    metrics: dict[tuple[str, str], Metrics]
    decisions: dict[tuple[str, str], HrDecision]
    rulebooks: list[Rulebook]
    last: str

    def run(self, **kw: Any) -> list[MonthResult]:
        return evaluate(
            self.agents, self.evidence, self.metrics, self.decisions, self.rulebooks, last_data_month=self.last, **kw
        )


@st.composite
def rulebooks(draw: st.DrawFn, version: int, effective_from: str) -> Rulebook:
    changes: dict[str, Any] = {}
    for i in range(4):
        changes[f"promotions.{i}.min_tenure"] = draw(st.integers(1, 5))
        changes[f"promotions.{i}.window"] = draw(st.integers(1, 3))
        thr = draw(st.sampled_from(["65", "70", "75", "80", "85"]))
        changes[f"promotions.{i}.threshold"] = {"phone": thr, "online": str(int(thr) + 5)}
    quotas = {str(lvl): draw(st.sampled_from(["0", "0.20", "0.30", "0.50", "1", "1", "none"])) for lvl in (2, 3, 4, 5)}
    changes["quotas"] = {k: v for k, v in quotas.items() if v != "none"}
    changes["demotion.after_months"] = draw(st.integers(1, 3))
    changes["rulebook.approval_required"] = draw(st.booleans())
    changes["rulebook.min_inspections"] = draw(st.integers(1, 3))
    return rulebook(version=version, effective_from=effective_from, **changes)


SCORES = [D(100), D(100), D(98), D(95), D(90), D(80), D(60), D(0)]
METRIC_VALUES = [D("55"), D("70.5"), D("85.25"), D("88.9"), D("92"), D("96"), D("99.5"), D("100")]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_months = draw(st.integers(3, 14))
    last = add_months(BASE, n_months - 1)
    agents = []
    for aid in draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=8, unique=True)):
        hire = add_months(BASE, draw(st.integers(0, n_months - 1)))
        left = draw(st.one_of(st.none(), st.integers(0, 12)))
        hired_on = date.fromisoformat(hire + "-15")
        left_on = None if left is None else date.fromisoformat(add_months(hire, left) + "-01")
        agents.append(
            Agent(
                agent_id=aid,
                name=aid,
                track=draw(st.sampled_from(["phone", "online"])),
                team="t",
                hired_on=hired_on,
                left_on=left_on,
                initial_level=draw(st.sampled_from([1, 1, 1, 2, 2, 3, 4, 5])),
                probation_months=draw(st.integers(0, 3)),
            )
        )
    evidence = {}
    metrics = {}
    decisions = {}
    # "good" companies: nearly every month complete and strong, so that quotas and HR
    # approval decide most outcomes. The monthly data comes from a seeded generator:
    # thousands of individual draws would make each example slow.
    good = draw(st.booleans())
    rnd = random.Random(draw(st.integers(0, 2**32)))
    n_choices = [3, 3, 4, 5] if good else [0, 2, 3, 3, 3, 4, 5]
    scores_choices = SCORES[:3] if good else SCORES
    metric_choices = METRIC_VALUES[-5:] if good else METRIC_VALUES
    for a in agents:
        for m in months_between(month_of(a.hired_on), last):
            if a.left_on is not None and m > month_of(a.left_on):
                break
            n = rnd.choice(n_choices)
            if n:
                evidence[a.agent_id, m] = MonthEvidence(
                    n_inspections=n,
                    score_sum=sum((rnd.choice(scores_choices) for _ in range(n)), D(0)),
                    error_defects=rnd.choice([0, 0, 0, 1]),
                    red_line_codes=("T3-01",) if rnd.randrange(20) == 0 else (),
                )
            if good or rnd.randrange(10) > 0:
                metrics[a.agent_id, m] = legacy_metrics(
                    a.agent_id,
                    m,
                    satisfaction=rnd.choice(metric_choices),
                    efficiency=rnd.choice(metric_choices),
                    attitude=rnd.choice([3, 4, 5, 5]),
                    complaints=rnd.choice([0, 0, 0, 0, 1]),
                )
            if rnd.randrange(4) == 0:
                decisions[a.agent_id, m] = HrDecision(a.agent_id, m, rnd.choice(["approve", "hold"]), "r", "hr")
    rbs = [draw(rulebooks(0, "0000-01"))]
    if draw(st.booleans()):
        rbs.append(draw(rulebooks(1, add_months(BASE, draw(st.integers(1, n_months))))))
    return Case(agents, evidence, metrics, decisions, rbs, last)


def _cap(rb: Rulebook, level: int, headcount: int) -> int | None:
    share = rb.quota(level)
    return None if share is None else int(share * headcount)


@SETTINGS
@given(case=cases(), data=st.data())
def test_ladder_invariants(case: Case, data: st.DataObject) -> None:
    results = case.run()
    hire = {a.agent_id: month_of(a.hired_on) for a in case.agents}

    # sorted, one per active agent-month
    keys = [(r.month, r.agent_id) for r in results]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)

    rb_of = {m: rulebook_for(case.rulebooks, m) for m in {r.month for r in results}}
    for r in results:
        rb = rb_of[r.month]
        assert r.rulebook_version == rb.version
        # at most one step, levels within the ladder
        assert 1 <= r.level <= 5 and 1 <= r.next_level <= 5
        assert abs(r.next_level - r.level) <= 1
        assert r.rule in RULES and r.event == RULE_EVENT[r.rule] and r.explanation["rule"] == r.rule
        if r.next_level > r.level:
            assert r.event == "promote"
        if r.next_level < r.level:
            assert r.event == "demote"
        json.dumps(r.explanation, allow_nan=False)
        # level_since within [hire month, month]; windows never reach back before it
        assert hire[r.agent_id] <= r.level_since <= r.month
        if r.rule in ("promote", "promote_pending", "hold", "waitlist"):
            window = r.explanation["params"]["window"]
            assert window[-1] == r.month and window[0] >= r.level_since
            assert r.complete and not r.on_probation and not r.red_line_codes
        # the engine's scores are the scoring module's
        dims, comp, complete, ap = month_scores(
            case.evidence.get((r.agent_id, r.month)), case.metrics.get((r.agent_id, r.month)), rb
        )
        assert (r.dimensions, r.composite, r.complete, r.all_dimensions_pass) == (dims, comp, complete, ap)
        assert (r.pay is None) is (comp is None)

    # continuity from month to month
    for rows in by_agent(results).values():
        for prev, cur in zip(rows, rows[1:], strict=False):
            assert month_index(cur.month) == month_index(prev.month) + 1
            assert cur.level == prev.next_level
            if prev.next_level != prev.level:
                assert cur.level_since == cur.month and cur.below_floor <= 1
            else:
                assert cur.level_since == prev.level_since

    # quotas: a promotion never pushes its level's next-month count over the cap
    by_month: dict[str, list[MonthResult]] = {}
    for r in results:
        by_month.setdefault(r.month, []).append(r)
    for month, rows in by_month.items():
        rb = rb_of[month]
        for level in range(2, 6):
            granted = [r for r in rows if r.event == "promote" and r.explanation["params"]["to"] == level]
            if not granted:
                continue
            cap = _cap(rb, level, len(rows))
            held = sum(r.next_level == level for r in rows)
            pending = sum(r.rule == "promote_pending" and r.explanation["params"]["to"] == level for r in rows)
            assert cap is None or held + pending <= cap, (month, level, cap, held, pending)

    # deterministic
    again = case.run()
    assert again == results
    assert [json.dumps(r.explanation) for r in again] == [json.dumps(r.explanation) for r in results]

    # incremental evaluation from every month equals the full run
    keep = prior_months_needed(case.rulebooks)
    grouped = by_agent(results)
    months = sorted(by_month)
    starts = months if data.draw(st.booleans(), label="every start") else [data.draw(st.sampled_from(months))]
    for start in starts:
        lo = add_months(start, -keep)
        prior = {aid: [r for r in rows if lo <= r.month < start] for aid, rows in grouped.items()}
        incremental = case.run(start=start, prior=prior)
        assert incremental == [r for r in results if r.month >= start], start


@SETTINGS
@given(case=cases())
def test_progress_reads_the_engines_eligibility(case: Case) -> None:
    """The outlook (what the progress panel shows) judged at the end of a month agrees with
    what the engine decided in that month, whenever the level did not change at its end."""
    from starlevel.domain.ladder import outlook

    results = case.run()
    mine = by_agent(results)
    agents = {a.agent_id: a for a in case.agents}
    judged = 0
    for aid, rows in mine.items():
        for i, r in enumerate(rows):
            if r.next_level != r.level or r.level == 5 or r.event in ("demote", "review"):
                continue
            rb = rulebook_for(case.rulebooks, r.month)
            if rulebook_for(case.rulebooks, add_months(r.month, 1)) is not rb:
                continue
            view = outlook(agents[aid], rows[: i + 1], rb)
            assert view["level"] == r.level and view["target"] == r.level + 1
            engine_eligible = r.rule in ("promote_pending", "waitlist", "hold")
            assert view["eligible"] == engine_eligible, (r.rule, view["missing"])
            if r.explanation["checks"]:
                assert view["checks"] == r.explanation["checks"]
            judged += 1
