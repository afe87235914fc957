"""Spec §8 "A climb and a fall", in a company of 10 active agents."""

import json
from decimal import Decimal as D

from starlevel.domain.explain import explain_text
from starlevel.domain.months import months_between

from .helpers import World


def climb(red_line_in_jan: bool = False) -> World:
    w = World()
    w.agent("A", "2024-01-05")
    w.fillers(9)  # headcount 10: 2★ cap 5, 3★ cap 3
    w.months("A", "2024-01", "2024-12", "88.90")
    if red_line_in_jan:
        w.month("A", "2025-01", "88.90", extra=[["T3-01"]])
    else:
        w.month("A", "2025-01", "68.00")
    w.month("A", "2025-02", "66.50")
    w.months("A", "2025-03", "2025-04", "88.90")
    return w


def test_climb_and_fall() -> None:
    res = climb().run()
    a = {r.month: r for r in res.of("A")}
    assert list(a) == months_between("2024-01", "2025-04")
    assert all(r.composite is not None for r in a.values())
    assert all(r.composite == D("88.90") for m, r in a.items() if m not in ("2025-01", "2025-02"))
    for m in ("2024-01", "2024-02", "2024-03"):
        assert a[m].on_probation and a[m].event == "none" and a[m].rule == "probation"
    for m in months_between("2024-04", "2024-08"):
        assert a[m].event == "none" and a[m].rule == "not_eligible"
        assert [c["key"] for c in a[m].explanation["checks"] if not c["ok"]] == ["tenure"]
    assert res.events("A") == {"2024-09": "promote", "2024-12": "promote", "2025-02": "demote"}
    # end of 2024-09: tenure 9, window 07-09 all >= 80 -> 2★ from 2024-10
    p = a["2024-09"]
    assert (p.tenure, p.level, p.next_level) == (9, 1, 2)
    assert p.explanation["params"]["window"] == ["2024-07", "2024-08", "2024-09"]
    assert p.explanation["params"]["cap"] == 5
    assert a["2024-10"].level == 2 and a["2024-10"].level_since == "2024-10"
    # 2024-11: 2024-09 does not count toward 3★ (it was spent at 1★)
    nov = a["2024-11"]
    assert nov.tenure == 11
    window = next(c for c in nov.explanation["checks"] if c["key"] == "window")
    assert window["why"] == ["before_level", None, None] and window["have"] == 2
    # end of 2024-12: promote to 3★ from 2025-01, error rate 0
    dec = a["2024-12"]
    assert (dec.level, dec.next_level, dec.tenure) == (2, 3, 12)
    assert dec.explanation["params"]["error_rate"] == "0.0000"
    assert dec.explanation["params"]["cap"] == 3
    assert a["2025-01"].level == 3
    # 68.00 and 66.50 below the 3★ floor 70: counter 1 then 2 -> demote
    assert (a["2025-01"].composite, a["2025-01"].below_floor, a["2025-01"].event) == (D("68.00"), 1, "none")
    feb = a["2025-02"]
    assert (feb.composite, feb.below_floor, feb.event, feb.rule, feb.next_level) == (D("66.50"), 2, "demote", "demote_floor", 2)
    assert feb.explanation["params"]["composites"] == ["68.00", "66.50"]
    assert a["2025-03"].level == 2 and a["2025-03"].below_floor == 0 and a["2025-03"].level_since == "2025-03"
    # pay follows the level in effect
    assert [a[m].pay.pay_grade for m in ("2024-09", "2024-10", "2025-01", "2025-03")] == ["A05", "A06", "A07", "A06"]  # type: ignore[union-attr]
    assert a["2024-01"].pay.total == 1600  # type: ignore[union-attr]  # 0.8 x (1580 + 420)
    for r in res:
        json.dumps(r.explanation)
        assert explain_text(r, "en") and explain_text(r, "zh")


def test_red_line_variant_demotes_at_end_of_january() -> None:
    res = climb(red_line_in_jan=True).run()
    a = {r.month: r for r in res.of("A")}
    jan = a["2025-01"]
    assert jan.red_line_codes == ("T3-01",)
    assert (jan.event, jan.rule, jan.level, jan.next_level) == ("demote", "demote_red_line", 3, 2)
    assert jan.explanation["params"]["codes"] == ["T3-01"]
    assert a["2025-02"].level == 2 and a["2025-02"].level_since == "2025-02"
    assert res.events("A") == {"2024-09": "promote", "2024-12": "promote", "2025-01": "demote"}
    assert "T3-01" in explain_text(jan, "en") and "T3-01" in explain_text(jan, "zh")


def test_incremental_runs_match_the_full_timeline() -> None:
    from starlevel.domain.ladder import prior_months_needed

    from .helpers import by_agent

    w = climb()
    full = w.run()
    keep = prior_months_needed([w.rb])
    for start in ("2024-10", "2024-12", "2025-01", "2025-02", "2025-03"):
        prior = {a: [r for r in rows if r.month < start][-keep:] for a, rows in by_agent(full).items()}
        assert w.run(start=start, prior=prior) == [r for r in full if r.month >= start], start
    # the counter (1 at the end of 2025-01) and the level's start month come from prior
    prior = {a: [r for r in rows if r.month < "2025-02"] for a, rows in by_agent(full).items()}
    feb = w.run(start="2025-02", prior=prior).at("A", "2025-02")
    assert (feb.below_floor, feb.event, feb.level_since) == (2, "demote", "2025-01")
