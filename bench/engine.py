"""Engine benchmark: import, bare aggregation, full and one-month recompute, memory.

    .venv/bin/python bench/engine.py                      # 10,000 agents × 36 months on SQLite
    .venv/bin/python bench/engine.py --agents 2000 --months 24
    .venv/bin/python bench/engine.py --database-url postgresql://…
    .venv/bin/python bench/engine.py --postgres       # on a throwaway PostgreSQL cluster it starts
    .venv/bin/python bench/engine.py --phase direct   # only the direct scheme, on a copy of the built database

Each phase runs in its own process so that its peak memory (max RSS) is its own.
Figures are printed; nothing is asserted (tests never time anything).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_rss_mb() -> float:
    """The peak of the largest child the phase forked (the evaluation's children)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _processes(args: argparse.Namespace) -> int | None:
    return None if args.processes == "auto" else int(args.processes)


def phase_generate(args: argparse.Namespace) -> dict:
    from starlevel.services import synth

    folder = OUT / f"data-{args.agents}x{args.months}"
    if (folder / "inspections.csv").exists():
        return {"folder": str(folder), "cached": True}
    t = time.perf_counter()
    data = synth.generate(args.agents, args.months, last_month="2026-10", seed=2026)
    data.write(folder)
    return {"folder": str(folder), "seconds": time.perf_counter() - t, "inspections": data.n_inspections,
            "metrics": data.n_metrics, "agents": data.n_agents}


def _factory(url: str):  # type: ignore[no-untyped-def]
    from starlevel.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(url))


def phase_import(args: argparse.Namespace) -> dict:
    from datetime import date

    from starlevel.db.engine import session_scope
    from starlevel.db.migrate import upgrade
    from starlevel.services import rulebooks
    from starlevel.services.importer import import_table
    from starlevel.services.tabular import BULK_LIMITS

    upgrade(args.url)
    folder = OUT / f"data-{args.agents}x{args.months}"
    factory = _factory(args.url)
    figures = {}
    for kind in ("agents", "inspections", "metrics"):
        data = (folder / f"{kind}.csv").read_bytes()
        t = time.perf_counter()
        with session_scope(factory) as s:
            rulebooks.ensure_default(s)
            res = import_table(s, kind, data, filename=f"{kind}.csv", actor="bench",
                               rulebook=rulebooks.current(s), today=date(2026, 11, 25), limits=BULK_LIMITS)
        dt = time.perf_counter() - t
        figures[kind] = {"rows": res.rows, "seconds": round(dt, 2), "rows_per_s": round(res.rows / dt)}
    return figures


def phase_reimport(args: argparse.Namespace) -> dict:
    """Importing the same inspections file again: validation only, nothing written."""
    from datetime import date

    from starlevel.db.engine import session_scope
    from starlevel.services import rulebooks
    from starlevel.services.importer import import_table
    from starlevel.services.tabular import BULK_LIMITS

    folder = OUT / f"data-{args.agents}x{args.months}"
    data = (folder / "inspections.csv").read_bytes()
    t = time.perf_counter()
    with session_scope(_factory(args.url)) as s:
        res = import_table(s, "inspections", data, filename="inspections.csv", actor="bench",
                           rulebook=rulebooks.current(s), today=date(2026, 11, 25), limits=BULK_LIMITS)
    dt = time.perf_counter() - t
    return {"rows": res.rows, "inserted": res.inserted, "seconds": round(dt, 2), "rows_per_s": round(res.rows / dt)}


def phase_bare(args: argparse.Namespace) -> dict:
    """The floor: one GROUP BY over the inspections and their defects, fully fetched."""
    from sqlalchemy import text

    factory = _factory(args.url)
    sql = text(
        "SELECT i.agent_id, i.month, COUNT(DISTINCT i.inspection_id), COUNT(d.id) "
        "FROM inspections i LEFT JOIN inspection_defects d "
        "ON d.inspection_id = i.inspection_id AND d.voided_at IS NULL "
        "WHERE i.voided_at IS NULL GROUP BY i.agent_id, i.month"
    )
    best = None
    for _ in range(2):
        with factory() as s:
            t = time.perf_counter()
            rows = s.execute(sql).all()
            dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return {"groups": len(rows), "seconds": round(best, 2)}


def phase_recompute(args: argparse.Namespace) -> dict:
    from starlevel.db.engine import session_scope
    from starlevel.services.recompute import recompute

    t = time.perf_counter()
    with session_scope(_factory(args.url)) as s:
        stats = recompute(s, start=args.start, processes=_processes(args))
    return {"seconds": round(time.perf_counter() - t, 2), "results": stats.results, "start": stats.start,
            "processes": stats.processes, "phases": {k: round(v, 2) for k, v in stats.phases.items()}}


def phase_direct(args: argparse.Namespace) -> dict:
    """A direct scheme over the same company: a copy of the database whose monthly inputs are
    replaced by the four item scores of the ``lowest-item`` template (random 40–100, so
    every star occurs), which is then the only rulebook in force; a full recompute of it."""
    import shutil
    import tomllib

    from sqlalchemy import func, select, text

    from starlevel.db.engine import session_scope
    from starlevel.db.models import MonthResultRow
    from starlevel.domain.templates import template_text
    from starlevel.services import rulebooks
    from starlevel.services.recompute import recompute

    source = args.url[len("sqlite:///"):]
    copy = str(OUT / f"direct-{args.agents}x{args.months}.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        Path(copy + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, copy)
    factory = _factory(f"sqlite:///{copy}")
    score = "printf('%d', 40 + abs(random()) % 61)"
    with session_scope(factory) as s:
        first = s.scalar(select(func.min(MonthResultRow.month)))
        s.execute(text(
            "UPDATE monthly_metrics SET \"values\" = json_object("
            f"'staff_quality', {score}, 'service_quality', {score}, 'tech_support', {score}, 'performance', {score})"
        ))
        s.execute(text("UPDATE rulebook_versions SET effective_from = '2099-12' WHERE version = 1"))
        rulebooks.add_version(s, tomllib.loads(template_text("lowest-item")), effective_from="2000-01", actor="bench")
        s.execute(text("DELETE FROM rulebook_versions WHERE version = 1"))
    t = time.perf_counter()
    with session_scope(factory) as s:
        stats = recompute(s, processes=_processes(args))
        stars = dict(s.execute(select(MonthResultRow.level, func.count()).group_by(MonthResultRow.level)).all())
    return {"seconds": round(time.perf_counter() - t, 2), "results": stats.results, "first": first,
            "processes": stats.processes, "stars": {str(k): v for k, v in sorted(stars.items())},
            "phases": {k: round(v, 2) for k, v in stats.phases.items()}}


PHASES = {
    "generate": phase_generate, "import": phase_import, "reimport": phase_reimport, "bare": phase_bare,
    "recompute": phase_recompute, "direct": phase_direct,
}


def run_phase(name: str, args: argparse.Namespace, extra: list[str] | None = None) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--agents", str(args.agents), "--months", str(args.months),
           "--database-url", args.url, *(extra or [])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--database-url", dest="url", default=None)
    p.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--start", default=None, help=argparse.SUPPRESS)
    p.add_argument("--processes", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL cluster it starts and stops")
    args = p.parse_args()
    if args.postgres and not args.phase:
        cluster, args.url = _throwaway_postgres()
        try:
            _run_all(args)
        finally:
            cluster.stop()
        return
    if args.url is None:
        db = OUT / f"bench-{args.agents}x{args.months}.sqlite3"
        args.url = f"sqlite:///{db}"
    from starlevel.settings import normalise_database_url

    args.url = normalise_database_url(args.url)

    if args.phase:
        result = PHASES[args.phase](args)
        result["max_rss_mb"] = round(_rss_mb(), 1)
        result["children_max_rss_mb"] = round(_children_rss_mb(), 1)
        print(json.dumps(result))
        return
    _run_all(args)


def _throwaway_postgres():  # type: ignore[no-untyped-def]
    """A PostgreSQL cluster in a temporary folder with an empty database; (cluster, url)."""
    from sqlalchemy import text

    from starlevel.db.engine import make_engine

    sys.path.insert(0, str(HERE.parent))
    from tests.pgcluster import Cluster, wait_ready

    cluster = Cluster().start()
    try:
        wait_ready(cluster.url())
        admin = make_engine(cluster.url(), pool=False).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        admin.dispose()
    except BaseException:
        cluster.stop()
        raise
    from starlevel.settings import normalise_database_url

    return cluster, normalise_database_url(cluster.url("bench"))


def _run_all(args: argparse.Namespace) -> None:
    OUT.mkdir(exist_ok=True)
    if args.url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(args.url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)
    print(f"StarLevel engine benchmark: {args.agents:,} agents × {args.months} months on {args.url.split(':')[0]}")
    gen = run_phase("generate", args)
    print(f"data: {gen}")
    imp = run_phase("import", args)
    for kind in ("agents", "inspections", "metrics"):
        f = imp[kind]
        print(f"import {kind:<12} {f['rows']:>10,} rows  {f['seconds']:>7.2f} s  {f['rows_per_s']:>9,} rows/s")
    print(f"import peak memory          {imp['max_rss_mb']:>8.1f} MB")
    re_imp = run_phase("reimport", args)
    print(f"re-import inspections (no change) {re_imp['seconds']:.2f} s, {re_imp['rows_per_s']:,} rows/s, "
          f"inserted {re_imp['inserted']}")
    bare = run_phase("bare", args)
    print(f"bare SQL aggregation        {bare['seconds']:>8.2f} s  ({bare['groups']:,} agent-months)")
    # In process first (the evaluation before forked children existed), then as a command
    # runs it (a single-threaded process forks when the run is large): the same run twice.
    alone = run_phase("recompute", args, ["--processes", "1"])
    print(f"full recompute, in process  {alone['seconds']:>8.2f} s  ({alone['results']:,} results)  "
          f"peak {alone['max_rss_mb']:.0f} MB  phases {alone['phases']}")
    full = run_phase("recompute", args)
    print(f"full recompute              {full['seconds']:>8.2f} s  ({full['results']:,} results, "
          f"{full['processes']} processes)  peak {full['max_rss_mb']:.0f} MB, largest child "
          f"{full['children_max_rss_mb']:.0f} MB  phases {full['phases']}")
    last = full.get("last_month") or f"2026-10"
    inc = run_phase("recompute", args, ["--start", last])
    print(f"one-month incremental       {inc['seconds']:>8.2f} s  ({inc['results']:,} results from {inc['start']})  "
          f"peak {inc['max_rss_mb']:.0f} MB")
    if args.url.startswith("sqlite:///"):
        direct_alone = run_phase("direct", args, ["--processes", "1"])
        print(f"full recompute, direct, in process {direct_alone['seconds']:>8.2f} s  "
              f"peak {direct_alone['max_rss_mb']:.0f} MB  phases {direct_alone['phases']}")
        direct = run_phase("direct", args)
        print(f"full recompute, direct      {direct['seconds']:>8.2f} s  ({direct['results']:,} results, lowest-item, "
              f"{direct['processes']} processes; agent-months per star {direct['stars']})  peak "
              f"{direct['max_rss_mb']:.0f} MB, largest child {direct['children_max_rss_mb']:.0f} MB  "
              f"phases {direct['phases']}")
    print("")
    print("against the targets:")
    print(f"  full recompute / bare aggregation = {full['seconds'] / bare['seconds']:.2f}×  (target ≤ 2×)")
    print(f"  full recompute, in process ÷ as a command = {alone['seconds'] / full['seconds']:.2f}×  "
          f"(not slower: ≥ 1)")
    print(f"  full recompute = {full['seconds']:.1f} s  (target ≤ 30 s)")
    print(f"  peak memory = {max(full['max_rss_mb'], imp['max_rss_mb']):.0f} MB  (target ≤ 1024 MB)")
    print(f"  import = {imp['inspections']['rows_per_s']:,} inspection rows/s  (target ≥ 50,000)")
    print(f"  one-month incremental = {100 * inc['seconds'] / full['seconds']:.1f}% of full  (target ≤ 5%)")
    if args.url.startswith("sqlite:///"):
        print(f"  direct scheme full recompute = {direct['seconds']:.1f} s  (target ≤ 10 s)")


if __name__ == "__main__":
    main()
