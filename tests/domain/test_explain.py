"""Readable explanations and the "my star" progress summary."""

import json
from typing import Any

import pytest

from starlevel.domain.explain import explain_text, progress
from starlevel.domain.rulebook import default_rulebook

from .helpers import World, rulebook
from .test_ladder_rules import _approval_world
from .test_worked_examples import climb


@pytest.fixture(scope="module")
def climb_results() -> Any:
    w = climb()
    return w, w.run()


@pytest.mark.parametrize(
    ("month", "en", "zh"),
    [
        ("2024-02", ["probation", "month 2 of 3"], ["试用期", "第2/3个月"]),
        ("2024-05", ["Not yet eligible for 2★", "tenure 5 of 9 months"], ["暂未达到2星", "工龄5/9个月"]),
        ("2024-09", ["Promoted to 2★ from 2024-10", "2024-07–2024-09", "88.90", "80"], ["晋升为2星", "2024-10"]),
        ("2024-11", ["2024-09 before the current level", "2 of 3"], ["早于当前星级"]),
        ("2024-12", ["Promoted to 3★ from 2025-01", "error rate 0.00%"], ["晋升为3星", "差错率0.00%"]),
        ("2025-01", ["below the floor 70", "1 month"], ["保级线70"]),
        ("2025-02", ["floor 70", "2025-01 68.00", "2025-02 66.50", "demoted to 2★ from 2025-03"], ["降为2星", "2025-03"]),
    ],
)
def test_explain_text_climb(climb_results: Any, month: str, en: list[str], zh: list[str]) -> None:
    _, res = climb_results
    r = res.at("A", month)
    text_en = explain_text(r, "en")
    text_zh = explain_text(r, "zh")
    for piece in en:
        assert piece in text_en, text_en
    for piece in zh:
        assert piece in text_zh, text_zh


def test_explain_text_other_rules() -> None:
    res = _approval_world().run()
    assert "waiting for HR approval" in explain_text(res.at("A", "2024-01"), "en")
    assert "待人事审定" in explain_text(res.at("A", "2024-01"), "zh")
    assert "quota of 1 is full" in explain_text(res.at("B", "2024-01"), "en")
    assert "候补" in explain_text(res.at("B", "2024-01"), "zh")
    w = _approval_world()
    w.decide("A", "2024-01", "hold", "complaint under review")
    res = w.run()
    assert "held by HR: complaint under review" in explain_text(res.at("A", "2024-01"), "en")
    assert "暂缓" in explain_text(res.at("A", "2024-01"), "zh")

    w = World()
    w.agent("low", "2023-01-01")
    w.agent("top", "2020-01-01", level=5)
    w.months("low", "2024-01", "2024-02", "50", pass_all=False)
    w.month("low", "2024-03", "88.90", extra=[["T3-03"]])
    w.month("top", "2024-01", "95")
    w.month("top", "2024-02", "95", n=1)
    res = w.run()
    assert "review" in explain_text(res.at("low", "2024-02"), "en")
    assert "辞退或调岗" in explain_text(res.at("low", "2024-02"), "zh")
    assert "T3-03" in explain_text(res.at("low", "2024-03"), "en")
    assert "top level 5★" in explain_text(res.at("top", "2024-01"), "en")
    assert "1 of 3 inspections" in explain_text(res.at("top", "2024-02"), "en")
    assert "质检1/3条" in explain_text(res.at("top", "2024-02"), "zh")


def test_progress_climbing(climb_results: Any) -> None:
    w, res = climb_results
    a = w.agents[0]
    rb = default_rulebook()
    upto = [r for r in res.of("A") if r.month <= "2024-07"]
    p = progress(a, upto, rb)
    json.dumps(p)
    assert (p["level"], p["next_level"], p["as_of"], p["tenure"]) == (1, 2, "2024-07", 7)
    promo = p["promotion"]
    assert promo["window_have"] == 3 and promo["window"] == 3
    assert promo["tenure_months_needed"] == 2 and promo["tenure_ok_from"] == "2024-09"
    assert promo["earliest_month"] == "2024-09" and promo["composite_needed"] == "80"
    assert {c["key"]: c["ok"] for c in promo["conditions"]} == {"probation": True, "tenure": False, "window": True}

    # right after the promotion to 2★: window restarts, 3★ needs 3 months at 2★
    p = progress(a, [r for r in res.of("A") if r.month <= "2024-09"], rb)
    assert (p["level"], p["level_since"], p["promotion"]["window_have"]) == (2, "2024-10", 0)
    assert p["promotion"]["earliest_month"] == "2024-12"
    assert "error_rate" in {c["key"] for c in p["promotion"]["conditions"]}

    # below the 3★ floor once: warning
    p = progress(a, [r for r in res.of("A") if r.month <= "2025-01"], rb)
    assert (p["level"], p["below_floor"], p["warning"], p["months_until_demotion"], p["floor"]) == (3, 1, True, 1, "70")


def test_progress_top_level_and_no_results() -> None:
    w = World()
    a = w.agent("top", "2020-01-01", level=5)
    w.month("top", "2024-01", "92")
    res = w.run()
    p = progress(a, res.of("top"), default_rulebook())
    assert p["top"] and p["promotion"] is None and p["floor"] == "90" and not p["warning"]
    fresh = World().agent("new", "2024-05-02")
    p = progress(fresh, [], default_rulebook())
    assert p["as_of"] is None and p["level"] == 1 and p["promotion"]["tenure_ok_from"] == "2025-01"
    assert p["promotion"]["earliest_month"] == "2025-01"


def test_progress_zero_errors_condition() -> None:
    w = World()
    a = w.agent("a", "2022-01-01", level=3)
    w.months("a", "2023-09", "2023-11", "95")
    w.month("a", "2023-10", "95", complaints=1)
    p = progress(a, w.run().of("a"), rulebook())
    zero = next(c for c in p["promotion"]["conditions"] if c["key"] == "zero_errors")
    assert zero == {"key": "zero_errors", "ok": False, "need": 0, "have": 1, "errors": 0, "complaints": 1}
