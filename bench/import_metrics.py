"""Metrics import speed: a fresh database, the agents file, then the metrics file twice
(the second time nothing changes: checking only); then the engine's load_metrics over
every stored row.

    .venv/bin/python bench/import_metrics.py                 # 10,000 agents × 36 months, SQLite
    .venv/bin/python bench/import_metrics.py --database-url postgresql://…

The data come from the synthetic generator (cached under bench/out like bench/engine.py's).
Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--database-url", default="")
    args = p.parse_args()

    from starlevel.db.engine import make_engine, make_session_factory, session_scope
    from starlevel.db.migrate import upgrade
    from starlevel.services import rulebooks, synth
    from starlevel.services.importer import import_table

    folder = HERE / "out" / f"data-{args.agents}x{args.months}"
    if not (folder / "metrics.csv").exists():
        synth.generate(args.agents, args.months, last_month="2026-10", seed=2026).write(folder)
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    upgrade(url)
    factory = make_session_factory(make_engine(url))
    for kind, label in (("agents", "agents"), ("metrics", "metrics, first import"), ("metrics", "metrics, again")):
        data = (folder / f"{kind}.csv").read_bytes()
        t, c = time.perf_counter(), time.process_time()
        with session_scope(factory) as s:
            rulebooks.ensure_default(s)
            res = import_table(s, kind, data, filename=f"{kind}.csv", actor="bench",
                               rulebook=rulebooks.current(s), today=date(2026, 11, 25))
        dt, dc = time.perf_counter() - t, time.process_time() - c
        print(f"{label:24} {res.rows:>9,} rows {dt:7.2f} s {res.rows / dt:>10,.0f} rows/s "
              f"(CPU {dc:.2f} s, {res.rows / dc:,.0f} rows/CPU-s; inserted {res.inserted:,}, unchanged {res.unchanged:,})")
    from starlevel.services.recompute import load_metrics

    with session_scope(factory) as s:
        t, c = time.perf_counter(), time.process_time()
        n = len(load_metrics(s, "0000-01"))
        dt, dc = time.perf_counter() - t, time.process_time() - c
    print(f"{'load_metrics':24} {n:>9,} rows {dt:7.2f} s {n / dt:>10,.0f} rows/s (CPU {dc:.2f} s)")


if __name__ == "__main__":
    main()
