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


@pytest.fixture
def db_url(request: pytest.FixtureRequest, _template: str, tmp_path: Path) -> str:
    if TEST_DB == "postgres":
        cluster = request.getfixturevalue("_pg_cluster")
        name = f"t{os.getpid()}_{next(_counter)}"
        admin = make_engine(cluster.url(), pool=False).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE starlevel_template'))
        admin.dispose()
        return cluster.url(name)
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
