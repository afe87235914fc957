"""HR month benchmark on the engine benchmark's data set (10,000 agents × 36 months):
dashboard, payroll XLSX of one month, month close, and a what-if over 12 months against
a full recompute of the same 12 months, measured in the same run.

    .venv/bin/python bench/engine.py          # builds bench/out/bench-10000x36.sqlite3 first
    .venv/bin/python bench/hr_month.py        # works on a copy; the source stays untouched
    .venv/bin/python bench/hr_month.py --agents 2000 --months 36

Prints each figure against its target (issue 8) and the load average; nothing is
asserted (tests never time anything). The dashboard target is at 8 clients over HTTP:
bench/web.py measures that; here is the service alone, in process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
FAR_FUTURE = date(2099, 1, 1)  # every benchmark month has ended


def _timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, times


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on POSIX
        return "n/a"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--months", type=int, default=36)
    args = p.parse_args()
    source = OUT / f"bench-{args.agents}x{args.months}.sqlite3"
    if not source.exists():
        sys.exit(f"{source} is missing: run bench/engine.py --agents {args.agents} --months {args.months} first")
    copy = OUT / f"hr-month-{args.agents}x{args.months}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(copy) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, copy)
    url = f"sqlite:///{copy}"

    from sqlalchemy import func, select, update

    from starlevel.db.engine import make_engine, make_session_factory, session_scope
    from starlevel.db.migrate import upgrade
    from starlevel.db.models import MonthResultRow
    from starlevel.domain import months as M
    from starlevel.domain.rulebook import default_rulebook_document
    from starlevel.services import dashboard, months, payroll, whatif
    from starlevel.services.recompute import recompute
    from starlevel.web.exports import payroll_labels

    upgrade(url)
    factory = make_session_factory(make_engine(url))
    with factory() as s:
        last = s.scalar(select(func.max(MonthResultRow.month)))
        agents = s.scalar(select(func.count()).where(MonthResultRow.month == last))
    print(f"HR month benchmark: {agents:,} agents in {last} on SQLite; load average {_load()}")

    with factory() as s:
        s.execute(select(func.count()).select_from(MonthResultRow)).all()  # warm the cache
        _, t = _timed(lambda: dashboard.build(s, last), repeat=21)
        team = s.scalar(select(MonthResultRow.team).where(MonthResultRow.month == last).limit(1)) or ""
        _, t_team = _timed(lambda: dashboard.build(s, last, team=team), repeat=11)
    print(f"dashboard (service, one month + 12-month trend)  median {statistics.median(t) * 1000:7.1f} ms  "
          f"p90 {sorted(t)[int(len(t) * 0.9)] * 1000:.1f} ms  (target ≤ 100 ms median at 8 clients over HTTP: "
          f"bench/web.py)")
    print(f"dashboard filtered by one team                   median {statistics.median(t_team) * 1000:7.1f} ms")

    labels = payroll_labels("zh")
    with factory() as s:
        data, t = _timed(lambda: payroll.xlsx_bytes(payroll.load(s, last), labels), repeat=3)
    print(f"payroll XLSX of {last} ({agents:,} agents, open)    best {min(t):7.2f} s   ({len(data) / 1e6:.1f} MB)  "
          f"(target ≤ 2 s)")

    # What-if over the last 12 months against a full recompute of the same months.
    start = M.add_months(last, -11)
    draft = default_rulebook_document()
    draft["quotas"] = {}
    with factory() as s:
        result, t_whatif = _timed(lambda: whatif.run(s, draft, start=start, end=last))
        s.rollback()
    with session_scope(factory) as s:
        _, t_recompute = _timed(lambda: recompute(s, start=start))
    print(f"what-if {start}..{last}                      {t_whatif[0]:7.2f} s   "
          f"({len(result.diffs):,} differing agent-months)")
    print(f"recompute {start}..{last}                    {t_recompute[0]:7.2f} s   "
          f"what-if / recompute = {t_whatif[0] / t_recompute[0]:.2f}×  (target ≤ 2×)")

    # Month close: first the month before last (closes every earlier month too), then one month.
    before = M.add_months(last, -1)
    with session_scope(factory) as s:
        res, t_all = _timed(lambda: months.close_month(s, before, actor="bench", confirm_incomplete=True))
    print(f"first close of {before} ({len(res.months)} months at once)      {t_all[0]:7.2f} s  "
          f"(no target: a one-off when a company starts closing)")
    with factory() as s:
        data, t = _timed(lambda: payroll.xlsx_bytes(payroll.load(s, before), labels), repeat=3)
    print(f"payroll XLSX of {before} (closed: as paid)          best {min(t):7.2f} s   ({len(data) / 1e6:.1f} MB)  "
          f"(target ≤ 2 s)")
    with session_scope(factory) as s:
        res, t_one = _timed(lambda: months.close_month(s, last, actor="bench", confirm_incomplete=True,
                                                       confirm_changes=True, today=FAR_FUTURE))
    print(f"close of one month {last} ({res.agents:,} payroll lines)        {t_one[0]:7.2f} s  (target ≤ 5 s)")
    with session_scope(factory) as s:
        months.reopen_month(s, last, reason="bench", actor="bench")
        # Pay changes while the month is open again, so the re-close has changes to list.
        changed = list(s.scalars(select(MonthResultRow.agent_id).where(MonthResultRow.month == last)
                                 .order_by(MonthResultRow.agent_id).limit(1000)))
        s.execute(update(MonthResultRow).where(MonthResultRow.month == last, MonthResultRow.agent_id.in_(changed))
                  .values(total_pay=Decimal("1.00")))
    with session_scope(factory) as s:
        res, t_re = _timed(lambda: months.close_month(s, last, actor="bench", confirm_incomplete=True,
                                                      confirm_changes=True, today=FAR_FUTURE))
    print(f"re-close of {last} ({res.changes:,} changes since the last close)  {t_re[0]:7.2f} s  (target ≤ 5 s)")
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
