"""How long reading hostile and real uploads takes, and how big they are (issue 6, item 2).

Builds every file itself (nothing downloaded), reads each with the web upload limits and
prints one line per file: its size, the answer (rows read or the problem's code) and the
seconds it took. Run from the repository root:

    .venv/bin/python bench/uploads.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlevel.services.tabular import UPLOAD_LIMITS, TableError, read_table  # noqa: E402
from tests.test_upload_limits import cell, workbook  # noqa: E402


def real_xlsx(rows: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["inspection_id", "agent_id", "contact_on", "channel", "contact_ref", "inspector", "defect_codes"])
    for i in range(rows):
        ws.append([f"I{i:07d}", f"A{i % 10000:05d}", f"2024-05-{i % 28 + 1:02d}", "phone", f"C{i}", "qa1",
                   "T1-01;T2-03" if i % 3 else ""])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def files(rows: int) -> dict[str, tuple[bytes, str]]:
    shared = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
              '2006/main"><si><t>' + "A" * 200_000_000 + "</t></si></sst>")
    many = "".join(f'<row r="{i}">{cell(f"A{i}", "x")}</row>' for i in range(1, 400_001))
    csv = ("inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n" + "".join(
        f"I{i:07d},A{i % 10000:05d},2024-05-{i % 28 + 1:02d},phone,C{i},qa1,T1-01\n" for i in range(rows))).encode()
    return {
        "declares A1:XFD1048576": (workbook(f'<row r="1">{cell("A1", "agent_id")}</row>',
                                            dimension="A1:XFD1048576"), "x.xlsx"),
        "cells in A1 and XFD1048576": (workbook(f'<row r="1">{cell("A1", "a")}</row>'
                                                f'<row r="1048576">{cell("XFD1048576", "x")}</row>'), "x.xlsx"),
        "200 MB of shared strings": (workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=shared),
                                     "x.xlsx"),
        "400,000 rows of sheet XML": (workbook(many), "x.xlsx"),
        f"real inspections, {rows:,} rows (XLSX)": (real_xlsx(rows), "x.xlsx"),
        f"real inspections, {rows:,} rows (CSV)": (csv, "x.csv"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    for name, (data, filename) in files(args.rows).items():
        t = time.perf_counter()
        try:
            table = read_table(data, filename=filename, limits=UPLOAD_LIMITS)
            answer = f"{sum(1 for _ in table.records):,} rows"
        except TableError as exc:
            answer = exc.code
        print(f"{name:40} {len(data) / 1024:10,.1f} KB  {answer:28} {time.perf_counter() - t:6.2f} s")


if __name__ == "__main__":
    main()
