"""Payroll export (services.payroll): the XLSX is a real spreadsheet (typed numbers with a
money format, frozen header, autofilter, team subtotals and grand total as numbers),
the CSV has the same rows; final for a closed month, provisional for an open one;
headers in the chosen language; formula-like text is neutralised."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow
from starlevel.services import months, payroll, rulebooks
from starlevel.services.importer import import_table
from starlevel.web.exports import payroll_labels
from tests.seed import seed_company

EN = payroll_labels("en")
ZH = payroll_labels("zh")


@pytest.fixture
def seeded(session_factory):  # type: ignore[no-untyped-def]
    seed_company(session_factory)
    with session_scope(session_factory) as s:
        import_table(s, "agents", "agent_id,name,track,team,hired_on,left_on,initial_level,probation_months\n"
                     "A666,=HYPERLINK(\"http://x\"),phone,+Team 3,2025-06-01,,,\n".encode(),
                     filename="a.csv", actor="hr", rulebook=rulebooks.current(s), today=date(2026, 11, 25))
        from starlevel.services.recompute import recompute
        recompute(s)
    return session_factory


def _sheet(data: bytes):  # type: ignore[no-untyped-def]
    return openpyxl.load_workbook(io.BytesIO(data)).active


def _stored_total(s, month: str) -> Decimal:  # type: ignore[no-untyped-def]
    return sum((t for t in s.scalars(select(MonthResultRow.total_pay).where(MonthResultRow.month == month)) if t),
               Decimal(0))


def test_xlsx_of_an_open_month_is_a_provisional_typed_spreadsheet(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        ws = _sheet(payroll.xlsx_bytes(payroll.load(s, "2025-05"), EN))
        total = _stored_total(s, "2025-05")
    assert ws["A1"].value == "Payroll 2025-05" and ws["A2"].value.startswith("PROVISIONAL")
    header = [c.value for c in ws[4]]
    assert header == [EN[k] for k in payroll.COLUMNS]
    assert ws.freeze_panes == "D5" and ws.auto_filter.ref.startswith("A4:")
    col = {k: i for i, k in enumerate(payroll.COLUMNS)}
    body = [[c for c in row] for row in ws.iter_rows(min_row=5)]
    agents = [r for r in body if r[0].value == "agent"]
    assert [r[col["agent_id"]].value for r in agents] == ["A001", "A003", "A002"]
    first = agents[0][col["total_pay"]]
    assert first.data_type == "n" and first.number_format == "#,##0.00" and first.value == 2142
    assert isinstance(agents[0][col["level"]].value, int)
    subtotals = [r for r in body if str(r[0].value).startswith("Subtotal")]
    assert [r[0].value for r in subtotals] == ["Subtotal Team 1", "Subtotal Team 2"]
    assert all(r[col["total_pay"]].data_type == "n" for r in subtotals)
    grand = body[-1]
    assert grand[0].value == "Grand total" and Decimal(str(grand[col["total_pay"]].value)) == total
    assert sum(Decimal(str(r[col["total_pay"]].value)) for r in subtotals) == total
    assert {r[col["payroll"]].value for r in body} == {"provisional"}


def test_csv_has_the_same_rows_and_zh_headers(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        data = payroll.load(s, "2025-05")
        xlsx_rows = [[c.value for c in row] for row in _sheet(payroll.xlsx_bytes(data, ZH)).iter_rows(min_row=4)]
        text = b"".join(payroll.csv_bytes(data, ZH)).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == xlsx_rows[0] and rows[0][1] == "工号" and "暂定" in rows[1]
    assert [r[0] for r in rows] == [r[0] for r in xlsx_rows]
    assert [r[1] for r in rows] == [r[1] or "" for r in xlsx_rows]


def test_formula_like_text_is_neutralised(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        data = payroll.load(s, "2025-06")
        text = b"".join(payroll.csv_bytes(data, EN)).decode("utf-8-sig")
        ws = _sheet(payroll.xlsx_bytes(data, EN))
    assert "'=HYPERLINK" in text and "'+Team 3" in text
    assert ',=HYPERLINK' not in text and ",+Team" not in text
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.value.startswith("'=") and c.data_type == "s" for c in cells)


def test_closed_month_exports_the_payroll_as_paid(seeded) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        paid = _stored_total(s, "2025-05")
        months.close_month(s, "2025-05", actor="hr")
    with session_scope(seeded) as s:
        # Even if a stored result were changed behind the services' back, the export is what was paid.
        s.execute(update(MonthResultRow).where(MonthResultRow.month == "2025-05").values(total_pay=Decimal("1")))
        data = payroll.load(s, "2025-05")
        ws = _sheet(payroll.xlsx_bytes(data, EN))
    assert data.final and ws["A2"].value.startswith("FINAL")
    col = payroll.COLUMNS.index("total_pay")
    last = list(ws.iter_rows(min_row=5))[-1]
    assert Decimal(str(last[col].value)) == paid and last[payroll.COLUMNS.index("payroll")].value == "final"


def test_cli_export_payroll(seeded, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from starlevel.cli import cli

    runner = CliRunner()
    out = tmp_path / "p.xlsx"
    r = runner.invoke(cli, ["export", "payroll", "--month", "2025-05", "--format", "xlsx", "--out", str(out),
                            "--lang", "zh"], env={"DATABASE_URL": db_url})
    assert r.exit_code == 0, r.output
    assert _sheet(out.read_bytes())["A4"].value == ZH["line"]
    r = runner.invoke(cli, ["export", "payroll", "--month", "2025-05"], env={"DATABASE_URL": db_url})
    assert r.exit_code == 0 and "Grand total" in r.output and "provisional" in r.output
    assert runner.invoke(cli, ["export", "payroll", "--month", "2025-05", "--format", "xlsx"],
                         env={"DATABASE_URL": db_url}).exit_code == 2
    missing = runner.invoke(cli, ["export", "payroll", "--month", "1999-01"], env={"DATABASE_URL": db_url})
    assert missing.exit_code == 1 and "1999-01 has not been evaluated" in missing.output


def _reference_xlsx(data: payroll.Payroll, labels) -> bytes:  # type: ignore[no-untyped-def]
    """The plain cell-by-cell writer the export started as: the fast one must match it."""
    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet(labels["sheet"][:31])
    fmt = {"money": {"num_format": "#,##0.00"}, "dec2": {"num_format": "0.00"}, "pct": {"num_format": "0%"}}
    kinds = {c: "money" for c in payroll.MONEY} | {"composite": "dec2", "coefficient": "dec2", "probation_factor": "pct"}
    ws.write_string(0, 0, labels["title"].format(month=data.month))
    ws.write_string(1, 0, labels["final_note"] if data.final else labels["provisional_note"])
    for c, key in enumerate(payroll.COLUMNS):
        ws.write_string(3, c, labels[key])
    r = 3
    for kind, cells in payroll.rows(data, labels):
        r += 1
        strong = kind != "agent"
        for c, (key, value) in enumerate(zip(payroll.COLUMNS, cells)):
            if value is None or value == "":
                if strong:
                    ws.write_blank(r, c, None, wb.add_format({"bold": True, "top": 1}))
                continue
            if isinstance(value, Decimal | int) and not isinstance(value, bool):
                spec = dict(fmt[kinds[key]]) if key in kinds and (not strong or key in payroll.MONEY) else {}
                ws.write_number(r, c, float(value), wb.add_format(spec | ({"bold": True, "top": 1} if strong else {})))
            else:
                ws.write_string(r, c, payroll.neutralise(str(value)),
                                wb.add_format({"bold": True, "top": 1}) if strong else None)
    wb.close()
    return out.getvalue()


def _cells(ws, first_row: int):  # type: ignore[no-untyped-def]
    return [[(c.value, c.data_type, c.number_format, bool(c.font.b), c.border.top.style)
             for c in row] for row in ws.iter_rows(min_row=first_row)]


@pytest.mark.parametrize("closed", [False, True])
def test_fast_xlsx_writer_matches_the_plain_one_cell_for_cell(seeded, closed: bool) -> None:  # type: ignore[no-untyped-def]
    with session_scope(seeded) as s:
        if closed:
            months.close_month(s, "2025-05", actor="hr")
    with session_scope(seeded) as s:
        for month, lang in (("2025-05", EN), ("2025-06", ZH)):
            data = payroll.load(s, month)
            fast, plain = _sheet(payroll.xlsx_bytes(data, lang)), _sheet(_reference_xlsx(data, lang))
            n = len(list(payroll.rows(data, lang)))  # agents, team subtotals, grand total
            assert n > len(data.lines) + 1
            assert _cells(fast, 5) == _cells(plain, 5) and len(_cells(fast, 5)) == n
            assert [c.value for row in fast.iter_rows(max_row=4) for c in row] == \
                   [c.value for row in plain.iter_rows(max_row=4) for c in row]
            assert fast.auto_filter.ref == f"A4:P{4 + n}" and fast.freeze_panes == "D5"
