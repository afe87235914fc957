"""Hostile spreadsheets and oversized files are refused quickly, with a sentence, before
they cost the server minutes or gigabytes (issue 6, item 2). Every file here is built by
the test itself; none is bigger than a few hundred KB on disk."""

from __future__ import annotations

import io
import zipfile

import pytest

from starlevel.services import file_problems
from starlevel.services.tabular import BULK_LIMITS, UPLOAD_LIMITS, TableError, read_table

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
       'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
       'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
       'officedocument.spreadsheetml.worksheet+xml"/>{extra}</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
       '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
       '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>{extra}</Relationships>')
_SS_CT = ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
          'spreadsheetml.sharedStrings+xml"/>')
_SS_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
           'sharedStrings" Target="sharedStrings.xml"/>')


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def workbook(rows_xml: str, *, dimension: str = "A1", shared: str | None = None) -> bytes:
    """A hand-made XLSX: exactly the XML a hostile client would send."""
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             f'spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>{rows_xml}</sheetData></worksheet>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CT.format(extra=_SS_CT if shared else ""))
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS.format(extra=_SS_REL if shared else ""))
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared:
            z.writestr("xl/sharedStrings.xml", shared)
    return buf.getvalue()


def refused(data: bytes, code: str, limits=UPLOAD_LIMITS, filename: str = "x.xlsx") -> TableError:  # type: ignore[no-untyped-def]
    with pytest.raises(TableError) as info:
        table = read_table(data, filename=filename, limits=limits)
        list(table.records)
    assert info.value.code == code, info.value.problem
    return info.value


def test_a_tiny_sheet_declaring_the_whole_grid_reads_as_what_it_holds():
    # 1.5 KB declaring A1:XFD1048576 kept the server busy for minutes: the dimension is ignored.
    data = workbook(f'<row r="1">{cell("A1", "agent_id")}{cell("B1", "month")}</row>'
                    f'<row r="2">{cell("A2", "A001")}{cell("B2", "2025-06")}</row>', dimension="A1:XFD1048576")
    assert len(data) < 2000
    table = read_table(data, filename="t.xlsx")
    assert table.header == ["agent_id", "month"]
    assert list(table.records) == [(2, ["A001", "2025-06"])]


def test_cells_at_both_ends_of_the_grid_are_refused_without_taking_the_server_down():
    # calamine would need 512 GB for this 1.6 KB sheet; the child process reading it dies, not the server.
    data = workbook(f'<row r="1">{cell("A1", "agent_id")}</row>'
                    f'<row r="1048576">{cell("XFD1048576", "x")}</row>')
    err = refused(data, "file.xlsx_too_complex")
    assert "too large an area" in err.problem


def test_a_value_far_to_the_right_is_refused_by_the_column_limit():
    err = refused(workbook(f'<row r="1">{cell("A1", "agent_id")}{cell("XFD1", "x")}</row>'),
                  "file.too_many_columns")
    assert err.row == 1 and "column 16384" in err.problem and "at most 64" in err.problem


def test_a_zip_bomb_is_refused_from_the_zip_directory_before_unpacking():
    # 20 MB of shared strings packed into ~20 KB: a ratio of about 1000.
    shared = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
              '2006/main"><si><t>' + "A" * 20_000_000 + "</t></si></sst>")
    data = workbook('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=shared)
    assert len(data) < 100_000
    err = refused(data, "file.xlsx_ratio")
    assert "xl/sharedStrings.xml" in err.problem
    # The same file within the ratio still meets the size limits of its parts and of the whole.
    refused(data, "file.xlsx_member_too_big", UPLOAD_LIMITS.with_(max_ratio=10_000, max_part_bytes=10_000_000))
    refused(data, "file.xlsx_unpacked_too_big", UPLOAD_LIMITS.with_(max_ratio=10_000, max_unpacked_bytes=10_000_000))


def test_a_huge_sheet_xml_is_refused_by_its_unpacked_size():
    rows = "".join(f'<row r="{i}">{cell(f"A{i}", "x")}</row>' for i in range(1, 20_001))
    data = workbook(rows)
    refused(data, "file.xlsx_member_too_big", UPLOAD_LIMITS.with_(max_part_bytes=100_000))


def test_rows_beyond_the_limit_are_refused_in_xlsx_and_csv():
    rows = "".join(f'<row r="{i}">{cell(f"A{i}", "x")}</row>' for i in range(1, 12))
    err = refused(workbook(rows), "file.too_many_rows", UPLOAD_LIMITS.with_(max_rows=5))
    assert "more than 5 rows" in err.problem
    csv = b"a\n" + b"x\n" * 10
    refused(csv, "file.too_many_rows", UPLOAD_LIMITS.with_(max_rows=5), filename="x.csv")
    assert len(list(read_table(csv, limits=UPLOAD_LIMITS.with_(max_rows=10)).records)) == 10


def test_a_row_number_no_spreadsheet_writes_is_refused():
    data = workbook(f'<row r="1">{cell("A1", "agent_id")}</row><row r="999999999999">{cell("A999999999999", "x")}</row>')
    with pytest.raises(TableError) as info:
        read_table(data, filename="x.xlsx")
    assert info.value.code in ("file.xlsx_too_complex", "file.xlsx_broken")


def test_too_many_columns_in_csv():
    refused(b",".join(b"c%d" % i for i in range(70)) + b"\n", "file.too_many_columns", filename="x.csv")


def test_file_size_is_checked_first():
    err = refused(b"a\n1\n" * 10, "file.too_big", UPLOAD_LIMITS.with_(max_bytes=10), filename="x.csv")
    assert "at most 0.0 MB" in err.problem or "MB" in err.problem


def test_time_limit_ends_a_long_read():
    # A deadline already passed: the first check ends the read (no timing in the assertion).
    csv = b"a\n" + b"x\n" * 5000
    refused(csv, "file.too_slow", UPLOAD_LIMITS.with_(max_seconds=0), filename="x.csv")
    refused(workbook(f'<row r="1">{cell("A1", "a")}</row>'), "file.too_slow", UPLOAD_LIMITS.with_(max_seconds=0))


def test_bulk_limits_keep_the_xlsx_structure_limits():
    assert BULK_LIMITS.max_rows > UPLOAD_LIMITS.max_rows and BULK_LIMITS.max_seconds is None
    for name in ("max_columns", "max_unpacked_bytes", "max_part_bytes", "max_ratio", "child_memory_mb"):
        assert getattr(BULK_LIMITS, name) == getattr(UPLOAD_LIMITS, name)


def test_problems_render_in_chinese():
    err = refused(workbook(f'<row r="1">{cell("A1", "a")}{cell("XFD1", "x")}</row>'), "file.too_many_columns")
    zh = file_problems.render_for("zh")(err.code, err.params)
    assert zh == "第 1 行第 16384 列有值；最多读取 64 列"
    with pytest.raises(TableError) as info:
        read_table("name\nok\n".encode() + "王".encode("gbk") + b"\n")
    assert file_problems.render_for("zh")(info.value.code, info.value.params).startswith("文件不是 UTF-8 文本：第 3 行")


def test_every_file_problem_has_a_chinese_sentence_with_the_same_placeholders():
    import re

    from starlevel.web.i18n import catalog

    zh = catalog("zh")
    for code, en in file_problems.MESSAGES.items():
        text = zh.gettext(en)
        assert text != en, f"{code} has no Chinese sentence (starlevel/locale/zh/LC_MESSAGES/importer.po)"
        assert sorted(re.findall(r"\{[a-z_]+\}", en)) == sorted(re.findall(r"\{[a-z_]+\}", text)), code
