"""Read an uploaded table (CSV or XLSX) as a header and rows of strings.

Every cell comes out as a ``str`` (``""`` for an empty cell): nothing here passes through
binary floating point, so a decimal such as ``92.26`` in a spreadsheet arrives as the text
``"92.26"``. Row numbers are those a person sees in the file: the header is row 1 and a data
row is numbered by the line it starts on (for a spreadsheet, by its sheet row).

CSV must be UTF-8 (a byte-order mark is allowed); any other encoding is rejected with the
position of the first byte that is not UTF-8, because guessing an encoding silently garbles
names. XLSX is read with openpyxl in read-only mode from the first sheet.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

__all__ = ["Table", "TableError", "EXTRA", "read_table", "read_csv", "read_xlsx", "cell_text"]

#: Key under which a row's cells beyond the header's last column are listed (like
#: ``csv.DictReader``'s ``restkey``). Only present when such a cell is not empty.
EXTRA: None = None

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: .xls (and .doc and …)


class TableError(ValueError):
    """The file cannot be read as a table. ``row`` is 0 for the file as a whole."""

    def __init__(self, problem: str, *, row: int = 0, column: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.row = row
        self.column = column


@dataclass
class Table:
    """``header``: the column names, trimmed. ``rows``: ``(row_number, {column: text})`` for
    every non-blank data row, lazily for CSV. ``estimated_rows``: the number of data rows
    (exact for XLSX; for CSV the number of lines after the header, an upper bound when
    there are blank lines or quoted line breaks)."""

    header: list[str]
    rows: Iterator[tuple[int, dict[Any, Any]]]
    estimated_rows: int
    format: str


def read_table(data: bytes, *, filename: str = "") -> Table:
    """Read CSV or XLSX bytes; XLSX is recognised by its content (a zip), not only the name."""
    if data.startswith(_XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data)
    if data.startswith(_XLS_MAGIC):
        raise TableError("this is an old Excel .xls workbook; save it as .xlsx or as \"CSV UTF-8\" and try again")
    return read_csv(data)


# ---------------------------------------------------------------------------------- CSV


def _check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = data.count(b"\n", 0, pos) + 1
        line_start = data.rfind(b"\n", 0, pos) + 1
        raise TableError(
            f"the file is not UTF-8 text: byte 0x{data[pos]:02X} at row {line}, byte {pos - line_start + 1} "
            f"of that row (byte {pos + 1} of the file) is not valid UTF-8; "
            "save the file as \"CSV UTF-8\" and try again",
            row=line,
        ) from None


def _clean_header(cells: list[str]) -> list[str]:
    header = [c.strip() for c in cells]
    while header and header[-1] == "":
        header.pop()  # trailing empty columns, as spreadsheets often leave them
    return header


def read_csv(data: bytes) -> Table:
    _check_utf8(data)
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        first = None
        for cells in reader:
            if any(c.strip() for c in cells):
                first = cells
                break
    except csv.Error as exc:
        raise TableError(f"the header row cannot be read as CSV: {exc}", row=reader.line_num) from None
    if first is None:
        raise TableError("the file is empty: no header row")
    header = _clean_header(first)
    header_line = reader.line_num
    newlines = data.count(b"\n")
    estimated = max(0, newlines - header_line + (0 if data.endswith(b"\n") else 1))
    return Table(header, _csv_rows(reader, header, header_line), estimated, "csv")


def _csv_rows(reader: Any, header: list[str], line: int) -> Iterator[tuple[int, dict[Any, Any]]]:
    width = len(header)
    try:
        for cells in reader:
            start = line + 1
            line = reader.line_num
            n = len(cells)
            if n == width and cells[0]:  # the usual case
                yield start, dict(zip(header, cells))
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank line, or one of only commas
            if n < width:
                cells = cells + [""] * (width - n)
            row = dict(zip(header, cells))
            extra = [c for c in cells[width:] if c.strip()]
            if extra:
                row[EXTRA] = extra
            yield start, row
    except csv.Error as exc:
        raise TableError(f"the file cannot be read as CSV here: {exc}", row=reader.line_num) from None


# --------------------------------------------------------------------------------- XLSX


def cell_text(value: Any) -> str:
    """One spreadsheet cell as text: dates ``YYYY-MM-DD``, whole numbers without ``.0``,
    other numbers as their shortest exact decimal (never a float's binary expansion)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return repr(value)
        if value.is_integer():
            return str(int(value))
        # repr() is the shortest text that reads back as the same double: the number as
        # typed in the cell (92.26 -> "92.26"), whatever digits the file stored.
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def read_xlsx(data: bytes) -> Table:
    try:
        from openpyxl import load_workbook
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise TableError("XLSX files need the openpyxl package") from exc
    if not data:
        raise TableError("the file is empty: no header row")
    with warnings.catch_warnings():
        # openpyxl warns about styles, data validation and the like: none of it matters here.
        warnings.simplefilter("ignore")
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise TableError(f"the file cannot be read as an XLSX workbook: {exc}") from None
        try:
            if not wb.worksheets:
                raise TableError("the workbook has no sheet")
            sheet = wb.worksheets[0]
            rows: list[tuple[int, list[str]]] = []
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [cell_text(v) for v in values]
                if any(c.strip() for c in cells):
                    rows.append((number, cells))
        finally:
            wb.close()
    if not rows:
        raise TableError("the file is empty: no header row")
    header_number, first = rows[0]
    header = _clean_header(first)
    width = len(header)
    out: list[tuple[int, dict[Any, Any]]] = []
    for number, cells in rows[1:]:
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        row: dict[Any, Any] = dict(zip(header, cells))
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            row[EXTRA] = extra
        out.append((number, row))
    return Table(header, iter(out), len(out), "xlsx")
