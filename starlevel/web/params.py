"""Whole-number parameters of URLs, bounded.

A number in a path or query string comes from anyone: ``page=99999999999999999999`` is a
valid Python int and then overflows the database's 64-bit integers (a 500). Every integer
parameter is therefore bounded here. API routes declare the bounded types below, so
Litestar refuses an out-of-range value with 400 in the API's problem shape; HTML routes
take the text and parse it with :func:`int_param`, and a bad value answers the page
``errors/400.html`` with a sentence in the user's language (never JSON).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.params import Parameter
from litestar.response import Template

from starlevel.web.render import gettext, render

__all__ = ["MAX_ID", "MAX_LEVEL", "MAX_PAGE", "BadParam", "Id", "Level", "Page", "bad_param_page", "int_or",
           "int_param"]

#: Row ids (64-bit in the schema).
MAX_ID = 2**63 - 1
#: Far beyond any real page count, far below any integer column's limit.
MAX_PAGE = 1_000_000
MAX_LEVEL = 99

Page = Annotated[int, Parameter(ge=1, le=MAX_PAGE)]
Level = Annotated[int | None, Parameter(ge=0, le=MAX_LEVEL)]
Id = Annotated[int, Parameter(ge=1, le=MAX_ID)]


class BadParam(ValueError):
    """A URL parameter that is not a whole number from ``lo`` to ``hi``."""

    def __init__(self, name: str, value: str, lo: int, hi: int) -> None:
        super().__init__(f"{name}={value!r} is not a whole number from {lo} to {hi}")
        self.name = name
        self.value = value
        self.lo = lo
        self.hi = hi


def int_param(name: str, text: str | None, *, lo: int = 1, hi: int = MAX_PAGE) -> int | None:
    """``text`` as a whole number from ``lo`` to ``hi``; None when empty (an empty filter
    means "all"); :class:`BadParam` otherwise. Only ASCII digits count (``"²".isdigit()``
    is true, and ``int("²")`` fails)."""
    text = (text or "").strip()
    if not text:
        return None
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
        raise BadParam(name, text[:40], lo, hi)
    value = int(text)
    if not lo <= value <= hi:
        raise BadParam(name, text[:40], lo, hi)
    return value


def int_or(text: str | None, default: Any, *, lo: int = 1, hi: int = MAX_PAGE) -> Any:
    """Like :func:`int_param`, but ``default`` for an empty or bad value (for forms and
    filters that quietly fall back)."""
    try:
        value = int_param("", text, lo=lo, hi=hi)
    except BadParam:
        return default
    return default if value is None else value


def bad_param_page(request: Request[Any, Any, Any], exc: BadParam) -> Template:
    """The answer of an HTML route to a bad number in its URL: 400, a page saying which."""
    _ = gettext(request)
    message = _("{name} must be a whole number from {lo} to {hi}; {value} is not.").format(
        name=exc.name, lo=exc.lo, hi=exc.hi, value=repr(exc.value))
    return render(request, "errors/400.html", status_code=400, message=message)
