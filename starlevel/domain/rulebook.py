"""The rulebook: every number of the ladder as data (spec §3–§6).

A rulebook *document* is a plain dict (as read from TOML, or stored as JSON); decimals
are written as strings (or integers) so that nothing passes through binary floating
point. :func:`parse_rulebook` validates a document and returns an immutable
:class:`Rulebook`, or raises :class:`RulebookError` listing every problem it found.
:func:`rulebook_to_document` turns a rulebook back into a JSON-ready document that
parses to an equal rulebook.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from starlevel.domain.model import Month
from starlevel.domain.months import is_month

__all__ = [
    "METRIC_NAMES",
    "Band",
    "Coefficient",
    "DefectType",
    "Dimension",
    "MetricBand",
    "PayGrade",
    "PromotionRule",
    "Rulebook",
    "RulebookError",
    "Tier",
    "default_rulebook",
    "default_rulebook_document",
    "load_rulebook_file",
    "parse_rulebook",
    "parse_rulebook_toml",
    "rulebook_to_document",
]

#: Columns of :class:`~starlevel.domain.model.Metrics` a dimension may read.
METRIC_NAMES: tuple[str, ...] = ("satisfaction", "efficiency", "attitude", "complaints")

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


class RulebookError(ValueError):
    """A rulebook document is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid rulebook:\n" + "\n".join(f"- {p}" for p in self.problems))


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Tier:
    tier: int
    deduction: Decimal
    red_line: bool
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class DefectType:
    code: str
    tier: int
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class MetricBand:
    """One band of a banded dimension: ``score`` applies when the raw value is within
    ``limit`` (``<= limit`` when lower is better, ``>= limit`` when higher is better).
    The last band has ``limit=None`` and catches everything else."""

    limit: Decimal | None
    score: Decimal


@dataclass(frozen=True, slots=True)
class Dimension:
    key: str
    source: str  # "quality" | "metric"
    weight: Decimal
    metric: str | None = None
    scale: Decimal | None = None
    bands: tuple[MetricBand, ...] = ()
    direction: str | None = None  # "lower" | "higher" (only with bands)
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class Band:
    """A grade band (评分等级): a composite falls in the first band whose ``min`` it reaches."""

    key: str
    min: Decimal
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class PromotionRule:
    to: int
    min_tenure: int
    window: int
    threshold: dict[str, Decimal]  # track -> composite threshold
    max_error_rate: Decimal | None = None
    zero_errors: bool = False


@dataclass(frozen=True, slots=True)
class PayGrade:
    level: int
    grade: str
    fixed: Decimal
    bonus_base: Decimal
    allowance: Decimal


@dataclass(frozen=True, slots=True)
class Coefficient:
    min: Decimal
    coefficient: Decimal


@dataclass(frozen=True)
class Rulebook:
    """A validated rulebook. Treat every field (including the dicts) as read-only."""

    levels: tuple[int, ...]
    tracks: tuple[str, ...]
    pass_mark: Decimal
    min_inspections: int
    probation_months: int
    inspection_base: Decimal
    error_tier: int
    approval_required: bool
    cadence_months: int
    tiers: tuple[Tier, ...]
    defects: tuple[DefectType, ...]
    dimensions: tuple[Dimension, ...]
    bands: tuple[Band, ...]
    promotions: tuple[PromotionRule, ...]
    demotion_enabled: bool
    floors: dict[int, Decimal]
    after_months: int
    red_line_demotes: bool
    quotas: dict[int, Decimal]
    probation_factor: Decimal
    probation_allowance: bool
    pay_grades: tuple[PayGrade, ...]
    coefficients: tuple[Coefficient, ...]
    name_en: str = ""
    name_zh: str = ""
    version: int = 0
    effective_from: Month = "0000-01"
    # Lookup tables derived from the fields above (not part of equality).
    _defects: dict[str, DefectType] = field(init=False, repr=False, compare=False)
    _tiers: dict[int, Tier] = field(init=False, repr=False, compare=False)
    _deductions: dict[str, Decimal] = field(init=False, repr=False, compare=False)
    _red_line: frozenset[str] = field(init=False, repr=False, compare=False)
    _errors: frozenset[str] = field(init=False, repr=False, compare=False)
    _promotions: dict[int, PromotionRule] = field(init=False, repr=False, compare=False)
    _grades: dict[int, PayGrade] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tiers = {t.tier: t for t in self.tiers}
        defects = {d.code: d for d in self.defects}
        put = object.__setattr__
        put(self, "_tiers", tiers)
        put(self, "_defects", defects)
        put(self, "_deductions", {c: tiers[d.tier].deduction for c, d in defects.items()})
        put(self, "_red_line", frozenset(c for c, d in defects.items() if tiers[d.tier].red_line))
        put(self, "_errors", frozenset(c for c, d in defects.items() if d.tier >= self.error_tier))
        put(self, "_promotions", {p.to: p for p in self.promotions})
        put(self, "_grades", {g.level: g for g in self.pay_grades})

    __hash__ = None  # type: ignore[assignment]  # holds dicts

    # -- lookups ---------------------------------------------------------------
    def defect(self, code: str) -> DefectType:
        """The catalog entry of ``code`` (``KeyError`` if unknown)."""
        return self._defects[code]

    def has_defect(self, code: str) -> bool:
        return code in self._defects

    def tier(self, tier: int) -> Tier:
        return self._tiers[tier]

    def tier_of(self, code: str) -> int:
        return self._defects[code].tier

    def deduction(self, code: str) -> Decimal:
        return self._deductions[code]

    def is_red_line(self, code: str) -> bool:
        return code in self._red_line

    def is_error(self, code: str) -> bool:
        """True when the code's tier is at or above ``error_tier`` (差错)."""
        return code in self._errors

    def floor(self, level: int) -> Decimal:
        return self.floors[level]

    def promotion_to(self, level: int) -> PromotionRule | None:
        return self._promotions.get(level)

    def pay_grade(self, level: int) -> PayGrade:
        return self._grades[level]

    def quota(self, level: int) -> Decimal | None:
        return self.quotas.get(level)

    def dimension(self, key: str) -> Dimension:
        for d in self.dimensions:
            if d.key == key:
                return d
        raise KeyError(key)

    @property
    def max_window(self) -> int:
        return max((p.window for p in self.promotions), default=0)

    @property
    def max_level(self) -> int:
        return self.levels[-1]

    @property
    def min_level(self) -> int:
        return self.levels[0]


# --------------------------------------------------------------------------- parsing

_MISSING = object()


class _Reader:
    """Collects problems while reading typed values out of a document."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, path: str, msg: str) -> None:
        self.problems.append(f"{path}: {msg}")

    # Generic helpers -----------------------------------------------------------
    def table(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any] | None:
        value = parent.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.bad(path, "missing")
            return None
        if not isinstance(value, Mapping):
            self.bad(path, f"expected a table, got {_kind(value)}")
            return None
        return dict(value)

    def array(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> list[Any] | None:
        value = parent.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.bad(path, "missing")
            return None
        if not isinstance(value, list | tuple):
            self.bad(path, f"expected a list, got {_kind(value)}")
            return None
        return list(value)

    def only(self, obj: Mapping[str, Any], allowed: set[str] | tuple[str, ...], path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.bad(_join(path, str(key)), "unknown key")

    def get(self, obj: Mapping[str, Any], key: str, path: str, required: bool) -> Any:
        value = obj.get(key, _MISSING)
        if value is _MISSING and required:
            self.bad(_join(path, key), "missing")
        return value

    def dec(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        default: Decimal | None = None,
        lo: Decimal | None = None,
        hi: Decimal | None = None,
        lo_open: bool = False,
    ) -> Decimal | None:
        value = self.get(obj, key, path, required)
        if value is _MISSING:
            return default
        return self.dec_value(value, _join(path, key), lo=lo, hi=hi, lo_open=lo_open)

    def dec_value(
        self, value: Any, path: str, *, lo: Decimal | None = None, hi: Decimal | None = None, lo_open: bool = False
    ) -> Decimal | None:
        if isinstance(value, bool):
            self.bad(path, f"expected a decimal written as a string, got {_kind(value)}")
            return None
        if isinstance(value, float):
            self.bad(path, f"write decimals as strings, got float {value!r}")
            return None
        if isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, Decimal):
            result = value
        elif isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                self.bad(path, f"not a decimal: {value!r}")
                return None
        else:
            self.bad(path, f"expected a decimal written as a string, got {_kind(value)}")
            return None
        if not result.is_finite():
            self.bad(path, f"not a finite decimal: {value!r}")
            return None
        if lo is not None and (result < lo or (lo_open and result == lo)):
            self.bad(path, f"must be {'above' if lo_open else 'at least'} {lo}, got {result}")
            return None
        if hi is not None and result > hi:
            self.bad(path, f"must be at most {hi}, got {result}")
            return None
        return result

    def int_(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        default: int | None = None,
        lo: int | None = None,
    ) -> int | None:
        value = self.get(obj, key, path, required)
        if value is _MISSING:
            return default
        return self.int_value(value, _join(path, key), lo=lo)

    def int_value(self, value: Any, path: str, *, lo: int | None = None) -> int | None:
        if isinstance(value, float):
            self.bad(path, f"write whole numbers as integers, got float {value!r}")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(path, f"expected an integer, got {_kind(value)}")
            return None
        if lo is not None and value < lo:
            self.bad(path, f"must be at least {lo}, got {value}")
            return None
        return value

    def bool_(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, default: bool = False) -> bool:
        value = self.get(obj, key, path, required)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.bad(_join(path, key), f"expected true or false, got {_kind(value)}")
            return default
        return value

    def str_(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, default: str = "", nonempty: bool = False
    ) -> str | None:
        value = self.get(obj, key, path, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            self.bad(_join(path, key), f"expected a string, got {_kind(value)}")
            return None
        if nonempty and not value.strip():
            self.bad(_join(path, key), "must not be empty")
            return None
        return value

    def level_key(self, key: Any, path: str, levels: set[int]) -> int | None:
        """Keys of ``floors`` / ``quotas`` tables: level numbers written as strings."""
        text = str(key)
        if isinstance(key, bool) or not (isinstance(key, int) or (isinstance(key, str) and text.isdigit())):
            self.bad(_join(path, text), "key must be a level number")
            return None
        level = int(text)
        if levels and level not in levels:
            self.bad(_join(path, text), f"no such level {level}")
            return None
        return level

    def items(self, arr: list[Any], path: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i, item in enumerate(arr):
            p = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                self.bad(p, f"expected a table, got {_kind(item)}")
                continue
            out.append((p, dict(item)))
        return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


_TOP_KEYS = ("rulebook", "tiers", "defects", "dimensions", "bands", "promotions", "demotion", "quotas", "pay")
_RULEBOOK_KEYS = (
    "name_en",
    "name_zh",
    "levels",
    "tracks",
    "pass_mark",
    "min_inspections",
    "probation_months",
    "inspection_base",
    "error_tier",
    "approval_required",
    "cadence_months",
)


def parse_rulebook(doc: Mapping[str, Any], version: int = 0, effective_from: Month = "0000-01") -> Rulebook:
    """Validate a rulebook document and build a :class:`Rulebook`.

    Raises :class:`RulebookError` listing every problem found (not just the first).
    """
    r = _Reader()
    if not isinstance(doc, Mapping):
        raise RulebookError([f"document: expected a table, got {_kind(doc)}"])
    r.only(doc, _TOP_KEYS, "")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        r.bad("version", f"must be a whole number >= 0, got {version!r}")
    if not is_month(effective_from):
        r.bad("effective_from", f"not a month (YYYY-MM): {effective_from!r}")

    # [rulebook] ------------------------------------------------------------------
    head = r.table(doc, "rulebook", "rulebook") or {}
    r.only(head, _RULEBOOK_KEYS, "rulebook")
    name_en = r.str_(head, "name_en", "rulebook", required=False) or ""
    name_zh = r.str_(head, "name_zh", "rulebook", required=False) or ""

    levels: tuple[int, ...] = ()
    raw_levels = r.array(head, "levels", "rulebook.levels")
    if raw_levels is not None:
        vals = [r.int_value(v, f"rulebook.levels[{i}]", lo=1) for i, v in enumerate(raw_levels)]
        if all(v is not None for v in vals):
            ints = [v for v in vals if v is not None]
            if not ints:
                r.bad("rulebook.levels", "must list at least one level")
            elif ints != list(range(1, len(ints) + 1)):
                r.bad("rulebook.levels", f"must be consecutive levels starting at 1 (1, 2, 3, ...), got {ints}")
            else:
                levels = tuple(ints)
    level_set = set(levels)

    tracks: tuple[str, ...] = ()
    raw_tracks = r.array(head, "tracks", "rulebook.tracks")
    if raw_tracks is not None:
        names = []
        for i, v in enumerate(raw_tracks):
            if not isinstance(v, str) or not KEY_RE.match(v):
                r.bad(f"rulebook.tracks[{i}]", f"expected a lowercase name like 'phone', got {_kind(v)}")
            elif v in names:
                r.bad(f"rulebook.tracks[{i}]", f"duplicate track {v!r}")
            else:
                names.append(v)
        if not raw_tracks:
            r.bad("rulebook.tracks", "must list at least one track")
        tracks = tuple(names)

    pass_mark = r.dec(head, "pass_mark", "rulebook", lo=ZERO, hi=HUNDRED)
    min_inspections = r.int_(head, "min_inspections", "rulebook", lo=1)
    probation_months = r.int_(head, "probation_months", "rulebook", lo=0)
    inspection_base = r.dec(head, "inspection_base", "rulebook", lo=ZERO, lo_open=True)
    error_tier = r.int_(head, "error_tier", "rulebook", lo=1)
    approval_required = r.bool_(head, "approval_required", "rulebook", required=False, default=False)
    cadence = r.int_(head, "cadence_months", "rulebook", required=False, default=1, lo=1)
    if cadence is not None and cadence != 1:
        r.bad("rulebook.cadence_months", f"{cadence} is not implemented by this engine version (only 1)")

    # [[tiers]] -------------------------------------------------------------------
    tiers: list[Tier] = []
    for p, t in r.items(r.array(doc, "tiers", "tiers") or [], "tiers"):
        r.only(t, ("tier", "name_zh", "name_en", "deduction", "red_line"), p)
        num = r.int_(t, "tier", p, lo=1)
        deduction = r.dec(t, "deduction", p, lo=ZERO)
        red = r.bool_(t, "red_line", p, required=False, default=False)
        zh = r.str_(t, "name_zh", p, required=False) or ""
        en = r.str_(t, "name_en", p, required=False) or ""
        if num is not None and any(x.tier == num for x in tiers):
            r.bad(_join(p, "tier"), f"duplicate tier {num}")
        elif num is not None and deduction is not None:
            tiers.append(Tier(num, deduction, red, zh, en))
    if "tiers" in doc and not tiers and not r.problems:
        r.bad("tiers", "must list at least one tier")
    tiers.sort(key=lambda x: x.tier)
    tier_nums = {t.tier for t in tiers}
    if error_tier is not None and tiers and error_tier not in tier_nums:
        r.bad("rulebook.error_tier", f"no such tier {error_tier}")

    # [[defects]] -----------------------------------------------------------------
    defects: list[DefectType] = []
    seen_codes: set[str] = set()
    for p, d in r.items(r.array(doc, "defects", "defects") or [], "defects"):
        r.only(d, ("code", "tier", "zh", "en"), p)
        code = r.str_(d, "code", p)
        num = r.int_(d, "tier", p, lo=1)
        zh = r.str_(d, "zh", p, nonempty=True)
        en = r.str_(d, "en", p, nonempty=True)
        ok = True
        if code is not None and not CODE_RE.match(code):
            r.bad(_join(p, "code"), f"malformed code {code!r} (letters, digits, '-' and '_', up to 32)")
            ok = False
        elif code is not None and code in seen_codes:
            r.bad(_join(p, "code"), f"duplicate code {code!r}")
            ok = False
        if num is not None and tiers and num not in tier_nums:
            r.bad(_join(p, "tier"), f"no such tier {num}")
            ok = False
        if ok and code is not None and num is not None and zh is not None and en is not None:
            seen_codes.add(code)
            defects.append(DefectType(code, num, zh, en))

    # [[dimensions]] --------------------------------------------------------------
    dimensions: list[Dimension] = []
    raw_dims = r.array(doc, "dimensions", "dimensions")
    weights_ok = raw_dims is not None
    total = ZERO
    dim_keys: set[str] = set()
    for p, d in r.items(raw_dims or [], "dimensions"):
        r.only(d, ("key", "source", "metric", "weight", "scale", "bands", "direction", "name_zh", "name_en"), p)
        key = r.str_(d, "key", p)
        if key is not None and not KEY_RE.match(key):
            r.bad(_join(p, "key"), f"malformed key {key!r} (lowercase letters, digits and '_')")
            key = None
        elif key is not None and key in dim_keys:
            r.bad(_join(p, "key"), f"duplicate dimension {key!r}")
            key = None
        source = r.str_(d, "source", p)
        if source is not None and source not in ("quality", "metric"):
            r.bad(_join(p, "source"), f"must be 'quality' or 'metric', got {source!r}")
            source = None
        weight = r.dec(d, "weight", p, lo=ZERO, hi=ONE)
        if weight is None:
            weights_ok = False
        else:
            total += weight
        metric = r.str_(d, "metric", p, required=source == "metric", default="") or None
        scale = r.dec(d, "scale", p, required=False, lo=ZERO, lo_open=True)
        direction = r.str_(d, "direction", p, required=False, default="") or None
        bands: list[MetricBand] = []
        raw_bands = r.array(d, "bands", _join(p, "bands"), required=False)
        if source == "quality":
            for extra in ("metric", "scale", "bands", "direction"):
                if extra in d:
                    r.bad(_join(p, extra), "not allowed for a quality dimension")
        elif source == "metric":
            if metric is not None and metric not in METRIC_NAMES:
                r.bad(_join(p, "metric"), f"unknown metric {metric!r} (one of {', '.join(METRIC_NAMES)})")
            if raw_bands is not None:
                bands = _metric_bands(r, raw_bands, _join(p, "bands"), direction, _join(p, "direction"))
                if scale is not None:
                    r.bad(_join(p, "scale"), "use either scale or bands, not both")
            elif direction is not None:
                r.bad(_join(p, "direction"), "only used with bands")
        if key is not None:
            dim_keys.add(key)
        if key is not None and source is not None and weight is not None:
            dimensions.append(
                Dimension(
                    key=key,
                    source=source,
                    weight=weight,
                    metric=metric if source == "metric" else None,
                    scale=scale if source == "metric" else None,
                    bands=tuple(bands),
                    direction=direction if bands else None,
                    name_zh=r.str_(d, "name_zh", p, required=False) or "",
                    name_en=r.str_(d, "name_en", p, required=False) or "",
                )
            )
    if raw_dims is not None and not raw_dims:
        r.bad("dimensions", "must list at least one dimension")
    elif weights_ok and total != ONE:
        r.bad("dimensions", f"weights must total exactly 1, got {total}")

    # [[bands]] -------------------------------------------------------------------
    bands_out: list[Band] = []
    band_keys: set[str] = set()
    raw_grade_bands = r.array(doc, "bands", "bands")
    for p, b in r.items(raw_grade_bands or [], "bands"):
        r.only(b, ("key", "min", "name_zh", "name_en"), p)
        key = r.str_(b, "key", p)
        if key is not None and not KEY_RE.match(key):
            r.bad(_join(p, "key"), f"malformed key {key!r}")
            key = None
        elif key is not None and key in band_keys:
            r.bad(_join(p, "key"), f"duplicate band {key!r}")
            key = None
        low = r.dec(b, "min", p, lo=ZERO, hi=HUNDRED)
        if key is not None:
            band_keys.add(key)
        if key is not None and low is not None:
            bands_out.append(Band(key, low, r.str_(b, "name_zh", p, required=False) or "", r.str_(b, "name_en", p, required=False) or ""))
    if raw_grade_bands is not None:
        _descending_to_zero(r, [b.min for b in bands_out], "bands", len(bands_out) == len(raw_grade_bands))

    # [[promotions]] --------------------------------------------------------------
    promotions: list[PromotionRule] = []
    raw_promos = r.array(doc, "promotions", "promotions")
    for p, pr in r.items(raw_promos or [], "promotions"):
        r.only(pr, ("to", "min_tenure", "window", "threshold", "max_error_rate", "zero_errors"), p)
        to = r.int_(pr, "to", p)
        if to is not None and levels and not 2 <= to <= levels[-1]:
            r.bad(_join(p, "to"), f"must be a level from 2 to {levels[-1]}, got {to}")
            to = None
        elif to is not None and any(x.to == to for x in promotions):
            r.bad(_join(p, "to"), f"duplicate promotion to level {to}")
            to = None
        min_tenure = r.int_(pr, "min_tenure", p, lo=1)
        window = r.int_(pr, "window", p, lo=1)
        thresholds: dict[str, Decimal] = {}
        th = r.table(pr, "threshold", _join(p, "threshold"))
        th_ok = th is not None
        if th is not None:
            for track, value in th.items():
                tp = _join(_join(p, "threshold"), str(track))
                if tracks and track not in tracks:
                    r.bad(tp, f"unknown track {track!r}")
                    th_ok = False
                    continue
                v = r.dec_value(value, tp, lo=ZERO, hi=HUNDRED)
                if v is None:
                    th_ok = False
                else:
                    thresholds[track] = v
            for track in tracks:
                if track not in th:
                    r.bad(_join(p, "threshold"), f"no threshold for track {track!r}")
                    th_ok = False
        max_err = r.dec(pr, "max_error_rate", p, required=False, lo=ZERO, hi=ONE)
        zero = r.bool_(pr, "zero_errors", p, required=False, default=False)
        if to is not None and min_tenure is not None and window is not None and th_ok:
            promotions.append(PromotionRule(to, min_tenure, window, thresholds, max_err, zero))
    if raw_promos is not None and levels:
        have = {x.to for x in promotions}
        named = {pr.get("to") for pr in raw_promos if isinstance(pr, Mapping)}
        for lvl in levels[1:]:
            if lvl not in have and lvl not in named:
                r.bad("promotions", f"no promotion to level {lvl}")
    promotions.sort(key=lambda x: x.to)

    # [demotion] ------------------------------------------------------------------
    dem = r.table(doc, "demotion", "demotion") or {}
    r.only(dem, ("enabled", "floors", "after_months", "red_line"), "demotion")
    demotion_enabled = r.bool_(dem, "enabled", "demotion", required=False, default=True)
    after_months = r.int_(dem, "after_months", "demotion", lo=1)
    red_line = r.bool_(dem, "red_line", "demotion", required=False, default=True)
    floors: dict[int, Decimal] = {}
    raw_floors = r.table(dem, "floors", "demotion.floors") if "demotion" in doc else None
    if raw_floors is not None:
        for k, v in raw_floors.items():
            lvl = r.level_key(k, "demotion.floors", level_set)
            val = r.dec_value(v, _join("demotion.floors", str(k)), lo=ZERO, hi=HUNDRED)
            if lvl is not None and val is not None:
                if lvl in floors:
                    r.bad(_join("demotion.floors", str(k)), f"duplicate floor for level {lvl}")
                floors[lvl] = val
        named = {str(k) for k in raw_floors}
        for lvl in levels:
            if lvl not in floors and str(lvl) not in named:
                r.bad("demotion.floors", f"no floor for level {lvl}")

    # [quotas] --------------------------------------------------------------------
    quotas: dict[int, Decimal] = {}
    raw_quotas = r.table(doc, "quotas", "quotas", required=False) or {}
    for k, v in raw_quotas.items():
        lvl = r.level_key(k, "quotas", level_set)
        val = r.dec_value(v, _join("quotas", str(k)), lo=ZERO, hi=ONE)
        if lvl is not None and val is not None:
            if lvl in quotas:
                r.bad(_join("quotas", str(k)), f"duplicate quota for level {lvl}")
            quotas[lvl] = val

    # [pay] -----------------------------------------------------------------------
    pay = r.table(doc, "pay", "pay") or {}
    r.only(pay, ("probation_factor", "probation_allowance", "grades", "coefficients"), "pay")
    probation_factor = r.dec(pay, "probation_factor", "pay", lo=ZERO, hi=ONE)
    probation_allowance = r.bool_(pay, "probation_allowance", "pay", required=False, default=False)
    grades: list[PayGrade] = []
    raw_grades = r.array(pay, "grades", "pay.grades") if "pay" in doc else None
    graded: dict[int, str] = {}
    for p, g in r.items(raw_grades or [], "pay.grades"):
        r.only(g, ("level", "grade", "fixed", "bonus_base", "allowance"), p)
        lvl = r.int_(g, "level", p)
        name = r.str_(g, "grade", p, nonempty=True)
        fixed = r.dec(g, "fixed", p, lo=ZERO)
        bonus = r.dec(g, "bonus_base", p, lo=ZERO)
        allowance = r.dec(g, "allowance", p, lo=ZERO)
        if lvl is not None:
            if levels and lvl not in level_set:
                r.bad(_join(p, "level"), f"no such level {lvl}")
                continue
            if lvl in graded:
                r.bad(_join(p, "level"), f"level {lvl} has more than one pay grade")
                continue
            graded[lvl] = p
        if lvl is not None and name is not None and None not in (fixed, bonus, allowance):
            grades.append(PayGrade(lvl, name, fixed, bonus, allowance))  # type: ignore[arg-type]
    if raw_grades is not None:
        for lvl in levels:
            if lvl not in graded:
                r.bad("pay.grades", f"no pay grade for level {lvl}")
    grades.sort(key=lambda g: g.level)

    coefficients: list[Coefficient] = []
    raw_coef = r.array(pay, "coefficients", "pay.coefficients") if "pay" in doc else None
    for p, c in r.items(raw_coef or [], "pay.coefficients"):
        r.only(c, ("min", "coefficient"), p)
        low = r.dec(c, "min", p, lo=ZERO, hi=HUNDRED)
        coef = r.dec(c, "coefficient", p, lo=ZERO)
        if low is not None and coef is not None:
            coefficients.append(Coefficient(low, coef))
    if raw_coef is not None:
        _descending_to_zero(r, [c.min for c in coefficients], "pay.coefficients", len(coefficients) == len(raw_coef))

    if r.problems:
        raise RulebookError(r.problems)
    assert pass_mark is not None and min_inspections is not None and probation_months is not None
    assert inspection_base is not None and error_tier is not None and after_months is not None
    assert probation_factor is not None
    return Rulebook(
        levels=levels,
        tracks=tracks,
        pass_mark=pass_mark,
        min_inspections=min_inspections,
        probation_months=probation_months,
        inspection_base=inspection_base,
        error_tier=error_tier,
        approval_required=approval_required,
        cadence_months=1,
        tiers=tuple(tiers),
        defects=tuple(defects),
        dimensions=tuple(dimensions),
        bands=tuple(bands_out),
        promotions=tuple(promotions),
        demotion_enabled=demotion_enabled,
        floors=dict(sorted(floors.items())),
        after_months=after_months,
        red_line_demotes=red_line,
        quotas=dict(sorted(quotas.items())),
        probation_factor=probation_factor,
        probation_allowance=probation_allowance,
        pay_grades=tuple(grades),
        coefficients=tuple(coefficients),
        name_en=name_en,
        name_zh=name_zh,
        version=version,
        effective_from=effective_from,
    )


def _metric_bands(r: _Reader, raw: list[Any], path: str, direction: str | None, dpath: str) -> list[MetricBand]:
    if direction not in ("lower", "higher"):
        r.bad(dpath, f"bands need direction 'lower' (lower is better) or 'higher', got {direction!r}")
    out: list[MetricBand] = []
    items = r.items(raw, path)
    if not raw:
        r.bad(path, "must list at least one band")
    for i, (p, b) in enumerate(items):
        r.only(b, ("limit", "score"), p)
        last = i == len(raw) - 1
        limit = r.dec(b, "limit", p, required=False)
        if last and "limit" in b:
            r.bad(_join(p, "limit"), "the last band catches everything else and takes no limit")
        if not last and "limit" not in b:
            r.bad(_join(p, "limit"), "missing (only the last band has no limit)")
        score = r.dec(b, "score", p, lo=ZERO, hi=HUNDRED)
        if score is not None:
            out.append(MetricBand(None if last else limit, score))
    limits = [b.limit for b in out if b.limit is not None]
    if direction in ("lower", "higher") and len(limits) == len(raw) - 1:
        pairs = list(zip(limits, limits[1:], strict=False))
        if direction == "lower" and any(a >= b for a, b in pairs):
            r.bad(path, "limits must rise band by band when lower is better")
        if direction == "higher" and any(a <= b for a, b in pairs):
            r.bad(path, "limits must fall band by band when higher is better")
    return out


def _descending_to_zero(r: _Reader, mins: list[Decimal], path: str, complete: bool) -> None:
    if not complete:
        return
    if not mins:
        r.bad(path, "must list at least one entry")
        return
    if any(a <= b for a, b in zip(mins, mins[1:], strict=False)):
        r.bad(path, "min values must strictly descend")
    if mins[-1] != 0:
        r.bad(path, f"the last entry must have min 0, got {mins[-1]}")


# --------------------------------------------------------------------------- output


def _s(value: Decimal) -> str:
    return str(value)


def rulebook_to_document(rb: Rulebook) -> dict[str, Any]:
    """A JSON-ready document (decimals as strings) that parses back to ``rb``.

    ``version`` and ``effective_from`` are not part of the document (they belong to the
    stored version row); pass them to :func:`parse_rulebook` again.
    """
    head: dict[str, Any] = {
        "name_en": rb.name_en,
        "name_zh": rb.name_zh,
        "levels": list(rb.levels),
        "tracks": list(rb.tracks),
        "pass_mark": _s(rb.pass_mark),
        "min_inspections": rb.min_inspections,
        "probation_months": rb.probation_months,
        "inspection_base": _s(rb.inspection_base),
        "error_tier": rb.error_tier,
        "approval_required": rb.approval_required,
        "cadence_months": rb.cadence_months,
    }
    dims = []
    for d in rb.dimensions:
        item: dict[str, Any] = {"key": d.key, "source": d.source}
        if d.metric is not None:
            item["metric"] = d.metric
        if d.scale is not None:
            item["scale"] = _s(d.scale)
        if d.bands:
            item["direction"] = d.direction
            item["bands"] = [
                ({"limit": _s(b.limit)} if b.limit is not None else {}) | {"score": _s(b.score)} for b in d.bands
            ]
        item["weight"] = _s(d.weight)
        item["name_zh"] = d.name_zh
        item["name_en"] = d.name_en
        dims.append(item)
    promos = []
    for p in rb.promotions:
        item = {
            "to": p.to,
            "min_tenure": p.min_tenure,
            "window": p.window,
            "threshold": {k: _s(v) for k, v in p.threshold.items()},
        }
        if p.max_error_rate is not None:
            item["max_error_rate"] = _s(p.max_error_rate)
        if p.zero_errors:
            item["zero_errors"] = True
        promos.append(item)
    return {
        "rulebook": head,
        "tiers": [
            {"tier": t.tier, "name_zh": t.name_zh, "name_en": t.name_en, "deduction": _s(t.deduction), "red_line": t.red_line}
            for t in rb.tiers
        ],
        "defects": [{"code": d.code, "tier": d.tier, "zh": d.zh, "en": d.en} for d in rb.defects],
        "dimensions": dims,
        "bands": [{"key": b.key, "min": _s(b.min), "name_zh": b.name_zh, "name_en": b.name_en} for b in rb.bands],
        "promotions": promos,
        "demotion": {
            "enabled": rb.demotion_enabled,
            "floors": {str(k): _s(v) for k, v in rb.floors.items()},
            "after_months": rb.after_months,
            "red_line": rb.red_line_demotes,
        },
        "quotas": {str(k): _s(v) for k, v in rb.quotas.items()},
        "pay": {
            "probation_factor": _s(rb.probation_factor),
            "probation_allowance": rb.probation_allowance,
            "grades": [
                {
                    "level": g.level,
                    "grade": g.grade,
                    "fixed": _s(g.fixed),
                    "bonus_base": _s(g.bonus_base),
                    "allowance": _s(g.allowance),
                }
                for g in rb.pay_grades
            ],
            "coefficients": [{"min": _s(c.min), "coefficient": _s(c.coefficient)} for c in rb.coefficients],
        },
    }


# --------------------------------------------------------------------------- loading


def parse_rulebook_toml(text: str, version: int = 0, effective_from: Month = "0000-01") -> Rulebook:
    """Parse TOML text (e.g. an uploaded file) into a validated rulebook."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError([f"document: not valid TOML: {exc}"]) from exc
    return parse_rulebook(doc, version, effective_from)


def load_rulebook_file(path: str | Path, version: int = 0, effective_from: Month = "0000-01") -> Rulebook:
    """Read and validate a rulebook TOML file."""
    return parse_rulebook_toml(Path(path).read_text(encoding="utf-8"), version, effective_from)


@functools.lru_cache(maxsize=1)
def _default_document() -> dict[str, Any]:
    text = resources.files("starlevel").joinpath("rulebooks", "default.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def default_rulebook_document() -> dict[str, Any]:
    """The packaged default rulebook document (a fresh copy each call)."""
    return copy.deepcopy(_default_document())


@functools.lru_cache(maxsize=1)
def default_rulebook() -> Rulebook:
    """The packaged default rulebook, version 0, effective from the beginning of time."""
    return parse_rulebook(_default_document())
