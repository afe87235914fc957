"""Monthly scores (spec §4): inspection scores, quality, dimensions, composite, band.

All arithmetic is exact decimal; rounding is half-up to 2 decimals where the spec says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal

from starlevel.domain.model import Inspection, Metrics, MonthEvidence
from starlevel.domain.rulebook import Dimension, Rulebook

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


def dimension_score(dim: Dimension, evidence: MonthEvidence | None, metrics: Metrics | None) -> Decimal | None:
    """One dimension's score, or ``None`` when its source is missing this month."""
    if dim.source == "quality":
        return quality(evidence)
    if metrics is None:
        return None
    raw = getattr(metrics, dim.metric)  # type: ignore[arg-type]
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, float):
        raise TypeError(f"metric {dim.metric} is a float ({raw!r}); pass a Decimal")
    else:
        value = Decimal(raw)
    if dim.bands:
        lower = dim.direction == "lower"
        for b in dim.bands:
            if b.limit is None or (value <= b.limit if lower else value >= b.limit):
                return b.score
        return dim.bands[-1].score  # unreachable: the last band has no limit
    if dim.scale is not None:
        return CTX.multiply(value, dim.scale)
    return value


def dimension_scores(evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook) -> dict[str, Decimal]:
    """Dimension key -> score for every dimension that has a value this month."""
    out: dict[str, Decimal] = {}
    q: Decimal | None = None
    q_done = False
    for dim in rb.dimensions:
        if dim.source == "quality":
            if not q_done:
                q, q_done = quality(evidence), True
            v = q
        else:
            v = dimension_score(dim, evidence, metrics)
        if v is not None:
            out[dim.key] = v
    return out


def composite(dimensions: Mapping[str, Decimal], rb: Rulebook) -> Decimal | None:
    """Σ weight × dimension, rounded half-up to 2 decimals; ``None`` if any dimension is missing."""
    total = ZERO
    for dim in rb.dimensions:
        v = dimensions.get(dim.key)
        if v is None:
            return None
        total = CTX.add(total, CTX.multiply(dim.weight, v))
    return total.quantize(Q2, rounding=ROUND_HALF_UP, context=CTX)


def all_pass(dimensions: Mapping[str, Decimal], rb: Rulebook) -> bool:
    """Every dimension present and at or above the pass mark (及格分)."""
    mark = rb.pass_mark
    for dim in rb.dimensions:
        v = dimensions.get(dim.key)
        if v is None or v < mark:
            return False
    return True


def band(value: Decimal | None, rb: Rulebook) -> str | None:
    """Key of the grade band (评分等级) a composite falls in."""
    if value is None:
        return None
    for b in rb.bands:
        if value >= b.min:
            return b.key
    return rb.bands[-1].key


def is_complete(evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook) -> bool:
    """A metrics row and at least ``min_inspections`` inspections."""
    return metrics is not None and evidence is not None and evidence.n_inspections >= rb.min_inspections


def month_scores(
    evidence: MonthEvidence | None, metrics: Metrics | None, rb: Rulebook
) -> tuple[dict[str, Decimal], Decimal | None, bool, bool]:
    """(dimensions, composite or None if incomplete, complete, all dimensions pass)."""
    dims = dimension_scores(evidence, metrics, rb)
    complete = is_complete(evidence, metrics, rb)
    comp = composite(dims, rb) if complete else None
    return dims, comp, complete, all_pass(dims, rb)
