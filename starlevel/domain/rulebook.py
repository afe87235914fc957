"""The rulebook: every rule of a star scheme as data (docs/rulebooks.md).

A rulebook *document* is a plain dict (as read from TOML, or stored as JSON); decimals
are written as strings (or integers) so that nothing passes through binary floating
point. :func:`parse_rulebook` validates a document, one function per section, and returns
an immutable :class:`Rulebook`, or raises :class:`RulebookError` listing every problem it
found; each problem is a :class:`Problem` (a string in English that also carries a message
template and parameters, so that the web and the CLI can render it in either language).
:func:`rulebook_to_document` turns a rulebook back into a JSON-ready document that parses to
an equal rulebook.
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

from starlevel.domain.inputs import INPUT_KINDS, LEGACY_INPUTS, InputSpec
from starlevel.domain.model import Month
from starlevel.domain.months import is_month

__all__ = [
    "Adjust",
    "Award",
    "Band",
    "Coefficient",
    "Commission",
    "Condition",
    "DefectType",
    "Dimension",
    "DirectStar",
    "FormItem",
    "GradeScale",
    "InputSpec",
    "MetricBand",
    "PayGrade",
    "Period",
    "Policy",
    "Problem",
    "PromotionRule",
    "Rulebook",
    "RulebookError",
    "Tier",
    "default_rulebook",
    "default_rulebook_document",
    "load_rulebook_file",
    "loads_toml",
    "parse_rulebook",
    "parse_rulebook_toml",
    "rulebook_to_document",
]

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
#: Default dispute window: working days after an inspection is saved (see ``[disputes]``).
DISPUTE_WINDOW_DAYS = 3

#: Figures a condition may read besides input and item keys.
SPECIAL_FIGURES = ("composite", "complaints", "red_line", "n_inspections")
CONDITION_OPS = ("at_least", "above", "at_most", "below", "equals")
SOURCES = ("quality", "metric", "linear", "group", "deductions", "mean", "min", "max")


class Problem(str):
    """One validation problem: an English string that also keeps its message template (the
    message id in the catalogs) and parameters, to be rendered in another language."""

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Problem:
        obj = super().__new__(cls, template.format(**params))
        obj.template = template
        obj.params = params
        return obj

    def render(self, gettext: Any) -> str:
        """This problem in the language of ``gettext`` (a catalog lookup of the template)."""
        return str(gettext(self.template)).format(**self.params)


class RulebookError(ValueError):
    """A rulebook document is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [p if isinstance(p, Problem) else Problem("{text}", text=str(p)) for p in problems]
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
    """One band of a banded item: ``score`` applies when the raw value is within ``limit``
    (``<= limit`` when lower is better, ``>= limit`` when higher is better). The last band
    has ``limit=None`` and catches everything else."""

    limit: Decimal | None
    score: Decimal


@dataclass(frozen=True, slots=True)
class Adjust:
    """``per`` × the value of ``input`` (a deduction when ``per`` is negative)."""

    input: str
    per: Decimal


@dataclass(frozen=True, slots=True)
class FormItem:
    """One line of a deduction form (扣分表): ``points`` less the deductions, never below 0;
    0 when the ``zero_if`` input is non-zero; or the points given in ``input`` (capped)."""

    key: str
    points: Decimal
    deduct: tuple[Adjust, ...] = ()
    zero_if: str | None = None
    input: str | None = None
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class Dimension:
    """An item of the composite (or of a group). See docs/rulebooks.md for the sources."""

    key: str
    source: str
    weight: Decimal
    metric: str | None = None
    scale: Decimal | None = None
    bands: tuple[MetricBand, ...] = ()
    direction: str | None = None  # "lower" | "higher" (only with bands)
    name_zh: str = ""
    name_en: str = ""
    adjust: tuple[Adjust, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None
    offset: Decimal | None = None
    factor: Decimal | None = None
    divisor: Decimal | None = None
    items: tuple[Dimension, ...] = ()
    form: tuple[FormItem, ...] = ()
    scale_to: Decimal | None = None
    of: tuple[str, ...] = ()

    @property
    def simple(self) -> bool:
        """Quality, or a metric read plainly, scaled or banded (the ladder's fast path)."""
        if self.source == "quality":
            return True
        return (
            self.source == "metric" and not self.adjust and self.min is None and self.max is None
        )

    def inputs(self) -> set[str]:
        """Every input this item reads."""
        out = set(self.of)
        if self.metric:
            out.add(self.metric)
        out.update(a.input for a in self.adjust)
        for f in self.form:
            out.update(a.input for a in f.deduct)
            if f.zero_if:
                out.add(f.zero_if)
            if f.input:
                out.add(f.input)
        for sub in self.items:
            out |= sub.inputs()
        return out


@dataclass(frozen=True, slots=True)
class Band:
    """A grade band (评分等级): a score falls in the first band whose ``min`` it reaches."""

    key: str
    min: Decimal
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class GradeScale:
    """Grades of one input or item (e.g. satisfaction ≥80 优秀), reported per month."""

    of: str
    direction: str
    bands: tuple[tuple[Decimal | None, str, str, str], ...]  # (limit, key, zh, en); last limit None

    def grade(self, value: Decimal) -> tuple[str, str, str]:
        lower = self.direction == "lower"
        for limit, key, zh, en in self.bands:
            if limit is None or (value <= limit if lower else value >= limit):
                return key, zh, en
        _, key, zh, en = self.bands[-1]
        return key, zh, en


@dataclass(frozen=True, slots=True)
class Condition:
    """``of`` (every figure listed) compared with ``value`` by ``op``."""

    of: tuple[str, ...]
    op: str
    value: Decimal

    def test(self, x: Decimal) -> bool:
        op, v = self.op, self.value
        if op == "at_least":
            return x >= v
        if op == "above":
            return x > v
        if op == "at_most":
            return x <= v
        if op == "below":
            return x < v
        return x == v


@dataclass(frozen=True, slots=True)
class PromotionRule:
    to: int
    min_tenure: int
    window: int
    threshold: dict[str, Decimal]  # track -> composite threshold
    max_error_rate: Decimal | None = None
    zero_errors: bool = False
    item_floor: Decimal | None = None
    no_complaints: bool = False
    requires: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectStar:
    level: int
    when: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """How levels are reached: ``ladder`` (month to month, with these options) or ``direct``
    (the month's figures name the month's level)."""

    kind: str = "ladder"
    skip_levels: bool = False
    decide_in: tuple[int, ...] = ()  # calendar months in which promotions are decided; () = every month
    window_end: int = 0  # the window ends this many months before the decision month
    window_test: str = "every"  # "every" month >= threshold, or the "mean" of the complete months
    min_complete: int = 1  # with window_test = "mean": complete months needed in the window
    stars: tuple[DirectStar, ...] = ()
    otherwise: int | None = None


@dataclass(frozen=True, slots=True)
class PayGrade:
    level: int
    grade: str
    fixed: Decimal
    bonus_base: Decimal
    allowance: Decimal
    coefficient: Decimal | None = None  # by level, instead of by composite


@dataclass(frozen=True, slots=True)
class Coefficient:
    min: Decimal
    coefficient: Decimal


@dataclass(frozen=True, slots=True)
class Commission:
    """``rate`` × max(0, ``input`` − ``base_share`` × ``base_input``) when both are entered."""

    input: str
    base_input: str
    base_share: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: the mean of its months' composites (``of = "composite"``) or of the
    year's quarter scores (``of = "quarter"``), graded by ``grades``."""

    key: str
    months: int
    of: str
    grades: tuple[Band, ...]
    name_zh: str = ""
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class Award:
    """Named each year: the agent(s) with the most months at ``level``."""

    key: str
    level: int
    name_zh: str = ""
    name_en: str = ""


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
    inputs: tuple[InputSpec, ...] = LEGACY_INPUTS
    inputs_declared: bool = False
    level_labels: dict[int, tuple[str, str]] = field(default_factory=dict)
    summary_zh: str = ""
    summary_en: str = ""
    source: str = ""
    notes_zh: str = ""
    notes_en: str = ""
    complaints_input: str | None = "complaints"
    item_grades: tuple[GradeScale, ...] = ()
    veto: tuple[Condition, ...] = ()
    policy: Policy = Policy()
    floors_on: bool = True
    down_to: str = "one"
    allowance_months_without_complaints: int = 0
    commission: Commission | None = None
    periods: tuple[Period, ...] = ()
    awards: tuple[Award, ...] = ()
    start_level: int | None = None
    #: Working days (Monday to Friday) an agent has to dispute an inspection after it is saved.
    dispute_window_days: int = DISPUTE_WINDOW_DAYS
    # Lookup tables derived from the fields above (not part of equality).
    _defects: dict[str, DefectType] = field(init=False, repr=False, compare=False)
    _tiers: dict[int, Tier] = field(init=False, repr=False, compare=False)
    _deductions: dict[str, Decimal] = field(init=False, repr=False, compare=False)
    _red_line: frozenset[str] = field(init=False, repr=False, compare=False)
    _errors: frozenset[str] = field(init=False, repr=False, compare=False)
    _promotions: dict[int, PromotionRule] = field(init=False, repr=False, compare=False)
    _grades: dict[int, PayGrade] = field(init=False, repr=False, compare=False)
    _inputs: dict[str, InputSpec] = field(init=False, repr=False, compare=False)

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
        put(self, "_inputs", {i.key: i for i in self.inputs})

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
        return self.floors.get(level, ZERO)

    def promotion_to(self, level: int) -> PromotionRule | None:
        return self._promotions.get(level)

    def pay_grade(self, level: int) -> PayGrade:
        return self._grades[level]

    def quota(self, level: int) -> Decimal | None:
        return self.quotas.get(level)

    def input(self, key: str) -> InputSpec:
        return self._inputs[key]

    def has_input(self, key: str) -> bool:
        return key in self._inputs

    def dimension(self, key: str) -> Dimension:
        for d in self.dimensions:
            if d.key == key:
                return d
            for sub in d.items:
                if sub.key == key:
                    return sub
        raise KeyError(key)

    def level_label(self, level: int, lang: str) -> str:
        zh_en = self.level_labels.get(level)
        if zh_en:
            return zh_en[0] if lang == "zh" else zh_en[1]
        if level == 0:
            return "无星" if lang == "zh" else "No star"
        return f"{level}★"

    def starting_level(self, initial_level: int) -> int:
        """The level a hire starts at: the agent's ``initial_level``, except that a rulebook
        with ``start_level`` starts everyone there unless HR set an experienced hire above 1."""
        lvl = initial_level
        if self.start_level is not None and initial_level <= 1:
            lvl = self.start_level
        return min(max(lvl, self.min_level), self.max_level)

    def figure_label(self, key: str, lang: str) -> str:
        """A figure's name for people: an input, an item, or a special figure."""
        zh = lang == "zh"
        special = {
            "composite": ("综合评分", "composite"), "complaints": ("有效投诉", "valid complaints"),
            "red_line": ("红线问题", "red-line defects"), "n_inspections": ("质检条数", "inspections"),
        }  # fmt: skip
        if key in special:
            return special[key][0 if zh else 1]
        if key in self._inputs:
            return self._inputs[key].name(lang)
        try:
            d = self.dimension(key)
        except KeyError:
            return key
        return (d.name_zh if zh else d.name_en) or key

    @property
    def is_direct(self) -> bool:
        return self.policy.kind == "direct"

    @property
    def needs_inspections(self) -> bool:
        return self.min_inspections > 0

    @property
    def simple_scoring(self) -> bool:
        """Every item is read plainly (the ladder's compiled fast path applies)."""
        return not self.veto and all(d.simple for d in self.dimensions)

    @property
    def max_window(self) -> int:
        return max((p.window for p in self.promotions), default=0) + self.policy.window_end

    @property
    def history_months(self) -> int:
        """Months of history the engine keeps per agent for this rulebook."""
        return max(self.max_window, self.after_months, self.allowance_months_without_complaints)

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
        self.problems: list[Problem] = []

    def bad(self, path: str, template: str, **params: Any) -> None:
        self.problems.append(Problem("{path}: " + template, path=path, **params))

    # Generic helpers -----------------------------------------------------------
    def table(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any] | None:
        value = parent.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.bad(path, "missing")
            return None
        if not isinstance(value, Mapping):
            self.bad(path, "expected a table, got {kind}", kind=_kind(value))
            return None
        return dict(value)

    def array(self, parent: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> list[Any] | None:
        value = parent.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self.bad(path, "missing")
            return None
        if not isinstance(value, list | tuple):
            self.bad(path, "expected a list, got {kind}", kind=_kind(value))
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
            self.bad(path, "expected a decimal written as a string, got {kind}", kind=_kind(value))
            return None
        if isinstance(value, float):
            self.bad(path, "write decimals as strings, got float {value}", value=repr(value))
            return None
        if isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, Decimal):
            result = value
        elif isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                self.bad(path, "not a decimal: {value}", value=repr(value))
                return None
        else:
            self.bad(path, "expected a decimal written as a string, got {kind}", kind=_kind(value))
            return None
        if not result.is_finite():
            self.bad(path, "not a finite decimal: {value}", value=repr(value))
            return None
        if lo is not None and (result < lo or (lo_open and result == lo)):
            if lo_open:
                self.bad(path, "must be above {lo}, got {value}", lo=lo, value=result)
            else:
                self.bad(path, "must be at least {lo}, got {value}", lo=lo, value=result)
            return None
        if hi is not None and result > hi:
            self.bad(path, "must be at most {hi}, got {value}", hi=hi, value=result)
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

    def int_value(self, value: Any, path: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
        if isinstance(value, float):
            self.bad(path, "write whole numbers as integers, got float {value}", value=repr(value))
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(path, "expected an integer, got {kind}", kind=_kind(value))
            return None
        if lo is not None and value < lo:
            self.bad(path, "must be at least {lo}, got {value}", lo=lo, value=value)
            return None
        if hi is not None and value > hi:
            self.bad(path, "must be at most {hi}, got {value}", hi=hi, value=value)
            return None
        return value

    def bool_(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, default: bool = False) -> bool:
        value = self.get(obj, key, path, required)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.bad(_join(path, key), "expected true or false, got {kind}", kind=_kind(value))
            return default
        return value

    def str_(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, default: str = "", nonempty: bool = False
    ) -> str | None:
        value = self.get(obj, key, path, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            self.bad(_join(path, key), "expected a string, got {kind}", kind=_kind(value))
            return None
        if nonempty and not value.strip():
            self.bad(_join(path, key), "must not be empty")
            return None
        return value

    def text(self, obj: Mapping[str, Any], key: str, path: str) -> str:
        """An optional free text (names, notes)."""
        return self.str_(obj, key, path, required=False) or ""

    def key(self, obj: Mapping[str, Any], path: str, seen: set[str], what: str) -> str | None:
        """A lowercase identifier under ``key``, unique among ``seen``."""
        key = self.str_(obj, "key", path)
        if key is None:
            return None
        if not KEY_RE.match(key):
            self.bad(_join(path, "key"), "malformed key {key} (lowercase letters, digits and '_')", key=repr(key))
            return None
        if key in seen:
            self.bad(_join(path, "key"), "duplicate {what} {key}", what=what, key=repr(key))
            return None
        seen.add(key)
        return key

    def level_key(self, key: Any, path: str, levels: set[int]) -> int | None:
        """Keys of ``floors`` / ``quotas`` tables: level numbers written as strings."""
        text = str(key)
        if isinstance(key, bool) or not (isinstance(key, int) or (isinstance(key, str) and text.isdigit())):
            self.bad(_join(path, text), "key must be a level number")
            return None
        level = int(text)
        if levels and level not in levels:
            self.bad(_join(path, text), "no such level {level}", level=level)
            return None
        return level

    def level(self, obj: Mapping[str, Any], key: str, path: str, levels: set[int], *, required: bool = True) -> int | None:
        value = self.int_(obj, key, path, required=required)
        if value is not None and levels and value not in levels:
            self.bad(_join(path, key), "no such level {level}", level=value)
            return None
        return value

    def items(self, arr: list[Any], path: str) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i, item in enumerate(arr):
            p = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                self.bad(p, "expected a table, got {kind}", kind=_kind(item))
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


_TOP_KEYS = (
    "rulebook", "inputs", "tiers", "defects", "dimensions", "bands", "item_grades", "veto", "policy",
    "promotions", "demotion", "quotas", "pay", "periods", "awards", "disputes",
)  # fmt: skip
_RULEBOOK_KEYS = (
    "name_en", "name_zh", "levels", "level_labels", "tracks", "pass_mark", "min_inspections",
    "probation_months", "inspection_base", "error_tier", "approval_required", "cadence_months",
    "summary_zh", "summary_en", "source", "notes_zh", "notes_en", "complaints_input", "start_level",
)  # fmt: skip


class _Parsed(dict[str, Any]):
    """What the sections read so far (the keyword arguments of :class:`Rulebook`)."""


def _section_head(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[rulebook]``: names, levels, tracks and the scalar rules."""
    head = r.table(doc, "rulebook", "rulebook") or {}
    r.only(head, _RULEBOOK_KEYS, "rulebook")
    for k in ("name_en", "name_zh", "summary_zh", "summary_en", "source", "notes_zh", "notes_en"):
        out[k] = r.text(head, k, "rulebook")
    levels: tuple[int, ...] = ()
    raw_levels = r.array(head, "levels", "rulebook.levels")
    if raw_levels is not None:
        vals = [r.int_value(v, f"rulebook.levels[{i}]", lo=0) for i, v in enumerate(raw_levels)]
        if all(v is not None for v in vals):
            ints = [v for v in vals if v is not None]
            if not ints:
                r.bad("rulebook.levels", "must list at least one level")
            elif ints != list(range(ints[0], ints[0] + len(ints))) or ints[0] not in (0, 1):
                r.bad("rulebook.levels", "must be consecutive levels starting at 1 (or at 0 for 'no star'), got {levels}", levels=ints)
            else:
                levels = tuple(ints)
    out["levels"] = levels
    labels: dict[int, tuple[str, str]] = {}
    for k, v in (r.table(head, "level_labels", "rulebook.level_labels", required=False) or {}).items():
        lvl = r.level_key(k, "rulebook.level_labels", set(levels))
        p = _join("rulebook.level_labels", str(k))
        if not (isinstance(v, list | tuple) and len(v) == 2 and all(isinstance(x, str) and x.strip() for x in v)):
            r.bad(p, "expected [\"中文\", \"English\"]")
        elif lvl is not None:
            labels[lvl] = (v[0], v[1])
    out["level_labels"] = dict(sorted(labels.items()))
    out["start_level"] = r.level(head, "start_level", "rulebook", set(levels), required=False)

    tracks: list[str] = []
    raw_tracks = r.array(head, "tracks", "rulebook.tracks")
    if raw_tracks is not None:
        for i, v in enumerate(raw_tracks):
            if not isinstance(v, str) or not KEY_RE.match(v):
                r.bad(f"rulebook.tracks[{i}]", "expected a lowercase name like 'phone', got {kind}", kind=_kind(v))
            elif v in tracks:
                r.bad(f"rulebook.tracks[{i}]", "duplicate track {track}", track=repr(v))
            else:
                tracks.append(v)
        if not raw_tracks:
            r.bad("rulebook.tracks", "must list at least one track")
    out["tracks"] = tuple(tracks)
    out["pass_mark"] = r.dec(head, "pass_mark", "rulebook", lo=ZERO, hi=HUNDRED)
    out["min_inspections"] = r.int_(head, "min_inspections", "rulebook", lo=0)
    out["probation_months"] = r.int_(head, "probation_months", "rulebook", lo=0)
    out["inspection_base"] = r.dec(head, "inspection_base", "rulebook", lo=ZERO, lo_open=True)
    out["error_tier"] = r.int_(head, "error_tier", "rulebook", lo=1)
    out["approval_required"] = r.bool_(head, "approval_required", "rulebook", required=False, default=False)
    cadence = r.int_(head, "cadence_months", "rulebook", required=False, default=1, lo=1)
    if cadence is not None and cadence != 1:
        r.bad(
            "rulebook.cadence_months",
            "{value} is not implemented by this engine version (only 1: use [policy] decide_in for yearly decisions)",
            value=cadence,
        )
    out["cadence_months"] = 1
    out["_complaints_raw"] = r.get(head, "complaints_input", "rulebook", False)


def _section_inputs(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[[inputs]]``: the monthly inputs (the legacy four when none are declared)."""
    raw = r.array(doc, "inputs", "inputs", required=False)
    if raw is None:
        out["inputs"] = LEGACY_INPUTS
        out["inputs_declared"] = False
    else:
        specs: list[InputSpec] = []
        seen: set[str] = set()
        for p, d in r.items(raw, "inputs"):
            r.only(d, ("key", "kind", "name_zh", "name_en", "min", "max", "decimals", "required", "allowed"), p)
            key = r.key(d, p, seen, "input")
            kind = r.str_(d, "kind", p)
            if kind is not None and kind not in INPUT_KINDS:
                r.bad(_join(p, "kind"), "unknown kind {kind} (one of {kinds})", kind=repr(kind), kinds=", ".join(INPUT_KINDS))
                kind = None
            lo, hi, places = INPUT_KINDS.get(kind or "number", (None, None, 4))
            lo = r.dec(d, "min", p, required=False, default=lo)
            hi = r.dec(d, "max", p, required=False, default=hi)
            places = r.int_(d, "decimals", p, required=False, default=places, lo=0)
            if lo is not None and hi is not None and lo > hi:
                r.bad(_join(p, "max"), "must be at least min ({lo}), got {value}", lo=lo, value=hi)
            allowed = []
            for i, v in enumerate(r.array(d, "allowed", _join(p, "allowed"), required=False) or []):
                got = r.dec_value(v, f"{_join(p, 'allowed')}[{i}]")
                if got is not None:
                    allowed.append(got)
            required = r.bool_(d, "required", p, required=False, default=True)
            if key is not None and kind is not None and places is not None:
                specs.append(
                    InputSpec(key, kind, r.text(d, "name_zh", p), r.text(d, "name_en", p), lo, hi, places, required, tuple(allowed))
                )
        if not raw:
            r.bad("inputs", "must list at least one input (leave the section out for the default four)")
        out["inputs"] = tuple(specs)
        out["inputs_declared"] = True
    keys = {i.key for i in out["inputs"]}
    c = out.pop("_complaints_raw")
    if c is _MISSING:
        out["complaints_input"] = "complaints" if "complaints" in keys else None
    elif not isinstance(c, str) or c not in keys:
        r.bad("rulebook.complaints_input", "no such input {key}", key=repr(c))
        out["complaints_input"] = None
    else:
        out["complaints_input"] = c


def _section_tiers(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[[tiers]]`` (severity tiers) and ``[[defects]]`` (the catalog)."""
    tiers: list[Tier] = []
    for p, t in r.items(r.array(doc, "tiers", "tiers") or [], "tiers"):
        r.only(t, ("tier", "name_zh", "name_en", "deduction", "red_line"), p)
        num = r.int_(t, "tier", p, lo=1)
        deduction = r.dec(t, "deduction", p, lo=ZERO)
        red = r.bool_(t, "red_line", p, required=False, default=False)
        if num is not None and any(x.tier == num for x in tiers):
            r.bad(_join(p, "tier"), "duplicate tier {tier}", tier=num)
        elif num is not None and deduction is not None:
            tiers.append(Tier(num, deduction, red, r.text(t, "name_zh", p), r.text(t, "name_en", p)))
    if "tiers" in doc and not tiers and not r.problems:
        r.bad("tiers", "must list at least one tier")
    tiers.sort(key=lambda x: x.tier)
    tier_nums = {t.tier for t in tiers}
    error_tier = out.get("error_tier")
    if error_tier is not None and tiers and error_tier not in tier_nums:
        r.bad("rulebook.error_tier", "no such tier {tier}", tier=error_tier)
    out["tiers"] = tuple(tiers)

    defects: list[DefectType] = []
    seen: set[str] = set()
    for p, d in r.items(r.array(doc, "defects", "defects") or [], "defects"):
        r.only(d, ("code", "tier", "zh", "en"), p)
        code = r.str_(d, "code", p)
        num = r.int_(d, "tier", p, lo=1)
        zh = r.str_(d, "zh", p, nonempty=True)
        en = r.str_(d, "en", p, nonempty=True)
        ok = True
        if code is not None and not CODE_RE.match(code):
            r.bad(_join(p, "code"), "malformed code {code} (letters, digits, '-' and '_', up to 32)", code=repr(code))
            ok = False
        elif code is not None and code in seen:
            r.bad(_join(p, "code"), "duplicate code {code}", code=repr(code))
            ok = False
        if num is not None and tiers and num not in tier_nums:
            r.bad(_join(p, "tier"), "no such tier {tier}", tier=num)
            ok = False
        if ok and code is not None and num is not None and zh is not None and en is not None:
            seen.add(code)
            defects.append(DefectType(code, num, zh, en))
    out["defects"] = tuple(defects)


class _Items:
    """Reads ``[[dimensions]]`` and their sub-items against the declared inputs."""

    def __init__(self, r: _Reader, inputs: Mapping[str, InputSpec], min_inspections: int | None) -> None:
        self.r = r
        self.inputs = inputs
        self.min_inspections = min_inspections
        self.keys: set[str] = set()

    def input_ref(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
        name = self.r.str_(obj, key, path, required=required, default="") or None
        if name is not None and name not in self.inputs:
            self.r.bad(_join(path, key), "unknown input {key} (declare it in [[inputs]])", key=repr(name))
            return None
        return name

    def adjusts(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[Adjust, ...]:
        out = []
        for p, a in self.r.items(self.r.array(obj, key, _join(path, key), required=False) or [], _join(path, key)):
            self.r.only(a, ("input", "per"), p)
            name = self.input_ref(a, "input", p)
            per = self.r.dec(a, "per", p)
            if name is not None and per is not None:
                out.append(Adjust(name, per))
        return tuple(out)

    def form(self, raw: list[Any], path: str) -> tuple[FormItem, ...]:
        r = self.r
        out = []
        for p, f in r.items(raw, path):
            r.only(f, ("key", "points", "deduct", "zero_if", "input", "name_zh", "name_en"), p)
            key = r.key(f, p, self.keys, "item")
            points = r.dec(f, "points", p, lo=ZERO)
            deduct = self.adjusts(f, "deduct", p)
            for a in deduct:
                if a.per < 0:
                    r.bad(_join(p, "deduct"), "deductions are written as positive points per occurrence, got {value}", value=a.per)
            zero_if = self.input_ref(f, "zero_if", p, required=False)
            given = self.input_ref(f, "input", p, required=False)
            if given is not None and deduct:
                r.bad(p, "an item either takes its points from an input or deducts, not both")
            if key is not None and points is not None:
                out.append(FormItem(key, points, deduct, zero_if, given, r.text(f, "name_zh", p), r.text(f, "name_en", p)))
        if not raw:
            r.bad(path, "must list at least one item")
        return tuple(out)

    def read(self, raw: list[Any], path: str, *, nested: bool) -> tuple[Dimension, ...]:
        r = self.r
        dims: list[Dimension] = []
        weights_ok = True
        total = ZERO
        allowed = (
            "key", "source", "metric", "weight", "scale", "bands", "direction", "name_zh", "name_en",
            "adjust", "min", "max", "offset", "factor", "divisor", "items", "form", "scale_to", "of",
        )  # fmt: skip
        for p, d in r.items(raw, path):
            r.only(d, allowed, p)
            key = r.key(d, p, self.keys, "dimension")
            source = r.str_(d, "source", p)
            if source is not None and source not in SOURCES:
                r.bad(_join(p, "source"), "must be one of {sources}, got {source}", sources=", ".join(SOURCES), source=repr(source))
                source = None
            weight = r.dec(d, "weight", p, lo=ZERO, hi=ONE)
            if weight is None:
                weights_ok = False
            else:
                total += weight
            kw: dict[str, Any] = {}
            if source == "quality":
                for extra in ("metric", "scale", "bands", "direction", "adjust", "items", "form", "of"):
                    if extra in d:
                        r.bad(_join(p, extra), "not allowed for a quality dimension")
                if self.min_inspections == 0:
                    r.bad(_join(p, "source"), "a quality dimension needs rulebook.min_inspections of at least 1")
            elif source in ("metric", "linear"):
                kw["metric"] = self.input_ref(d, "metric", p)
                kw["scale"] = r.dec(d, "scale", p, required=False, lo=ZERO, lo_open=True)
                kw["adjust"] = self.adjusts(d, "adjust", p)
                if source == "linear":
                    kw["offset"] = r.dec(d, "offset", p, required=False, default=ZERO)
                    kw["factor"] = r.dec(d, "factor", p, required=False, default=ONE)
                    kw["divisor"] = r.dec(d, "divisor", p, required=False, default=ONE, lo=ZERO, lo_open=True)
                direction = r.str_(d, "direction", p, required=False, default="") or None
                raw_bands = r.array(d, "bands", _join(p, "bands"), required=False)
                if raw_bands is not None:
                    kw["bands"] = tuple(_metric_bands(r, raw_bands, _join(p, "bands"), direction, _join(p, "direction")))
                    kw["direction"] = direction
                    if kw["scale"] is not None:
                        r.bad(_join(p, "scale"), "use either scale or bands, not both")
                elif direction is not None:
                    r.bad(_join(p, "direction"), "only used with bands")
            elif source == "group":
                if nested:
                    r.bad(_join(p, "source"), "groups cannot be nested")
                else:
                    kw["items"] = self.read(r.array(d, "items", _join(p, "items")) or [], _join(p, "items"), nested=True)
            elif source == "deductions":
                kw["form"] = self.form(r.array(d, "form", _join(p, "form")) or [], _join(p, "form"))
                kw["scale_to"] = r.dec(d, "scale_to", p, required=False, lo=ZERO, lo_open=True)
            elif source in ("mean", "min", "max"):
                names = []
                for i, v in enumerate(r.array(d, "of", _join(p, "of")) or []):
                    if not isinstance(v, str) or v not in self.inputs:
                        r.bad(f"{_join(p, 'of')}[{i}]", "unknown input {key} (declare it in [[inputs]])", key=repr(v))
                    else:
                        names.append(v)
                kw["of"] = tuple(names)
            if source not in (None, "quality"):
                kw["min"] = r.dec(d, "min", p, required=False)
                kw["max"] = r.dec(d, "max", p, required=False)
            if key is not None and source is not None and weight is not None:
                dims.append(
                    Dimension(key=key, source=source, weight=weight, name_zh=r.text(d, "name_zh", p), name_en=r.text(d, "name_en", p), **kw)
                )
        if not raw:
            r.bad(path, "must list at least one dimension")
        elif weights_ok and total != ONE and not nested:
            r.bad(path, "weights must total exactly 1, got {total}", total=total)
        elif weights_ok and total != ONE and nested:
            r.bad(path, "the weights of a group's items must total exactly 1, got {total}", total=total)
        return tuple(dims)


def _section_dimensions(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[[dimensions]]``: the items of the composite."""
    items = _Items(r, {i.key: i for i in out["inputs"]}, out.get("min_inspections"))
    raw = r.array(doc, "dimensions", "dimensions")
    out["dimensions"] = items.read(raw, "dimensions", nested=False) if raw is not None else ()
    for d in out["dimensions"]:
        for name in sorted(d.inputs()):
            spec = items.inputs.get(name)
            if spec is not None and not spec.required and d.source != "deductions":
                r.bad(f"dimensions.{d.key}", "reads the optional input {key}: a scored input must be required", key=repr(name))
    out["_item_keys"] = items.keys


def _bands(r: _Reader, raw: list[Any] | None, path: str) -> tuple[Band, ...]:
    out: list[Band] = []
    seen: set[str] = set()
    for p, b in r.items(raw or [], path):
        r.only(b, ("key", "min", "name_zh", "name_en"), p)
        key = r.key(b, p, seen, "band")
        low = r.dec(b, "min", p, lo=ZERO)
        if key is not None and low is not None:
            out.append(Band(key, low, r.text(b, "name_zh", p), r.text(b, "name_en", p)))
    if raw is not None:
        _descending_to_zero(r, [b.min for b in out], path, len(out) == len(raw))
    return tuple(out)


def _section_bands(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[[bands]]`` (grades of the composite) and ``[[item_grades]]`` (grades of an item)."""
    out["bands"] = _bands(r, r.array(doc, "bands", "bands"), "bands")
    scales = []
    known = {i.key for i in out["inputs"]} | out["_item_keys"]
    for p, g in r.items(r.array(doc, "item_grades", "item_grades", required=False) or [], "item_grades"):
        r.only(g, ("of", "direction", "bands"), p)
        of = r.str_(g, "of", p)
        if of is not None and of not in known:
            r.bad(_join(p, "of"), "unknown input or item {key}", key=repr(of))
            of = None
        direction = r.str_(g, "direction", p, required=False, default="higher")
        if direction not in ("higher", "lower"):
            r.bad(_join(p, "direction"), "must be 'higher' or 'lower', got {value}", value=repr(direction))
        rows = []
        raw = r.array(g, "bands", _join(p, "bands")) or []
        for i, (bp, b) in enumerate(r.items(raw, _join(p, "bands"))):
            r.only(b, ("limit", "key", "name_zh", "name_en"), bp)
            last = i == len(raw) - 1
            limit = None if last else r.dec(b, "limit", bp)
            if last and "limit" in b:
                r.bad(_join(bp, "limit"), "the last band catches everything else and takes no limit")
            key = r.str_(b, "key", bp, nonempty=True)
            if key is not None:
                rows.append((limit, key, r.text(b, "name_zh", bp), r.text(b, "name_en", bp)))
        if of is not None and rows and direction in ("higher", "lower"):
            scales.append(GradeScale(of, direction, tuple(rows)))  # type: ignore[arg-type]
    out["item_grades"] = tuple(scales)


def _conditions(r: _Reader, raw: list[Any] | None, path: str, known: set[str]) -> tuple[Condition, ...]:
    out = []
    for p, c in r.items(raw or [], path):
        r.only(c, ("of", *CONDITION_OPS), p)
        of = c.get("of")
        names = [of] if isinstance(of, str) else of if isinstance(of, list) else None
        if not names or not all(isinstance(n, str) for n in names):
            r.bad(_join(p, "of"), "expected a figure or a list of figures")
            continue
        bad = [n for n in names if n not in known and n not in SPECIAL_FIGURES]
        for n in bad:
            r.bad(_join(p, "of"), "unknown figure {key} (an input, an item, or one of {special})", key=repr(n), special=", ".join(SPECIAL_FIGURES))
        ops = [o for o in CONDITION_OPS if o in c]
        if len(ops) != 1:
            r.bad(p, "needs exactly one of {ops}", ops=", ".join(CONDITION_OPS))
            continue
        value = r.dec(c, ops[0], p)
        if not bad and value is not None:
            out.append(Condition(tuple(names), ops[0], value))
    return tuple(out)


def _section_veto(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[veto]``: any condition holding cancels the month's appraisal (一票否决)."""
    veto = r.table(doc, "veto", "veto", required=False)
    if veto is None:
        out["veto"] = ()
        return
    r.only(veto, ("any_of",), "veto")
    out["veto"] = _conditions(r, r.array(veto, "any_of", "veto.any_of"), "veto.any_of", {i.key for i in out["inputs"]})


def _section_policy(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[policy]``: the ladder's options, or the direct table of stars."""
    raw = r.table(doc, "policy", "policy", required=False) or {}
    levels = set(out["levels"])
    kind = r.str_(raw, "kind", "policy", required=False, default="ladder")
    if kind not in ("ladder", "direct"):
        r.bad("policy.kind", "must be 'ladder' or 'direct', got {value}", value=repr(kind))
        kind = "ladder"
    if kind == "direct":
        r.only(raw, ("kind", "stars", "otherwise"), "policy")
        known = {i.key for i in out["inputs"]} | out["_item_keys"]
        stars = []
        seen: set[int] = set()
        for p, s in r.items(r.array(raw, "stars", "policy.stars") or [], "policy.stars"):
            r.only(s, ("level", "when"), p)
            lvl = r.level(s, "level", p, levels)
            when = _conditions(r, r.array(s, "when", _join(p, "when")), _join(p, "when"), known)
            if lvl is not None and lvl in seen:
                r.bad(_join(p, "level"), "duplicate star {level}", level=lvl)
            elif lvl is not None:
                seen.add(lvl)
                stars.append(DirectStar(lvl, when))
        if [s.level for s in stars] != sorted((s.level for s in stars), reverse=True):
            r.bad("policy.stars", "list the stars highest first")
        otherwise = r.level(raw, "otherwise", "policy", levels)
        out["policy"] = Policy(kind="direct", stars=tuple(stars), otherwise=otherwise)
        return
    r.only(raw, ("kind", "skip_levels", "decide_in", "window_end", "window_test", "min_complete"), "policy")
    decide = []
    for i, v in enumerate(r.array(raw, "decide_in", "policy.decide_in", required=False) or []):
        m = r.int_value(v, f"policy.decide_in[{i}]", lo=1, hi=12)
        if m is not None:
            decide.append(m)
    test = r.str_(raw, "window_test", "policy", required=False, default="every")
    if test not in ("every", "mean"):
        r.bad("policy.window_test", "must be 'every' or 'mean', got {value}", value=repr(test))
        test = "every"
    out["policy"] = Policy(
        kind="ladder",
        skip_levels=r.bool_(raw, "skip_levels", "policy", required=False),
        decide_in=tuple(sorted(set(decide))),
        window_end=r.int_(raw, "window_end", "policy", required=False, default=0, lo=0) or 0,
        window_test=test or "every",
        min_complete=r.int_(raw, "min_complete", "policy", required=False, default=1, lo=1) or 1,
    )


def _section_promotions(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[[promotions]]`` (ladder only)."""
    levels: tuple[int, ...] = out["levels"]
    tracks: tuple[str, ...] = out["tracks"]
    direct = out["policy"].kind == "direct"
    raw = r.array(doc, "promotions", "promotions", required=not direct)
    if direct:
        if raw:
            r.bad("promotions", "a direct policy has no promotions")
        out["promotions"] = ()
        return
    known = {i.key for i in out["inputs"]} | out["_item_keys"]
    promotions: list[PromotionRule] = []
    keys = ("to", "min_tenure", "window", "threshold", "max_error_rate", "zero_errors", "item_floor", "no_complaints", "requires")
    for p, pr in r.items(raw or [], "promotions"):
        r.only(pr, keys, p)
        to = r.int_(pr, "to", p)
        if to is not None and levels and not levels[0] < to <= levels[-1]:
            r.bad(_join(p, "to"), "must be a level from {lo} to {hi}, got {value}", lo=levels[0] + 1, hi=levels[-1], value=to)
            to = None
        elif to is not None and any(x.to == to for x in promotions):
            r.bad(_join(p, "to"), "duplicate promotion to level {level}", level=to)
            to = None
        min_tenure = r.int_(pr, "min_tenure", p, lo=0)
        window = r.int_(pr, "window", p, lo=1)
        thresholds: dict[str, Decimal] = {}
        th = r.table(pr, "threshold", _join(p, "threshold"))
        th_ok = th is not None
        if th is not None:
            for track, value in th.items():
                tp = _join(_join(p, "threshold"), str(track))
                if tracks and track not in tracks:
                    r.bad(tp, "unknown track {track}", track=repr(track))
                    th_ok = False
                    continue
                v = r.dec_value(value, tp, lo=ZERO, hi=HUNDRED)
                if v is None:
                    th_ok = False
                else:
                    thresholds[track] = v
            for track in tracks:
                if track not in th:
                    r.bad(_join(p, "threshold"), "no threshold for track {track}", track=repr(track))
                    th_ok = False
        max_err = r.dec(pr, "max_error_rate", p, required=False, lo=ZERO, hi=ONE)
        zero = r.bool_(pr, "zero_errors", p, required=False, default=False)
        floor = r.dec(pr, "item_floor", p, required=False, lo=ZERO, hi=HUNDRED)
        no_compl = r.bool_(pr, "no_complaints", p, required=False, default=False)
        if no_compl and out.get("complaints_input") is None:
            r.bad(_join(p, "no_complaints"), "needs a complaints input (rulebook.complaints_input)")
        requires = _conditions(r, r.array(pr, "requires", _join(p, "requires"), required=False), _join(p, "requires"), known)
        if to is not None and min_tenure is not None and window is not None and th_ok:
            promotions.append(PromotionRule(to, min_tenure, window, thresholds, max_err, zero, floor, no_compl, requires))
    if raw is not None and levels:
        have = {x.to for x in promotions}
        named = {pr.get("to") for pr in raw if isinstance(pr, Mapping)}
        for lvl in levels[1:]:
            if lvl not in have and lvl not in named:
                r.bad("promotions", "no promotion to level {level}", level=lvl)
    promotions.sort(key=lambda x: x.to)
    out["promotions"] = tuple(promotions)


def _section_demotion(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[demotion]``: floors, the streak that demotes, red lines (ladder only)."""
    levels: tuple[int, ...] = out["levels"]
    direct = out["policy"].kind == "direct"
    dem = r.table(doc, "demotion", "demotion", required=not direct) or {}
    r.only(dem, ("enabled", "floors", "after_months", "red_line", "floors_on", "down_to"), "demotion")
    out["demotion_enabled"] = r.bool_(dem, "enabled", "demotion", required=False, default=not direct)
    out["after_months"] = r.int_(dem, "after_months", "demotion", lo=1, required=not direct, default=1)
    out["red_line_demotes"] = r.bool_(dem, "red_line", "demotion", required=False, default=True)
    out["floors_on"] = r.bool_(dem, "floors_on", "demotion", required=False, default=True)
    down_to = r.str_(dem, "down_to", "demotion", required=False, default="one")
    if down_to not in ("one", "band"):
        r.bad("demotion.down_to", "must be 'one' or 'band', got {value}", value=repr(down_to))
        down_to = "one"
    out["down_to"] = down_to
    floors: dict[int, Decimal] = {}
    raw_floors = r.table(dem, "floors", "demotion.floors", required=not direct) if "demotion" in doc else None
    if raw_floors is not None:
        for k, v in raw_floors.items():
            lvl = r.level_key(k, "demotion.floors", set(levels))
            val = r.dec_value(v, _join("demotion.floors", str(k)), lo=ZERO, hi=HUNDRED)
            if lvl is not None and val is not None:
                floors[lvl] = val
        named = {str(k) for k in raw_floors}
        for lvl in levels:
            if lvl not in floors and str(lvl) not in named and lvl != 0:
                r.bad("demotion.floors", "no floor for level {level}", level=lvl)
    out["floors"] = dict(sorted(floors.items()))


def _section_quotas(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[quotas]``: the largest share of the headcount per level."""
    quotas: dict[int, Decimal] = {}
    for k, v in (r.table(doc, "quotas", "quotas", required=False) or {}).items():
        lvl = r.level_key(k, "quotas", set(out["levels"]))
        val = r.dec_value(v, _join("quotas", str(k)), lo=ZERO, hi=ONE)
        if lvl is not None and val is not None:
            quotas[lvl] = val
    out["quotas"] = dict(sorted(quotas.items()))


def _section_pay(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[pay]``: grades, coefficients, probation, allowance rule, commission."""
    levels: tuple[int, ...] = out["levels"]
    pay = r.table(doc, "pay", "pay") or {}
    r.only(pay, ("probation_factor", "probation_allowance", "grades", "coefficients", "allowance_rule", "commission"), "pay")
    out["probation_factor"] = r.dec(pay, "probation_factor", "pay", lo=ZERO, hi=ONE)
    out["probation_allowance"] = r.bool_(pay, "probation_allowance", "pay", required=False, default=False)
    grades: list[PayGrade] = []
    raw_grades = r.array(pay, "grades", "pay.grades") if "pay" in doc else None
    graded: set[int] = set()
    for p, g in r.items(raw_grades or [], "pay.grades"):
        r.only(g, ("level", "grade", "fixed", "bonus_base", "allowance", "coefficient"), p)
        lvl = r.int_(g, "level", p)
        name = r.str_(g, "grade", p, nonempty=True)
        fixed = r.dec(g, "fixed", p, lo=ZERO)
        bonus = r.dec(g, "bonus_base", p, lo=ZERO)
        allowance = r.dec(g, "allowance", p, lo=ZERO)
        coef = r.dec(g, "coefficient", p, required=False, lo=ZERO)
        if lvl is not None:
            if levels and lvl not in levels:
                r.bad(_join(p, "level"), "no such level {level}", level=lvl)
                continue
            if lvl in graded:
                r.bad(_join(p, "level"), "level {level} has more than one pay grade", level=lvl)
                continue
            graded.add(lvl)
        if lvl is not None and name is not None and None not in (fixed, bonus, allowance):
            grades.append(PayGrade(lvl, name, fixed, bonus, allowance, coef))  # type: ignore[arg-type]
    if raw_grades is not None:
        for lvl in levels:
            if lvl not in graded:
                r.bad("pay.grades", "no pay grade for level {level}", level=lvl)
    grades.sort(key=lambda g: g.level)
    out["pay_grades"] = tuple(grades)

    coefficients: list[Coefficient] = []
    raw_coef = r.array(pay, "coefficients", "pay.coefficients") if "pay" in doc else None
    for p, c in r.items(raw_coef or [], "pay.coefficients"):
        r.only(c, ("min", "coefficient"), p)
        low = r.dec(c, "min", p, lo=ZERO)
        coef = r.dec(c, "coefficient", p, lo=ZERO)
        if low is not None and coef is not None:
            coefficients.append(Coefficient(low, coef))
    if raw_coef is not None:
        _descending_to_zero(r, [c.min for c in coefficients], "pay.coefficients", len(coefficients) == len(raw_coef))
    out["coefficients"] = tuple(coefficients)

    rule = r.table(pay, "allowance_rule", "pay.allowance_rule", required=False) or {}
    r.only(rule, ("months_without_complaints",), "pay.allowance_rule")
    months = r.int_(rule, "months_without_complaints", "pay.allowance_rule", required=False, default=0, lo=0) or 0
    if months and out.get("complaints_input") is None:
        r.bad("pay.allowance_rule.months_without_complaints", "needs a complaints input (rulebook.complaints_input)")
    out["allowance_months_without_complaints"] = months

    com = r.table(pay, "commission", "pay.commission", required=False)
    out["commission"] = None
    if com is not None:
        r.only(com, ("input", "base_input", "base_share", "rate"), "pay.commission")
        items = _Items(r, {i.key: i for i in out["inputs"]}, None)
        name = items.input_ref(com, "input", "pay.commission")
        base = items.input_ref(com, "base_input", "pay.commission")
        share = r.dec(com, "base_share", "pay.commission", lo=ZERO)
        rate = r.dec(com, "rate", "pay.commission", lo=ZERO, hi=ONE)
        if None not in (name, base, share, rate):
            out["commission"] = Commission(name, base, share, rate)  # type: ignore[arg-type]


def _section_periods(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[[periods]]`` (quarterly / yearly scores and grades) and ``[[awards]]``."""
    periods = []
    seen: set[str] = set()
    for p, d in r.items(r.array(doc, "periods", "periods", required=False) or [], "periods"):
        r.only(d, ("key", "months", "of", "grades", "name_zh", "name_en"), p)
        key = r.key(d, p, seen, "period")
        months = r.int_(d, "months", p)
        if months is not None and months not in (3, 6, 12):
            r.bad(_join(p, "months"), "must be 3, 6 or 12, got {value}", value=months)
            months = None
        of = r.str_(d, "of", p, required=False, default="composite")
        if of not in ("composite", "quarter"):
            r.bad(_join(p, "of"), "must be 'composite' or 'quarter', got {value}", value=repr(of))
            of = None
        if of == "quarter" and months != 12:
            r.bad(_join(p, "of"), "the mean of quarters is a yearly score (months = 12)")
        grades = _bands(r, r.array(d, "grades", _join(p, "grades")), _join(p, "grades"))
        if key is not None and months is not None and of is not None:
            periods.append(Period(key, months, of, grades, r.text(d, "name_zh", p), r.text(d, "name_en", p)))
    if any(x.of == "quarter" for x in periods) and not any(x.months == 3 for x in periods):
        r.bad("periods", "a yearly mean of quarters needs a quarterly period")
    out["periods"] = tuple(periods)
    awards = []
    seen = set()
    for p, d in r.items(r.array(doc, "awards", "awards", required=False) or [], "awards"):
        r.only(d, ("key", "most_months_at", "name_zh", "name_en"), p)
        key = r.key(d, p, seen, "award")
        lvl = r.level(d, "most_months_at", p, set(out["levels"]))
        if key is not None and lvl is not None:
            awards.append(Award(key, lvl, r.text(d, "name_zh", p), r.text(d, "name_en", p)))
    out["awards"] = tuple(awards)


def _section_disputes(r: _Reader, doc: Mapping[str, Any], out: _Parsed) -> None:
    """``[disputes]`` (optional): ``window_working_days``, how long an agent may dispute."""
    table = r.table(doc, "disputes", "disputes", required=False) or {}
    r.only(table, ("window_working_days",), "disputes")
    days = DISPUTE_WINDOW_DAYS
    if "window_working_days" in table:
        days = r.int_value(table["window_working_days"], "disputes.window_working_days", lo=1, hi=60) or days
    out["dispute_window_days"] = days


_SECTIONS = (
    _section_head, _section_inputs, _section_tiers, _section_dimensions, _section_bands, _section_veto,
    _section_policy, _section_promotions, _section_demotion, _section_quotas, _section_pay, _section_periods,
    _section_disputes,
)  # fmt: skip


def parse_rulebook(doc: Mapping[str, Any], version: int = 0, effective_from: Month = "0000-01") -> Rulebook:
    """Validate a rulebook document and build a :class:`Rulebook`.

    Raises :class:`RulebookError` listing every problem found (not just the first).
    """
    r = _Reader()
    if not isinstance(doc, Mapping):
        raise RulebookError([Problem("document: expected a table, got {kind}", kind=_kind(doc))])
    r.only(doc, _TOP_KEYS, "")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        r.bad("version", "must be a whole number >= 0, got {value}", value=repr(version))
    if not is_month(effective_from):
        r.bad("effective_from", "not a month (YYYY-MM): {value}", value=repr(effective_from))
    out = _Parsed()
    for section in _SECTIONS:
        section(r, doc, out)
    _cross_checks(r, out)
    if r.problems:
        raise RulebookError(list(r.problems))
    out.pop("_item_keys", None)
    return Rulebook(version=version, effective_from=effective_from, **out)


def _cross_checks(r: _Reader, out: _Parsed) -> None:
    """Rules that span sections."""
    policy: Policy = out["policy"]
    levels: tuple[int, ...] = out["levels"]
    if policy.kind == "direct" and levels:
        if policy.otherwise is not None and any(s.level <= policy.otherwise for s in policy.stars):
            r.bad("policy.stars", "every star must be above policy.otherwise ({level})", level=policy.otherwise)
    if policy.kind == "ladder" and policy.window_test == "mean" and out.get("promotions"):
        short = [p.to for p in out["promotions"] if p.window < policy.min_complete]
        if short:
            r.bad("policy.min_complete", "is longer than the window of the promotion to {levels}", levels=short)


def _metric_bands(r: _Reader, raw: list[Any], path: str, direction: str | None, dpath: str) -> list[MetricBand]:
    if direction not in ("lower", "higher"):
        r.bad(dpath, "bands need direction 'lower' (lower is better) or 'higher', got {value}", value=repr(direction))
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
        r.bad(path, "the last entry must have min 0, got {value}", value=mins[-1])


# --------------------------------------------------------------------------- output


def _s(value: Decimal) -> str:
    return str(value)


def _adjusts(items: tuple[Adjust, ...]) -> list[dict[str, str]]:
    return [{"input": a.input, "per": _s(a.per)} for a in items]


def _conditions_out(conds: tuple[Condition, ...]) -> list[dict[str, Any]]:
    return [{"of": c.of[0] if len(c.of) == 1 else list(c.of), c.op: _s(c.value)} for c in conds]


def _dimension_out(d: Dimension) -> dict[str, Any]:
    item: dict[str, Any] = {"key": d.key, "source": d.source}
    if d.metric is not None:
        item["metric"] = d.metric
    if d.scale is not None:
        item["scale"] = _s(d.scale)
    if d.bands:
        item["direction"] = d.direction
        item["bands"] = [({"limit": _s(b.limit)} if b.limit is not None else {}) | {"score": _s(b.score)} for b in d.bands]
    for name in ("offset", "factor", "divisor", "min", "max", "scale_to"):
        value = getattr(d, name)
        if value is not None:
            item[name] = _s(value)
    if d.adjust:
        item["adjust"] = _adjusts(d.adjust)
    if d.of:
        item["of"] = list(d.of)
    if d.items:
        item["items"] = [_dimension_out(x) for x in d.items]
    if d.form:
        form = []
        for f in d.form:
            row: dict[str, Any] = {"key": f.key, "points": _s(f.points)}
            if f.deduct:
                row["deduct"] = _adjusts(f.deduct)
            if f.zero_if:
                row["zero_if"] = f.zero_if
            if f.input:
                row["input"] = f.input
            row["name_zh"] = f.name_zh
            row["name_en"] = f.name_en
            form.append(row)
        item["form"] = form
    item["weight"] = _s(d.weight)
    item["name_zh"] = d.name_zh
    item["name_en"] = d.name_en
    return item


def _bands_out(bands: tuple[Band, ...]) -> list[dict[str, str]]:
    return [{"key": b.key, "min": _s(b.min), "name_zh": b.name_zh, "name_en": b.name_en} for b in bands]


def rulebook_to_document(rb: Rulebook) -> dict[str, Any]:
    """A JSON-ready document (decimals as strings) that parses back to ``rb``.

    ``version`` and ``effective_from`` are not part of the document (they belong to the
    stored version row); pass them to :func:`parse_rulebook` again. Sections and keys that
    hold their defaults are left out, so a default-style rulebook keeps its old shape.
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
    for k in ("summary_zh", "summary_en", "source", "notes_zh", "notes_en"):
        if getattr(rb, k):
            head[k] = getattr(rb, k)
    if rb.start_level is not None:
        head["start_level"] = rb.start_level
    if rb.level_labels:
        head["level_labels"] = {str(k): list(v) for k, v in rb.level_labels.items()}
    default_complaints = "complaints" if rb.has_input("complaints") else None
    if rb.complaints_input != default_complaints:
        head["complaints_input"] = rb.complaints_input
    promos = []
    for p in rb.promotions:
        item: dict[str, Any] = {
            "to": p.to,
            "min_tenure": p.min_tenure,
            "window": p.window,
            "threshold": {k: _s(v) for k, v in p.threshold.items()},
        }
        if p.max_error_rate is not None:
            item["max_error_rate"] = _s(p.max_error_rate)
        if p.zero_errors:
            item["zero_errors"] = True
        if p.item_floor is not None:
            item["item_floor"] = _s(p.item_floor)
        if p.no_complaints:
            item["no_complaints"] = True
        if p.requires:
            item["requires"] = _conditions_out(p.requires)
        promos.append(item)
    grades = []
    for g in rb.pay_grades:
        row = {"level": g.level, "grade": g.grade, "fixed": _s(g.fixed), "bonus_base": _s(g.bonus_base), "allowance": _s(g.allowance)}
        if g.coefficient is not None:
            row["coefficient"] = _s(g.coefficient)
        grades.append(row)
    pay: dict[str, Any] = {
        "probation_factor": _s(rb.probation_factor),
        "probation_allowance": rb.probation_allowance,
        "grades": grades,
        "coefficients": [{"min": _s(c.min), "coefficient": _s(c.coefficient)} for c in rb.coefficients],
    }
    if rb.allowance_months_without_complaints:
        pay["allowance_rule"] = {"months_without_complaints": rb.allowance_months_without_complaints}
    if rb.commission is not None:
        c = rb.commission
        pay["commission"] = {"input": c.input, "base_input": c.base_input, "base_share": _s(c.base_share), "rate": _s(c.rate)}
    doc: dict[str, Any] = {"rulebook": head}
    if rb.inputs_declared:
        doc["inputs"] = [
            {"key": i.key, "kind": i.kind, "name_zh": i.name_zh, "name_en": i.name_en, "decimals": i.decimals, "required": i.required}
            | ({"min": _s(i.min)} if i.min is not None else {})
            | ({"max": _s(i.max)} if i.max is not None else {})
            | ({"allowed": [_s(a) for a in i.allowed]} if i.allowed else {})
            for i in rb.inputs
        ]
    doc["tiers"] = [
        {"tier": t.tier, "name_zh": t.name_zh, "name_en": t.name_en, "deduction": _s(t.deduction), "red_line": t.red_line}
        for t in rb.tiers
    ]
    doc["defects"] = [{"code": d.code, "tier": d.tier, "zh": d.zh, "en": d.en} for d in rb.defects]
    doc["dimensions"] = [_dimension_out(d) for d in rb.dimensions]
    doc["bands"] = _bands_out(rb.bands)
    if rb.item_grades:
        doc["item_grades"] = [
            {
                "of": g.of,
                "direction": g.direction,
                "bands": [({"limit": _s(lim)} if lim is not None else {}) | {"key": k, "name_zh": zh, "name_en": en} for lim, k, zh, en in g.bands],
            }
            for g in rb.item_grades
        ]
    if rb.veto:
        doc["veto"] = {"any_of": _conditions_out(rb.veto)}
    pol = rb.policy
    if pol.kind == "direct":
        doc["policy"] = {
            "kind": "direct",
            "stars": [{"level": s.level, "when": _conditions_out(s.when)} for s in pol.stars],
            "otherwise": pol.otherwise,
        }
    elif pol != Policy():
        doc["policy"] = {
            k: v
            for k, v in (
                ("kind", "ladder"),
                ("skip_levels", pol.skip_levels),
                ("decide_in", list(pol.decide_in)),
                ("window_end", pol.window_end),
                ("window_test", pol.window_test),
                ("min_complete", pol.min_complete),
            )
        }
    if pol.kind != "direct":
        doc["promotions"] = promos
        demotion: dict[str, Any] = {
            "enabled": rb.demotion_enabled,
            "floors": {str(k): _s(v) for k, v in rb.floors.items()},
            "after_months": rb.after_months,
            "red_line": rb.red_line_demotes,
        }
        if not rb.floors_on:
            demotion["floors_on"] = False
        if rb.down_to != "one":
            demotion["down_to"] = rb.down_to
        doc["demotion"] = demotion
    doc["quotas"] = {str(k): _s(v) for k, v in rb.quotas.items()}
    doc["pay"] = pay
    if rb.periods:
        doc["periods"] = [
            {"key": p.key, "months": p.months, "of": p.of, "grades": _bands_out(p.grades), "name_zh": p.name_zh, "name_en": p.name_en}
            for p in rb.periods
        ]
    if rb.awards:
        doc["awards"] = [{"key": a.key, "most_months_at": a.level, "name_zh": a.name_zh, "name_en": a.name_en} for a in rb.awards]
    if rb.dispute_window_days != DISPUTE_WINDOW_DAYS:
        doc["disputes"] = {"window_working_days": rb.dispute_window_days}
    return doc


# --------------------------------------------------------------------------- loading


def loads_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads``, except that a document nested deeper than the parser can follow
    is malformed TOML like any other (``TOMLDecodeError``). tomllib descends one call per
    ``[`` or ``{``: a few hundred of them in an upload otherwise escape as RecursionError."""
    try:
        return tomllib.loads(text)
    except RecursionError as exc:
        raise tomllib.TOMLDecodeError("arrays or inline tables nested too deeply") from exc


def parse_rulebook_toml(text: str, version: int = 0, effective_from: Month = "0000-01") -> Rulebook:
    """Parse TOML text (e.g. an uploaded file) into a validated rulebook."""
    try:
        doc = loads_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError([Problem("document: not valid TOML: {error}", error=str(exc))]) from exc
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
