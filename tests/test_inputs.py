"""parse_input: one monthly input's text read as the rulebook declares it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from starlevel.domain.inputs import InputProblem, parse_input


@dataclass(frozen=True)
class Spec:
    key: str = "x"
    kind: str = "score"
    name_zh: str = "x"
    name_en: str = "x"
    min: Decimal | None = Decimal(0)
    max: Decimal | None = Decimal(100)
    decimals: int = 2
    required: bool = True
    allowed: tuple[Decimal, ...] = ()


SCORE = Spec()
COUNT = Spec(kind="count", max=None, decimals=0)
RATING = Spec(kind="rating", min=Decimal(1), max=Decimal(5), decimals=0)
SECONDS = Spec(kind="seconds", min=Decimal(0), max=None, decimals=1)
MONEY = Spec(kind="money", min=None, max=None, decimals=2)
YESNO = Spec(kind="yesno", min=Decimal(0), max=Decimal(1), decimals=0, allowed=(Decimal(0), Decimal(1)))
GRADE = Spec(kind="number", min=None, max=None, decimals=0, allowed=(Decimal(1), Decimal(3), Decimal(5)))


@pytest.mark.parametrize(("spec", "text", "value"), [
    (SCORE, "92.5", "92.50"), (SCORE, " 0 ", "0.00"), (SCORE, "100.000", "100.00"),
    (COUNT, "12", "12"), (COUNT, "3.0", "3"), (COUNT, "0", "0"),
    (RATING, "5", "5"), (SECONDS, "35.5", "35.5"), (MONEY, "-120.5", "-120.50"), (MONEY, "-0", "0.00"),
    (YESNO, "1", "1"), (YESNO, "是", "1"), (YESNO, "No", "0"), (GRADE, "3", "3"),
])
def test_accepted_values_are_exact_and_quantized(spec, text, value):
    parsed = parse_input(spec, text)
    assert isinstance(parsed, Decimal)
    assert str(parsed) == value


@pytest.mark.parametrize(("spec", "text", "code", "message"), [
    (SCORE, "", "empty", "is empty; a value is required"),
    (SCORE, "101", "above_max", "'101' is above 100 (allowed: 0 to 100)"),
    (SCORE, "92.555", "places", "'92.555' has more than 2 decimal places"),
    (SCORE, "-5", "not_number", "'-5' is not a decimal number from 0 to 100"),
    (SCORE, "1e2", "not_number", "'1e2' is not a decimal number from 0 to 100"),
    (SCORE, "9,5", "not_number", "'9,5' is not a decimal number from 0 to 100"),
    (SECONDS, "-1", "not_number", "'-1' is not a decimal number (0 or more)"),
    (MONEY, "abc", "not_number", "'abc' is not a decimal number"),
    (RATING, "0", "below_min", "'0' is not a whole number from 1 to 5"),
    (RATING, "4.5", "places", "'4.5' is not a whole number from 1 to 5"),
    (COUNT, "-1", "not_number", "'-1' is not a whole number (0 or more)"),
    (YESNO, "maybe", "not_yesno", "'maybe' is not yes or no (1 or 0)"),
    (GRADE, "2", "not_allowed", "'2' is not one of the allowed values (1, 3, 5)"),
    (MONEY, "9" * 40, "too_long", "is 40 characters long; at most 32 are allowed"),
    (MONEY, "9" * 30, "not_number", f"'{'9' * 30}' is not a decimal number"),
])
def test_refused_values_name_the_problem(spec, text, code, message):
    problem = parse_input(spec, text)
    assert isinstance(problem, InputProblem)
    assert problem.code == code
    assert str(problem) == message
