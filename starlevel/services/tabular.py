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
    """``header``: the column names, trimmed. ``records``: ``(row_number, cells)`` for every
    non-blank data row, lazily for CSV; ``cells`` is a list of texts in header order, padded
    to the header's width, and longer only when the row has non-empty cells beyond the
    header. ``rows`` gives the same rows as dicts. ``estimated_rows``: the number of data
    rows (exact for XLSX; for CSV the number of lines after the header, an upper bound when
    there are blank lines or quoted line breaks). Iterate only one of ``records``/``rows``."""

    header: list[str]
    records: Iterator[tuple[int, list[str]]]
    estimated_rows: int
    format: str

    @property
    def rows(self) -> Iterator[tuple[int, dict[Any, Any]]]:
        """``(row_number, {column: text})``; cells beyond the header under :data:`EXTRA`."""
        header = self.header
        width = len(header)
        for number, cells in self.records:
            row: dict[Any, Any] = dict(zip(header, cells))
            if len(cells) > width:
                row[EXTRA] = cells[width:]
            yield number, row


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
    return Table(header, _csv_records(reader, len(header), header_line), estimated, "csv")


def _fit(cells: list[str], width: int) -> list[str]:
    """Pad a short row; drop empty cells beyond the header (keep non-empty ones)."""
    n = len(cells)
    if n < width:
        return cells + [""] * (width - n)
    while n > width and not cells[n - 1].strip():
        n -= 1
    return cells[:n]


def _csv_records(reader: Any, width: int, line: int) -> Iterator[tuple[int, list[str]]]:
    try:
        for cells in reader:
            start = line + 1
            line = reader.line_num
            if len(cells) == width and cells[0]:  # the usual case
                yield start, cells
                continue
            if not any(c.strip() for c in cells):
                continue  # a blank line, or one of only commas
            yield start, _fit(cells, width)
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
    header = _clean_header(rows[0][1])
    width = len(header)
    out = [(number, _fit(cells, width)) for number, cells in rows[1:]]
    return Table(header, iter(out), len(out), "xlsx")
