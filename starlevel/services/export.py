"""Ladder, payroll and monthly-input exports (spec §7), and the CSV writer every export uses.

Exported files are opened in spreadsheet programs, which run a cell that looks like a
formula (``=HYPERLINK(…)``, ``+1+1``, ``@SUM(1)``, ``-2+3``, or one starting with a tab or
carriage return). Names and teams come from imported files, so every text cell that starts
with one of those characters is written with a leading ``'`` (OWASP's advice on CSV
injection); numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from starlevel.db.models import MonthlyMetrics, MonthResultRow
from starlevel.domain.explain import explain_text
from starlevel.services import rulebooks
from starlevel.services.recompute import row_to_result

LADDER_COLUMNS = [
    "agent_id", "month", "track", "tenure", "quality", "efficiency", "satisfaction", "attitude",
    "composite", "level", "event", "next_level", "reason", "pay_grade", "fixed_pay",
    "performance_pay", "allowance", "total_pay",
    # Beyond the contract's minimum: what HR asks next.
    "team", "on_probation", "complete", "inspections", "band", "coefficient", "rule", "rulebook_version",
]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a spreadsheet will not execute it: text starting with = + - @ TAB or CR
    gets a leading single quote, unless it is a plain number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose cells pass through :func:`spreadsheet_safe`."""

    def __init__(self, out: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([spreadsheet_safe(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value:.2f}"


def ladder_rows(session: Session, *, month: str | None = None, lang: str = "en") -> Iterator[list[str]]:
    q = select(MonthResultRow).order_by(MonthResultRow.month, MonthResultRow.agent_id)
    if month:
        q = q.where(MonthResultRow.month == month)
    books = rulebooks.load_all(session)
    for row in session.scalars(q.execution_options(yield_per=2000)):
        result = row_to_result(row)
        dims = result.dimensions
        yield [
            row.agent_id, row.month, row.track, str(row.tenure),
            _fmt(dims.get("quality", row.quality)), _fmt(dims.get("efficiency")),
            _fmt(dims.get("satisfaction")), _fmt(dims.get("attitude")),
            _fmt(row.composite), str(row.level), row.event, str(row.next_level),
            explain_text(result, lang, rulebooks.for_version(books, row.rulebook_version, row.month)), row.pay_grade or "", _fmt(row.fixed_pay),
            _fmt(row.performance_pay), _fmt(row.allowance), _fmt(row.total_pay),
            row.team, "yes" if row.on_probation else "no", "yes" if row.complete else "no",
            str(row.n_inspections), row.band or "", _fmt(row.coefficient), row.rule, str(row.rulebook_version),
        ]


def write_ladder_csv(session: Session, out: IO[str], *, month: str | None = None, lang: str = "en") -> int:
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(LADDER_COLUMNS)
    n = 0
    for n, row in enumerate(ladder_rows(session, month=month, lang=lang), start=1):
        writer.writerow(row)
    return n


def ladder_csv_text(session: Session, *, month: str | None = None, lang: str = "en") -> str:
    buf = io.StringIO()
    write_ladder_csv(session, buf, month=month, lang=lang)
    return buf.getvalue()


# ------------------------------------------------------------------ monthly inputs

def _metrics_query(month: str | None):  # type: ignore[no-untyped-def]
    t = MonthlyMetrics.__table__
    q = select(t.c.agent_id, t.c.month, cast(t.c["values"], Text)).order_by(t.c.month, t.c.agent_id)
    return q.where(t.c.month == month) if month else q


def metrics_header(session: Session, *, month: str | None = None) -> list[str]:
    """``agent_id``, ``month``, then every input the loaded rulebooks declare (in their
    order), then any other key a stored row holds, so that nothing stored is left out."""
    from starlevel.services import rulebooks as rulebook_store

    keys: dict[str, None] = {}
    for rb in rulebook_store.load_all(session):
        keys.update(dict.fromkeys(s.key for s in rb.inputs))
    declared = set(keys)
    extra: set[str] = set()
    for _a, _m, text in session.execute(_metrics_query(month).execution_options(yield_per=5000)):
        extra.update(k for k in orjson.loads(text) if k not in declared)
    return ["agent_id", "month", *keys, *sorted(extra)]


def write_metrics_csv(session: Session, out: IO[str], *, month: str | None = None) -> int:
    """The stored monthly inputs in the import format (one row per agent-month, the values
    as stored), so that importing the file again changes nothing. Returns the row count."""
    header = metrics_header(session, month=month)
    keys = header[2:]
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(header)
    n = 0
    loads = orjson.loads
    for n, (agent_id, m, text) in enumerate(
        session.execute(_metrics_query(month).execution_options(yield_per=5000)), start=1
    ):
        values = loads(text)
        writer.writerow([agent_id, m, *(values.get(k, "") for k in keys)])
    return n
