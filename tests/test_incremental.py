"""Incremental recompute (from the first affected month) gives exactly the full result,
and never touches months before the first affected one."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow
from starlevel.domain import months as M
from starlevel.services import corrections, dashboard, results_stamp, rulebooks, synth
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute

TODAY = date(2026, 11, 25)


def snapshot(s) -> list[tuple]:  # type: ignore[no-untyped-def]
    cols = [c for c in MonthResultRow.__table__.columns]
    return [tuple(r) for r in s.execute(select(*cols).order_by(MonthResultRow.month, MonthResultRow.agent_id))]


def _load(session_factory, data):  # type: ignore[no-untyped-def]
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        rb = rulebooks.current(s)
        for kind in ("agents", "inspections", "metrics"):
            import_table(s, kind, getattr(data, f"{kind}_csv"), filename=kind, actor="t", rulebook=rb, today=TODAY)
        recompute(s)


def test_incremental_after_import_equals_full(session_factory):
    data = synth.generate(60, 18, last_month="2026-06", seed=11)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        before = snapshot(s)
    change_month = "2026-01"
    with session_scope(session_factory) as s:
        agents = list(s.scalars(select(MonthResultRow.agent_id).where(MonthResultRow.month == change_month)
                                .order_by(MonthResultRow.agent_id).limit(12)))
    assert len(agents) == 12
    extra = ["inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes"]
    for n, a in enumerate(agents):
        extra.append(f"EXTRA{n},{a},{change_month}-15,chat,extra-{n},qa,T3-01" if n % 2 else f"EXTRA{n},{a},{change_month}-15,chat,extra-{n},qa,T2-01;T1-03")
    with session_scope(session_factory) as s:
        rb = rulebooks.current(s)
        res = import_table(s, "inspections", ("\n".join(extra) + "\n").encode(), filename="extra.csv", actor="t", rulebook=rb, today=TODAY)
        assert res.first_affected_month is not None and res.first_affected_month <= change_month
        recompute(s, start=res.first_affected_month)
        incremental = snapshot(s)
    with session_scope(session_factory) as s:
        recompute(s)
        full = snapshot(s)
    assert incremental == full
    # Months before the change are untouched by the incremental run.
    assert [r for r in before if r[1] < res.first_affected_month] == [r for r in incremental if r[1] < res.first_affected_month]
    assert before != incremental


def test_incremental_after_void_and_decision_equals_full(session_factory):
    data = synth.generate(50, 15, last_month="2026-03", seed=5)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        row = s.execute(select(MonthResultRow.agent_id, MonthResultRow.month)
                        .where(MonthResultRow.n_inspections > 3).order_by(MonthResultRow.month.desc())).first()
        from starlevel.db.models import Inspection

        insp = s.scalar(select(Inspection).where(Inspection.agent_id == row[0], Inspection.month == row[1]).limit(1))
        month = corrections.void_inspection(s, insp.inspection_id, reason="wrong agent", actor="t")
        recompute(s, start=month)
        incremental = snapshot(s)
    with session_scope(session_factory) as s:
        recompute(s)
        assert snapshot(s) == incremental


def test_new_rulebook_version_recomputes_from_its_month(session_factory):
    from starlevel.domain.rulebook import default_rulebook_document

    data = synth.generate(40, 14, last_month="2026-02", seed=3)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        before = snapshot(s)
        doc = default_rulebook_document()
        for p in doc["promotions"]:
            p["threshold"] = {"phone": "70", "online": "75"}
        eff = M.add_months("2026-02", -4)
        rulebooks.add_version(s, doc, effective_from=eff, actor="t", note="easier")
        recompute(s, start=eff)
        after = snapshot(s)
    assert [r for r in before if r[1] < eff] == [r for r in after if r[1] < eff]
    versions = {r[2] for r in after if r[1] >= eff}
    assert versions == {2}
    with session_scope(session_factory) as s:
        recompute(s)
        assert snapshot(s) == after


def test_single_agent_fast_path_equals_full(session_factory):
    """recompute_agent takes the one-agent path when no quota can be touched, and the
    company-wide one otherwise; either way the cache equals a full recompute."""
    import random

    from starlevel.db.models import Inspection
    from starlevel.services.recompute import recompute_agent

    data = synth.generate(60, 16, last_month="2026-04", seed=21)
    _load(session_factory, data)
    rng = random.Random(4)
    fast = slow = 0
    with session_scope(session_factory) as s:
        live = s.execute(select(MonthResultRow.agent_id, MonthResultRow.month)
                         .where(MonthResultRow.n_inspections > 0).order_by(MonthResultRow.agent_id, MonthResultRow.month)).all()
    for n in range(14):
        agent_id, month = rng.choice(live)
        with session_scope(session_factory) as s:
            stamp, levels = results_stamp.current(s), dashboard.count_levels(s, "2000-01", "2099-12")
            rb = rulebooks.current(s)
            if n % 3 == 2:
                insp = s.scalar(select(Inspection).where(Inspection.agent_id == agent_id, Inspection.month == month,
                                                         Inspection.voided_at.is_(None)).limit(1))
                if insp is None:
                    continue
                corrections.void_inspection(s, insp.inspection_id, reason="test", actor="t")
            else:
                codes = rng.choice(["", "T1-01", "T2-03", "T3-02", "T1-01;T1-05"])
                csv_text = ("inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
                            f"FP{n},{agent_id},{month}-20,chat,fp-{n},qa,{codes}\n")
                import_table(s, "inspections", csv_text.encode(), filename="fp.csv", actor="t", rulebook=rb, today=TODAY)
            stats = recompute_agent(s, agent_id, month)
            if "agent_only" in stats.phases:
                # The dashboard keeps company-wide level counts under the results stamp, which
                # only a company-wide recompute renews: the one-agent path must not move them.
                assert results_stamp.current(s) == stamp
                assert dashboard.count_levels(s, "2000-01", "2099-12") == levels
            fast += "agent_only" in stats.phases
            slow += "agent_only" not in stats.phases
            quick = snapshot(s)
        with session_scope(session_factory) as s:
            recompute(s)
            assert snapshot(s) == quick, f"change {n} ({agent_id} {month}) diverged"
    assert fast > 0, "the one-agent path was never taken"


def test_bulk_row_values_match_the_column_mapping(session_factory):
    """The fast writer's tuples carry exactly result_to_row's values, column by column."""
    import json

    from starlevel.services.recompute import RESULT_COLUMNS, result_to_row, result_values, row_to_result

    data = synth.generate(12, 14, last_month="2026-02", seed=9)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        rb = rulebooks.current(s)
        rows = [row_to_result(r) for r in s.scalars(select(MonthResultRow))]
    grade = lambda level: rb.pay_grade(level).grade  # noqa: E731
    assert rows and any(r.pay for r in rows) and any(r.pay is None for r in rows)
    for r in rows:
        by_name = result_to_row(r, grade)
        assert list(by_name) == RESULT_COLUMNS
        for column, fast in zip(RESULT_COLUMNS, result_values(r, grade, text_decimals=True)):
            slow = by_name[column]
            if column in ("dimensions", "explanation"):
                assert json.loads(fast) == slow
            elif slow is not None and hasattr(slow, "as_tuple"):
                assert fast == str(slow)
            else:
                assert fast == slow, column


def test_incremental_equals_full_under_item_floors(session_factory):
    """star-standard promotes on a band held for N months with every item above a floor, so
    resuming mid-way needs the item scores of the months before (not only the composite)."""
    import tomllib

    from starlevel.domain.templates import template_text
    from starlevel.services import hr

    data = synth.generate(80, 16, last_month="2026-04", seed=13)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        first = s.scalar(select(func.min(MonthResultRow.month)))
        hr.store_rulebook(s, tomllib.loads(template_text("star-standard")), effective_from=first, actor="t")
        recompute(s)
        full = snapshot(s)
        promoted = s.scalar(select(func.count()).select_from(MonthResultRow).where(
            MonthResultRow.rulebook_version == 2, MonthResultRow.event == "promote"))
        assert promoted, "the case must exercise the held-band promotions"
    for start in ("2025-08", "2026-01", "2026-04"):
        with session_scope(session_factory) as s:
            recompute(s, start=start)
            assert snapshot(s) == full, start


def _index_definitions(s) -> list[tuple]:  # type: ignore[no-untyped-def]
    if s.get_bind().dialect.name == "sqlite":
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'month_results' ORDER BY name"
    else:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'month_results' ORDER BY indexname"
    return [tuple(r) for r in s.execute(text(sql))]


def test_a_full_recompute_keeps_the_results_indexes_and_a_failed_one_rolls_back(session_factory, monkeypatch):
    """On SQLite a whole-table rewrite drops the secondary indexes and builds them again after
    the rows: they come back exactly as defined, in use by the planner, and a run that fails
    half-way leaves indexes and rows as they were."""
    from starlevel.services import recompute as recompute_module

    data = synth.generate(40, 12, last_month="2026-06", seed=5)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        indexes = _index_definitions(s)
        rows = snapshot(s)
    assert len(indexes) >= 3 and rows  # the primary key and the two secondary ones
    with session_scope(session_factory) as s:
        recompute(s)
    with session_scope(session_factory) as s:
        assert _index_definitions(s) == indexes
        assert snapshot(s) == rows
        if s.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in s.execute(text(
                "EXPLAIN QUERY PLAN SELECT level, count(*) FROM month_results WHERE month = '2026-03' GROUP BY level")))
            assert "ix_month_results_month_level" in plan

    real_write = recompute_module._write
    calls = []

    def failing_write(session, results, rulebooks_):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_write(session, results, rulebooks_)

    monkeypatch.setattr(recompute_module, "_write", failing_write)
    monkeypatch.setattr(recompute_module, "CHUNK_MONTHS", 3)  # several chunks: fail after one is written
    try:
        with session_scope(session_factory) as s:
            recompute(s)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failing write did not fail")
    with session_scope(session_factory) as s:
        assert _index_definitions(s) == indexes
        assert snapshot(s) == rows


def test_the_collector_pause_nests_and_restores_the_collector() -> None:
    import gc

    from starlevel.services.recompute import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
    try:
        with gc_paused():
            raise ValueError
    except ValueError:
        pass
    assert gc.isenabled()


def test_prior_results_read_back_as_stored(session_factory):
    """``load_prior`` (read through the driver's cursor) gives the stored rows exactly as
    the ORM reads them, without explanation or pay, each agent's months in order; item
    scores only when asked for."""
    from dataclasses import replace

    from starlevel.services.recompute import load_prior, row_to_result

    data = synth.generate(40, 14, last_month="2026-06", seed=5)
    _load(session_factory, data)
    start, back = "2026-04", 6
    with session_scope(session_factory) as s:
        rows = s.scalars(select(MonthResultRow).where(
            MonthResultRow.month >= M.add_months(start, -back), MonthResultRow.month < start,
        ).order_by(MonthResultRow.agent_id, MonthResultRow.month)).all()
        expected: dict[str, list] = {}
        for row in rows:
            expected.setdefault(row.agent_id, []).append(replace(row_to_result(row), explanation={}, pay=None))
        assert sum(len(v) for v in expected.values()) > 100
        assert any(r.quality is not None and r.dimensions for v in expected.values() for r in v)
        assert load_prior(s, start, back) == expected
        lean = load_prior(s, start, back, items=False)
        assert lean == {aid: [replace(r, dimensions={}) for r in rs] for aid, rs in expected.items()}
        one = sorted(expected)[3]
        assert load_prior(s, start, back, one) == {one: expected[one]}


def test_stored_results_read_back_as_evaluated(session_factory):
    """``row_to_result`` gives back what the engine wrote, whether it reads an ORM row or a
    Core row of the table's columns (the star page's way)."""
    from starlevel.services.recompute import _plan, row_to_result

    data = synth.generate(30, 12, last_month="2026-06", seed=8)
    _load(session_factory, data)
    with session_scope(session_factory) as s:
        evaluated = {(r.agent_id, r.month): r for chunk in _plan(s, None, {}).chunks for r in chunk}
        table = MonthResultRow.__table__
        core = {(r.agent_id, r.month): row_to_result(r) for r in s.execute(select(table))}
        orm = {(r.agent_id, r.month): row_to_result(r) for r in s.scalars(select(MonthResultRow))}
    assert len(evaluated) > 200
    assert any(r.pay is not None for r in evaluated.values()) and any(r.pay is None for r in evaluated.values())
    assert any(r.red_line_codes for r in evaluated.values())
    assert core == evaluated
    assert orm == evaluated
