"""Web benchmark against a real server process on the benchmark data set.

    .venv/bin/python bench/engine.py                 # builds bench/out/bench-10000x36.sqlite3 first
    .venv/bin/python bench/web.py                    # 8 concurrent clients, 400 requests per scenario
    .venv/bin/python bench/web.py --agents 2000 --months 36 --requests 800
    .venv/bin/python bench/web.py --postgres         # the same on a throwaway PostgreSQL cluster it loads

Scenarios: a trivial template page (GET /login, the ceiling), an agent's "my star" page
(GET /me), HR's dashboard (GET /hr/dashboard as an HR user: the latest ended month and its
12-month trend), and saving an inspection (POST /api/inspections, the same service as the form,
including the re-evaluation of the agent). Prints requests/s, median, p90, p99 and max
latency per scenario, then how long the deferred company-wide recomputes the saves left
took to drain. Nothing is asserted.

Each client keeps one connection open, and the kernel hands a new connection to whichever
server process accepts first: eight connections of a scenario could all land in one
process (one core) and double its latency, a luck of the draw real traffic (many browsers,
short-lived connections) does not have. So each scenario's clients are chosen among more
connections than it needs, as evenly over the server processes as possible (found with
`ss`), and the split is printed with the figures.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from datetime import date
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PASSWORD = "bench-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str) -> tuple[str, list[str], str]:
    """Bench logins (idempotent); returns (agent username's agent id, active agents, month)."""
    from sqlalchemy import func, select

    from starlevel.db.engine import make_engine, make_session_factory, session_scope
    from starlevel.db.models import Agent, MonthResultRow, User
    from starlevel.services import users

    factory = make_session_factory(make_engine(url))
    with session_scope(factory) as s:
        month = s.scalar(select(func.max(MonthResultRow.month)))
        # Agents hired before the month and not leaving before its 15th, so that a contact on
        # the 15th is a valid save for every one of them.
        fifteenth = date.fromisoformat(f"{month}-15")
        active = list(s.scalars(select(MonthResultRow.agent_id).join(Agent, Agent.agent_id == MonthResultRow.agent_id)
                                .where(MonthResultRow.month == month, Agent.hired_on < date.fromisoformat(f"{month}-01"),
                                       (Agent.left_on.is_(None)) | (Agent.left_on >= fifteenth))
                                .order_by(MonthResultRow.agent_id)))
        # The agent with the longest history, so the page shows the most rows.
        longest = s.execute(select(MonthResultRow.agent_id, func.count()).group_by(MonthResultRow.agent_id)
                            .order_by(func.count().desc(), MonthResultRow.agent_id).limit(1)).first()[0]
        for name, role, agent in (("bench-agent", "agent", longest), ("bench-qa", "inspector", None),
                                  ("bench-hr", "hr", None)):
            if s.scalar(select(User).where(User.username == name)) is None:
                users.create_user(s, name, role=role, agent_id=agent, password=PASSWORD, actor="bench")
    return longest, active, month


def admin_for(url: str):  # type: ignore[no-untyped-def]
    from starlevel.db.engine import make_engine

    return make_engine(url, pool=False).execution_options(isolation_level="AUTOCOMMIT")


def throwaway_postgres(agents: int, months: int):  # type: ignore[no-untyped-def]
    """Start a PostgreSQL cluster in a temporary folder and load the benchmark data set into
    it (bench/engine.py's phases); returns (cluster, url). The caller stops the cluster."""
    from sqlalchemy import text

    sys.path.insert(0, str(HERE.parent))
    from tests.pgcluster import Cluster, wait_ready

    cluster = Cluster().start()
    try:
        wait_ready(cluster.url())
        admin = admin_for(cluster.url())
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE bench"))
        admin.dispose()
        url = cluster.url("bench")
        for phase in ("generate", "import", "recompute"):
            t = time.perf_counter()
            subprocess.run([sys.executable, str(HERE / "engine.py"), "--phase", phase, "--agents", str(agents),
                            "--months", str(months), "--database-url", url], check=True, stdout=subprocess.DEVNULL)
            print(f"postgres: {phase} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        # What autovacuum does within a minute or two of a bulk load (and a DBA at once): it
        # sets the visibility map that keeps the dashboard's counts index-only. Measuring
        # before it ran would time the heap fetches of a table nobody has vacuumed yet.
        with admin_for(url).connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    except BaseException:
        cluster.stop()
        raise
    return cluster, url


def drain_seconds(url: str, limit: float = 600) -> tuple[int, float]:
    """Recompute requests pending when the load stopped, and how long the workers took to run them."""
    from sqlalchemy import func, select

    from starlevel.db.engine import make_engine, make_session_factory
    from starlevel.db.models import RecomputeRequest

    engine = make_engine(url, pool=False)
    factory = make_session_factory(engine)
    pending = select(func.count()).select_from(RecomputeRequest).where(RecomputeRequest.done_at.is_(None))
    t0 = time.perf_counter()
    try:
        with factory() as s:
            first = s.scalar(pending) or 0
        while time.perf_counter() - t0 < limit:
            with factory() as s:
                if not s.scalar(pending):
                    break
            time.sleep(0.1)
        return first, time.perf_counter() - t0
    finally:
        engine.dispose()


def start_server(url: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    from starlevel.web.serving import APP_FACTORY, http_protocol

    env = {**os.environ, "DATABASE_URL": url, "STARLEVEL_SECRET_KEY": "bench"}
    # The app factory and connection protocol `starlevel serve` uses (the heap frozen after
    # start-up; TCP_NODELAY on every connection, httptools).
    cmd = [sys.executable, "-m", "uvicorn", APP_FACTORY, "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers),
           "--http", http_protocol()]
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=1):
                return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)


def signed_in(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=30)
    c.get("/login")
    r = c.post("/login", data={"username": username, "password": PASSWORD, "_csrf_token": c.cookies["csrftoken"]})
    if r.status_code >= 400:
        raise RuntimeError(f"sign-in failed for {username}: {r.status_code}")
    return c


def _server_pids(port: int) -> dict[int, str]:
    """Established connections to the server's ``port``: the client's port → the server
    process holding the connection (empty where ``ss`` is not available)."""
    try:
        out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    found = {}
    for line in out.splitlines():
        pid = re.search(r"pid=(\d+)", line)
        if pid:
            found[int(line.split()[3].rsplit(":", 1)[1])] = pid.group(1)
    return found


def _client_port(c: httpx.Client, path: str) -> int:
    r = c.get(path)  # also the untimed first request of this client
    return r.extensions["network_stream"].get_extra_info("socket").getsockname()[1]


def spread_clients(base: str, make, path: str, n: int, workers: int) -> tuple[list[httpx.Client], str]:  # type: ignore[no-untyped-def]
    """``n`` clients (``make()`` opens one) whose connections are spread as evenly as the
    server processes allow: connections are opened (at most 8 × n) until every process
    holds its share, the others are closed. Returns them and the split, e.g. "4/4"."""
    port = int(base.rsplit(":", 1)[1])
    share = math.ceil(n / workers)
    by_process: dict[str, list[httpx.Client]] = defaultdict(list)
    opened: list[httpx.Client] = []
    while len(opened) < 8 * n:
        c = make()
        opened.append(c)
        local = _client_port(c, path)
        process = _server_pids(port).get(local)
        if process is None:  # no way to tell: take n as they come
            for _ in range(n - len(opened)):
                opened.append(make())
                _client_port(opened[-1], path)
            return opened, "?"
        by_process[process].append(c)
        if len(opened) >= n and sum(min(share, len(cs)) for cs in by_process.values()) >= n:
            break
    chosen: list[httpx.Client] = []
    queues = list(by_process.values())
    split = [0] * len(queues)
    while len(chosen) < n:  # one from each process in turn
        for k, cs in enumerate(queues):
            if cs and len(chosen) < n:
                chosen.append(cs.pop(0))
                split[k] += 1
    for cs in queues:
        for c in cs:
            c.close()
    return chosen, "/".join(str(k) for k in sorted(split, reverse=True))


def run(name: str, clients: list[httpx.Client], requests: int, one) -> dict:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(c: httpx.Client) -> None:
        nonlocal errors
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t = time.perf_counter()
            ok = one(c, i)
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                errors += 0 if ok else 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "name": name, "requests": len(latencies), "errors": errors, "rps": len(latencies) / wall,
        "median_ms": 1000 * statistics.median(latencies), "p90_ms": 1000 * q[89], "p99_ms": 1000 * q[98],
        "max_ms": 1000 * latencies[-1],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--database-url", dest="url", default=None)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--workers", type=int, default=2, help="server processes (default: one per core here)")
    p.add_argument("--only", default="", help="run only the scenarios whose name contains this text (e.g. dashboard)")
    p.add_argument("--postgres", action="store_true",
                   help="start a throwaway PostgreSQL cluster, load the data set into it and run there")
    args = p.parse_args()
    from starlevel.settings import normalise_database_url

    cluster = None
    if args.postgres:
        cluster, url = throwaway_postgres(args.agents, args.months)
    else:
        url = normalise_database_url(args.url or f"sqlite:///{OUT / f'bench-{args.agents}x{args.months}.sqlite3'}")
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        sys.exit(f"no benchmark database at {url}: run bench/engine.py --agents {args.agents} --months {args.months} first")
    proc = None
    try:
        agent_id, active, month = prepare(url)
        proc, base = start_server(url, args.workers)
        # Each client's first request (untimed) is made here: each server process builds its
        # statements and caches on first use, once in its lifetime.
        splits: dict[str, str] = {}
        agents, splits["agent"] = spread_clients(base, lambda: signed_in(base, "bench-agent"), "/me",
                                                 args.clients, args.workers)
        inspectors, splits["save"] = spread_clients(base, lambda: signed_in(base, "bench-qa"), "/login",
                                                    args.clients, args.workers)
        hr_users, splits["dashboard"] = spread_clients(base, lambda: signed_in(base, "bench-hr"), "/hr/dashboard",
                                                       args.clients, args.workers)
        anon, splits["trivial"] = spread_clients(base, lambda: httpx.Client(base_url=base, timeout=30), "/login",
                                                 args.clients, args.workers)
        rng = random.Random(1)
        stamp = int(time.time())
        codes = ["", "T1-01", "T1-03", "T2-05", "T1-02"]
        failures: list[str] = []

        def page(path: str):  # type: ignore[no-untyped-def]
            return lambda c, i: c.get(path).status_code == 200

        def save(c: httpx.Client, i: int) -> bool:
            body = {
                "agent_id": rng.choice(active), "contact_on": f"{month}-15", "channel": "chat",
                "contact_ref": f"bench-{stamp}-{i}", "defects": [{"code": x} for x in [rng.choice(codes)] if x],
            }
            r = c.post("/api/inspections", json=body, headers={"x-csrftoken": c.cookies["csrftoken"]})
            if r.status_code != 201:
                failures.append(f"{r.status_code} {r.text[:300]}")
            return r.status_code == 201

        for k, c in enumerate(inspectors):  # and an untimed save per inspector
            save(c, -1 - k)
        scenarios = [
            ("trivial template page  GET /login", anon, page("/login")),
            ("agent page             GET /me", agents, page("/me")),
            ("HR dashboard           GET /hr/dashboard", hr_users, page("/hr/dashboard")),
            ("inspection save        POST /api/inspections", inspectors, save),
        ]
        results = [{**run(name, clients, args.requests, one), "split": next(v for k, v in splits.items() if k in name.lower())}
                   for name, clients, one in scenarios if args.only.lower() in name.lower()]
        left, drained = drain_seconds(url)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        if cluster is not None:
            cluster.stop()
    print(f"StarLevel web benchmark: {args.agents:,} agents × {args.months} months, {url.split(':')[0]}, "
          f"{args.clients} concurrent clients, {args.workers} server worker(s); agent page of {agent_id}")
    print(f"{'scenario':<46} {'req/s':>7} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8} {'errors':>6}  "
          f"clients per server process")
    for r in results:
        print(f"{r['name']:<46} {r['rps']:>7.1f} {r['median_ms']:>6.1f}ms {r['p90_ms']:>6.1f}ms "
              f"{r['p99_ms']:>6.1f}ms {r['max_ms']:>6.1f}ms {r['errors']:>6}  {r['split']}")
    for failure in sorted(set(failures))[:5]:
        print(f"  failed save: {failure}")
    print(f"deferred recomputes pending when the saves stopped: {left}, all run {drained:.1f}s later")
    print("targets: agent page and inspection save each ≤ 50 ms median and ≤ 150 ms p99 at 8 clients; "
          "HR dashboard ≤ 100 ms median at 8 clients")


if __name__ == "__main__":
    main()
