"""Spec §5, rule by rule."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest

from starlevel.domain.ladder import RULE_EVENT, RULES, evaluate, evaluated_months, rulebook_for
from starlevel.domain.months import months_between
from starlevel.domain.rulebook import default_rulebook

from .helpers import World, rulebook

# Promotions after one qualifying month at any tenure: isolates one condition at a time.
FAST: dict[str, Any] = {
    **{f"promotions.{i}.min_tenure": 1 for i in range(4)},
    **{f"promotions.{i}.window": 1 for i in range(4)},
}


def fast(**more: Any) -> Any:
    return rulebook(**{**FAST, **more})


# ---------------------------------------------------------------------------- §1, §2


def test_one_result_per_active_agent_month_sorted() -> None:
    w = World()
    w.agent("b", "2024-02-10")
    w.agent("A", "2024-01-31", left="2024-03-01")
    w.agent("late", "2024-07-01")  # hired after the last data month
    w.month("b", "2024-04", "80")
    res = w.run()
    keys = [(r.month, r.agent_id) for r in res]
    assert keys == sorted(keys)
    assert [r.month for r in res.of("A")] == ["2024-01", "2024-02", "2024-03"]
    assert [r.month for r in res.of("b")] == months_between("2024-02", "2024-07")
    assert [r.month for r in res.of("late")] == ["2024-07"]
    assert evaluated_months(w.agents, "2024-04") == months_between("2024-01", "2024-07")
    assert evaluated_months(w.agents, "2025-01")[-1] == "2025-01"
    assert evaluated_months([], "2024-01") == []
    assert [r.tenure for r in res.of("b")][:3] == [1, 2, 3]


def test_no_data_month_is_incomplete_without_pay() -> None:
    w = World()
    w.agent("a")
    w.month("a", "2024-02", "90", n=2)  # too few inspections
    w.month("a", "2024-03", "90", metrics=False)  # no metrics row
    w.month("a", "2024-04", "90")
    res = w.run()
    for m in ("2024-01", "2024-02", "2024-03"):
        r = res.at("a", m)
        assert not r.complete and r.composite is None and r.pay is None and r.band is None
        assert r.rule == "incomplete" and r.event == "none"
    feb = res.at("a", "2024-02")
    assert feb.quality == D("100.00") and feb.n_inspections == 2 and "quality" in feb.dimensions
    assert feb.explanation["params"]["n_inspections"] == 2 and feb.explanation["params"]["min_inspections"] == 3
    assert res.at("a", "2024-03").explanation["params"]["has_metrics"] is False
    apr = res.at("a", "2024-04")
    assert apr.complete and apr.composite == 90 and apr.pay is not None and apr.band == "excellent"


def test_initial_level_takes_effect_from_hire_and_counts_toward_quota() -> None:
    w = World(rb=fast())
    for i in range(4):
        w.agent(f"S{i}", level=2, probation=0)
    w.agent("x1", probation=0)
    w.agent("x2", probation=0)
    w.fillers(4)  # headcount 10: 2★ cap 5, four already held by initial levels
    w.month("x1", "2024-01", "90")
    w.month("x2", "2024-01", "85")
    res = w.run()
    assert all(res.at(f"S{i}", "2024-01").level == 2 for i in range(4))
    assert res.at("S0", "2024-01").level_since == "2024-01"
    assert (res.at("x1", "2024-01").event, res.at("x2", "2024-01").event) == ("promote", "waitlist")
    assert res.at("x2", "2024-01").explanation["params"].items() >= {"cap": 5, "holding": 5, "rank": 2}.items()


# ---------------------------------------------------------------------------- §5.1 conditions


@pytest.mark.parametrize(("probation", "first_promotion"), [(3, "2024-04"), (0, "2024-01"), (1, "2024-02")])
def test_condition_1_probation(probation: int, first_promotion: str) -> None:
    w = World(rb=fast())
    w.agent("a", probation=probation)
    w.fillers(9)
    w.months("a", "2024-01", "2024-06", "95")
    res = w.run()
    first = next(m for m, e in res.events("a").items() if e == "promote")
    assert first == first_promotion
    for r in res.of("a"):
        if r.month < first_promotion:
            assert r.on_probation and r.rule == "probation"
            assert r.explanation["params"]["missing"] == ["probation"]


@pytest.mark.parametrize(("min_tenure", "first"), [(4, "2024-04"), (6, "2024-06"), (9, "2024-09")])
def test_condition_1_tenure(min_tenure: int, first: str) -> None:
    w = World(rb=rulebook(**{"promotions.0.min_tenure": min_tenure}))
    w.agent("a")
    w.fillers(9)
    w.months("a", "2024-01", "2024-10", "88.90")
    res = w.run()
    assert min(res.events("a")) == first
    before = res.at("a", first.replace(first[-2:], f"{int(first[-2:]) - 1:02d}"))
    tenure = next(c for c in before.explanation["checks"] if c["key"] == "tenure")
    assert tenure == {"key": "tenure", "ok": False, "need": min_tenure, "have": min_tenure - 1}


AUG_CASES = [
    # (name, kwargs for 2024-08, promoted at end of 2024-09?, why 2024-08 fails)
    ("all good", {"composite": "88.90"}, True, None),
    ("exactly the threshold", {"composite": "80.00"}, True, None),
    ("below threshold", {"composite": "79.99"}, False, "below_threshold"),
    ("too few inspections", {"composite": "88.90", "n": 2}, False, "incomplete"),
    ("no metrics", {"composite": "88.90", "metrics": False}, False, "incomplete"),
    ("a dimension below the pass mark", {"composite": "85.00", "pass_all": False}, False, "below_pass_mark"),
    ("red line", {"composite": "88.90", "extra": [["T3-03"]]}, False, "red_line"),
]


@pytest.mark.parametrize(("name", "aug", "promoted", "why"), AUG_CASES, ids=[c[0] for c in AUG_CASES])
def test_condition_2_window_months(name: str, aug: dict[str, Any], promoted: bool, why: str | None) -> None:
    w = World()
    w.agent("a")
    w.fillers(9)
    w.months("a", "2024-01", "2024-12", "88.90")
    w.month("a", "2024-08", **aug)
    res = w.run()
    sep = res.at("a", "2024-09")
    assert (sep.event == "promote") is promoted
    if not promoted:
        window = next(c for c in sep.explanation["checks"] if c["key"] == "window")
        assert window["why"] == [None, why, None] and window["have"] == 1 and not window["ok"]
        assert sep.explanation["params"]["missing"] == ["window"]
        # the next window without 2024-08 promotes
        assert res.events("a").get("2024-11") == "promote"
        assert "2024-10" not in res.events("a")


def test_condition_2_threshold_by_track() -> None:
    w = World()
    w.agent("phone", track="phone")
    w.agent("online", track="online")
    w.agent("online90", track="online")
    w.fillers(7)
    for a in ("phone", "online"):
        w.months(a, "2024-07", "2024-09", "88.90")
    w.months("online90", "2024-07", "2024-09", "90.00")
    res = w.run()
    assert res.at("phone", "2024-09").event == "promote"
    assert res.at("online", "2024-09").event == "none"
    assert res.at("online", "2024-09").explanation["params"]["threshold"] == "90"
    assert res.at("online90", "2024-09").event == "promote"


def test_condition_2_window_never_reaches_before_the_level_change() -> None:
    # promoted at the end of 2024-09: for 3★ the months 10..12 count, 09 does not
    w = World(rb=rulebook(**{"promotions.1.min_tenure": 10}))
    w.agent("a")
    w.fillers(9)
    w.months("a", "2024-01", "2024-12", "88.90")
    res = w.run()
    assert res.events("a") == {"2024-09": "promote", "2024-12": "promote"}
    assert res.at("a", "2024-10").explanation["checks"][2]["why"] == ["before_level", "before_level", None]


def _at_2_star(errors: int, complaints: int, per_month: list[int]) -> str:
    """A 2★ agent (tenure >= 12) with a clean 3-month window except ``errors`` tier-2
    defects in the first month and ``complaints`` in the last; returns the event."""
    w = World()
    w.agent("a", "2023-01-01", level=2)
    w.fillers(9)
    for i, m in enumerate(("2024-01", "2024-02", "2024-03")):
        extra = [[] for _ in range(per_month[i] - 3)]
        if i == 0 and errors:
            extra = extra[: max(0, len(extra) - 1)] + [["T2-01"] * errors]
        w.month("a", m, "88.90", extra=extra, complaints=complaints if i == 2 else 0)
    res = w.run()
    r = res.at("a", "2024-03")
    return r.event + ":" + str(r.explanation["checks"][3]["have"])


@pytest.mark.parametrize(
    ("errors", "complaints", "per_month", "expected"),
    [
        (0, 0, [3, 3, 3], "promote:0.0000"),
        (1, 0, [4, 4, 4], "promote:0.0833"),  # 1/12 < 10%
        (0, 1, [4, 4, 4], "promote:0.0833"),  # complaints count too
        (1, 1, [4, 4, 4], "none:0.1667"),
        (0, 1, [3, 3, 3], "none:0.1111"),
        (1, 0, [4, 3, 3], "none:0.1000"),  # exactly 10% is not below 10%
        (2, 0, [7, 7, 7], "promote:0.0952"),  # two occurrences in one inspection count twice
    ],
)
def test_condition_3_error_rate_to_3_star(errors: int, complaints: int, per_month: list[int], expected: str) -> None:
    assert _at_2_star(errors, complaints, per_month) == expected


@pytest.mark.parametrize(
    ("extra", "complaints", "promoted"),
    [([], 0, True), ([["T2-03"]], 0, False), ([["T1-01"]], 0, True), ([], 1, False)],
)
def test_condition_4_zero_errors_to_4_star(extra: list[list[str]], complaints: int, promoted: bool) -> None:
    w = World()
    w.agent("a", "2022-01-01", level=3)
    w.fillers(9, hired="2022-01-01")
    w.months("a", "2023-09", "2023-12", "95")
    w.month("a", "2023-10", "95", extra=extra, complaints=complaints)
    res = w.run()
    dec = res.at("a", "2023-12")
    assert dec.tenure == 24
    assert (dec.event == "promote") is promoted
    zero = next(c for c in dec.explanation["checks"] if c["key"] == "zero_errors")
    assert zero["ok"] is promoted


def test_condition_5_no_promotion_in_a_month_that_demotes() -> None:
    # A rulebook where the 2★ floor (85) lies above the threshold to 3★ (80).
    rb = fast(**{"demotion.floors.2": "85", "promotions.1.threshold": {"phone": "80", "online": "90"}, "demotion.after_months": 1})
    w = World(rb=rb)
    w.agent("a", "2023-01-01", level=2)
    w.fillers(9)
    w.month("a", "2024-01", "82")
    res = w.run()
    jan = res.at("a", "2024-01")
    assert (jan.event, jan.rule, jan.next_level) == ("demote", "demote_floor", 1)


# ---------------------------------------------------------------------------- §5.2


@pytest.mark.parametrize(
    ("months", "counters", "events"),
    [
        (["59", "59"], [1, 2], ["none", "review"]),
        (["59", None, "59"], [1, 0, 1], ["none"] * 3),
        (["59", "60", "59"], [1, 0, 1], ["none"] * 3),
        (["59", "59", "59", "59"], [1, 2, 3, 4], ["none", "review", "review", "review"]),
        (["59", "59", "70", "59"], [1, 2, 0, 1], ["none", "review", "none", "none"]),
    ],
)
def test_below_floor_counter_and_repeating_reviews(
    months: list[str | None], counters: list[int], events: list[str]
) -> None:
    w = World()
    w.agent("a", "2023-01-01")
    names = months_between("2024-01", "2024-12")[: len(months)]
    for m, c in zip(names, months, strict=True):
        if c is None:
            w.month("a", m, "59", pass_all=False, n=2)  # incomplete
        else:
            w.month("a", m, c, pass_all=False)
    res = w.run()
    got = [res.at("a", m) for m in names]
    assert [r.below_floor for r in got] == counters
    assert [r.event for r in got] == events
    assert all(r.level == 1 and r.next_level == 1 for r in got)
    assert all(r.rule == "review_floor" for r in got if r.event == "review")


def test_level_change_resets_the_counter() -> None:
    w = World()
    w.agent("a", "2023-01-01", level=2)
    w.month("a", "2024-01", "64", pass_all=False)
    w.month("a", "2024-02", "64", pass_all=False)  # 2★ floor 65: demote
    w.month("a", "2024-03", "59", pass_all=False)  # 1★ floor 60: counter starts again
    w.month("a", "2024-04", "59", pass_all=False)
    res = w.run()
    assert [(r.level, r.below_floor, r.event) for r in res.of("a") if r.month >= "2024-01"] == [
        (2, 1, "none"), (2, 2, "demote"), (1, 1, "none"), (1, 2, "review"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "incomplete", "probation", "event", "rule", "next_level"),
    [
        (2, False, False, "demote", "demote_red_line", 1),
        (3, True, False, "demote", "demote_red_line", 2),  # an incomplete month still counts
        (2, False, True, "demote", "demote_red_line", 1),  # probation included
        (1, False, False, "review", "review_red_line", 1),
        (1, True, True, "review", "review_red_line", 1),
    ],
)
def test_red_line(level: int, incomplete: bool, probation: bool, event: str, rule: str, next_level: int) -> None:
    w = World()
    w.agent("a", "2024-03-01" if probation else "2023-01-01", level=level)
    if incomplete:
        w.inspections["a", "2024-03"] = [["T3-02"]]
        w.last_data_month = "2024-03"
    else:
        w.month("a", "2024-03", "88.90", extra=[["T3-02"]])
    res = w.run()
    r = res.at("a", "2024-03")
    assert (r.event, r.rule, r.next_level, r.complete) == (event, rule, next_level, not incomplete)
    assert r.red_line_codes == ("T3-02",)
    assert r.explanation["params"]["codes"] == ["T3-02"]


def test_demotion_switches() -> None:
    off = rulebook(**{"demotion.enabled": False})
    no_red = rulebook(**{"demotion.red_line": False})
    w = World()
    w.agent("a", "2023-01-01", level=3)
    w.month("a", "2024-01", "50", pass_all=False)
    w.month("a", "2024-02", "50", pass_all=False, extra=[["T3-01"]])
    assert w.run().events("a") == {"2024-02": "demote"}
    assert w.run([off]).events("a") == {}
    assert w.run([no_red]).events("a") == {"2024-02": "demote"}  # the floor still bites
    w.month("a", "2024-01", "88.90")
    assert w.run([no_red]).events("a") == {}


# ---------------------------------------------------------------------------- §5.3 / §5.4


def _eligible_company(composites: dict[str, str], fillers: int, rb: Any = None, **agent_kw: Any) -> World:
    w = World(rb=rb or fast())
    for aid, c in composites.items():
        w.agent(aid, probation=0, **agent_kw)
        w.month(aid, "2024-01", c)
    w.fillers(fillers)
    return w


def test_quota_cap_is_floor_of_share_times_headcount() -> None:
    comps = {f"a{i}": f"{90 + i}" for i in range(6)}
    res = _eligible_company(comps, fillers=3).run()  # headcount 9: cap floor(4.5) = 4
    jan = {r.agent_id: r for r in res.in_month("2024-01")}
    assert {a for a in comps if jan[a].event == "promote"} == {"a5", "a4", "a3", "a2"}
    assert {a for a in comps if jan[a].event == "waitlist"} == {"a1", "a0"}
    assert [jan[f"a{i}"].explanation["params"]["rank"] for i in range(5, -1, -1)] == [1, 2, 3, 4, 5, 6]
    assert jan["a0"].explanation["params"]["cap"] == 4 and jan["a0"].next_level == 1


def test_headcount_counts_leavers_and_new_hires_but_not_others() -> None:
    comps = {f"a{i}": f"{90 + i}" for i in range(6)}
    w = _eligible_company(comps, fillers=0)
    w.agent("leaver", "2023-01-01", left="2024-01-31")  # counts in its last month
    w.agent("gone", "2023-01-01", left="2023-12-31")  # does not
    w.agent("new", "2024-01-20")  # on probation, no data: counts
    w.agent("future", "2024-02-01")  # not active in January
    res = w.run()
    # headcount 8 -> cap 4
    assert sum(r.event == "promote" for r in res.in_month("2024-01")) == 4


def test_tie_breaks_exact_average_then_tenure_then_code_point() -> None:
    rb = rulebook(**{**{f"promotions.{i}.min_tenure": 1 for i in range(4)}, "promotions.0.window": 3})
    w = World(rb=rb)
    # exact sums 255.01 vs 255.00: both show a rounded average of 85.00
    w.agent("short", "2023-06-01", probation=0)
    w.agent("long", "2023-01-01", probation=0)
    for m, c in zip(("2024-01", "2024-02", "2024-03"), ("85.00", "85.00", "85.01"), strict=True):
        w.month("short", m, c)
        w.month("long", m, "85.00")
    res = w.run()  # headcount 2: cap 1
    mar = {r.agent_id: r for r in res.in_month("2024-03")}
    assert mar["short"].event == "promote" and mar["long"].event == "waitlist"
    assert mar["short"].explanation["params"]["average"] == mar["long"].explanation["params"]["average"] == "85.00"

    # equal averages: longer tenure first
    w2 = World(rb=fast())
    w2.agent("b_new", "2023-06-01", probation=0)
    w2.agent("a_old", "2023-01-01", probation=0)
    w2.agent("a_new", "2023-06-01", probation=0)
    for a in ("b_new", "a_old", "a_new"):
        w2.month(a, "2024-01", "90")
    w2.fillers(1)  # headcount 4: cap 2
    jan = {r.agent_id: r for r in w2.run().in_month("2024-01")}
    assert [jan[a].event for a in ("a_old", "a_new", "b_new")] == ["promote", "promote", "waitlist"]

    # equal average and tenure: agent_id by code point ("A1" < "B" < "a1")
    w3 = World(rb=fast())
    for a in ("a1", "B", "A1"):
        w3.agent(a, "2023-01-01", probation=0)
        w3.month(a, "2024-01", "90")
    w3.fillers(1)  # headcount 4: cap 2
    jan = {r.agent_id: r for r in w3.run().in_month("2024-01")}
    assert [jan[a].event for a in ("A1", "B", "a1")] == ["promote", "promote", "waitlist"]


def test_demoted_into_a_level_counts_toward_its_cap() -> None:
    w = World(rb=fast())
    for i in range(4):
        w.agent(f"s{i}", "2023-01-01", level=2)
    w.agent("down", "2023-01-01", level=3)
    w.month("down", "2024-01", "88.90", extra=[["T3-01"]])  # demoted into 2★
    w.agent("up", "2023-01-01")
    w.month("up", "2024-01", "90")
    w.fillers(4)  # headcount 10: 2★ cap 5 = 4 + the demoted agent
    jan = {r.agent_id: r for r in w.run().in_month("2024-01")}
    assert jan["down"].event == "demote" and jan["up"].event == "waitlist"
    assert jan["up"].explanation["params"]["holding"] == 5


def test_promoted_out_of_a_level_frees_its_slot_the_same_month() -> None:
    w = World(rb=fast())
    for i in range(5):
        w.agent(f"s{i}", "2023-01-01", level=2)  # 2★ full (cap 5)
    w.month("s0", "2024-01", "95")  # promoted to 3★ first (higher target first)
    w.agent("up", "2023-01-01")
    w.month("up", "2024-01", "90")
    w.fillers(4)
    jan = {r.agent_id: r for r in w.run().in_month("2024-01")}
    assert (jan["s0"].event, jan["s0"].next_level) == ("promote", 3)
    assert (jan["up"].event, jan["up"].next_level) == ("promote", 2)
    assert jan["up"].explanation["params"]["holding"] == 4


def test_waitlisted_agents_get_no_priority_next_month() -> None:
    w = World(rb=fast())
    w.agent("H", "2023-01-01", level=2)
    for a in ("X", "Y", "Z"):
        w.agent(a, "2023-01-01", probation=0)
    # headcount 4: 2★ cap 2, H holds one slot
    w.month("X", "2024-01", "95")
    w.month("Y", "2024-01", "90")
    w.month("H", "2024-02", "88.90", extra=[["T3-01"]])  # H demoted: a slot frees for March
    w.month("Y", "2024-02", "90")
    w.month("Z", "2024-02", "93")
    res = w.run()
    assert res.at("X", "2024-01").event == "promote" and res.at("Y", "2024-01").event == "waitlist"
    assert res.at("Z", "2024-02").event == "promote" and res.at("Y", "2024-02").event == "waitlist"
    assert res.at("Y", "2024-02").explanation["params"]["rank"] == 2


def test_higher_targets_are_granted_first() -> None:
    # two agents eligible for different targets in the same month
    w = World(rb=fast())
    w.agent("two", "2023-01-01", level=2)
    w.agent("one", "2023-01-01")
    w.month("two", "2024-01", "95")
    w.month("one", "2024-01", "95")
    w.fillers(8)  # headcount 10: 3★ cap 3, 2★ cap 5
    jan = {r.agent_id: r for r in w.run().in_month("2024-01")}
    assert (jan["two"].next_level, jan["one"].next_level) == (3, 2)


# ---------------------------------------------------------------------------- §5.6


def _approval_world() -> World:
    w = World(rb=fast(**{"rulebook.approval_required": True}))
    w.agent("A", "2023-01-01", probation=0)
    w.agent("B", "2023-01-01", probation=0)
    w.agent("C", "2023-01-01", probation=0)  # headcount 3: 2★ cap 1
    w.month("A", "2024-01", "95")
    w.month("B", "2024-01", "90")
    w.month("A", "2024-02", "95")
    return w


def test_hr_pending_takes_a_slot_and_keeps_the_level() -> None:
    res = _approval_world().run()
    a, b = res.at("A", "2024-01"), res.at("B", "2024-01")
    assert (a.event, a.rule, a.next_level, a.explanation["status"]) == ("promote", "promote_pending", 1, "pending")
    assert b.event == "waitlist"
    assert res.at("A", "2024-02").level == 1 and res.at("A", "2024-02").rule == "promote_pending"


def test_hr_approve_takes_effect_next_month() -> None:
    w = _approval_world()
    w.decide("A", "2024-01", "approve")
    res = w.run()
    a = res.at("A", "2024-01")
    assert (a.event, a.rule, a.next_level, a.explanation["status"]) == ("promote", "promote", 2, "approved")
    assert a.explanation["hr"]["applied"] is True
    assert res.at("A", "2024-02").level == 2 and res.at("A", "2024-02").level_since == "2024-02"
    assert res.at("B", "2024-01").event == "waitlist"


def test_hr_hold_frees_the_slot() -> None:
    w = _approval_world()
    w.decide("A", "2024-01", "hold", "Pending a customer complaint review")
    res = w.run()
    a, b = res.at("A", "2024-01"), res.at("B", "2024-01")
    assert (a.event, a.rule, a.next_level) == ("hold", "hold", 1)
    assert a.explanation["hr"]["reason"] == "Pending a customer complaint review"
    assert (b.event, b.rule) == ("promote", "promote_pending")
    assert res.at("A", "2024-02").level == 1


def test_decisions_are_ignored_without_approval() -> None:
    w = _approval_world()
    w.rb = fast()
    w.decide("A", "2024-01", "hold", "x")
    res = w.run()
    a = res.at("A", "2024-01")
    assert (a.event, a.rule, a.next_level, a.explanation["status"]) == ("promote", "promote", 2, "auto")
    assert a.explanation["hr"]["applied"] is False


# ---------------------------------------------------------------------------- versions, events


def test_rulebook_versions_by_effective_month() -> None:
    v1 = default_rulebook()
    v2 = rulebook(version=2, effective_from="2024-06", **{"promotions.0.threshold": {"phone": "70", "online": "90"}})
    assert rulebook_for([v2, v1], "2024-05") is v1
    assert rulebook_for([v2, v1], "2024-06") is v2
    assert rulebook_for([v2], "2024-01") is v2  # the earliest when none has started
    w = World()
    w.agent("a")
    w.fillers(9)
    w.months("a", "2024-01", "2024-10", "75")
    res = w.run([v1, v2])
    assert [r.rulebook_version for r in res.of("a")][4:6] == [0, 2]
    assert res.events("a") == {"2024-09": "promote"}
    assert res.at("a", "2024-09").explanation["params"]["threshold"] == "70"


def test_events_rules_and_explanations_are_consistent_and_json_ready() -> None:
    from .test_worked_examples import climb

    w = climb()
    w.agent("top", "2020-01-01", level=5)
    w.months("top", "2024-01", "2024-03", "92")
    res = w.run()
    for r in res:
        assert r.rule in RULES and r.event == RULE_EVENT[r.rule] and r.explanation["rule"] == r.rule
        json.dumps(r.explanation, allow_nan=False)
        assert r.next_level == r.level or r.event in ("promote", "demote")
        if r.event == "none" and r.level < 5:
            assert [c["key"] for c in r.explanation["checks"]][:2] == ["probation", "tenure"]
    top = res.at("top", "2024-02")
    assert top.rule == "steady" and top.explanation["params"]["floor"] == "90"


def test_leaver_is_evaluated_and_may_be_promoted_in_the_last_month() -> None:
    w = World(rb=fast())
    w.agent("a", "2023-01-01", left="2024-02-10", probation=0)
    w.fillers(3)
    w.month("a", "2024-02", "90")
    res = w.run()
    assert res.at("a", "2024-02").event == "promote"
    assert [r.month for r in res.of("a")][-1] == "2024-02"


def test_duplicate_agents_and_missing_rulebooks_are_errors() -> None:
    w = World()
    w.agent("a")
    w.agent("a")
    with pytest.raises(ValueError, match="duplicate"):
        w.run()
    w2 = World()
    w2.agent("a")
    with pytest.raises(ValueError):
        evaluate(w2.agents, {}, {}, {}, [], last_data_month=None)


def test_fast_result_construction_matches_the_dataclass() -> None:
    import dataclasses

    from .test_worked_examples import climb

    for r in climb().run()[:30]:
        again = dataclasses.replace(r)  # through MonthResult.__init__
        assert again == r and repr(again) == repr(r)
