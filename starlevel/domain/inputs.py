"""Monthly inputs declared by a rulebook: kinds, ranges and the parsing of one value.

A rulebook names its monthly inputs (``[[inputs]]``). Each has a kind that brings a default
range and number of decimal places; the rulebook may narrow them. :func:`parse_input` turns
the text of one cell (an import, a form field) into a ``Decimal`` or an
:class:`InputProblem` with a code and parameters, rendered in either language by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["INPUT_KINDS", "InputProblem", "InputSpec", "LEGACY_INPUTS", "format_decimal", "parse_input"]

#: kind -> (min, max, decimals) defaults
INPUT_KINDS: dict[str, tuple[Decimal | None, Decimal | None, int]] = {
    "score": (Decimal(0), Decimal(100), 2),
    "percent": (Decimal(0), None, 2),
    "seconds": (Decimal(0), None, 2),
    "count": (Decimal(0), None, 0),
    "rating": (Decimal(1), Decimal(5), 0),
    "yesno": (Decimal(0), Decimal(1), 0),
    "money": (Decimal(0), None, 2),
    "number": (None, None, 4),
}

_LONG_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_NUMBER = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$")


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One monthly input: ``key`` is its column in the metrics file."""

    key: str
    kind: str
    name_zh: str = ""
    name_en: str = ""
    min: Decimal | None = None
    max: Decimal | None = None
    decimals: int = 2
    required: bool = True
    allowed: tuple[Decimal, ...] = ()

    def name(self, lang: str) -> str:
        return (self.name_zh if lang == "zh" else self.name_en) or self.key


@dataclass(frozen=True, slots=True)
class InputProblem:
    """Why a cell is not a valid value. ``template`` is the English message id."""

    code: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.params)


#: Inputs of a rulebook that declares none: the four metrics of the default scheme.
LEGACY_INPUTS: tuple[InputSpec, ...] = (
    InputSpec("satisfaction", "score", "客户满意度", "Satisfaction", Decimal(0), Decimal(100), 2),
    InputSpec("efficiency", "score", "工作效率", "Efficiency", Decimal(0), Decimal(100), 2),
    InputSpec("attitude", "rating", "态度评分", "Attitude rating", Decimal(1), Decimal(5), 0),
    InputSpec("complaints", "count", "有效投诉", "Valid complaints", Decimal(0), None, 0),
)


def _range_text(spec: InputSpec) -> str:
    lo, hi = spec.min, spec.max
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    if lo is not None:
        return f"{lo} or more"
    if hi is not None:
        return f"up to {hi}"
    return "any number"


def _range_phrase(spec: InputSpec) -> str:
    """`` from 1 to 5`` / `` (0 or more)`` / nothing: appended to "is not a … number"."""
    if spec.min is not None and spec.max is not None:
        return f" from {spec.min} to {spec.max}"
    if spec.min is None and spec.max is None:
        return ""
    return f" ({_range_text(spec)})"


def _not_a_number(spec: InputSpec, text: str) -> InputProblem:
    params = {"value": text, "range": _range_phrase(spec)}
    if spec.kind in ("count", "rating", "yesno") or spec.decimals == 0:
        return InputProblem("input.not_whole", "{value!r} is not a whole number{range}", params)
    return InputProblem("input.not_number", "{value!r} is not a decimal number{range}", params)


def parse_input(spec: InputSpec, text: str) -> Decimal | InputProblem:
    """The value of one cell, or why it is not one. ``text`` is stripped by the caller;
    an empty text is a problem here (the caller decides whether the input is optional).

    The value is returned with exactly ``spec.decimals`` places (``92.5`` -> ``92.50``),
    so a value is stored the same way however it was typed, and importing a file again
    compares equal. A minus sign where the range starts at 0 or above, and every problem
    of a whole-number input, read as "is not a … number" with the range."""
    if text == "":
        return InputProblem("input.empty", "is empty; a value is required")
    if spec.kind == "yesno":
        low = text.lower()
        if low in ("yes", "y", "true", "是"):
            text = "1"
        elif low in ("no", "n", "false", "否"):
            text = "0"
    if _LONG_NUMBER.match(text) and not _NUMBER.match(text):
        return InputProblem("input.too_long", "{value!r} has too many digits (at most 15 before and 15 after the point)",
                            {"value": text[:40] + ("…" if len(text) > 40 else "")})
    if not _NUMBER.match(text) or (text[0] == "-" and spec.min is not None and spec.min >= 0):
        return _not_a_number(spec, text)
    value = Decimal(text)
    places = len(text.split(".", 1)[1].rstrip("0")) if "." in text else 0
    if places > spec.decimals:
        if spec.decimals == 0:
            return _not_a_number(spec, text)
        return InputProblem(
            "input.decimals", "{value!r} has more than {places} decimal places", {"value": text, "places": spec.decimals}
        )
    below = spec.min is not None and value < spec.min
    if below or (spec.max is not None and value > spec.max):
        if spec.decimals == 0:
            return _not_a_number(spec, text)
        bound = spec.min if below else spec.max
        return InputProblem(
            "input.range", "{value!r} is " + ("below" if below else "above") + " {bound} (allowed: {range})",
            {"value": text, "bound": str(bound), "range": _range_text(spec)},
        )
    if spec.allowed and value not in spec.allowed:
        return InputProblem(
            "input.allowed",
            "{value!r} is not one of the allowed values ({allowed})",
            {"value": text, "allowed": ", ".join(str(a) for a in spec.allowed)},
        )
    try:
        value = value.quantize(Decimal(1).scaleb(-spec.decimals))
    except InvalidOperation:  # more digits than a decimal context holds
        return _not_a_number(spec, text)
    return abs(value) if value.is_zero() else value


def format_decimal(value: Decimal) -> str:
    """``value`` in plain notation (never ``1E+2``), as values are stored."""
    text = str(value)
    return format(value, "f") if "E" in text else text
