"""Typed records of a month's explanation.

The engine stores each explanation as JSON (``{"rule", "params", "checks", "status", "hr",
"veto"}``, see :mod:`starlevel.domain.ladder`); readers take it back as these records, so the
renderers (text, progress panel, API) read named fields, never guess at dict keys. Unknown
keys from newer versions are ignored; missing ones are ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Check", "ConditionCheck", "Explanation", "HrNote", "Params"]


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One figure compared with a value (a direct star's condition, a requirement, a veto)."""

    of: str
    op: str
    need: str
    have: str | None
    ok: bool

    @classmethod
    def of_json(cls, d: Mapping[str, Any]) -> ConditionCheck:
        return cls(str(d.get("of")), str(d.get("op")), str(d.get("need")), d.get("have"), bool(d.get("ok")))


@dataclass(frozen=True, slots=True)
class Check:
    """One promotion condition (``key`` in :data:`ladder.CHECK_KEYS`) or a direct star
    (``key = "star"``), with the figures that decided it."""

    key: str
    ok: bool
    need: Any = None
    have: Any = None
    level: int | None = None  # a direct star's level
    months: tuple[str, ...] = ()
    composites: tuple[str | None, ...] = ()
    why: tuple[str | None, ...] = ()
    also: Mapping[str, list[str]] = field(default_factory=dict)
    threshold: str | None = None
    item_floor: str | None = None
    test: str | None = None
    mean: str | None = None
    errors: int | None = None
    complaints: int | None = None
    inspections: int | None = None
    conditions: tuple[ConditionCheck, ...] = ()

    @classmethod
    def of_json(cls, d: Mapping[str, Any]) -> Check:
        return cls(
            key=str(d.get("key")),
            ok=bool(d.get("ok")),
            need=d.get("need"),
            have=d.get("have"),
            level=d.get("level"),
            months=tuple(d.get("months") or ()),
            composites=tuple(d.get("composites") or ()),
            why=tuple(d.get("why") or ()),
            also=dict(d.get("also") or {}),
            threshold=d.get("threshold"),
            item_floor=d.get("item_floor"),
            test=d.get("test"),
            mean=d.get("mean"),
            errors=d.get("errors"),
            complaints=d.get("complaints"),
            inspections=d.get("inspections"),
            conditions=tuple(ConditionCheck.of_json(c) for c in d.get("conditions") or ()),
        )


@dataclass(frozen=True, slots=True)
class Params:
    """The figures behind a rule (which ones are set depends on the rule; see ladder)."""

    to: int | None = None
    level: int | None = None
    window: tuple[str, ...] = ()
    composites: tuple[str | None, ...] = ()
    threshold: str | None = None
    average: str | None = None
    error_rate: str | None = None
    rank: int | None = None
    cap: int | None = None
    holding: int | None = None
    missing: tuple[str, ...] = ()
    floor: str | None = None
    below_floor: int | None = None
    after_months: int | None = None
    n_inspections: int | None = None
    min_inspections: int | None = None
    has_metrics: bool | None = None
    tenure: int | None = None
    probation_months: int | None = None
    codes: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    earned: int | None = None
    otherwise: int | None = None

    @classmethod
    def of_json(cls, d: Mapping[str, Any]) -> Params:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in d and d[f.name] is not None:
                v = d[f.name]
                kw[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class HrNote:
    action: str
    reason: str
    decided_by: str
    applied: bool

    @classmethod
    def of_json(cls, d: Mapping[str, Any] | None) -> HrNote | None:
        if not d:
            return None
        return cls(str(d.get("action")), str(d.get("reason") or ""), str(d.get("decided_by") or ""), bool(d.get("applied")))


def _withheld(d: Any) -> tuple[str, int] | None:
    if not isinstance(d, Mapping) or not d.get("why"):
        return None
    return str(d["why"]), int(d.get("months") or 0)


@dataclass(frozen=True, slots=True)
class Explanation:
    rule: str
    params: Params
    checks: tuple[Check, ...]
    status: str | None = None  # promote: "auto" | "approved" | "pending"
    hr: HrNote | None = None
    veto: tuple[str, ...] = ()
    # The star allowance withheld: (why, months) — "complaint" or "too_new", and how many
    # months without a valid complaint it needs; None when it was paid.
    allowance_withheld: tuple[str, int] | None = None

    @classmethod
    def of_json(cls, d: Mapping[str, Any] | None, rule: str = "") -> Explanation:
        d = d or {}
        return cls(
            rule=str(d.get("rule") or rule),
            params=Params.of_json(d.get("params") or {}),
            checks=tuple(Check.of_json(c) for c in d.get("checks") or ()),
            status=d.get("status"),
            hr=HrNote.of_json(d.get("hr")),
            veto=tuple(d.get("veto") or ()),
            allowance_withheld=_withheld(d.get("allowance_withheld")),
        )

    def check(self, key: str) -> Check | None:
        return next((c for c in self.checks if c.key == key), None)
