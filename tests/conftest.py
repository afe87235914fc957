"""Shared fixtures. ``STARLEVEL_TEST_DB=postgres`` runs the suite on a throwaway
PostgreSQL cluster; the default is SQLite. Each test that asks for ``db_url`` gets
a fresh, migrated database cloned from a template migrated once per session."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from starlevel.db.engine import make_engine, make_session_factory
from starlevel.db.migrate import upgrade

TEST_DB = os.environ.get("STARLEVEL_TEST_DB", "sqlite")
_counter = itertools.count()


def pytest_report_header(config: pytest.Config) -> str:
    return f"starlevel test database: {TEST_DB}"


@pytest.fixture(scope="session")
def _pg_cluster() -> Iterator[object]:
    from tests.pgcluster import Cluster, wait_ready

    cluster = Cluster().start()
    wait_ready(cluster.url())
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def _template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate one template database to head; tests clone it."""
    if TEST_DB == "postgres":
        cluster = request.getfixturevalue("_pg_cluster")
        admin = make_engine(cluster.url(), pool=False).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE starlevel_template"))
        admin.dispose()
        upgrade(cluster.url("starlevel_template"))
        return cluster.url("starlevel_template")
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return str(path)


def new_pg_database(cluster: object, *, template: str | None = None) -> str:
    """Create a fresh database on the test cluster (a copy of ``template``, or empty)."""
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = make_engine(cluster.url(), pool=False).execution_options(isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f" TEMPLATE {template}" if template else "")))
    admin.dispose()
    return cluster.url(name)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def db_url(request: pytest.FixtureRequest, _template: str, tmp_path: Path) -> str:
    if TEST_DB == "postgres":
        return new_pg_database(request.getfixturevalue("_pg_cluster"), template="starlevel_template")
    path = tmp_path / "starlevel.sqlite3"
    shutil.copyfile(_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(db_url, pool=False)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine):  # type: ignore[no-untyped-def]
    return make_session_factory(engine)


# ---------------------------------------------------------------- web app fixtures

import re
import socket
import subprocess
import sys
import time
import urllib.request

from starlevel.settings import Settings

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


@pytest.fixture
def app(db_url: str):  # type: ignore[no-untyped-def]
    from starlevel.app import create_app

    application = create_app(Settings(database_url=db_url, secret_key="test-secret"))
    yield application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from litestar.testing import TestClient

    with TestClient(app=app, base_url="http://testserver.local") as c:
        yield c


@pytest.fixture
def cheap_hashes(monkeypatch):  # type: ignore[no-untyped-def]
    """Sign-in is not under test: hash passwords quickly."""
    from argon2 import PasswordHasher

    from starlevel.services import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def csrf_token(client) -> str:  # type: ignore[no-untyped-def]
    """Fetch a page so the CSRF cookie is set; return the token for the x-csrftoken header."""
    if "csrftoken" not in client.cookies:
        client.get("/login")
    return client.cookies.get("csrftoken")


def sign_in(client, username: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": username, "password": password, "_csrf_token": token},
        follow_redirects=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(db_url: str):  # type: ignore[no-untyped-def]
    """The app under uvicorn in a subprocess, on a free loopback port, started by the factory
    ``starlevel serve`` uses."""
    from starlevel.web.serving import APP_FACTORY

    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "STARLEVEL_SECRET_KEY": "test-secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", APP_FACTORY, "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"server did not start:\n{out}")
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: scripts/test.sh installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# ---------------------------------------------------------------- accessibility (axe-core)

_AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
}"""


def _axe_source() -> str:
    # axe-playwright-python (a test extra) ships axe-core's axe.min.js; we only need the file.
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Run axe-core (every default rule) on the page as it is now; the list of violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    return page.evaluate(_AXE_RUN)


def format_violations(where: str, violations: list[dict]) -> str:
    lines = [f"axe-core: {len(violations)} violation(s) on {where}"]
    for v in violations:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
        for n in v["nodes"][:5]:
            lines.append(f"    {n['target']}: {(n['summary'] or '').splitlines()[-1].strip()}")
        if len(v["nodes"]) > 5:
            lines.append(f"    … {len(v['nodes']) - 5} more")
    return "\n".join(lines)


class _AxeWatch:
    """Checks every page a test visits: after each navigation the test waits for (goto,
    wait_for_url, wait_for_load_state) and once more on the final state at teardown."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.found: list[str] = []
        self.seen: set[tuple[str, int]] = set()
        self.busy = False

    def check(self, page) -> None:  # type: ignore[no-untyped-def]
        if self.busy or page.is_closed() or not page.url.startswith(("http://", "https://")):
            return  # only the app's own pages (a test's about:blank or data: page is not one)
        self.busy = True
        try:
            page.wait_for_load_state("load")
            key = (page.url, page.evaluate("document.documentElement.outerHTML.length"))
            if key in self.seen:
                return
            self.seen.add(key)
            violations = axe_violations(page)
        except Exception:  # navigating away right now: the next checkpoint sees the page
            return
        finally:
            self.busy = False
        if violations:
            self.found.append(format_violations(f"{page.url} ({self.label})", violations))

    def watch(self, page):  # type: ignore[no-untyped-def]
        for name in ("goto", "wait_for_url", "wait_for_load_state"):
            original = getattr(page, name)

            def wrapped(*args, __original=original, **kwargs):  # type: ignore[no-untyped-def]
                result = __original(*args, **kwargs)
                self.check(page)
                return result

            setattr(page, name, wrapped)
        return page


@pytest.fixture
def new_page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A factory of pages with their own context: new_page(lang="zh", width=1280).
    axe-core runs on every page the test visits; any violation fails the test."""
    contexts = []
    watches: list[tuple[_AxeWatch, object]] = []

    def make(lang: str = "en", width: int = 1280, height: int = 900, enforce_csp: bool = False):  # type: ignore[no-untyped-def]
        # Test helpers (Playwright's string predicates, axe-core) run as page script, which the
        # app's Content-Security-Policy refuses; tests/web/test_csp_browser.py enforces it.
        ctx = browser.new_context(
            bypass_csp=not enforce_csp,
            locale="zh-CN" if lang == "zh" else "en-GB",
            extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9" if lang == "zh" else "en-GB,en;q=0.9"},
            viewport={"width": width, "height": height},
        )
        ctx.set_default_timeout(15000)
        contexts.append(ctx)
        watch = _AxeWatch(f"{lang}, {width}px")
        page = watch.watch(ctx.new_page())
        watches.append((watch, page))
        return page

    yield make
    failed = request.node.stash.get(_FAILED, False)
    problems: list[str] = []
    for watch, page in watches:
        if not failed:
            watch.check(page)
        problems.extend(watch.found)
    for ctx in contexts:
        ctx.close()
    if problems and not failed:
        pytest.fail("\n".join(problems), pytrace=False)


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{TEST_DB}-{name}")
    path = ARTIFACTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_sign_in(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
