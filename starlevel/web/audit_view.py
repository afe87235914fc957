"""The audit log in the reader's language: actions, record kinds, detail fields and values
go through the message catalogs (``audit.action.*``, ``audit.entity.*``, ``audit.field.*``)
instead of being printed as stored (``codes: ['T1-01', …]``). A name without a label is
shown as stored, so new kinds of entries still read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlevel.domain import months as M
from starlevel.web import i18n

# Stored reasons written by the system itself (not typed by a person).
SYSTEM_REASONS = {"initial default rulebook": "The default rulebook, loaded on first start."}


class AuditText:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._ = i18n.gettext_for(lang)
        self.sep = "、" if lang == "zh" else ", "

    def _label(self, prefix: str, name: str) -> str:
        key = f"audit.{prefix}.{name}"
        text = self._(key)
        return name if text == key else text

    def action(self, name: str) -> str:
        return self._label("action", name)

    def entity(self, name: str) -> str:
        return self._label("entity", name)

    def field(self, name: str) -> str:
        return self._label("field", name)

    def reason(self, text: str | None) -> str:
        if not text:
            return ""
        known = SYSTEM_REASONS.get(text)
        return self._(known) if known else text

    def value(self, field: str, value: Any) -> str:
        """One detail value as a reader expects it: lists joined, months and dates formatted,
        roles, channels and actions named, nested records as "field: value" pairs."""
        if value is None or value == "" or value == []:
            return "—"
        if isinstance(value, bool):
            return self._("yes") if value else self._("no")
        if isinstance(value, (list, tuple)):
            return self.sep.join(self.value(field, v) for v in value)
        if isinstance(value, dict):
            sep = "；" if self.lang == "zh" else "; "
            colon = "：" if self.lang == "zh" else ": "
            return sep.join(f"{self.field(k)}{colon}{self.value(k, v)}" for k, v in value.items())
        if isinstance(value, (date, datetime)):
            return i18n.fmt_date(value, self.lang)
        text = str(value)
        if field in ("month", "effective_from") and M.is_month(text):
            return i18n.fmt_month(text, self.lang)
        if field == "role":
            return self._(text)
        if field == "superseded":
            return self.action(text)
        if field == "track":
            return self._(text)
        return text

    def details(self, detail: dict[str, Any] | None) -> list[tuple[str, str]]:
        return [(self.field(k), self.value(k, v)) for k, v in (detail or {}).items()]


def audit_text(lang: str) -> AuditText:
    return AuditText(lang)

