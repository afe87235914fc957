"""End to end through the `starlevel` command: import the three files, export the
ladder, and find the spec's worked examples (§8) in it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from starlevel.cli import cli
from tests.seed import months


@pytest.fixture
def run(db_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, input: str | None = None):  # type: ignore[no-untyped-def]
        result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def ladder(run, tmp_path: Path, month: str | None = None) -> dict[tuple[str, str], dict[str, str]]:  # type: ignore[no-untyped-def]
    out = tmp_path / "ladder.csv"
    args = ["export", "ladder", "--format", "csv", "--out", str(out)]
    if month:
        args += ["--month", month]
    run(*args)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    return {(r["agent_id"], r["month"]): r for r in rows}


# ----------------------------------------------------------------------------- §8 composite

def test_composite_example_and_pay(run, tmp_path):
    agents = "agent_id,name,track,team,hired_on,left_on,initial_level,probation_months\nP1,Pat,phone,T,2024-01-05,,,\n"
    insp = (
        "inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
        "a1,P1,2024-02-03,chat,r1,qa,T1-01\n"
        "a2,P1,2024-02-04,chat,r2,qa,\n"
        "a3,P1,2024-02-05,chat,r3,qa,T1-02;T2-05\n"
        "b1,P1,2024-05-03,chat,r4,qa,T1-01\n"
        "b2,P1,2024-05-04,chat,r5,qa,\n"
        "b3,P1,2024-05-05,chat,r6,qa,T1-02;T2-05\n"
        "c1,P1,2024-06-03,chat,r7,qa,T1-01;T1-01\n"
        "c2,P1,2024-06-04,chat,r8,qa,\n"
        "c3,P1,2024-06-05,chat,r9,qa,\n"
    )
    metrics = (
        "agent_id,month,satisfaction,efficiency,attitude,complaints\n"
        "P1,2024-02,95,92.5,4,0\n"
        "P1,2024-05,95,92.5,4,0\n"
        "P1,2024-06,92.9,92.26,4,0\n"
    )
    run("import", "agents", write(tmp_path, "agents.csv", agents))
    run("import", "inspections", write(tmp_path, "inspections.csv", insp))
    run("import", "metrics", write(tmp_path, "metrics.csv", metrics))
    rows = ladder(run, tmp_path)
    feb, may, jun = rows[("P1", "2024-02")], rows[("P1", "2024-05")], rows[("P1", "2024-06")]
    assert feb["quality"] == "97.00"
    assert feb["composite"] == "92.93"
    # Probation month (tenure 2): 0.80 × (1580 + 420×1.1)
    assert feb["total_pay"] == "1633.60"
    assert may["composite"] == "92.93"
    assert may["total_pay"] == "2142.00"  # 1580 + 462 + 100 after probation
    assert (may["pay_grade"], may["fixed_pay"], may["performance_pay"], may["allowance"]) == ("A05", "1580.00", "462.00", "100.00")
    # quality 98.67 from 96, 100, 100 and a composite that binary floats would get wrong
    assert jun["quality"] == "98.67"
    # March and April have no data: incomplete, no composite and no pay, pay grade still shown.
    mar = rows[("P1", "2024-03")]
    assert mar["composite"] == "" and mar["total_pay"] == "" and mar["pay_grade"] == "A05"
    assert mar["level"] == "1"


def test_composite_93_65_needs_decimals(run, tmp_path):
    agents = "agent_id,name,track,team,hired_on\nP2,Pia,phone,T,2024-01-05\n"
    insp = "inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n" + "".join(
        f"x{i},P2,2024-06-0{i},phone,r{i},qa,\n" for i in range(1, 4)
    )
    metrics = "agent_id,month,satisfaction,efficiency,attitude,complaints\nP2,2024-06,92.9,92.26,4,0\n"
    run("import", "agents", write(tmp_path, "a.csv", agents))
    run("import", "inspections", write(tmp_path, "i.csv", insp))
    run("import", "metrics", write(tmp_path, "m.csv", metrics))
    assert ladder(run, tmp_path, "2024-06")[("P2", "2024-06")]["composite"] == "93.65"


# ----------------------------------------------------------------------------- §8 climb and fall

def climb_and_fall_files(tmp_path: Path, *, red_line_in_jan: bool) -> tuple[str, str, str]:
    agents = ["agent_id,name,track,team,hired_on,left_on,initial_level,probation_months"]
    agents.append("S1,Subject,phone,T,2024-01-05,,,")
    for i in range(2, 11):  # nine colleagues with no data: headcount 10, caps 5 (2★) and 3 (3★)
        agents.append(f"S{i},Colleague {i},phone,T,2024-01-05,,,")
    insp = ["inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes"]
    metrics = ["agent_id,month,satisfaction,efficiency,attitude,complaints"]
    for m in months("2024-01", 15):  # 2024-01 … 2025-03
        for k in range(3):
            codes = "T3-01" if (red_line_in_jan and m == "2025-01" and k == 0) else ""
            insp.append(f"{m}-{k},S1,{m}-1{k},phone,{m}-ref{k},qa,{codes}")
        if m == "2025-01":
            metrics.append(f"S1,{m},30,40,4,0")  # composite 68.00 (quality 100)
        elif m == "2025-02":
            metrics.append(f"S1,{m},35,30,4,0")  # composite 66.50
        else:
            metrics.append(f"S1,{m},82,82,4,0")  # composite 88.90
    p = tmp_path
    return (
        write(p, "agents.csv", "\n".join(agents) + "\n"),
        write(p, "inspections.csv", "\n".join(insp) + "\n"),
        write(p, "metrics.csv", "\n".join(metrics) + "\n"),
    )


def test_climb_and_fall(run, tmp_path):
    a, i, m = climb_and_fall_files(tmp_path, red_line_in_jan=False)
    for kind, path in (("agents", a), ("inspections", i), ("metrics", m)):
        run("import", kind, path)
    rows = ladder(run, tmp_path)
    events = {mo: rows[("S1", mo)]["event"] for mo in months("2024-01", 15)}
    assert rows[("S1", "2024-06")]["composite"] == "88.90"
    assert [mo for mo, e in events.items() if e != "none"] == ["2024-09", "2024-12", "2025-02"]
    assert events["2024-09"] == "promote" and rows[("S1", "2024-10")]["level"] == "2"
    assert events["2024-12"] == "promote" and rows[("S1", "2025-01")]["level"] == "3"
    assert events["2025-02"] == "demote" and rows[("S1", "2025-03")]["level"] == "2"
    assert rows[("S1", "2025-03")]["pay_grade"] == "A06"
    # The colleagues have no data: every month incomplete, nothing happens, level 1.
    assert {rows[(f"S{k}", "2024-12")]["event"] for k in range(2, 11)} == {"none"}
    assert rows[("S1", "2024-09")]["reason"]  # every decision carries an explanation


def test_climb_and_fall_with_red_line(run, tmp_path):
    a, i, m = climb_and_fall_files(tmp_path, red_line_in_jan=True)
    for kind, path in (("agents", a), ("inspections", i), ("metrics", m)):
        run("import", kind, path)
    rows = ladder(run, tmp_path)
    assert rows[("S1", "2025-01")]["event"] == "demote"
    assert rows[("S1", "2025-02")]["level"] == "2"


def test_explain_and_reimport(run, tmp_path):
    a, i, m = climb_and_fall_files(tmp_path, red_line_in_jan=False)
    for kind, path in (("agents", a), ("inspections", i), ("metrics", m)):
        run("import", kind, path)
    before = (tmp_path / "before.csv")
    run("export", "ladder", "--out", str(before))
    again = run("import", "inspections", i)
    assert "0 new, 0 changed" in again.output
    after = tmp_path / "after.csv"
    run("export", "ladder", "--out", str(after))
    assert before.read_bytes() == after.read_bytes()
    out = run("explain", "S1", "--month", "2024-09").output
    assert "2024-09" in out and "2024-07" in out  # the window's months are named
    zh = run("explain", "S1", "--month", "2025-02", "--lang", "zh").output
    assert "降级" in zh
    missing = run("explain", "NOPE", ok=False)
    assert missing.exit_code != 0


def test_bad_file_exits_nonzero_and_writes_nothing(run, tmp_path):
    a, i, m = climb_and_fall_files(tmp_path, red_line_in_jan=False)
    run("import", "agents", a)
    bad = write(tmp_path, "bad.csv",
                "inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
                "z1,S1,2024-02-30,chat,r1,qa,\n"
                "z2,NOBODY,2024-02-03,chat,r2,qa,\n"
                "z3,S1,2024-02-03,chat,r3,qa,T9-99\n")
    result = run("import", "inspections", bad, ok=False)
    assert result.exit_code != 0
    assert "row 2" in result.output and "row 3" in result.output and "row 4" in result.output
    rows = ladder(run, tmp_path)
    assert all(r["composite"] == "" for r in rows.values())


def test_recompute_from_equals_full(run, tmp_path):
    a, i, m = climb_and_fall_files(tmp_path, red_line_in_jan=False)
    for kind, path in (("agents", a), ("inspections", i), ("metrics", m)):
        run("import", kind, path, "--no-recompute")
    run("recompute")
    full = tmp_path / "full.csv"
    run("export", "ladder", "--out", str(full))
    run("recompute", "--from", "2024-11")
    part = tmp_path / "part.csv"
    run("export", "ladder", "--out", str(part))
    assert full.read_bytes() == part.read_bytes()
    bad = run("recompute", "--from", "2024-13", ok=False)
    assert bad.exit_code != 0


def test_void_commands_record_the_reason_and_re_evaluate(run, tmp_path, db_url):
    from sqlalchemy import select

    from starlevel.db.engine import make_engine, make_session_factory
    from starlevel.db.models import AuditEntry, InspectionDefect

    a, i, m = climb_and_fall_files(tmp_path, red_line_in_jan=True)
    for kind, path in (("agents", a), ("inspections", i), ("metrics", m)):
        run("import", kind, path)
    assert ladder(run, tmp_path)[("S1", "2025-01")]["event"] == "demote"
    missing_reason = run("void", "inspection", "2025-01-0", ok=False)
    assert missing_reason.exit_code != 0
    out = run("void", "inspection", "2025-01-0", "--reason", "wrong agent on the call").output
    assert "re-evaluated from 2025-01" in out
    rows = ladder(run, tmp_path)
    # January keeps two live inspections: incomplete (below the minimum of 3), so the red
    # line is gone and the below-floor counter restarts; February alone does not demote.
    assert rows[("S1", "2025-01")]["event"] == "none" and rows[("S1", "2025-01")]["composite"] == ""
    assert rows[("S1", "2025-02")]["event"] == "none" and rows[("S1", "2025-03")]["level"] == "3"
    again = run("void", "inspection", "2025-01-0", "--reason", "twice", ok=False)
    assert again.exit_code != 0 and "already void" in again.output
    engine = make_engine(db_url, pool=False)
    with make_session_factory(engine)() as s:
        defect = s.scalar(select(InspectionDefect).where(InspectionDefect.code == "T3-01"))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.entity == "inspection", AuditEntry.action == "void"))
        assert entry.reason == "wrong agent on the call" and entry.actor == "cli"
        defect_id = defect.id
    engine.dispose()
    void_defect_of_void = run("void", "defect", str(defect_id), "--reason", "x", ok=False)
    assert void_defect_of_void.exit_code != 0
