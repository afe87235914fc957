"""A large recompute evaluates in forked children while this process writes the rows
(services.forked): the rows are exactly those of the evaluation in process, on both
databases, for a ladder (one child: its agents are ranked together) and for a direct
scheme (two children, half of the agents each); a failure or the death of a child is
raised here and the transaction writes nothing."""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
import threading
import tomllib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from starlevel.db.engine import session_scope
from starlevel.db.models import MonthResultRow
from starlevel.domain.ladder import agents_independent
from starlevel.domain.templates import template_text
from starlevel.services import forked, rulebooks, synth
from starlevel.services import recompute as recompute_module
from starlevel.services.importer import import_table
from starlevel.services.recompute import recompute

TODAY = date(2026, 11, 25)
ITEMS = ("staff_quality", "service_quality", "tech_support", "performance")


def snapshot(s) -> list[tuple]:  # type: ignore[no-untyped-def]
    cols = list(MonthResultRow.__table__.columns)
    return [tuple(r) for r in s.execute(select(*cols).order_by(MonthResultRow.agent_id, MonthResultRow.month))]


def _item_scores(metrics_csv: bytes, seed: int, from_month: str) -> bytes:
    """The same agent-months as a default metrics file; from ``from_month`` on, the four
    item scores of ``lowest-item`` instead (40–100, so that every star occurs), the
    default's columns left empty, and before it the other way round."""
    rng = random.Random(seed)
    reader = csv.DictReader(io.StringIO(metrics_csv.decode("utf-8")))
    defaults = [c for c in reader.fieldnames or () if c not in ("agent_id", "month")]
    out = io.StringIO()
    out.write(",".join(["agent_id", "month", *defaults, *ITEMS]) + "\n")
    for row in reader:
        if row["month"] >= from_month:
            cells = [""] * len(defaults) + [str(rng.randint(40, 100)) for _ in ITEMS]
        else:
            cells = [row[c] for c in defaults] + [""] * len(ITEMS)
        out.write(",".join([row["agent_id"], row["month"], *cells]) + "\n")
    return out.getvalue().encode("utf-8")


def _company(session_factory, *, direct_from: str | None, agents: int = 60, months: int = 14):  # type: ignore[no-untyped-def]
    """A synthetic company; ``direct_from``: ``lowest-item`` is in force from that month."""
    data = synth.generate(agents, months, last_month="2026-06", seed=7)
    with session_scope(session_factory) as s:
        rulebooks.ensure_default(s)
        if direct_from is not None:
            rulebooks.add_version(s, tomllib.loads(template_text("lowest-item")), effective_from=direct_from, actor="t")
        rb = rulebooks.current(s)
        metrics = data.metrics_csv if direct_from is None else _item_scores(data.metrics_csv, 7, direct_from)
        for kind, body in (("agents", data.agents_csv), ("inspections", data.inspections_csv), ("metrics", metrics)):
            import_table(s, kind, body, filename=f"{kind}.csv", actor="t", rulebook=rb, today=TODAY)
    return data


def _children_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted: list[int] = []
    real = forked.batches_from_children

    def counting(producers, phases):  # type: ignore[no-untyped-def]
        counted.append(len(producers))
        return real(producers, phases)

    monkeypatch.setattr(forked, "batches_from_children", counting)
    return counted


@pytest.mark.parametrize(("direct_from", "children", "children_from_2026_02"),
                         [(None, 1, 1), ("2000-01", 2, 2), ("2026-01", 1, 2)],
                         ids=["ladder", "direct", "ladder-then-direct"])
def test_forked_recompute_writes_exactly_the_rows_evaluated_in_process(session_factory, monkeypatch, direct_from,
                                                                     children, children_from_2026_02):
    _company(session_factory, direct_from=direct_from)
    counted = _children_counted(monkeypatch)
    with session_scope(session_factory) as s:
        in_process = recompute(s, processes=1)
        expected = snapshot(s)
    assert counted == [] and in_process.processes == 1
    assert len(expected) > 500
    if direct_from == "2000-01":
        assert {r[17] for r in expected} == {1, 2, 3, 4, 5}  # every star occurs
    with session_scope(session_factory) as s:
        stats = recompute(s, processes=2)
        assert snapshot(s) == expected
    assert counted == [children]
    assert stats.processes == 1 + children and stats.results == in_process.results == len(expected)
    assert stats.phases["ladder"] > 0 and "wait_for_child" in stats.phases

    # From a month on (the children resume from the stored results this process read;
    # a direct scheme in force in every month from there splits its agents).
    with session_scope(session_factory) as s:
        recompute(s, start="2026-02", processes=2)
        assert snapshot(s) == expected
    assert counted == [children, children_from_2026_02]


def test_agents_are_independent_only_where_every_version_in_force_is_direct(session_factory):
    _company(session_factory, direct_from="2026-01")
    with session_scope(session_factory) as s:
        books = rulebooks.load_all(s)
    assert agents_independent(books, "2026-01", "2026-06")
    assert not agents_independent(books, "2025-12", "2026-06")
    assert not agents_independent(books, "2025-01", "2025-03")


def test_a_failure_in_a_child_is_raised_here_and_nothing_is_written(session_factory, monkeypatch):
    _company(session_factory, direct_from=None)
    with session_scope(session_factory) as s:
        recompute(s, processes=1)
        before = snapshot(s)

    def no_rows(*_args):  # type: ignore[no-untyped-def]
        raise ValueError("no row for you")

    monkeypatch.setattr(recompute_module, "result_values", no_rows)  # called in the child only
    with pytest.raises(ValueError, match="no row for you") as raised:
        with session_scope(session_factory) as s:
            recompute(s, processes=2)
    assert any("evaluation process" in note for note in raised.value.__notes__)
    with session_scope(session_factory) as s:
        assert snapshot(s) == before

    monkeypatch.setattr(recompute_module, "result_values", lambda *_a: os._exit(3))  # the child dies
    with pytest.raises(forked.ChildFailed, match="exit codes 3"):
        with session_scope(session_factory) as s:
            recompute(s, processes=2)
    with session_scope(session_factory) as s:
        assert snapshot(s) == before


def test_a_recompute_forks_only_when_large_and_single_threaded() -> None:
    agents = [object()] * 1000
    small = recompute_module._Plan("2026-01", "2026-06", "2026-01", 6, [], iter(()), lambda *a: iter(()), agents[:10])
    large = recompute_module._Plan("2026-01", "2026-06", "2026-01", 24, [], iter(()), lambda *a: iter(()), agents)
    assert not recompute_module._fork_pays(small, None)
    assert recompute_module._fork_pays(large, None) == forked.can_fork()
    assert not recompute_module._fork_pays(large, 1)
    assert recompute_module._fork_pays(small, 2)

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not forked.can_fork()  # a second thread: never fork
        assert not recompute_module._fork_pays(large, None)
    finally:
        release.set()
        other.join()


def test_the_command_line_recompute_forks_for_a_large_company(session_factory, db_url, tmp_path: Path):
    """`starlevel recompute` is a single-threaded process: a large run evaluates in a child
    (the rows again equal the evaluation in process)."""
    _company(session_factory, direct_from=None, agents=520, months=30)
    with session_scope(session_factory) as s:
        stats = recompute(s, processes=1)
        expected = snapshot(s)
    assert stats.results >= recompute_module.FORK_MIN_AGENT_MONTHS
    env = {**os.environ, "DATABASE_URL": db_url}
    done = subprocess.run([sys.executable, "-m", "starlevel.cli", "recompute"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{stats.results} agent-months" in done.stdout and "(2 processes)" in done.stdout
    with session_scope(session_factory) as s:
        assert snapshot(s) == expected


def _hand_over_forever(_phases):  # type: ignore[no-untyped-def]
    while True:
        yield b"x" * 100_000


def test_a_child_does_not_outlive_the_process_that_forked_it(tmp_path: Path):
    """A process killed while its child still has batches to hand over: the child goes too
    (else it would wait on a full queue forever)."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from starlevel.services import forked\n"
        "from tests.test_forked_recompute import _hand_over_forever\n"
        "with forked.batches_from_children([_hand_over_forever], {}) as batches:\n"
        "    next(batches)\n"
        "    print(list(forked.multiprocessing.active_children())[0].pid, flush=True)\n"
        "    time.sleep(600)\n", encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], cwd=Path(__file__).resolve().parent.parent,
                              stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        os.kill(child, 0)  # running, blocked on the full queue
        parent.kill()
        parent.wait(timeout=30)
        for _ in range(200):
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            if _reaped_or_zombie(child):
                break
            threading.Event().wait(0.05)
        else:
            os.kill(child, 9)
            raise AssertionError("the child outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=30)
        parent.stdout.close()  # type: ignore[union-attr]


def _reaped_or_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state == "Z"


def test_the_children_see_what_this_transaction_has_not_committed_yet(session_factory):
    """An import and its recompute are one transaction (the command line's import): the
    children evaluate the inputs this process read, uncommitted rows included."""
    data = _company(session_factory, direct_from=None)
    agent = data.agents_csv.decode("utf-8").splitlines()[1].split(",")[0]
    extra = ("inspection_id,agent_id,contact_on,channel,contact_ref,inspector,defect_codes\n"
             + "".join(f"LATE{n},{agent},2026-03-1{n},chat,late-{n},qa,T3-01\n" for n in range(3))).encode()
    results = []
    for processes in (1, 2):
        with session_factory() as s:
            rb = rulebooks.current(s)
            res = import_table(s, "inspections", extra, filename="late.csv", actor="t", rulebook=rb, today=TODAY)
            recompute(s, start=res.first_affected_month, processes=processes)
            results.append(snapshot(s))
            s.rollback()  # the next round starts from the same committed state
    assert results[0] == results[1]
    march = [r for r in results[1] if r[0] == agent and r[1] == "2026-03"]
    assert march and "T3-01" in march[0][16]  # the red line the import brought
