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
