"""Read an uploaded table (CSV or XLSX) as a header and rows of strings.

Every cell comes out as a ``str`` (``""`` for an empty cell): nothing here passes through
binary floating point, so a decimal such as ``92.26`` in a spreadsheet arrives as the text
``"92.26"``. Row numbers are those a person sees in the file: the header is row 1 and a data
row is numbered by the line it starts on (for a spreadsheet, by its sheet row).

CSV must be UTF-8 (a byte-order mark is allowed); any other encoding is rejected with the
position of the first byte that is not UTF-8, because guessing an encoding silently garbles
names. XLSX is read from the first sheet by python-calamine in a child process.

Every file is read within :class:`Limits` (an upload comes from anyone signed in): its size,
for XLSX the unpacked size of the zip's parts, read from the zip directory before anything is
unpacked (zipfile stops at the declared size, so the directory cannot lie about it), the
compression ratio of each part, the number of rows and columns, and the time spent. The
sheet's declared dimension (``A1:XFD1048576`` in a 1.5 KB file) is ignored by calamine; the
memory a sheet spread over a huge area would need is bounded by the child's limits.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time as _time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson

from starlevel.services.file_problems import render

__all__ = ["Table", "TableError", "EXTRA", "Limits", "UPLOAD_LIMITS", "BULK_LIMITS", "read_table", "read_csv",
           "read_xlsx", "cell_text"]

#: Key under which a row's cells beyond the header's last column are listed (like
#: ``csv.DictReader``'s ``restkey``). Only present when such a cell is not empty.
EXTRA: None = None

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: .xls (and .doc and …)


_MB = 1024 * 1024
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class Limits:
    """What one imported file may cost. ``max_seconds`` None: no time limit."""

    max_bytes: int = 20 * _MB  # the file as uploaded
    max_rows: int = 100_000  # data rows (a month of inspections of 10,000 agents is 40,000)
    max_columns: int = 64
    max_unpacked_bytes: int = 200 * _MB  # XLSX: all parts together, unpacked
    max_part_bytes: int = 150 * _MB  # XLSX: one part, unpacked
    max_ratio: int = 100  # XLSX: unpacked / packed size of a part above ``ratio_floor``
    ratio_floor: int = 1 * _MB
    max_parts: int = 1000
    max_seconds: float | None = 60.0
    child_memory_mb: int = 2048  # XLSX: address space of the process that reads the sheet

    def with_(self, **changes: Any) -> Limits:
        return replace(self, **changes)


#: Web uploads.
UPLOAD_LIMITS = Limits()
#: The command line (an operator with the file at hand): bigger CSV files and no clock, the
#: same XLSX structure limits.
BULK_LIMITS = Limits(max_bytes=2048 * _MB, max_rows=20_000_000, max_seconds=None)


class TableError(ValueError):
    """The file cannot be read as a table. ``row`` is 0 for the file as a whole. ``code``
    and ``params`` name the problem for :func:`starlevel.services.file_problems.render`;
    ``problem`` is its English sentence."""

    def __init__(self, code: str, *, row: int = 0, column: str = "", **params: Any) -> None:
        problem = render(code, params)
        super().__init__(problem)
        self.code = code
        self.params = params
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


def size_mb(n: int) -> str:
    return f"{n / _MB:.1f}"


def check_size(size: int, limits: Limits) -> None:
    """Refuse a file bigger than ``limits`` allow (call it before reading the file)."""
    if size > limits.max_bytes:
        raise TableError("file.too_big", size=size_mb(size), limit=size_mb(limits.max_bytes))


class _Clock:
    def __init__(self, limits: Limits) -> None:
        self.limit = limits.max_seconds
        self.deadline = None if self.limit is None else _time.monotonic() + self.limit

    def check(self) -> None:
        if self.deadline is not None and _time.monotonic() > self.deadline:
            raise TableError("file.too_slow", limit=f"{self.limit:g}")


def read_table(data: bytes, *, filename: str = "", limits: Limits = UPLOAD_LIMITS) -> Table:
    """Read CSV or XLSX bytes; XLSX is recognised by its content (a zip), not only the name."""
    check_size(len(data), limits)
    if data.startswith(_XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data, limits=limits)
    if data.startswith(_XLS_MAGIC):
        raise TableError("file.xls")
    return read_csv(data, limits=limits)


# ---------------------------------------------------------------------------------- CSV


def _check_utf8(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = data.count(b"\n", 0, pos) + 1
        line_start = data.rfind(b"\n", 0, pos) + 1
        raise TableError("file.not_utf8", row=line, byte=f"{data[pos]:02X}", line=line,
                         at=pos - line_start + 1, offset=pos + 1) from None


def _clean_header(cells: list[str]) -> list[str]:
    header = [c.strip() for c in cells]
    while header and header[-1] == "":
        header.pop()  # trailing empty columns, as spreadsheets often leave them
    return header


def _check_width(cells: list[Any], line: int, limits: Limits) -> None:
    if len(cells) > limits.max_columns:
        # The last non-empty cell counts: spreadsheets pad rows with empty ones.
        n = len(cells)
        while n > limits.max_columns and (cells[n - 1] is None or not str(cells[n - 1]).strip()):
            n -= 1
        if n > limits.max_columns:
            raise TableError("file.too_many_columns", row=line, line=line, count=n, limit=limits.max_columns)


def read_csv(data: bytes, *, limits: Limits = UPLOAD_LIMITS) -> Table:
    check_size(len(data), limits)
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
        raise TableError("file.csv_header", row=reader.line_num, detail=str(exc)) from None
    if first is None:
        raise TableError("file.empty")
    header = _clean_header(first)
    header_line = reader.line_num
    _check_width(header, header_line, limits)
    newlines = data.count(b"\n")
    estimated = max(0, newlines - header_line + (0 if data.endswith(b"\n") else 1))
    return Table(header, _csv_records(reader, len(header), header_line, limits), estimated, "csv")


def _fit(cells: list[str], width: int) -> list[str]:
    """Pad a short row; drop empty cells beyond the header (keep non-empty ones)."""
    n = len(cells)
    if n < width:
        return cells + [""] * (width - n)
    while n > width and not cells[n - 1].strip():
        n -= 1
    return cells[:n]


def _csv_records(reader: Any, width: int, line: int, limits: Limits) -> Iterator[tuple[int, list[str]]]:
    clock = _Clock(limits)
    left = limits.max_rows
    try:
        for cells in reader:
            start = line + 1
            line = reader.line_num
            if len(cells) == width and cells[0]:  # the usual case
                left -= 1
            elif not any(c.strip() for c in cells):
                continue  # a blank line, or one of only commas
            else:
                left -= 1
                _check_width(cells, start, limits)
                cells = _fit(cells, width)
            if left < 0:
                raise TableError("file.too_many_rows", row=start, limit=limits.max_rows)
            if not left & 0xFFF:
                clock.check()
            yield start, cells
    except csv.Error as exc:
        raise TableError("file.csv_broken", row=reader.line_num, detail=str(exc)) from None


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


def _check_zip(data: bytes, limits: Limits) -> None:
    """Refuse a workbook whose parts unpack too big, or are packed suspiciously tight, from
    the zip directory alone (before anything is unpacked)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TableError("file.xlsx_broken", detail=str(exc)) from None
    if len(infos) > limits.max_parts:
        raise TableError("file.xlsx_too_many_parts", count=len(infos), limit=limits.max_parts)
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        if size > limits.max_part_bytes:
            raise TableError("file.xlsx_member_too_big", member=info.filename, size=size_mb(size),
                             limit=size_mb(limits.max_part_bytes))
        if size > limits.ratio_floor and size > limits.max_ratio * max(info.compress_size, 1):
            raise TableError("file.xlsx_ratio", member=info.filename, ratio=size // max(info.compress_size, 1),
                             limit=limits.max_ratio)
    if total > limits.max_unpacked_bytes:
        raise TableError("file.xlsx_unpacked_too_big", size=size_mb(total), limit=size_mb(limits.max_unpacked_bytes))


def read_xlsx(data: bytes, *, limits: Limits = UPLOAD_LIMITS) -> Table:
    """The first sheet, read by python-calamine in a child process (see
    :mod:`starlevel.services.xlsx_child`) after the zip directory passed :func:`_check_zip`."""
    if not data:
        raise TableError("file.empty")
    check_size(len(data), limits)
    _check_zip(data, limits)
    cpu = 0 if limits.max_seconds is None else int(limits.max_seconds) + 1
    args = [sys.executable, "-m", "starlevel.services.xlsx_child", str(limits.max_rows), str(limits.max_columns),
            str(limits.child_memory_mb), str(cpu)]
    # The child imports this package: make sure it finds the same copy, installed or not.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    try:
        done = subprocess.run(args, input=data, capture_output=True, timeout=limits.max_seconds, check=False,
                              env=env)
    except subprocess.TimeoutExpired:
        raise TableError("file.too_slow", limit=f"{limits.max_seconds:g}") from None
    if done.returncode != 0 or not done.stdout:
        # Killed by its memory or CPU limit (a sheet spread over a huge area), or crashed.
        raise TableError("file.xlsx_too_complex")
    answer = orjson.loads(done.stdout)
    if "code" in answer:
        raise TableError(answer["code"], row=answer.get("row", 0), **answer.get("params", {}))
    rows = [(int(number), cells) for number, cells in answer["rows"]]
    if not rows:
        raise TableError("file.empty")
    header = _clean_header(rows[0][1])
    width = len(header)
    out = [(number, _fit(cells, width)) for number, cells in rows[1:]]
    return Table(header, iter(out), len(out), "xlsx")
