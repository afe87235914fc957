from sqlalchemy import inspect

from starlevel.db.migrate import current
from starlevel.db.models import Base


def test_database_is_at_head_with_every_table(db_url, engine):
    assert current(db_url) is not None
    tables = set(inspect(engine).get_table_names())
    missing = set(Base.metadata.tables) - tables
    assert not missing, f"tables missing after migrations: {missing}"


def test_models_match_migrations(engine):
    """Autogenerate against the migrated database finds nothing to add or drop."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    structural = [d for d in diff if isinstance(d, tuple) and d[0] in {"add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index"}]
    assert structural == []


# ----------------------------------------------------------- 0002: generic monthly inputs

from decimal import Decimal

import orjson
import pytest
from alembic import command
from sqlalchemy import text

from starlevel.db.engine import make_engine
from starlevel.db.migrate import alembic_config
from tests.conftest import TEST_DB, new_pg_database



@pytest.fixture
def blank_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """An empty database (no migrations applied)."""
    if TEST_DB == "postgres":
        return new_pg_database(request.getfixturevalue("_pg_cluster"))
    return f"sqlite:///{tmp_path / 'blank.sqlite3'}"


_OLD_ROWS = [
    ("A1", "2024-01", "92.50", "88.00", 4, 0),
    ("A1", "2024-02", "100.00", "0.00", 1, 12),
    ("A2", "2024-01", "79.99", "85.10", 5, 3),
]


def _seed_0001(url: str) -> None:
    command.upgrade(alembic_config(url), "0001")
    eng = make_engine(url, pool=False)
    with eng.begin() as conn:
        for aid in ("A1", "A2"):
            conn.execute(text(
                "INSERT INTO agents (agent_id, name, track, team, hired_on, initial_level, probation_months, "
                "created_at, updated_at) VALUES (:a, :a, 'phone', 'T', '2023-06-01', 1, 3, "
                "'2024-01-01 00:00:00', '2024-01-01 00:00:00')"), {"a": aid})
        for aid, month, sat, eff, att, comp in _OLD_ROWS:
            conn.execute(text(
                "INSERT INTO monthly_metrics (agent_id, month, satisfaction, efficiency, attitude, complaints, "
                "updated_at) VALUES (:a, :m, :s, :e, :t, :c, '2024-03-01 00:00:00')"),
                {"a": aid, "m": month, "s": Decimal(sat) if "postgresql" in url else sat, "e":
                 Decimal(eff) if "postgresql" in url else eff, "t": att, "c": comp})
    eng.dispose()


def test_0002_carries_the_four_metrics_over_and_back(blank_url):
    _seed_0001(blank_url)
    command.upgrade(alembic_config(blank_url), "head")
    eng = make_engine(blank_url, pool=False)
    try:
        with eng.connect() as conn:
            cols = {c["name"] for c in inspect(conn).get_columns("monthly_metrics")}
            assert cols == {"agent_id", "month", "values", "updated_at"}
            stored = {(a, m): orjson.loads(v) for a, m, v in conn.execute(
                text('SELECT agent_id, month, CAST("values" AS TEXT) FROM monthly_metrics'))}
        assert stored == {
            (a, m): {"satisfaction": s, "efficiency": e, "attitude": str(t), "complaints": str(c)}
            for a, m, s, e, t, c in _OLD_ROWS
        }
        # The engine's loader reads them as exact decimals.
        from starlevel.db.engine import make_session_factory
        from starlevel.services.recompute import load_metrics
        from starlevel.domain.model import Metrics

        with make_session_factory(eng)() as session:
            loaded = load_metrics(session, "2024-01")
        assert loaded[("A1", "2024-02")] == Metrics("A1", "2024-02", {
            "satisfaction": Decimal("100.00"), "efficiency": Decimal("0.00"),
            "attitude": Decimal(1), "complaints": Decimal(12)})
    finally:
        eng.dispose()

    command.downgrade(alembic_config(blank_url), "0001")
    eng = make_engine(blank_url, pool=False)
    try:
        with eng.connect() as conn:
            back = {tuple(r[:2]): (str(r[2]), str(r[3]), r[4], r[5]) for r in conn.execute(text(
                "SELECT agent_id, month, satisfaction, efficiency, attitude, complaints FROM monthly_metrics"))}
        assert back == {(a, m): (s, e, t, c) for a, m, s, e, t, c in _OLD_ROWS}
    finally:
        eng.dispose()


def test_0002_downgrade_refuses_to_drop_other_inputs(blank_url):
    command.upgrade(alembic_config(blank_url), "head")
    eng = make_engine(blank_url, pool=False)
    try:
        with eng.begin() as conn:
            conn.execute(text(
                "INSERT INTO agents (agent_id, name, track, team, hired_on, initial_level, probation_months, "
                "created_at, updated_at) VALUES ('A1', 'A1', 'phone', 'T', '2023-06-01', 1, 3, "
                "'2024-01-01 00:00:00', '2024-01-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO monthly_metrics (agent_id, month, \"values\", updated_at) "
                "VALUES ('A1', '2024-01', '{\"fee_rate\": \"97.5\"}', '2024-03-01 00:00:00')"))
    finally:
        eng.dispose()
    with pytest.raises(RuntimeError, match="cannot downgrade: 1 monthly_metrics row"):
        command.downgrade(alembic_config(blank_url), "0001")


# ------------------------------------------------ 0104, 0105: month_results autovacuum (PostgreSQL)

def _reloptions(engine) -> list[str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'month_results'")).scalar() or [])


def _reloptions_at(url: str) -> list[str]:
    eng = make_engine(url, pool=False)
    try:
        return _reloptions(eng)
    finally:
        eng.dispose()


@pytest.mark.skipif(TEST_DB != "postgres", reason="PostgreSQL's autovacuum settings")
def test_month_results_is_vacuumed_after_a_few_hundred_changed_rows(engine):
    options = _reloptions(engine)
    assert "autovacuum_vacuum_scale_factor=0" in options and "autovacuum_vacuum_threshold=500" in options
    assert "autovacuum_analyze_scale_factor=0.02" in options


@pytest.mark.skipif(TEST_DB != "postgres", reason="PostgreSQL's autovacuum settings")
def test_vacuum_settings_downgrade_to_the_share_of_0104(blank_url):
    command.upgrade(alembic_config(blank_url), "head")
    command.downgrade(alembic_config(blank_url), "0104_results_autovacuum")
    options = _reloptions_at(blank_url)
    assert "autovacuum_vacuum_scale_factor=0.02" in options and "autovacuum_vacuum_threshold=1000" in options
    assert not any(o.startswith("autovacuum_vacuum_insert") for o in options)
    command.upgrade(alembic_config(blank_url), "head")
    assert "autovacuum_vacuum_threshold=500" in _reloptions_at(blank_url)
