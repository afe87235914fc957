"""Every literal message id used in templates and code has a Chinese translation,
and key-style ids (``event.promote``) have an English label too."""

from __future__ import annotations

import re
from pathlib import Path

from starlevel.web import i18n

ROOT = Path(__file__).resolve().parent.parent
CALL = re.compile(r"""(?<![A-Za-z0-9_])_\(\s*(?P<q>["'])(?P<id>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*[,)]""")
# ngettext("one", "many", n): both forms need a translation.
PLURAL = re.compile(r'ngettext\(\s*"(?P<one>[^"]*)",\s*"(?P<many>[^"]*)"')


def _ids() -> dict[str, str]:
    found: dict[str, str] = {}
    files = list((ROOT / "templates").rglob("*.html")) + list((ROOT / "starlevel" / "web").rglob("*.py"))
    for f in files:
        for m in CALL.finditer(f.read_text(encoding="utf-8")):
            found.setdefault(m.group("id").replace("\\'", "'").replace('\\"', '"'), str(f.relative_to(ROOT)))
        for m in PLURAL.finditer(f.read_text(encoding="utf-8")):
            found.setdefault(m.group("one"), str(f.relative_to(ROOT)))
            found.setdefault(m.group("many"), str(f.relative_to(ROOT)))
    return found


def test_ids_are_found():
    assert "Sign in" in _ids()


def test_every_message_has_a_chinese_translation():
    zh = i18n.catalog("zh")
    missing = {mid: where for mid, where in _ids().items() if zh.gettext(mid) == mid}
    assert not missing, "untranslated (add to starlevel/locale/zh/LC_MESSAGES/*.po):\n" + "\n".join(
        f"  {mid!r}  ({where})" for mid, where in sorted(missing.items())
    )


def test_key_style_ids_have_english_labels():
    en = i18n.catalog("en")
    keys = [mid for mid in _ids() if re.fullmatch(r"[a-z_]+\.[a-z_.]+", mid)]
    missing = [k for k in keys if en.gettext(k) == k]
    assert not missing, f"add English labels to starlevel/locale/en/LC_MESSAGES/*.po: {missing}"


def test_placeholders_survive_translation():
    zh = i18n.catalog("zh")
    for mid in _ids():
        want = sorted(re.findall(r"\{[a-z_]+\}", mid))
        got = sorted(re.findall(r"\{[a-z_]+\}", zh.gettext(mid)))
        assert want == got, f"{mid!r}: placeholders {want} became {got}"


def test_negotiation():
    assert i18n.negotiate(None, "en-GB,en;q=0.9,zh;q=0.5") == "en"
    assert i18n.negotiate(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert i18n.negotiate(None, "fr-FR,en;q=0.4") == "en"
    assert i18n.negotiate("en", "zh-CN") == "en"
    assert i18n.negotiate(None, None) == i18n.DEFAULT_LANG


def test_numbers_are_written_exactly_as_babel_writes_them() -> None:
    """fmt_number writes our two languages' numbers directly (Babel costs 30-40 µs a number
    and a page has a hundred); the result must be Babel's to the character, rounding
    included."""
    import random
    from decimal import Decimal

    from babel.numbers import format_decimal

    assert i18n._plain_symbols("en") and i18n._plain_symbols("zh")
    rnd = random.Random(7)
    values: list[Decimal | int] = [Decimal(s) for s in (
        "0", "-0", "0.005", "0.015", "0.025", "-0.005", "-0.015", "2.5", "3.5", "-2.5", "999.995", "1234567.125",
        "-1234567.135", "0.0049", "1E+3", "1.5E-3", "12345678901234567890.5")] + [0, 7, -1234567]
    values += [Decimal(rnd.randint(-10**10, 10**10)).scaleb(-rnd.randint(0, 7)) for _ in range(3000)]
    for value in values:
        for lang in ("en", "zh"):
            for places in (0, 1, 2, 3):
                babel = format_decimal(value, format="#,##0" + ("." + "0" * places if places else ""),
                                       locale=i18n.BABEL_LOCALE[lang])
                assert i18n.fmt_number(value, lang, places) == babel, (value, lang, places)
    assert i18n.fmt_number(None, "en") == "—"
