"""The importer (spec §7): all or nothing, every bad row named, idempotent, audited.

Runs on SQLite and, with STARLEVEL_TEST_DB=postgres, on PostgreSQL. Every rejection test
checks that the row counts of all tables are the same afterwards.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from starlevel.db.models import AuditEntry, Base, Inspection, InspectionDefect, MonthlyMetrics
from starlevel.db.models import Agent as AgentRow
from starlevel.domain.rulebook import default_rulebook
from starlevel.services.importer import ImportRejected, ImportResult, RowError, import_table

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = date(2025, 6, 15)

HEADERS = {
    "agents": "agent_id,name,track,team,hired_on,left_on,initial_level,probation_months",
    "inspections": "inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes",
    "metrics": "agent_id,month,satisfaction,efficiency,attitude,complaints",
}


@pytest.fixture(scope="module")
def rulebook():
    return default_rulebook()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def csv_bytes(kind: str, *lines: str, header: str | None = None) -> bytes:
    return ("\n".join([header if header is not None else HEADERS[kind], *lines]) + "\n").encode("utf-8")


def run(session_factory, rulebook, kind: str, data: bytes, filename: str | None = None, **kw) -> ImportResult:
    with session_factory() as session:
        result = import_table(
            session, kind, data, filename=filename or f"{kind}.csv", actor="tester", rulebook=rulebook,
            today=kw.pop("today", TODAY), **kw,
        )
        session.commit()
    return result


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def snapshot(engine) -> dict[str, list[tuple]]:
    """The imported content (without timestamps), comparable across imports."""
    with engine.connect() as conn:
        agents = conn.execute(select(
            AgentRow.agent_id, AgentRow.name, AgentRow.track, AgentRow.team, AgentRow.hired_on,
            AgentRow.left_on, AgentRow.initial_level, AgentRow.probation_months,
        ).order_by(AgentRow.agent_id)).all()
        inspections = conn.execute(select(
            Inspection.inspection_id, Inspection.agent_id, Inspection.contact_on, Inspection.month,
            Inspection.channel, Inspection.contact_ref, Inspection.inspector, Inspection.created_by,
        ).order_by(Inspection.inspection_id)).all()
        defects = conn.execute(select(
            InspectionDefect.inspection_id, InspectionDefect.position, InspectionDefect.code,
        ).order_by(InspectionDefect.inspection_id, InspectionDefect.position)).all()
        metrics = conn.execute(select(
            MonthlyMetrics.agent_id, MonthlyMetrics.month, MonthlyMetrics.values,
        ).order_by(MonthlyMetrics.agent_id, MonthlyMetrics.month)).all()
    return {"agents": [tuple(r) for r in agents], "inspections": [tuple(r) for r in inspections],
            "defects": [tuple(r) for r in defects], "metrics": [_legacy_metrics(*r) for r in metrics]}


def _legacy_metrics(agent_id: str, month: str, values: dict[str, str]) -> tuple:
    """A stored row of the default rulebook's four inputs as (agent, month, sat, eff, att, complaints)."""
    assert set(values) == {"satisfaction", "efficiency", "attitude", "complaints"}
    assert all(isinstance(v, str) for v in values.values())
    return (agent_id, month, Decimal(values["satisfaction"]), Decimal(values["efficiency"]),
            int(values["attitude"]), int(values["complaints"]))


def audit_rows(engine) -> list[AuditEntry]:
    with engine.connect() as conn:
        return conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()


@pytest.fixture
def loaded(session_factory, rulebook):
    """A database holding the three baseline fixture files."""
    for kind in ("agents", "inspections", "metrics"):
        run(session_factory, rulebook, kind, fixture(f"{kind}.csv"))
    return session_factory


def reject(engine, session_factory, rulebook, kind: str, data: bytes, **kw) -> list[RowError]:
    """Import must be rejected and leave every table as it was."""
    before = counts(engine)
    with pytest.raises(ImportRejected) as info:
        run(session_factory, rulebook, kind, data, **kw)
    assert counts(engine) == before, "a rejected import wrote something"
    errors = info.value.errors
    assert errors, "rejected without a reason"
    return errors


def assert_error(errors: list[RowError], row: int, column: str, *fragments: str) -> RowError:
    for e in errors:
        if e.row == row and e.column == column and all(f in e.problem for f in fragments):
            text = str(e)
            assert text.startswith(f"row {row}, column {column}: " if row else f"header, column {column}: ")
            return e
    raise AssertionError(f"no error at row {row}, column {column} with {fragments}; got {[str(e) for e in errors]}")


# ---------------------------------------------------------------------------- happy paths


#: The database content the three baseline fixture files give.
BASELINE = {
    "agents": [
        ("A1", "王伟", "phone", "话务一组", date(2024, 1, 5), None, 1, 3),
        ("A2", "李娜", "online", "在线一组", date(2024, 3, 20), date(2025, 2, 10), 2, 3),
        ("A3", "张敏", "phone", "话务二组", date(2023, 6, 1), None, 1, 0),
    ],
    "inspections": [
        ("Q1", "A1", date(2024, 2, 3), "2024-02", "phone", "PH-1", "qa.lin", "tester"),
        ("Q2", "A1", date(2024, 2, 10), "2024-02", "complaint", "CP-2", "qa.lin", "tester"),
        ("Q3", "A1", date(2024, 2, 17), "2024-02", "phone", "PH-3", "qa.zhou", "tester"),
        ("Q4", "A2", date(2024, 3, 25), "2024-03", "chat", "CH-4", "qa.zhou", "tester"),
        ("Q5", "A3", date(2025, 5, 30), "2025-05", "message", "MS-5", "qa.chen", "tester"),
    ],
    # A repeated code is kept, in order; whitespace around codes is trimmed.
    "defects": [
        ("Q1", 0, "T1-01"), ("Q3", 0, "T1-02"), ("Q3", 1, "T2-05"),
        ("Q4", 0, "T1-01"), ("Q4", 1, "T1-01"), ("Q5", 0, "T3-01"),
    ],
    "metrics": [
        ("A1", "2024-02", Decimal("95.00"), Decimal("92.50"), 4, 0),
        ("A2", "2024-03", Decimal("92.90"), Decimal("92.26"), 4, 1),
        ("A3", "2025-05", Decimal("80.05"), Decimal("70.00"), 3, 2),
    ],
}


def test_baseline_import_stores_every_field(loaded, engine):
    assert snapshot(engine) == BASELINE


def test_results_and_summary_audit(session_factory, engine, rulebook):
    r = run(session_factory, rulebook, "agents", fixture("agents.csv"))
    assert r == ImportResult("agents", 3, 3, 0, 0, "2023-06")
    r = run(session_factory, rulebook, "inspections", fixture("inspections.csv"))
    assert r == ImportResult("inspections", 5, 5, 0, 0, "2024-02")
    r = run(session_factory, rulebook, "metrics", fixture("metrics.csv"))
    assert r == ImportResult("metrics", 3, 3, 0, 0, "2024-02")
    entries = audit_rows(engine)
    assert [(e.action, e.entity, e.entity_id, e.actor) for e in entries] == [
        ("import", "agents", "agents.csv", "tester"),
        ("import", "inspections", "inspections.csv", "tester"),
        ("import", "metrics", "metrics.csv", "tester"),
    ]
    assert entries[1].detail == {"filename": "inspections.csv", "rows": 5, "inserted": 5, "updated": 0, "unchanged": 0}
    assert entries[1].reason == "import of inspections.csv"


@pytest.mark.parametrize("kind", ["agents", "inspections", "metrics"])
def test_reimport_changes_nothing(loaded, engine, rulebook, kind):
    before, snap, audits = counts(engine), snapshot(engine), len(audit_rows(engine))
    r = run(loaded, rulebook, kind, fixture(f"{kind}.csv"))
    assert (r.inserted, r.updated, r.unchanged, r.first_affected_month) == (0, 0, r.rows, None)
    assert counts(engine) == before
    assert snapshot(engine) == snap
    assert len(audit_rows(engine)) == audits


def test_identical_duplicate_rows_are_fine(session_factory, engine, rulebook):
    run(session_factory, rulebook, "agents", fixture("agents.csv"))
    line = "Q1,A1,2024-02-03,phone,PH-1,qa.lin,T1-01"
    r = run(session_factory, rulebook, "inspections", csv_bytes("inspections", line, line.replace(",qa.lin", ", qa.lin ")))
    assert (r.rows, r.inserted, r.unchanged) == (2, 1, 1)
    assert counts(engine)["inspections"] == 1


def test_metrics_correction_is_updated_and_audited(loaded, engine, rulebook):
    data = csv_bytes("metrics", "A1,2024-02,96.5,92.5,4,0", "A2,2024-03,92.9,92.26,4,1", "A3,2025-05,80.05,70,3,1")
    r = run(loaded, rulebook, "metrics", data, filename="metrics-fix.csv")
    assert r == ImportResult("metrics", 3, 0, 2, 1, "2024-02")
    snap = {(m[0], m[1]): m[2:] for m in snapshot(engine)["metrics"]}
    assert snap[("A1", "2024-02")] == (Decimal("96.50"), Decimal("92.50"), 4, 0)
    assert snap[("A3", "2025-05")] == (Decimal("80.05"), Decimal("70.00"), 3, 1)
    updates = [e for e in audit_rows(engine) if e.action == "update"]
    assert {(e.entity, e.entity_id) for e in updates} == {("metrics", "A1/2024-02"), ("metrics", "A3/2025-05")}
    a1 = next(e for e in updates if e.entity_id == "A1/2024-02")
    assert a1.reason == "import of metrics-fix.csv"
    assert a1.actor == "tester"
    assert a1.detail["before"] == {"satisfaction": "95.00"}
    assert a1.detail["after"] == {"satisfaction": "96.50"}
    summary = audit_rows(engine)[-1]
    assert (summary.action, summary.entity) == ("import", "metrics")
    assert summary.detail["updated"] == 2
    # Importing the corrected file again changes nothing.
    audits = len(audit_rows(engine))
    r = run(loaded, rulebook, "metrics", data, filename="metrics-fix.csv")
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 3)
    assert len(audit_rows(engine)) == audits


def test_agent_correction_is_updated_and_audited(loaded, engine, rulebook):
    data = csv_bytes("agents",
                     "A1,王伟,phone,话务三组,2024-01-05,,,",
                     "A2,李娜,online,在线一组,2024-03-01,2025-02-10,2,3",
                     "A3,张敏,phone,话务二组,2023-06-01,,1,0",
                     "A4,刘洋,online,在线一组,2025-04-01,,,")
    r = run(loaded, rulebook, "agents", data)
    # A2's hire month moves earlier within 2024-03; A1 changed team (hire month 2024-01).
    assert r == ImportResult("agents", 4, 1, 2, 1, "2024-01")
    updates = {e.entity_id: e for e in audit_rows(engine) if e.action == "update"}
    assert set(updates) == {"A1", "A2"}
    assert updates["A1"].detail["before"] == {"team": "话务一组"}
    assert updates["A1"].detail["after"] == {"team": "话务三组"}
    assert updates["A2"].detail["before"] == {"hired_on": "2024-03-20"}
    assert updates["A2"].detail["after"] == {"hired_on": "2024-03-01"}
    assert updates["A2"].reason == "import of agents.csv"


def test_agents_optional_columns_may_be_absent(session_factory, engine, rulebook):
    r = run(session_factory, rulebook, "agents", fixture("spec8_agents.csv"))
    assert r.inserted == 3
    assert snapshot(engine)["agents"][0] == ("S1", "示例一", "phone", "话务一组", date(2024, 1, 5), None, 1, 3)


def test_columns_in_another_order_and_padded_header(session_factory, engine, rulebook):
    run(session_factory, rulebook, "agents", fixture("agents.csv"))
    run(session_factory, rulebook, "inspections", fixture("inspections_reordered.csv"))
    reordered = snapshot(engine)
    other = session_factory  # same database: the normal file is then a no-op re-import
    r = run(other, rulebook, "inspections", fixture("inspections.csv"))
    assert (r.inserted, r.unchanged) == (0, 5)
    assert snapshot(engine) == reordered


def test_bom_and_crlf_file(session_factory, engine, rulebook):
    run(session_factory, rulebook, "agents", fixture("agents.csv"))
    assert fixture("metrics_bom.csv").startswith(b"\xef\xbb\xbf")
    r = run(session_factory, rulebook, "metrics", fixture("metrics_bom.csv"))
    assert r.inserted == 3
    assert snapshot(engine)["metrics"][1] == ("A2", "2024-03", Decimal("92.90"), Decimal("92.26"), 4, 1)


def test_progress_is_reported(session_factory, rulebook):
    run(session_factory, rulebook, "agents", fixture("agents.csv"))
    calls: list[tuple[int, int]] = []
    run(session_factory, rulebook, "inspections", fixture("inspections.csv"), progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (5, 5)


def test_voided_inspection_reimported_unchanged_and_frees_its_contact_ref(loaded, engine, rulebook):
    with loaded() as s:
        s.execute(Inspection.__table__.update().where(Inspection.inspection_id == "Q1")
                  .values(voided_at=datetime(2025, 1, 1), voided_by="qa", void_reason="wrong agent"))
        s.commit()
    r = run(loaded, rulebook, "inspections", fixture("inspections.csv"))
    assert (r.inserted, r.unchanged) == (0, 5)
    # The contact of the voided Q1 may be inspected again under a new id.
    r = run(loaded, rulebook, "inspections", csv_bytes("inspections", "Q1b,A1,2024-02-03,phone,PH-1,qa.lin,T1-03"))
    assert (r.inserted, r.first_affected_month) == (1, "2024-02")


def _xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_gives_the_same_database_as_csv(session_factory, engine, rulebook):
    # Real spreadsheet cells: dates, whole numbers, floats (92.26 must not become 92.2599…).
    agents = [HEADERS["agents"].split(","),
              ["A1", "王伟", "phone", "话务一组", date(2024, 1, 5), None, None, None],
              ["A2", "李娜", "online", "在线一组", datetime(2024, 3, 20), date(2025, 2, 10), 2, 3],
              ["A3", "张敏", "phone", "话务二组", date(2023, 6, 1), None, 1.0, 0]]
    inspections = [HEADERS["inspections"].split(","),
                   ["Q1", "A1", date(2024, 2, 3), "phone", "PH-1", "qa.lin", "T1-01"],
                   ["Q2", "A1", date(2024, 2, 10), "complaint", "CP-2", "qa.lin", None],
                   ["Q3", "A1", date(2024, 2, 17), "phone", "PH-3", "qa.zhou", "T1-02;T2-05"],
                   ["Q4", "A2", date(2024, 3, 25), "chat", "CH-4", "qa.zhou", "T1-01;T1-01"],
                   [],  # a blank sheet row is skipped
                   ["Q5", "A3", "2025-05-30", "message", "MS-5", "qa.chen", "T3-01"]]
    metrics = [HEADERS["metrics"].split(","),
               ["A1", "2024-02", 95, 92.5, 4, 0],
               ["A2", "2024-03", 92.9, 92.26, 4.0, 1],
               ["A3", "2025-05", 80.05, 70.0, 3, 2]]
    for kind, rows in (("agents", agents), ("inspections", inspections), ("metrics", metrics)):
        r = run(session_factory, rulebook, kind, _xlsx(rows), filename=f"{kind}.xlsx")
        assert r.inserted == len(BASELINE[kind])
    assert snapshot(engine) == BASELINE
    # And the CSV files of the same data are a no-op on top of it.
    for kind in ("agents", "inspections", "metrics"):
        r = run(session_factory, rulebook, kind, fixture(f"{kind}.csv"))
        assert (r.inserted, r.updated) == (0, 0)


def test_xlsx_rejection_names_the_sheet_row(loaded, engine, rulebook):
    rows = [HEADERS["metrics"].split(","), ["A1", "2024-04", 90, 90, 4, 0], [], ["A1", "2024-05", 92.555, 90, 4, 0]]
    errors = reject(engine, loaded, rulebook, "metrics", _xlsx(rows), filename="metrics.xlsx")
    assert_error(errors, 4, "satisfaction", "'92.555' has more than 2 decimal places")


def test_spec_section_8_composite_examples(session_factory, engine, rulebook):
    """The worked examples survive the import exactly: 92.93, 93.65 and quality 98.67."""
    for kind in ("agents", "inspections", "metrics"):
        r = run(session_factory, rulebook, kind, fixture(f"spec8_{kind}.csv"))
        assert r.inserted == r.rows
    snap = snapshot(engine)
    codes: dict[str, list[str]] = {}
    for iid, _pos, code in snap["defects"]:
        codes.setdefault(iid, []).append(code)
    cent = Decimal("0.01")

    def quality(agent: str) -> Decimal:
        scores = [max(Decimal(0), Decimal(100) - sum((rulebook.deduction(c) for c in codes.get(i[0], [])), Decimal(0)))
                  for i in snap["inspections"] if i[1] == agent]
        assert len(scores) == 3
        return (sum(scores, Decimal(0)) / len(scores)).quantize(cent, ROUND_HALF_UP)

    metrics = {m[0]: m for m in snap["metrics"]}

    def composite(agent: str) -> Decimal:
        _a, _m, sat, eff, att, _c = metrics[agent]
        assert isinstance(sat, Decimal) and isinstance(eff, Decimal)
        value = (Decimal("0.40") * quality(agent) + Decimal("0.25") * eff + Decimal("0.20") * sat
                 + Decimal("0.15") * att * 20)
        return value.quantize(cent, ROUND_HALF_UP)

    assert quality("S1") == Decimal("97.00")
    assert composite("S1") == Decimal("92.93")
    assert metrics["S2"][3] == Decimal("92.26")
    assert composite("S2") == Decimal("93.65")
    assert quality("S3") == Decimal("98.67")


# ---------------------------------------------------------------------------- file-level rejections


def test_empty_file(loaded, engine, rulebook):
    errors = reject(engine, loaded, rulebook, "agents", b"")
    assert len(errors) == 1
    assert str(errors[0]) == "file: the file is empty: no header row"


def test_blank_file_is_empty_too(loaded, engine, rulebook):
    errors = reject(engine, loaded, rulebook, "metrics", b"\xef\xbb\xbf\n \n\n")
    assert "the file is empty: no header row" in str(errors[0])


def test_not_utf8(loaded, engine, rulebook):
    data = csv_bytes("agents", "A7,Bob,phone,T,2024-01-05,,,") + "A8,王芳,phone,T,2024-01-05,,,\n".encode("gbk")
    errors = reject(engine, loaded, rulebook, "agents", data)
    assert len(errors) == 1
    e = errors[0]
    assert e.row == 3
    assert "not UTF-8" in e.problem
    assert "row 3, byte 4" in e.problem
    assert str(e).startswith("row 3: the file is not UTF-8")


def test_missing_required_column(loaded, engine, rulebook):
    header = "agent_id,name,track,hired_on"
    errors = reject(engine, loaded, rulebook, "agents", csv_bytes("agents", "A9,X,phone,2024-01-01", header=header))
    e = assert_error(errors, 0, "team", "required column is missing")
    assert str(e) == "header, column team: required column is missing from the header"


def test_missing_defect_codes_column(loaded, engine, rulebook):
    header = "inspection_id,agent_id,contact_on,channel,contact_ref,inspector"
    errors = reject(engine, loaded, rulebook, "inspections",
                    csv_bytes("inspections", "Q9,A1,2024-02-03,phone,PH-9,qa.lin", header=header))
    assert_error(errors, 0, "defect_codes", "missing")


def test_unknown_extra_column(loaded, engine, rulebook):
    header = HEADERS["metrics"] + ",remark"
    errors = reject(engine, loaded, rulebook, "metrics", csv_bytes("metrics", "A1,2024-04,90,90,4,0,hi", header=header))
    assert_error(errors, 0, "remark", "is not a column of metrics files")


def test_duplicate_column_in_header(loaded, engine, rulebook):
    header = HEADERS["metrics"] + ",month"
    errors = reject(engine, loaded, rulebook, "metrics",
                    csv_bytes("metrics", "A1,2024-04,90,90,4,0,2024-04", header=header))
    assert_error(errors, 0, "month", "more than once")


def test_values_beyond_the_header(loaded, engine, rulebook):
    errors = reject(engine, loaded, rulebook, "metrics", csv_bytes("metrics", "A1,2024-04,90,90,4,0,oops"))
    assert any(e.row == 2 and "beyond the last column" in e.problem for e in errors)


def test_every_bad_row_is_listed(loaded, engine, rulebook):
    data = csv_bytes("metrics",
                     "A1,2024-04,90,90,4,0",
                     "A1,2024-05,190,90,4,0",
                     "A1,2024-06,90,90,4,0",
                     "A1,2024-07,90,90,9,0",
                     "A9,2024-07,90,90,4,0")
    errors = reject(engine, loaded, rulebook, "metrics", data)
    assert [(e.row, e.column) for e in errors] == [(3, "satisfaction"), (5, "attitude"), (6, "agent_id")]


def test_error_list_is_capped(loaded, engine, rulebook):
    lines = [f"A1,2024-{(i % 12) + 1:02d},900,90,4,0" for i in range(1500)]
    errors = reject(engine, loaded, rulebook, "metrics", csv_bytes("metrics", *lines))
    assert len(errors) == 1001
    assert errors[-1].row == 0
    assert "… and 500 more" in errors[-1].problem


# ---------------------------------------------------------------------------- agents rejections

AGENT_OK = "A7,赵六,phone,话务一组,2024-05-06,,,"


@pytest.mark.parametrize(
    ("line", "column", "fragments"),
    [
        ("A8,,phone,话务一组,2024-05-06,,,", "name", ("is empty",)),
        (",Bob,phone,话务一组,2024-05-06,,,", "agent_id", ("is empty",)),
        ("A8,Bob,phone,,2024-05-06,,,", "team", ("is empty",)),
        ("A8,Bob,phone,T,,,,", "hired_on", ("is empty",)),
        ("A8,Bob,email,T,2024-05-06,,,", "track", ("'email' is not a track", "phone, online")),
        ("A8,Bob,phone,T,2024/05/06,,,", "hired_on", ("'2024/05/06' is not a date in the form YYYY-MM-DD",)),
        ("A8,Bob,phone,T,2024-02-30,,,", "hired_on", ("'2024-02-30' is not a real date (YYYY-MM-DD)",)),
        ("A8,Bob,phone,T,2024-05-06,2024-13-01,,", "left_on", ("not a real date",)),
        ("A8,Bob,phone,T,2024-05-06,2024-05-05,,", "left_on", ("2024-05-05 is before hired_on 2024-05-06",)),
        ("A8,Bob,phone,T,2024-05-06,,6,", "initial_level", ("'6' is not a level", "1, 2, 3, 4, 5")),
        ("A8,Bob,phone,T,2024-05-06,,two,", "initial_level", ("'two' is not a level",)),
        ("A8,Bob,phone,T,2024-05-06,,,-1", "probation_months", ("'-1' is not a whole number",)),
        ("A8,Bob,phone,T,2024-05-06,,,2.5", "probation_months", ("'2.5' is not a whole number",)),
        ("A7,赵六,online,话务一组,2024-05-06,,,", "track", ("appears again", "first at row 2")),
        ("A8," + "x" * 201 + ",phone,T,2024-05-06,,,", "name", ("at most 200",)),
    ],
    ids=["empty-name", "empty-id", "empty-team", "empty-hired", "track", "date-format", "date-impossible",
         "left-impossible", "left-before-hired", "level-range", "level-text", "probation-negative",
         "probation-fraction", "duplicate-different", "name-too-long"],
)
def test_agents_bad_value(loaded, engine, rulebook, line, column, fragments):
    errors = reject(engine, loaded, rulebook, "agents", csv_bytes("agents", AGENT_OK, line))
    assert_error(errors, 3, column, *fragments)


def test_agents_moving_hire_date_past_existing_data(loaded, engine, rulebook):
    # A1 has inspections and metrics in 2024-02.
    errors = reject(engine, loaded, rulebook, "agents", csv_bytes("agents", "A1,王伟,phone,话务一组,2024-03-01,,,"))
    e = assert_error(errors, 2, "hired_on", "inspections of 2024-02", "before the hire month 2024-03")
    assert "void" in e.problem
    assert_error(errors, 2, "hired_on", "monthly metrics of 2024-02")


def test_agents_leaving_before_existing_data(loaded, engine, rulebook):
    # A3 has an inspection and metrics in 2025-05.
    errors = reject(engine, loaded, rulebook, "agents", csv_bytes("agents", "A3,张敏,phone,话务二组,2023-06-01,2025-04-30,1,0"))
    assert_error(errors, 2, "left_on", "inspections of 2025-05", "after the last month 2025-04")


# ---------------------------------------------------------------------------- inspections rejections

INSPECTION_OK = "Q10,A1,2024-04-01,phone,PH-10,qa.lin,"


@pytest.mark.parametrize(
    ("line", "column", "fragments"),
    [
        ("Q11,A9,2024-04-01,phone,PH-11,qa.lin,", "agent_id", ("agent 'A9' does not exist",)),
        ("Q11,,2024-04-01,phone,PH-11,qa.lin,", "agent_id", ("is empty",)),
        (",A1,2024-04-01,phone,PH-11,qa.lin,", "inspection_id", ("is empty",)),
        ("Q11,A1,2024-04-01,phone,,qa.lin,", "contact_ref", ("is empty",)),
        ("Q11,A1,2024-04-01,phone,PH-11,,", "inspector", ("is empty",)),
        ("Q11,A1,2024-04-01,phone,PH-11,qa.lin,T1-01; T9-99 ;T1-01", "defect_codes", ("unknown defect code T9-99",)),
        ("Q11,A1,2024-04-01,phone,PH-11,qa.lin,t1-01", "defect_codes", ("unknown defect code t1-01",)),
        ("Q11,A1,2024-04-31,phone,PH-11,qa.lin,", "contact_on", ("'2024-04-31' is not a real date (YYYY-MM-DD)",)),
        ("Q11,A1,04/01/2024,phone,PH-11,qa.lin,", "contact_on", ("not a date in the form YYYY-MM-DD",)),
        ("Q11,A1,,phone,PH-11,qa.lin,", "contact_on", ("is empty",)),
        ("Q11,A1,2025-06-16,phone,PH-11,qa.lin,", "contact_on", ("2025-06-16 is in the future", "2025-06-15")),
        ("Q11,A1,2023-12-31,phone,PH-11,qa.lin,", "contact_on", ("before agent A1's hire month 2024-01",)),
        ("Q11,A2,2025-03-01,chat,CH-11,qa.lin,", "contact_on", ("after agent A2's last month 2025-02",)),
        ("Q11,A1,2024-04-01,email,PH-11,qa.lin,", "channel", ("'email' is not a channel", "chat, message, phone, complaint")),
        ("Q10,A1,2024-04-01,phone,PH-10,qa.lin,T1-01", "defect_codes", ("appears again", "first at row 2")),
        ("Q10,A1,2024-04-02,phone,PH-10,qa.lin,", "contact_on", ("appears again",)),
        ("Q11,A1,2024-04-05,chat,PH-10,qa.zhou,", "contact_ref", ("already has inspection Q10", "(row 2)")),
    ],
    ids=["unknown-agent", "empty-agent", "empty-id", "empty-ref", "empty-inspector", "unknown-code",
         "code-case", "date-impossible", "date-format", "date-empty", "future", "before-hire",
         "after-leaving", "channel", "duplicate-codes-differ", "duplicate-date-differs", "same-contact-ref"],
)
def test_inspections_bad_value(loaded, engine, rulebook, line, column, fragments):
    errors = reject(engine, loaded, rulebook, "inspections", csv_bytes("inspections", INSPECTION_OK, line))
    assert_error(errors, 3, column, *fragments)


def test_inspection_stored_with_other_content(loaded, engine, rulebook):
    errors = reject(engine, loaded, rulebook, "inspections",
                    csv_bytes("inspections", INSPECTION_OK, "Q1,A1,2024-02-03,phone,PH-1,qa.lin,T1-02"))
    e = assert_error(errors, 3, "defect_codes", "Q1 is already stored", "'T1-01'", "void it in the app")
    assert "new inspection_id" in e.problem
    errors = reject(engine, loaded, rulebook, "inspections",
                    csv_bytes("inspections", "Q3,A1,2024-02-18,phone,PH-3,qa.zhou,T1-02;T2-05"))
    assert_error(errors, 2, "contact_on", "already stored with contact_on '2024-02-17'", "void")


def test_contact_ref_already_inspected_in_database(loaded, engine, rulebook):
    errors = reject(engine, loaded, rulebook, "inspections",
                    csv_bytes("inspections", INSPECTION_OK, "Q11,A1,2024-04-05,phone,PH-1,qa.lin,"))
    assert_error(errors, 3, "contact_ref", "already has live inspection Q1", "'PH-1'")


# ---------------------------------------------------------------------------- metrics rejections

METRICS_OK = "A1,2024-04,90,90,4,0"


@pytest.mark.parametrize(
    ("line", "column", "fragments"),
    [
        ("A9,2024-04,90,90,4,0", "agent_id", ("agent 'A9' does not exist",)),
        ("A1,2024-4,90,90,4,0", "month", ("'2024-4' is not a month in the form YYYY-MM",)),
        ("A1,2024-04-01,90,90,4,0", "month", ("is not a month", "format the column as text")),
        ("A1,2024-13,90,90,4,0", "month", ("'2024-13' is not a real month (YYYY-MM)",)),
        ("A1,,90,90,4,0", "month", ("is empty",)),
        ("A1,2025-07,90,90,4,0", "month", ("2025-07 is after the current month 2025-06",)),
        ("A1,2023-12,90,90,4,0", "month", ("before agent A1's hire month 2024-01",)),
        ("A2,2025-03,90,90,4,0", "month", ("after agent A2's last month 2025-02", "left_on 2025-02-10")),
        ("A1,2024-05,101,90,4,0", "satisfaction", ("'101' is above 100",)),
        ("A1,2024-05,92.555,90,4,0", "satisfaction", ("'92.555' has more than 2 decimal places",)),
        ("A1,2024-05,,90,4,0", "satisfaction", ("is empty",)),
        ("A1,2024-05,90,abc,4,0", "efficiency", ("'abc' is not a decimal number from 0 to 100",)),
        ("A1,2024-05,90,-5,4,0", "efficiency", ("'-5' is not a decimal number from 0 to 100",)),
        ("A1,2024-05,90,1e2,4,0", "efficiency", ("'1e2' is not a decimal number",)),
        ("A1,2024-05,90,90,6,0", "attitude", ("'6' is not a whole number from 1 to 5",)),
        ("A1,2024-05,90,90,0,0", "attitude", ("'0' is not a whole number from 1 to 5",)),
        ("A1,2024-05,90,90,4.5,0", "attitude", ("'4.5' is not a whole number from 1 to 5",)),
        ("A1,2024-05,90,90,4,-1", "complaints", ("'-1' is not a whole number (0 or more)",)),
        ("A1,2024-05,90,90,4,1.5", "complaints", ("'1.5' is not a whole number",)),
        ("A1,2024-05,90,90,4,", "complaints", ("is empty",)),
        ("A1,2024-04,90,91,4,0", "efficiency", ("appears again", "first at row 2")),
    ],
    ids=["unknown-agent", "month-format", "month-as-date", "month-impossible", "month-empty", "month-future",
         "before-hire", "after-leaving", "satisfaction-range", "satisfaction-places", "satisfaction-empty",
         "efficiency-text", "efficiency-negative", "efficiency-exponent", "attitude-high", "attitude-zero",
         "attitude-fraction", "complaints-negative", "complaints-fraction", "complaints-empty",
         "duplicate-different"],
)
def test_metrics_bad_value(loaded, engine, rulebook, line, column, fragments):
    errors = reject(engine, loaded, rulebook, "metrics", csv_bytes("metrics", METRICS_OK, line))
    assert_error(errors, 3, column, *fragments)


def test_metrics_edge_values_are_accepted(loaded, engine, rulebook):
    r = run(loaded, rulebook, "metrics", csv_bytes("metrics", "A1,2024-04,0,100,1,0", "A1,2025-06,100.00,99.90,5,12"))
    assert r.inserted == 2
    rows = {m[1]: m for m in snapshot(engine)["metrics"] if m[0] == "A1"}
    assert rows["2025-06"][2:] == (Decimal("100.00"), Decimal("99.90"), 5, 12)


def test_unknown_kind_is_a_programming_error(session_factory, rulebook):
    with pytest.raises(ValueError):
        run(session_factory, rulebook, "users", b"a\n")
