"""Reading one monthly input value as the rulebook declares it.

:func:`parse_input` turns the text of one cell (a file's, or a form field's) into the
exact :class:`~decimal.Decimal` the engine reads, or an :class:`InputProblem` saying what
is wrong with it. The importer and the app's entry form both use it, so a value is
accepted or refused the same way wherever it comes from.

A value is written in plain decimal notation (``92.5``, ``4``, ``-3.25``; no exponent, no
thousands separators). It may have at most ``spec.decimals`` places and is returned
quantized to exactly that many (``92.5`` -> ``92.50`` for two places), so equal values
are stored the same way whichever way they were typed. ``yesno`` inputs also take
yes/no, y/n, true/false and 是/否.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["MAX_INPUT_LENGTH", "InputProblem", "format_decimal", "parse_input"]

#: Longer cell texts are refused before any parsing.
MAX_INPUT_LENGTH = 32

_NUMBER = re.compile(r"^(-?)([0-9]+)(?:\.([0-9]+))?\Z")
_YES = frozenset({"yes", "y", "true", "是"})
_NO = frozenset({"no", "n", "false", "否"})
_QUANTUM = {n: Decimal(1).scaleb(-n) for n in range(0, 11)}


def format_decimal(value: Decimal) -> str:
    """``value`` in plain notation (never ``1E+2``)."""
    text = str(value)
    return format(value, "f") if "E" in text else text


@dataclass(frozen=True, slots=True)
class InputProblem:
    """Why a text is not a valid value of an input. ``code`` is stable (for translation);
    ``params`` holds the figures the message names; ``str()`` is the English message."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        p = dict(self.params)
        p["text"] = repr(p.get("text", ""))
        if self.code == "not_allowed":
            p["allowed"] = ", ".join(p["allowed"])
        elif self.code not in _MESSAGES or p.get("decimals", 0) == 0 and self.code in _NUMBER_CODES:
            # Every number problem of a whole-number input reads the same way.
            return f"{p['text']} is not a whole number{_range_phrase(p)}"
        if self.code in ("below_min", "above_max"):
            p["allowed"] = _range_text(p)
        elif self.code == "not_number":
            p["range"] = _range_phrase(p)
        return _MESSAGES[self.code].format(**p)


#: English message per problem code (``{text}`` is the quoted cell text).
_MESSAGES = {
    "empty": "is empty; a value is required",
    "too_long": "is {length} characters long; at most {limit} are allowed",
    "not_yesno": "{text} is not yes or no (1 or 0)",
    "not_allowed": "{text} is not one of the allowed values ({allowed})",
    "places": "{text} has more than {decimals} decimal places",
    "below_min": "{text} is below {min} (allowed: {allowed})",
    "above_max": "{text} is above {max} (allowed: {allowed})",
    "not_number": "{text} is not a decimal number{range}",
}
_NUMBER_CODES = frozenset({"places", "below_min", "above_max", "not_number"})


def _range_text(p: dict[str, Any]) -> str:
    lo, hi = p.get("min"), p.get("max")
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    return f"{lo} or more" if lo is not None else f"at most {hi}"


def _range_phrase(p: dict[str, Any]) -> str:
    if p.get("min") is not None and p.get("max") is not None:
        return f" from {p['min']} to {p['max']}"
    return f" ({_range_text(p)})" if p.get("min") is not None or p.get("max") is not None else ""


def _problem(code: str, spec: Any, text: str, **extra: Any) -> InputProblem:
    params: dict[str, Any] = {
        "text": text,
        "decimals": spec.decimals,
        "min": None if spec.min is None else format_decimal(spec.min),
        "max": None if spec.max is None else format_decimal(spec.max),
    }
    params.update(extra)
    return InputProblem(code, params)


def parse_input(spec: Any, text: str) -> Decimal | InputProblem:
    """The value of ``text`` for the input ``spec`` (an ``InputSpec``), or the problem."""
    text = text.strip()
    if not text:
        return InputProblem("empty", {})
    if len(text) > MAX_INPUT_LENGTH:
        return InputProblem("too_long", {"length": len(text), "limit": MAX_INPUT_LENGTH})
    if spec.kind == "yesno":
        low = text.lower()
        if low in _YES:
            text = "1"
        elif low in _NO:
            text = "0"
        elif text not in ("0", "1"):
            return InputProblem("not_yesno", {"text": text})
    m = _NUMBER.match(text)
    lo, hi = spec.min, spec.max
    if m is None or (m.group(1) and lo is not None and lo >= 0):
        return _problem("not_number", spec, text)
    places = m.group(3)
    decimals = spec.decimals
    if places is not None and len(places.rstrip("0")) > decimals:
        return _problem("places", spec, text)
    value = Decimal(text)
    if lo is not None and value < lo:
        return _problem("below_min", spec, text)
    if hi is not None and value > hi:
        return _problem("above_max", spec, text)
    quantum = _QUANTUM.get(decimals) or Decimal(1).scaleb(-decimals)
    try:
        value = abs(value.quantize(quantum)) if value.is_zero() else value.quantize(quantum)
    except InvalidOperation:  # more digits than a decimal context holds
        return _problem("not_number", spec, text)
    if spec.allowed and value not in spec.allowed:
        return InputProblem("not_allowed", {"text": text, "allowed": [format_decimal(a) for a in spec.allowed]})
    return value
