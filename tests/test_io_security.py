"""Input and output security of the files StarLevel reads and writes (issue 6, items 3
and 5; issue 9, item 4): formula cells neutralised in every export, unsafe agent IDs and
out-of-range numbers refused at import, inspectors upload only in their own name, and the
problems listed in the reader's language."""

from __future__ import annotations

from starlevel.services import payroll as payroll_service
from starlevel.web.exports import payroll_labels

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from starlevel.cli import cli
from starlevel.db.engine import session_scope
from starlevel.services import hr
from starlevel.services import inspections as insp_svc
from starlevel.services import rulebooks
from starlevel.services.export import ladder_csv_text, spreadsheet_safe
from starlevel.services.importer import ImportRejected, import_table, rejection_lines
from starlevel.services.recompute import recompute

TODAY = date(2026, 11, 25)
HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "@SUM(1)", "-2+3", "\tx", "\rx", "=1"]
AGENTS = ("agent_id,name,track,team,hired_on,left_on,initial_level,probation_months\n"
          'F1,"=HYPERLINK(""http://x"",""y"")",phone,+1+1,2024-01-05,,,\n'
          "F2,@SUM(1),online,-2+3,2024-01-05,,,\n")
METRICS = ("agent_id,month,satisfaction,efficiency,attitude,complaints\n"
           "F1,2024-02,90,90,4,0\nF2,2024-02,90,90,4,0\n")


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_like_text_gets_a_leading_quote(value):
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["-2.50", "+3", "-0.5", "1e3", "A001", "Ann", "", "中文", "2024-06"])
def test_numbers_and_plain_text_stay_as_they_are(value):
    assert spreadsheet_safe(value) == value


def _import(factory, kind: str, text: str, **kw):  # type: ignore[no-untyped-def]
    with session_scope(factory) as s:
        rulebooks.ensure_default(s)
        return import_table(s, kind, text.encode(), filename=f"{kind}.csv", actor="test",
                            rulebook=rulebooks.current(s), today=TODAY, **kw)


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_payroll_and_ladder_csv_neutralise_names_and_teams(session_factory):
    _import(session_factory, "agents", AGENTS)
    _import(session_factory, "metrics", METRICS)
    with session_scope(session_factory) as s:
        recompute(s)
        payroll = b"".join(payroll_service.csv_bytes(payroll_service.load(s, "2024-02"), payroll_labels("en"))).decode("utf-8-sig")
        web_ladder = b"".join(hr.ladder_csv_stream(s)).decode("utf-8")
        cli_ladder = ladder_csv_text(s)
    rows = _cells(payroll)
    f1 = next(r for r in rows if "F1" in r)
    f2 = next(r for r in rows if "F2" in r)
    assert "'=HYPERLINK(\"http://x\",\"y\")" in f1 and "'+1+1" in f1
    assert "'@SUM(1)" in f2 and "'-2+3" in f2
    for text in (web_ladder, cli_ladder):
        teams = {r[0]: r[18] for r in _cells(text)[1:]}
        assert teams == {"F1": "'+1+1", "F2": "'-2+3"}
    # Nothing else in the files starts like a formula.
    for text in (payroll, web_ladder, cli_ladder):
        for row in _cells(text):
            for c in row:
                assert not c.startswith(("=", "+", "@", "\t", "\r")) and not (
                    c.startswith("-") and not c.replace("-", "", 1).replace(".", "", 1).isdigit()), c


@pytest.mark.parametrize("agent_id", ["=1+1", "+A1", "-A1", "@A1", "A 1", "A1;2", ".A1", "A/1", "王1"])
def test_unsafe_agent_ids_are_refused_at_import(session_factory, agent_id):
    text = ("agent_id,name,track,team,hired_on\n" + f'"{agent_id}",Ann,phone,T,2024-01-05\n')
    with pytest.raises(ImportRejected) as info:
        _import(session_factory, "agents", text)
    (e,) = info.value.errors
    assert (e.row, e.column, e.code) == (2, "agent_id", "cell.unsafe_id")
    assert "is not a safe agent ID" in e.problem
    assert e.text("zh").endswith("不是安全的工号：只能使用字母、数字、“-”、“_”和“.”，并以字母或数字开头")


def test_whole_numbers_beyond_their_range_are_row_errors_not_crashes(session_factory):
    _import(session_factory, "agents", "agent_id,name,track,team,hired_on\nB1,Bo,phone,T,2024-01-05\n")
    huge = "9" * 30
    with pytest.raises(ImportRejected) as info:
        _import(session_factory, "metrics",
                f"agent_id,month,satisfaction,efficiency,attitude,complaints\nB1,2024-02,90,90,4,{huge}\n")
    (e,) = info.value.errors
    assert (e.row, e.column, e.code) == (2, "complaints", "input.too_long")
    with pytest.raises(ImportRejected) as info:
        _import(session_factory, "agents",
                f"agent_id,name,track,team,hired_on,probation_months\nB2,Bo,phone,T,2024-01-05,{huge}\n")
    assert [(e.row, e.column, e.code) for e in info.value.errors] == [(2, "probation_months", "number.too_big")]


INSPECTIONS = ("inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
               "U1,B1,2024-02-03,chat,r1,{who},\n")


def test_an_inspector_uploads_only_in_their_own_name(session_factory):
    _import(session_factory, "agents", "agent_id,name,track,team,hired_on\nB1,Bo,phone,T,2024-01-05\n")
    with session_scope(session_factory) as s:
        with pytest.raises(ImportRejected) as info:
            insp_svc.upload(s, "inspections", INSPECTIONS.format(who="qa2").encode(), filename="i.csv",
                            actor="qa", today=TODAY, role="inspector")
    (e,) = info.value.errors
    assert (e.row, e.column, e.code) == (2, "inspector", "inspection.not_yours")
    assert "'qa2' is not you" in e.problem
    assert e.text("zh").startswith("'qa2' 不是您")
    with session_scope(session_factory) as s:  # HR moves records over in anyone's name
        result = insp_svc.upload(s, "inspections", INSPECTIONS.format(who="qa2").encode(), filename="i.csv",
                                 actor="hr", today=TODAY, role="hr")
        assert result.inserted == 1
    with session_scope(session_factory) as s:  # and the inspector in their own
        result = insp_svc.upload(s, "inspections", INSPECTIONS.format(who="qa").replace("U1", "U2")
                                 .replace("r1", "r2").encode(), filename="i.csv", actor="qa", today=TODAY)
        assert result.inserted == 1


def test_rejection_lines_in_both_languages(session_factory):
    with pytest.raises(ImportRejected) as info:
        _import(session_factory, "agents", "agent_id,name,track,team,hired_on,colour\n,Bo,bus,T,2024-13-01,\n")
    en = rejection_lines("a.csv", info.value.errors, "en")
    zh = rejection_lines("a.csv", info.value.errors, "zh")
    assert en[0] == f"a.csv: rejected, nothing was written. {len(info.value.errors)} problem(s):"
    assert en[1] == "  header, column colour: is not a column of agents files (the columns are: agent_id, name, " \
                    "track, team, hired_on, left_on, initial_level, probation_months)"
    assert zh[0] == f"a.csv：已拒绝，未写入任何数据。共 {len(info.value.errors)} 个问题："
    assert zh[1].startswith("  表头，colour 列：不是 agents 文件的列")


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_cli_import_lists_problems_in_its_language(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    bad = _write(tmp_path, "agents.csv", "agent_id,name,track,team,hired_on\n=1+1,Bo,bus,T,2024-13-01\n")
    runner = CliRunner()
    en = runner.invoke(cli, ["import", "agents", bad])
    assert en.exit_code == 1
    assert "row 2, column agent_id: '=1+1' is not a safe agent ID" in en.output
    assert "row 2, column hired_on: '2024-13-01' is not a real date (YYYY-MM-DD)" in en.output
    zh = runner.invoke(cli, ["import", "agents", bad, "--lang", "zh"])
    assert zh.exit_code == 1
    assert "agents.csv：已拒绝，未写入任何数据。共 3 个问题：" in zh.output
    assert "第 2 行，hired_on 列：'2024-13-01' 不是真实存在的日期（YYYY-MM-DD）" in zh.output
    assert "第 2 行，track 列：'bus' 不是规则手册中的序列" in zh.output


def test_cli_import_refuses_a_file_over_the_size_limit_before_reading_it(db_url, monkeypatch, tmp_path):
    from starlevel.services import tabular

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setattr(tabular, "BULK_LIMITS", tabular.BULK_LIMITS.with_(max_bytes=10))
    path = _write(tmp_path, "agents.csv", "agent_id,name,track,team,hired_on\nB1,Bo,phone,T,2024-01-05\n")
    result = CliRunner().invoke(cli, ["import", "agents", path])
    assert result.exit_code == 1 and "at most 0.0 MB can be imported at once" in result.output


def test_the_first_upload_into_a_fresh_database_loads_the_default_rules(session_factory):
    # It answered 500 ("no rulebook loaded") before.
    with session_scope(session_factory) as s:
        result = insp_svc.upload(s, "agents", b"agent_id,name,track,team,hired_on\nB1,Bo,phone,T,2024-01-05\n",
                                 filename="a.csv", actor="hr", today=TODAY, role="hr")
        assert result.inserted == 1
