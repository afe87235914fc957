"""Monthly scores (spec §4): inspection scores, quality, dimensions, composite, band.

All arithmetic is exact decimal; rounding is half-up to 2 decimals where the spec says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction

from starlevel.domain.model import Inspection, Metrics, MonthEvidence
from starlevel.domain.rulebook import Dimension, FormItem, Rulebook

__all__ = [
    "UnknownDefectError",
    "all_pass",
    "band",
    "composite",
    "dimension_score",
    "dimension_scores",
    "evidence_of",
    "inspection_score",
    "is_complete",
    "month_scores",
    "quality",
    "round2",
]

Q2 = Decimal("0.01")
ZERO = Decimal(0)
# Wide enough that no division or sum here is ever rounded before the final quantize.
CTX = Context(prec=60, rounding=ROUND_HALF_UP)


class UnknownDefectError(ValueError):
    """A defect code that the rulebook's catalog does not hold."""


def round2(value: Decimal) -> Decimal:
    """Round half-up to 2 decimals (``92.925`` -> ``92.93``)."""
    return value.quantize(Q2, rounding=ROUND_HALF_UP, context=CTX)


def _deductions(codes: Iterable[str], rb: Rulebook) -> Decimal:
    table = rb._deductions
    total = ZERO
    for code in codes:
        try:
            total += table[code]
        except KeyError:
            raise UnknownDefectError(f"unknown defect code {code!r}") from None
    return total


def inspection_score(codes: Iterable[str], rb: Rulebook) -> Decimal:
    """max(0, base − Σ deductions); each occurrence of a repeated code deducts again."""
    score = rb.inspection_base - _deductions(codes, rb)
    return score if score > 0 else ZERO


def evidence_of(inspections: Iterable[Sequence[str] | Inspection], rb: Rulebook) -> MonthEvidence:
    """Add up one agent-month's (non-voided) inspections.

    Each item is the defect-code list of one inspection (or an :class:`Inspection`).
    """
    n = 0
    score_sum = ZERO
    errors = 0
    red: list[str] = []
    error_codes = rb._errors
    red_codes = rb._red_line
    for item in inspections:
        codes = item.defect_codes if isinstance(item, Inspection) else item
        if isinstance(codes, str):
            raise TypeError("pass each inspection's codes as a list, not a string")
        n += 1
        score_sum += inspection_score(codes, rb)
        for code in codes:
            if code in error_codes:
                errors += 1
            if code in red_codes:
                red.append(code)
    return MonthEvidence(n_inspections=n, score_sum=score_sum, error_defects=errors, red_line_codes=tuple(red))


def quality(evidence: MonthEvidence | None) -> Decimal | None:
    """Mean inspection score rounded half-up to 2 decimals (``None`` without inspections)."""
    if evidence is None or evidence.n_inspections <= 0:
        return None
    return CTX.divide(evidence.score_sum, Decimal(evidence.n_inspections)).quantize(Q2, rounding=ROUND_HALF_UP, context=CTX)


def _frac(value: Decimal | int) -> Fraction:
    return Fraction(value)


def round_half_up(value: Fraction) -> Decimal:
    """An exact fraction rounded half-up to 2 decimals (the one rounding of a composite)."""
    scaled = value * 100
    if scaled >= 0:
        q = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    else:
        q = -((2 * -scaled.numerator + scaled.denominator) // (2 * scaled.denominator))
    return Decimal(q).scaleb(-2)


def to_decimal(value: Fraction, places: int = 4) -> Decimal:
    """A fraction for display: exact when it terminates within ``places``, else rounded half-up."""
    scale = 10**places
    scaled = value * scale
    if scaled.denominator == 1:
        return (Decimal(scaled.numerator) / scale).normalize() if scaled.numerator else Decimal(0)
    q = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(q).scaleb(-places)


def _clamp(x: Fraction, dim: Dimension) -> Fraction:
    if dim.min is not None and x < dim.min:
        x = _frac(dim.min)
    if dim.max is not None and x > dim.max:
        x = _frac(dim.max)
    return x


def _form_item(item: FormItem, values: Mapping[str, Decimal]) -> Fraction:
    points = _frac(item.points)
    if item.zero_if is not None and values.get(item.zero_if, ZERO) != 0:
        return Fraction(0)
    if item.input is not None:
        given = values.get(item.input)
        x = Fraction(0) if given is None else _frac(given)
        return min(max(x, Fraction(0)), points)
    left = points
    for a in item.deduct:
        left -= _frac(a.per) * _frac(values.get(a.input, ZERO))
    return left if left > 0 else Fraction(0)


def item_score(dim: Dimension, q: Decimal | None, values: Mapping[str, Decimal] | None) -> Fraction | None:
    """One item's exact score, or ``None`` when its source is missing this month."""
    src = dim.source
    if src == "quality":
        return None if q is None else _frac(q)
    if values is None:
        return None
    if src == "group":
        total = Fraction(0)
        for sub in dim.items:
            v = item_score(sub, q, values)
            if v is None:
                return None
            total += _frac(sub.weight) * v
        return _clamp(total, dim)
    if src == "deductions":
        total = sum((_form_item(f, values) for f in dim.form), Fraction(0))
        if dim.scale_to is not None:
            total = total * 100 / _frac(dim.scale_to)
        return _clamp(total, dim)
    if src in ("mean", "min", "max"):
        got = [values.get(k) for k in dim.of]
        if any(v is None for v in got):
            return None
        xs = [_frac(v) for v in got]  # type: ignore[arg-type]
        x = sum(xs, Fraction(0)) / len(xs) if src == "mean" else min(xs) if src == "min" else max(xs)
        return _clamp(x, dim)
    raw = values.get(dim.metric)  # type: ignore[arg-type]
    if raw is None:
        return None
    if isinstance(raw, float):
        raise TypeError(f"input {dim.metric} is a float ({raw!r}); pass a Decimal")
    if dim.bands:
        lower = dim.direction == "lower"
        x = _frac(dim.bands[-1].score)
        for b in dim.bands:
            if b.limit is None or (raw <= b.limit if lower else raw >= b.limit):
                x = _frac(b.score)
                break
    else:
        x = _frac(raw)
        if src == "linear":
            x = (_frac(dim.offset or 0) + _frac(dim.factor if dim.factor is not None else 1) * x) / _frac(dim.divisor or 1)
        if dim.scale is not None:
            x = x * _frac(dim.scale)
    for a in dim.adjust:
        x += _frac(a.per) * _frac(values.get(a.input, ZERO))
    return _clamp(x, dim)


def _values(metrics: Metrics | None) -> Mapping[str, Decimal] | None:
    return None if metrics is None else metrics.values


def dimension_score(dim: Dimension, evidence: MonthEvidence | None, metrics: Metrics | None) -> Decimal | None:
    """One item's score for display (exact where it terminates), or ``None`` when missing."""
    v = item_score(dim, quality(evidence), _values(metrics))
    return None if v is None else to_decimal(v)


def _exact_scores(evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook) -> dict[str, Fraction]:
    q = quality(evidence)
    values = _values(metrics)
    out: dict[str, Fraction] = {}
    for dim in rb.dimensions:
        v = item_score(dim, q, values)
        if v is not None:
            out[dim.key] = v
        for sub in dim.items:
            sv = item_score(sub, q, values)
            if sv is not None:
                out[sub.key] = sv
    return out


def dimension_scores(evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook) -> dict[str, Decimal]:
    """Item key -> score (top-level items and the items of groups) for every item that has a
    value this month."""
    return {k: to_decimal(v) for k, v in _exact_scores(evidence, metrics, rb).items()}


def composite(dimensions: Mapping[str, Decimal | Fraction], rb: Rulebook) -> Decimal | None:
    """Σ weight × item, rounded half-up to 2 decimals once; ``None`` if any item is missing."""
    total = Fraction(0)
    for dim in rb.dimensions:
        v = dimensions.get(dim.key)
        if v is None:
            return None
        total += _frac(dim.weight) * (v if isinstance(v, Fraction) else _frac(v))
    return round_half_up(total)


def all_pass(dimensions: Mapping[str, Decimal | Fraction], rb: Rulebook) -> bool:
    """Every top-level item present and at or above the pass mark (及格分)."""
    mark = rb.pass_mark
    for dim in rb.dimensions:
        v = dimensions.get(dim.key)
        if v is None or v < mark:
            return False
    return True


def lowest_item(dimensions: Mapping[str, Decimal | Fraction], rb: Rulebook) -> Decimal | None:
    """The lowest top-level item (for item floors), ``None`` if any is missing."""
    low: Decimal | Fraction | None = None
    for dim in rb.dimensions:
        v = dimensions.get(dim.key)
        if v is None:
            return None
        if low is None or v < low:
            low = v
    if isinstance(low, Fraction):
        return to_decimal(low)
    return low


def band(value: Decimal | None, rb: Rulebook) -> str | None:
    """Key of the grade band (评分等级) a composite falls in."""
    if value is None:
        return None
    for b in rb.bands:
        if value >= b.min:
            return b.key
    return rb.bands[-1].key


def has_inputs(metrics: Metrics | None, rb: Rulebook) -> bool:
    """Every required input of the rulebook is present."""
    if metrics is None:
        return not any(i.required for i in rb.inputs)
    vals = metrics.values
    return all(i.key in vals for i in rb.inputs if i.required)


def is_complete(evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook) -> bool:
    """Enough inspections (none needed when ``min_inspections`` is 0) and every required input."""
    n = 0 if evidence is None else evidence.n_inspections
    return n >= rb.min_inspections and has_inputs(metrics, rb)


def figure(name: str, *, values: Mapping[str, Decimal] | None, dims: Mapping[str, Decimal], composite: Decimal | None,
           evidence: MonthEvidence | None, complaints: int) -> Decimal | None:
    """The value of a figure named by a condition (an input, an item, or a special figure)."""
    if name == "composite":
        return composite
    if name == "complaints":
        return Decimal(complaints)
    if name == "red_line":
        return Decimal(0 if evidence is None else len(evidence.red_line_codes))
    if name == "n_inspections":
        return Decimal(0 if evidence is None else evidence.n_inspections)
    if name in dims:
        return dims[name]
    if values is not None and name in values:
        return values[name]
    return None


def vetoed(rb: Rulebook, metrics: Metrics | None, evidence: MonthEvidence | None) -> tuple[str, ...]:
    """The inputs whose veto condition holds this month (empty: no veto)."""
    if not rb.veto or metrics is None:
        return ()
    hit: list[str] = []
    for cond in rb.veto:
        for name in cond.of:
            v = figure(name, values=metrics.values, dims={}, composite=None, evidence=evidence, complaints=0)
            if v is not None and cond.test(v):
                hit.append(name)
    return tuple(hit)


def complaints_of(metrics: Metrics | None, rb: Rulebook) -> int:
    key = rb.complaints_input
    if metrics is None or key is None:
        return 0
    v = metrics.values.get(key)
    return 0 if v is None else int(v)


def month_scores(
    evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook
) -> tuple[dict[str, Decimal], Decimal | None, bool, bool]:
    """(items, composite or None if incomplete, complete, all top-level items pass).

    The reference implementation: the ladder's compiled fast path is proved equal to it.
    A vetoed month is complete with composite 0 and does not pass.
    """
    exact = _exact_scores(evidence, metrics, rb)
    dims = {k: to_decimal(v) for k, v in exact.items()}
    if vetoed(rb, metrics, evidence):
        return dims, Decimal("0.00"), True, False
    complete = is_complete(evidence, metrics, rb)
    comp = composite(exact, rb) if complete else None
    return dims, comp, complete, all_pass(exact, rb)
