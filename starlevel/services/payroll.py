"""The payroll of one month as a file: CSV or a real XLSX spreadsheet (xlsxwriter).

A closed month exports the payroll kept when it was closed (services.months), marked
final; an open month exports the current results, marked provisional. One row per agent
(grade, fixed pay, performance pay with its coefficient and composite, allowance,
probation factor, total), a subtotal row after each team and a grand total. Texts come
from the caller's ``labels`` (translated headers); cells that a spreadsheet would read
as a formula are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from starlevel.db.models import Agent, MonthResultRow, PayrollSnapshotRow
from starlevel.services.export import spreadsheet_safe
from starlevel.services import months as month_service
from starlevel.services import rulebooks as rulebook_store

ZERO = Decimal(0)
ONE = Decimal(1)
BOM = "\ufeff"
#: Column keys in file order; ``labels`` maps each to its header text.
COLUMNS = (
    "line", "agent_id", "name", "team", "track", "level", "pay_grade", "fixed_pay", "composite", "coefficient",
    "performance_pay", "allowance", "probation_factor", "total_pay", "status", "payroll",
)
MONEY = ("fixed_pay", "performance_pay", "allowance", "total_pay")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (the one
    rule of every export: :func:`services.export.spreadsheet_safe`)."""
    return str(spreadsheet_safe(text))


@dataclass(frozen=True)
class Line:
    agent_id: str
    name: str
    team: str
    track: str
    level: int
    pay_grade: str | None
    fixed_pay: Decimal | None
    composite: Decimal | None
    coefficient: Decimal | None
    performance_pay: Decimal | None
    allowance: Decimal | None
    probation_factor: Decimal | None
    total_pay: Decimal | None


@dataclass
class Sums:
    fixed_pay: Decimal = ZERO
    performance_pay: Decimal = ZERO
    allowance: Decimal = ZERO
    total_pay: Decimal = ZERO
    agents: int = 0

    def add(self, line: Line) -> None:
        self.agents += 1
        for k in MONEY:
            v = getattr(line, k)
            if v is not None:
                setattr(self, k, getattr(self, k) + v)


@dataclass(frozen=True)
class Payroll:
    month: str
    final: bool  # the month is closed: this is what was paid
    lines: list[Line]  # by team, then agent id

    def teams(self) -> Iterator[tuple[str, list[Line], Sums]]:
        team: str | None = None
        group: list[Line] = []
        for line in self.lines:
            if team is not None and line.team != team:
                yield team, group, _sum(group)
                group = []
            team = line.team
            group.append(line)
        if team is not None:
            yield team, group, _sum(group)

    def total(self) -> Sums:
        return _sum(self.lines)


def _sum(lines: list[Line]) -> Sums:
    s = Sums()
    for line in lines:
        s.add(line)
    return s


def load(session: Session, month: str) -> Payroll:
    """The payroll of ``month``: as kept by its close when closed, else as it stands."""
    close = month_service.latest_snapshot(session, month)
    if close is not None:
        S = PayrollSnapshotRow
        q = (select(S.agent_id, S.name, S.team, S.track, S.level, S.pay_grade, S.fixed_pay, S.composite,
                    S.coefficient, S.performance_pay, S.allowance, S.probation_factor, S.total_pay)
             .where(S.close_id == close.id).order_by(S.team, S.agent_id))
        return Payroll(month, True, [Line(*row) for row in session.execute(q)])
    factors = {rb.version: rb.probation_factor for rb in rulebook_store.load_all(session)}
    R = MonthResultRow
    q = (select(R.agent_id, Agent.name, R.team, R.track, R.level, R.pay_grade, R.fixed_pay, R.composite,
                R.coefficient, R.performance_pay, R.allowance, R.on_probation, R.total_pay, R.rulebook_version)
         .join(Agent, Agent.agent_id == R.agent_id).where(R.month == month).order_by(R.team, R.agent_id))
    lines = []
    for aid, name, team, track, level, grade, fixed, comp, coef, perf, allow, prob, total, ver in session.execute(q):
        factor = None if total is None else (factors.get(ver, ONE) if prob else ONE)
        lines.append(Line(aid, name, team, track, level, grade, fixed, comp, coef, perf, allow, factor, total))
    return Payroll(month, False, lines)


def exists(session: Session, month: str) -> bool:
    return session.scalar(select(MonthResultRow.month).where(MonthResultRow.month == month).limit(1)) is not None


# ------------------------------------------------------------------ rows shared by both formats

Cell = str | int | Decimal | None


def rows(payroll: Payroll, labels: Mapping[str, str]) -> Iterator[tuple[str, list[Cell]]]:
    """(kind, cells) in file order: kind is "agent", "subtotal" or "total"."""
    state = labels["final"] if payroll.final else labels["provisional"]
    for team, group, sums in payroll.teams():
        for x in group:
            status = labels["complete"] if x.total_pay is not None else labels["incomplete"]
            yield "agent", [
                labels["line_agent"], x.agent_id, x.name, x.team, x.track, x.level,
                x.pay_grade or "", x.fixed_pay, x.composite, x.coefficient, x.performance_pay, x.allowance,
                x.probation_factor, x.total_pay, status, state,
            ]
        yield "subtotal", _sum_row(labels["line_subtotal"].format(team=team or "—"), team, sums, state)
    yield "total", _sum_row(labels["line_total"], "", payroll.total(), state)


def _sum_row(label: str, team: str, sums: Sums, state: str) -> list[Cell]:
    return [label, "", "", team, "", None, "", sums.fixed_pay, None, None, sums.performance_pay, sums.allowance,
            None, sums.total_pay, "", state]


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    return neutralise(str(value))


def csv_bytes(payroll: Payroll, labels: Mapping[str, str]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (Excel reads Chinese names then), the same rows as the XLSX."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    writer.writerow([labels[c] for c in COLUMNS])
    for n, (_kind, cells) in enumerate(rows(payroll, labels), start=1):
        writer.writerow([_text(c) for c in cells])
        if n % 1000 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def xlsx_bytes(payroll: Payroll, labels: Mapping[str, str]) -> bytes:
    """A spreadsheet: a title line saying final or provisional, a frozen header with an
    autofilter, typed numbers (money as money), team subtotals and the grand total.

    Some 160,000 cells for 10,000 agents, so the loop does no more per cell than it must:
    formats are built once per column, each distinct text is neutralised once, and a
    cell's kind comes from its Python type. (xlsxwriter's ``constant_memory`` mode was no
    faster here: it writes every string inline instead of once in the shared table.)"""
    import xlsxwriter

    lines = list(rows(payroll, labels))
    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet(labels["sheet"][:31])
    bold = wb.add_format({"bold": True})
    title = wb.add_format({"bold": True, "font_size": 13})
    warn = wb.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "text_wrap": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    dec2 = wb.add_format({"num_format": "0.00"})
    pct = wb.add_format({"num_format": "0%"})
    money_b = wb.add_format({"num_format": "#,##0.00", "bold": True, "top": 1})
    text_b = wb.add_format({"bold": True, "top": 1})
    number_formats = {c: money for c in MONEY} | {"composite": dec2, "coefficient": dec2, "probation_factor": pct}
    plain = [number_formats.get(key) for key in COLUMNS]  # agent rows: number format by column
    strong = [money_b if key in MONEY else text_b for key in COLUMNS]  # subtotal and total rows

    widths = {"line": 14, "agent_id": 12, "name": 16, "team": 14, "track": 9, "level": 6, "pay_grade": 8,
              "status": 11, "payroll": 11}
    for c, key in enumerate(COLUMNS):
        ws.set_column(c, c, widths.get(key, 12))
    header_row = 3
    last_row = header_row + len(lines)
    ws.freeze_panes(header_row + 1, 3)
    ws.autofilter(header_row, 0, last_row, len(COLUMNS) - 1)
    ws.write_string(0, 0, labels["title"].format(month=payroll.month), title)
    ws.write_string(1, 0, labels["final_note"] if payroll.final else labels["provisional_note"],
                    bold if payroll.final else warn)
    for c, key in enumerate(COLUMNS):
        ws.write_string(header_row, c, labels[key], head)

    safe: dict[str, str] = {}  # team, track, status... repeat: neutralise each text once
    write_string, write_number, write_blank = ws.write_string, ws.write_number, ws.write_blank
    for r, (kind, cells) in enumerate(lines, start=header_row + 1):
        formats = plain if kind == "agent" else strong
        for c, value in enumerate(cells):
            if value is None or value == "":
                if kind != "agent":
                    write_blank(r, c, None, text_b)
            elif type(value) is str:
                text = safe.get(value)
                if text is None:
                    text = safe[value] = neutralise(value)
                write_string(r, c, text, None if kind == "agent" else text_b)
            elif isinstance(value, bool) or not isinstance(value, Decimal | int):
                write_string(r, c, neutralise(str(value)), None if kind == "agent" else text_b)
            else:
                write_number(r, c, float(value), formats[c])
    wb.close()
    return out.getvalue()
