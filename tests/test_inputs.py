"""parse_input: one monthly input's text read as the rulebook declares it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from starlevel.domain.inputs import INPUT_KINDS, InputProblem, InputSpec, parse_input


def Spec(kind: str = "score", **kw) -> InputSpec:  # noqa: N802 - reads like the record
    lo, hi, places = INPUT_KINDS[kind]
    return InputSpec("x", kind, "x", "x", kw.pop("min", lo), kw.pop("max", hi), kw.pop("decimals", places), **kw)


SCORE = Spec()
COUNT = Spec("count")
RATING = Spec("rating")
SECONDS = Spec("seconds", decimals=1)
MONEY = Spec("money", min=None)
YESNO = Spec("yesno")
GRADE = Spec("number", decimals=0, allowed=(Decimal(1), Decimal(3), Decimal(5)))


@pytest.mark.parametrize(("spec", "text", "value"), [
    (SCORE, "92.5", "92.50"), (SCORE, "0", "0.00"), (SCORE, "100.000", "100.00"),
    (COUNT, "12", "12"), (COUNT, "3.0", "3"), (COUNT, "0", "0"),
    (RATING, "5", "5"), (SECONDS, "35.5", "35.5"), (MONEY, "-120.5", "-120.50"), (MONEY, "-0", "0.00"), (Spec("number"), "1.5", "1.5000"),
    (YESNO, "1", "1"), (YESNO, "是", "1"), (YESNO, "No", "0"), (GRADE, "3", "3"),
])
def test_accepted_values_are_exact_and_quantized(spec, text, value):
    parsed = parse_input(spec, text)
    assert isinstance(parsed, Decimal)
    assert str(parsed) == value


@pytest.mark.parametrize(("spec", "text", "code", "message"), [
    (SCORE, "", "input.empty", "is empty; a value is required"),
    (SCORE, "101", "input.range", "'101' is above 100 (allowed: 0 to 100)"),
    (SECONDS, "-1", "input.not_number", "'-1' is not a decimal number (0 or more)"),
    (Spec("number", min=Decimal(-5)), "-6", "input.range", "'-6' is below -5 (allowed: -5 or more)"),
    (SCORE, "92.555", "input.decimals", "'92.555' has more than 2 decimal places"),
    (SCORE, "-5", "input.not_number", "'-5' is not a decimal number from 0 to 100"),
    (SCORE, "1e2", "input.not_number", "'1e2' is not a decimal number from 0 to 100"),
    (SCORE, "9,5", "input.not_number", "'9,5' is not a decimal number from 0 to 100"),
    (Spec("number"), "abc", "input.not_number", "'abc' is not a decimal number"),
    (RATING, "0", "input.not_whole", "'0' is not a whole number from 1 to 5"),
    (RATING, "4.5", "input.not_whole", "'4.5' is not a whole number from 1 to 5"),
    (COUNT, "-1", "input.not_whole", "'-1' is not a whole number (0 or more)"),
    (YESNO, "maybe", "input.not_whole", "'maybe' is not a whole number from 0 to 1"),
    (GRADE, "2", "input.allowed", "'2' is not one of the allowed values (1, 3, 5)"),
    (MONEY, "9" * 40, "input.too_long", f"'{'9' * 40}' has too many digits (at most 15 before and 15 after the point)"),
])
def test_refused_values_name_the_problem(spec, text, code, message):
    problem = parse_input(spec, text)
    assert isinstance(problem, InputProblem)
    assert problem.code == code
    assert str(problem) == message
