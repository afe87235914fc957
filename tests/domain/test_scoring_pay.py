"""Spec §4 (scores) and §6 (pay), including the §8 composite and pay examples."""

from decimal import Decimal as D

import pytest

from starlevel.domain.model import Inspection, Metrics, legacy_metrics, MonthEvidence
from starlevel.domain.pay import compute_pay
from starlevel.domain.rulebook import default_rulebook
from starlevel.domain.scoring import (
    UnknownDefectError,
    band,
    composite,
    dimension_scores,
    evidence_of,
    inspection_score,
    is_complete,
    month_scores,
    quality,
)

from .helpers import rulebook

RB = default_rulebook()


@pytest.mark.parametrize(
    ("codes", "score"),
    [
        ([], "100"),
        (["T1-01"], "98"),
        (["T1-02", "T2-05"], "93"),
        (["T1-01", "T1-01"], "96"),  # a repeated code deducts twice
        (["T3-01"], "90"),
        (["T3-01"] * 11, "0"),  # clamped at 0
    ],
)
def test_inspection_score(codes: list[str], score: str) -> None:
    assert inspection_score(codes, RB) == D(score)


def test_unknown_code_is_an_error() -> None:
    with pytest.raises(UnknownDefectError):
        inspection_score(["X9-99"], RB)


def test_evidence_counts_occurrences() -> None:
    ev = evidence_of([["T2-01", "T2-01", "T1-01"], ["T3-02"], [], ["T3-01", "T3-02"]], RB)
    assert ev.n_inspections == 4
    assert ev.error_defects == 5  # tier 2+ occurrences: T2-01 x2, T3-02, T3-01, T3-02
    assert ev.red_line_codes == ("T3-02", "T3-01", "T3-02")
    assert ev.score_sum == D(88) + D(90) + D(100) + D(80)


def test_evidence_accepts_inspection_objects() -> None:
    from datetime import date

    insp = Inspection("i1", "a", date(2024, 1, 2), "chat", "c1", "qa", ("T1-01",))
    assert evidence_of([insp], RB) == evidence_of([["T1-01"]], RB)


def test_spec_example_composite_92_93() -> None:
    ev = evidence_of([["T1-01"], [], ["T1-02", "T2-05"]], RB)
    assert [inspection_score(c, RB) for c in (["T1-01"], [], ["T1-02", "T2-05"])] == [98, 100, 93]
    assert quality(ev) == D("97.00")
    m = legacy_metrics("a", "2024-01", satisfaction=D("95"), efficiency=D("92.5"), attitude=4, complaints=0)
    dims = dimension_scores(ev, m, RB)
    assert dims == {"quality": D("97.00"), "efficiency": D("92.5"), "satisfaction": D("95"), "attitude": D("80")}
    assert composite(dims, RB) == D("92.93")
    assert band(D("92.93"), RB) == "excellent"


def test_spec_example_composite_93_65_is_decimal_not_float() -> None:
    ev = evidence_of([[], [], []], RB)
    m = legacy_metrics("a", "2024-01", satisfaction=D("92.9"), efficiency=D("92.26"), attitude=4, complaints=0)
    assert composite(dimension_scores(ev, m, RB), RB) == D("93.65")
    # the float computation really does give 93.64
    assert round(0.40 * 100 + 0.25 * 92.26 + 0.20 * 92.9 + 0.15 * 80, 2) == 93.64


def test_spec_example_quality_98_67() -> None:
    assert quality(evidence_of([["T1-01", "T1-01"], [], []], RB)) == D("98.67")


def test_quality_rounds_half_up() -> None:
    # (100 + 99 + ...) style: mean 96.125 -> 96.13 (half-up, not banker's)
    ev = MonthEvidence(n_inspections=8, score_sum=D("769"))
    assert quality(ev) == D("96.13")
    assert quality(MonthEvidence()) is None


@pytest.mark.parametrize(
    ("value", "key"),
    [("90", "excellent"), ("89.99", "good"), ("70", "good"), ("69.99", "pass"), ("60", "pass"), ("59.99", "fail"), ("0", "fail")],
)
def test_bands(value: str, key: str) -> None:
    assert band(D(value), RB) == key
    assert band(None, RB) is None


@pytest.mark.parametrize(
    ("n", "has_metrics", "complete"),
    [(3, True, True), (5, True, True), (2, True, False), (0, True, False), (3, False, False)],
)
def test_completeness(n: int, has_metrics: bool, complete: bool) -> None:
    ev = evidence_of([[]] * n, RB)
    m = legacy_metrics("a", "2024-01", D(90), D(90), 4, 0) if has_metrics else None
    assert is_complete(ev, m, RB) is complete
    dims, comp, is_c, _ = month_scores(ev, m, RB)
    assert is_c is complete
    assert (comp is not None) is complete
    if n:
        assert "quality" in dims  # a dimension with a value is reported even when incomplete


def test_banded_metric_dimension() -> None:
    rb = rulebook(
        dimensions=[
            {"key": "quality", "source": "quality", "weight": "0.5"},
            {
                "key": "complaints",
                "source": "metric",
                "metric": "complaints",
                "weight": "0.5",
                "direction": "lower",
                "bands": [{"limit": "0", "score": "100"}, {"limit": "2", "score": "80"}, {"score": "50"}],
            },
        ]
    )
    ev = evidence_of([[], [], []], rb)
    for complaints, score, comp in [(0, "100", "100.00"), (1, "80", "90.00"), (2, "80", "90.00"), (3, "50", "75.00")]:
        m = legacy_metrics("a", "2024-01", D(0), D(0), 1, complaints)
        dims = dimension_scores(ev, m, rb)
        assert dims["complaints"] == D(score)
        assert composite(dims, rb) == D(comp)


def test_float_metrics_rejected() -> None:
    m = legacy_metrics("a", "2024-01", 90.5, D(90), 4, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dimension_scores(evidence_of([[]] * 3, RB), m, RB)


# ---------------------------------------------------------------------------- pay


def test_spec_pay_examples() -> None:
    p = compute_pay(1, D("92.93"), False, RB)
    assert p is not None
    assert (p.pay_grade, p.fixed, p.coefficient, p.performance, p.allowance, p.total) == (
        "A05", D("1580.00"), D("1.1"), D("462.00"), D("100.00"), D("2142.00"),
    )  # fmt: skip
    p = compute_pay(1, D("92.93"), True, RB)
    assert p is not None and p.total == D("1633.60") and p.allowance == 0 and p.on_probation


@pytest.mark.parametrize(
    ("level", "comp", "probation", "total"),
    [
        (1, "90", False, "2142.00"),  # >= 90 -> 1.1
        (1, "89.99", False, "2100.00"),  # >= 70 -> 1.0: 1580 + 420 + 100
        (1, "60", False, "1890.00"),  # 0.5: 1580 + 210 + 100
        (1, "59.99", False, "1680.00"),  # 0: 1580 + 0 + 100
        (2, "75", False, "2400.00"),  # 1720 + 480 + 200
        (3, "75", False, "2700.00"),  # 1860 + 540 + 300
        (4, "95", False, "3267.00"),  # 2130 + 737 + 400
        (5, "95", False, "3782.00"),  # 2380 + 902 + 500
        (2, "65", True, "1568.00"),  # 0.8 * (1720 + 240)
    ],
)
def test_pay_table(level: int, comp: str, probation: bool, total: str) -> None:
    p = compute_pay(level, D(comp), probation, RB)
    assert p is not None and p.total == D(total)
    assert p.pay_grade == RB.pay_grade(level).grade


def test_no_pay_for_incomplete_month() -> None:
    assert compute_pay(1, None, False, RB) is None


def test_probation_allowance_flag() -> None:
    rb = rulebook(**{"pay.probation_allowance": True})
    p = compute_pay(1, D("92.93"), True, rb)
    assert p is not None and p.allowance == D("100.00") and p.total == D("1733.60")
