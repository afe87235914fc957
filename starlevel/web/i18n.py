"""Bilingual UI (简体中文 / English) through gettext catalogs.

English strings are the message ids; Chinese lives in ``starlevel/locale/zh/LC_MESSAGES/*.po``.
Every ``.po`` file there is merged at start-up, so each area of the app keeps its own
catalog file. The language comes from the ``lang`` cookie (the switch) or else the
browser's Accept-Language.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from starlevel.paths import locale_dir

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
BABEL_LOCALE = {"zh": "zh_Hans_CN", "en": "en_GB"}
COOKIE = "lang"


class _Catalog(gettext.NullTranslations):
    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self._messages = messages

    def gettext(self, message: str) -> str:
        return self._messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        key = singular if n == 1 else plural
        return self._messages.get(key) or key


@lru_cache(maxsize=None)
def catalog(lang: str) -> gettext.NullTranslations:
    messages: dict[str, str] = {}
    folder = locale_dir() / lang / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po")) if folder.is_dir() else ():
        with po.open("rb") as fh:
            cat = read_po(fh, locale=lang)
        for m in cat:
            if m.id and m.string and not m.fuzzy:
                if isinstance(m.id, tuple):
                    for mid, ms in zip(m.id, m.string):
                        messages[mid] = ms
                else:
                    messages[m.id] = m.string
    return _Catalog(messages)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGS:
        return cookie  # type: ignore[return-value]
    if accept_language:
        ranked = []
        for i, part in enumerate(accept_language.split(",")):
            bits = part.strip().split(";q=")
            tag = bits[0].strip().lower()
            try:
                q = float(bits[1]) if len(bits) > 1 else 1.0
            except ValueError:
                q = 0.0
            ranked.append((-q, i, tag))
        for _q, _i, tag in sorted(ranked):
            if tag.startswith("zh"):
                return "zh"
            if tag.startswith("en"):
                return "en"
    return DEFAULT_LANG


def gettext_for(lang: str):  # type: ignore[no-untyped-def]
    return catalog(lang).gettext


# ---- formatting for the language ------------------------------------------------

@lru_cache(maxsize=None)
def _plain_symbols(lang: str) -> bool:
    """Whether the language writes numbers with "," between groups of three, "." before the
    decimals and "-" for minus (both of ours do, by Babel's own locale data)."""
    symbols = Locale.parse(BABEL_LOCALE[lang]).number_symbols
    if "latn" in symbols:  # Babel 2.14+: symbols per numbering system
        symbols = symbols["latn"]
    return (symbols.get("decimal"), symbols.get("group"), symbols.get("minusSign")) == (".", ",", "-")


_STEPS = [Decimal(1).scaleb(-n) for n in range(8)]


def fmt_number(value: Decimal | int | None, lang: str, places: int = 2) -> str:
    """``value`` with ``places`` decimals and grouped thousands, as Babel writes it for the
    language (a page shows a hundred of these: Babel takes 30-40 µs for each, so the two
    languages whose symbols are plain are written directly, rounding half to even as Babel
    does; proved equal to Babel by a test)."""
    if value is None:
        return "—"
    if places < len(_STEPS) and _plain_symbols(lang):
        d = value if isinstance(value, Decimal) else Decimal(value)
        if d.is_finite():
            try:
                return f"{d.quantize(_STEPS[places], rounding=ROUND_HALF_EVEN):,f}"
            except InvalidOperation:  # more digits than the context holds: Babel's way below
                pass
    fmt = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=fmt, locale=BABEL_LOCALE[lang])


def fmt_money(value: Decimal | None, lang: str) -> str:
    if value is None:
        return "—"
    return ("¥" if lang == "zh" else "CNY ") + fmt_number(value, lang, 2)


def fmt_date(value: date | datetime | None, lang: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_datetime(value, format="medium", locale=BABEL_LOCALE[lang])
    return format_date(value, format="medium", locale=BABEL_LOCALE[lang])


def fmt_month(month: str | None, lang: str) -> str:
    if not month:
        return "—"
    y, m = int(month[:4]), int(month[5:7])
    if lang == "zh":
        return f"{y}年{m}月"
    return format_date(date(y, m, 1), format="MMM y", locale=BABEL_LOCALE[lang])


def language_name(lang: str) -> str:
    return Locale.parse(BABEL_LOCALE[lang]).get_display_name(BABEL_LOCALE[lang]) or lang


def template_globals(lang: str) -> dict[str, Any]:
    _ = gettext_for(lang)
    return {
        "_": _,
        "ngettext": catalog(lang).ngettext,
        "lang": lang,
        "colon": "：" if lang == "zh" else ": ",  # between a label and its text
        "fmt_number": lambda v, places=2: fmt_number(v, lang, places),
        "fmt_money": lambda v: fmt_money(v, lang),
        "fmt_date": lambda v: fmt_date(v, lang),
        "fmt_month": lambda v: fmt_month(v, lang),
    }
