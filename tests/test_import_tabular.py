"""Reading CSV and XLSX into text cells (no database needed)."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from decimal import Decimal

import pytest

from starlevel.services.tabular import EXTRA, TableError, cell_text, read_table


def rows_of(data: bytes, filename: str = "x.csv") -> tuple[list[str], list[tuple[int, dict]]]:
    table = read_table(data, filename=filename)
    return table.header, list(table.rows)


def test_header_is_trimmed_and_rows_are_numbered_as_lines():
    data = b'\xef\xbb\xbf a , b ,c,,\r\n1,2,3\r\n\r\n,,\r\n4,"two\nlines",6\r\n7,8,9\r\n'
    header, rows = rows_of(data)
    assert header == ["a", "b", "c"]
    # Line 3 is blank and line 4 holds only commas: skipped. Line 5 starts a quoted line break.
    assert rows == [
        (2, {"a": "1", "b": "2", "c": "3"}),
        (5, {"a": "4", "b": "two\nlines", "c": "6"}),
        (7, {"a": "7", "b": "8", "c": "9"}),
    ]


def test_short_rows_are_padded_and_extra_values_kept_apart():
    header, rows = rows_of(b"a,b,c\n1\n1,2,3,,\n1,2,3,x\n")
    assert rows[0] == (2, {"a": "1", "b": "", "c": ""})
    assert rows[1] == (3, {"a": "1", "b": "2", "c": "3"})
    assert rows[2][1][EXTRA] == ["x"]


def test_empty_and_blank_files():
    for data in (b"", b"\xef\xbb\xbf", b"\n\n", b" , \n"):
        with pytest.raises(TableError, match="the file is empty: no header row"):
            read_table(data)


def test_not_utf8_names_the_first_bad_byte():
    data = "name\nok\n".encode() + "王".encode("gbk") + b"\n"
    with pytest.raises(TableError) as info:
        read_table(data)
    assert info.value.row == 3
    assert "byte 0x" in info.value.problem and "row 3, byte 1" in info.value.problem


def test_broken_quoting_is_reported_with_its_line():
    table = read_table(b'a,b\n1,2\n3,"x"y\n')
    with pytest.raises(TableError) as info:
        list(table.rows)
    assert info.value.row == 3


def test_estimated_rows_is_an_upper_bound():
    assert read_table(b"a\n1\n2\n3").estimated_rows == 3
    assert read_table(b"a\n1\n2\n3\n").estimated_rows == 3


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  x ", "  x "),
        (4, "4"),
        (4.0, "4"),
        (92.26, "92.26"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-05, "0.00001"),
        (1e20, "100000000000000000000"),
        (Decimal("92.50"), "92.50"),
        (True, "TRUE"),
        (date(2024, 2, 29), "2024-02-29"),
        (datetime(2024, 2, 29, 0, 0), "2024-02-29"),
        (datetime(2024, 2, 29, 8, 30), "2024-02-29 08:30:00"),
        (time(8, 30), "08:30:00"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_cells_become_exact_text():
    data = _xlsx([[" agent_id", "month", "satisfaction", "attitude", "hired_on"],
                  ["A1", "2024-02", 92.26, 4.0, date(2024, 1, 5)],
                  [None, None, None, None, None],
                  [1001, "2024-03", 95, 3, datetime(2024, 1, 5)]])
    header, rows = rows_of(data, "whatever.bin")  # recognised by content
    assert header == ["agent_id", "month", "satisfaction", "attitude", "hired_on"]
    assert rows == [
        (2, {"agent_id": "A1", "month": "2024-02", "satisfaction": "92.26", "attitude": "4", "hired_on": "2024-01-05"}),
        (4, {"agent_id": "1001", "month": "2024-03", "satisfaction": "95", "attitude": "3", "hired_on": "2024-01-05"}),
    ]
    for _, row in rows:
        assert all(isinstance(v, str) for v in row.values())


def test_xlsx_empty_sheet_and_broken_file():
    with pytest.raises(TableError, match="the file is empty"):
        read_table(_xlsx([]))
    with pytest.raises(TableError, match="cannot be read as an XLSX workbook"):
        read_table(b"PK\x03\x04 not really a zip")
    with pytest.raises(TableError, match="old Excel .xls workbook"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), filename="a.xls")
