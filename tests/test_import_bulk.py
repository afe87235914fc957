"""The bulk paths of the importer, exercised with tiny chunk sizes and thresholds:
chunked look-ups of existing keys, chunked writes, and the SQLite bulk load that builds
the inspection indexes once at the end (which must leave the schema exactly as it was,
also when the load fails half-way)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, inspect, select

from starlevel.db.models import Base, Inspection, InspectionDefect
from starlevel.domain.rulebook import default_rulebook
from starlevel.services import importer
from starlevel.services.importer import ImportRejected, import_table

TODAY = date(2025, 6, 15)
AGENTS = 6
MONTHS = ("2025-01", "2025-02", "2025-03")
CODES = ("", "T1-01", "T1-02;T2-05", "T1-01;T1-01", "")


@pytest.fixture(scope="module")
def rulebook():
    return default_rulebook()


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(importer, "WRITE_CHUNK", 4)
    monkeypatch.setattr(importer, "LOOKUP_CHUNK", 3)
    monkeypatch.setattr(importer, "BULK_LOAD_ROWS", 5)
    monkeypatch.setattr(importer, "PROGRESS_EVERY", 10)


def agents_csv() -> bytes:
    lines = ["agent_id,name,track,team,hired_on"]
    lines += [f"B{i},Agent {i},{'phone' if i % 2 else 'online'},T{i % 3},2024-12-0{i}" for i in range(1, AGENTS + 1)]
    return ("\n".join(lines) + "\n").encode()


def inspections_csv(prefix: str = "I") -> bytes:
    lines = ["inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes"]
    n = 0
    for i in range(1, AGENTS + 1):
        for month in MONTHS:
            for k in range(3):
                n += 1
                lines.append(f"{prefix}{n:04d},B{i},{month}-{k + 10},chat,{prefix}R{n},qa.{k},{CODES[n % len(CODES)]}")
    return ("\n".join(lines) + "\n").encode()


def run(session_factory, rulebook, kind, data, **kw):
    with session_factory() as session:
        result = import_table(session, kind, data, filename=f"{kind}.csv", actor="bulk", rulebook=rulebook,
                              today=TODAY, **kw)
        session.commit()
    return result


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def indexes(engine) -> list[tuple]:
    insp = inspect(engine)
    found: list[tuple] = sorted(
        (t, ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
        for t in ("inspections", "inspection_defects") for ix in insp.get_indexes(t)
    )
    assert {"ix_inspections_agent_month", "ix_inspections_agent_ref", "ix_inspection_defects_inspection"} <= {
        ix[1] for ix in found}
    if engine.dialect.name == "sqlite":  # the stored DDL too, word for word
        with engine.connect() as conn:
            found += conn.exec_driver_sql("SELECT name, sql FROM sqlite_master ORDER BY name").all()
    return found


def test_bulk_load_in_chunks_keeps_the_schema(tiny, session_factory, engine, rulebook):
    run(session_factory, rulebook, "agents", agents_csv())
    before = indexes(engine)
    calls: list[tuple[int, int]] = []
    r = run(session_factory, rulebook, "inspections", inspections_csv(), progress=lambda d, t: calls.append((d, t)))
    n = AGENTS * len(MONTHS) * 3
    assert (r.rows, r.inserted, r.first_affected_month) == (n, n, "2025-01")
    assert calls[-1] == (n, n) and (10, n) in calls
    assert indexes(engine) == before
    assert counts(engine)["inspections"] == n
    with engine.connect() as conn:
        defects = conn.execute(select(InspectionDefect.inspection_id, InspectionDefect.position, InspectionDefect.code)
                               .where(InspectionDefect.inspection_id.in_(["I0001", "I0002", "I0003"]))
                               .order_by(InspectionDefect.inspection_id, InspectionDefect.position)).all()
        assert [tuple(d) for d in defects] == [("I0001", 0, "T1-01"), ("I0002", 0, "T1-02"), ("I0002", 1, "T2-05"),
                                               ("I0003", 0, "T1-01"), ("I0003", 1, "T1-01")]
        plan = " ".join(str(r) for r in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM inspections WHERE agent_id = 'B1' AND month = '2025-01'"
        )) if engine.dialect.name == "sqlite" else "ix_inspections_agent_month"
        assert "ix_inspections_agent_month" in plan
    # A second bulk file (as big as what is stored) goes the same way.
    r = run(session_factory, rulebook, "inspections", inspections_csv("J"))
    assert r.inserted == n
    assert indexes(engine) == before
    # Re-importing both is a no-op, found through chunked look-ups.
    before_counts = counts(engine)
    for data in (inspections_csv(), inspections_csv("J")):
        r = run(session_factory, rulebook, "inspections", data)
        assert (r.inserted, r.unchanged) == (0, n)
    assert counts(engine) == before_counts


def test_failed_bulk_load_leaves_nothing_behind(tiny, session_factory, engine, rulebook, monkeypatch):
    run(session_factory, rulebook, "agents", agents_csv())
    before, before_counts = indexes(engine), counts(engine)
    real = importer._Db.insert_many
    calls = {"n": 0}

    def failing(self, table, columns, rows, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk full")
        return real(self, table, columns, rows, **kw)

    monkeypatch.setattr(importer._Db, "insert_many", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        run(session_factory, rulebook, "inspections", inspections_csv())
    assert calls["n"] == 5
    assert counts(engine) == before_counts
    assert indexes(engine) == before


def test_conflicts_found_in_a_later_lookup_chunk(tiny, session_factory, engine, rulebook):
    run(session_factory, rulebook, "agents", agents_csv())
    run(session_factory, rulebook, "inspections", inspections_csv())
    run(session_factory, rulebook, "inspections", inspections_csv("J"))
    before = counts(engine)
    data = inspections_csv().replace(b"I0040,B5,2025-02-10,chat,IR40", b"I0040,B5,2025-02-12,chat,IR40")
    data += b"K0001,B6,2025-03-01,chat,JR50,qa.9,\n"
    with pytest.raises(ImportRejected) as info:
        run(session_factory, rulebook, "inspections", data)
    assert counts(engine) == before
    problems = {(e.row, e.column): e.problem for e in info.value.errors}
    assert set(problems) == {(41, "contact_on"), (56, "contact_ref")}
    assert "already stored" in problems[(41, "contact_on")]
    assert "already has live inspection J0050 of contact_ref 'JR50' in the database" in problems[(56, "contact_ref")]


def test_metrics_and_agents_in_chunks(tiny, session_factory, engine, rulebook):
    run(session_factory, rulebook, "agents", agents_csv())
    lines = ["agent_id,month,satisfaction,efficiency,attitude,complaints"]
    lines += [f"B{i},{m},9{i}.5,8{i},4,0" for i in range(1, AGENTS + 1) for m in MONTHS]
    data = ("\n".join(lines) + "\n").encode()
    r = run(session_factory, rulebook, "metrics", data)
    assert r.inserted == AGENTS * len(MONTHS)
    changed = data.replace(b"B6,2025-02,96.5", b"B6,2025-02,96.75")
    r = run(session_factory, rulebook, "metrics", changed)
    assert (r.inserted, r.updated, r.unchanged, r.first_affected_month) == (0, 1, AGENTS * len(MONTHS) - 1, "2025-02")
    r = run(session_factory, rulebook, "agents", agents_csv())
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, AGENTS)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Inspection)).scalar_one() == 0
