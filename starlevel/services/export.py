"""Ladder and payroll exports (spec §7)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import MonthResultRow
from starlevel.domain.explain import explain_text
from starlevel.services.recompute import row_to_result

LADDER_COLUMNS = [
    "agent_id", "month", "track", "tenure", "quality", "efficiency", "satisfaction", "attitude",
    "composite", "level", "event", "next_level", "reason", "pay_grade", "fixed_pay",
    "performance_pay", "allowance", "total_pay",
    # Beyond the contract's minimum: what HR asks next.
    "team", "on_probation", "complete", "inspections", "band", "coefficient", "rule", "rulebook_version",
]


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}"


def ladder_rows(session: Session, *, month: str | None = None, lang: str = "en") -> Iterator[list[str]]:
    q = select(MonthResultRow).order_by(MonthResultRow.month, MonthResultRow.agent_id)
    if month:
        q = q.where(MonthResultRow.month == month)
    for row in session.scalars(q.execution_options(yield_per=2000)):
        result = row_to_result(row)
        dims = result.dimensions
        yield [
            row.agent_id, row.month, row.track, str(row.tenure),
            _fmt(dims.get("quality", row.quality)), _fmt(dims.get("efficiency")),
            _fmt(dims.get("satisfaction")), _fmt(dims.get("attitude")),
            _fmt(row.composite), str(row.level), row.event, str(row.next_level),
            explain_text(result, lang), row.pay_grade or "", _fmt(row.fixed_pay),
            _fmt(row.performance_pay), _fmt(row.allowance), _fmt(row.total_pay),
            row.team, "yes" if row.on_probation else "no", "yes" if row.complete else "no",
            str(row.n_inspections), row.band or "", _fmt(row.coefficient), row.rule, str(row.rulebook_version),
        ]


def write_ladder_csv(session: Session, out: IO[str], *, month: str | None = None, lang: str = "en") -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LADDER_COLUMNS)
    n = 0
    for n, row in enumerate(ladder_rows(session, month=month, lang=lang), start=1):
        writer.writerow(row)
    return n


def ladder_csv_text(session: Session, *, month: str | None = None, lang: str = "en") -> str:
    buf = io.StringIO()
    write_ladder_csv(session, buf, month=month, lang=lang)
    return buf.getvalue()
