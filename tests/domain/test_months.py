from datetime import date

import pytest

from starlevel.domain.model import Agent
from starlevel.domain.months import (
    add_months,
    from_index,
    is_active,
    is_month,
    month_index,
    month_of,
    months_between,
    tenure,
)


def test_month_of_and_index_round_trip() -> None:
    assert month_of(date(2024, 3, 20)) == "2024-03"
    for m in ("0001-01", "1999-12", "2024-01", "2024-12", "9999-12"):
        assert from_index(month_index(m)) == m
    assert month_index("2025-01") - month_index("2024-12") == 1


@pytest.mark.parametrize(
    ("month", "n", "expected"),
    [("2024-12", 1, "2025-01"), ("2024-01", -1, "2023-12"), ("2024-05", 0, "2024-05"), ("2024-05", 25, "2026-06")],
)
def test_add_months(month: str, n: int, expected: str) -> None:
    assert add_months(month, n) == expected


def test_months_between_inclusive() -> None:
    assert months_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert months_between("2024-02", "2024-02") == ["2024-02"]
    assert months_between("2024-03", "2024-02") == []


@pytest.mark.parametrize("bad", ["2024-13", "2024-00", "2024-1", "24-01", "2024/01", "abcd-ef", ""])
def test_bad_months(bad: str) -> None:
    assert not is_month(bad)
    with pytest.raises(ValueError):
        month_index(bad)


def test_tenure_counts_both_ends() -> None:
    # spec §1: hired 2024-03-20 -> tenure 1 in 2024-03, 3 in 2024-05
    assert tenure(date(2024, 3, 20), "2024-03") == 1
    assert tenure(date(2024, 3, 20), "2024-05") == 3
    assert tenure(date(2024, 3, 20), "2025-03") == 13


def test_is_active_includes_the_leaving_month() -> None:
    a = Agent("a", "a", "phone", "t", date(2024, 3, 20), left_on=date(2024, 6, 1))
    assert not is_active(a, "2024-02")
    assert is_active(a, "2024-03")
    assert is_active(a, "2024-06")
    assert not is_active(a, "2024-07")
    b = Agent("b", "b", "phone", "t", date(2024, 3, 20))
    assert is_active(b, "2099-01")
