"""Apply Alembic migrations from code (the CLI, tests and the demo use this)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from starlevel.paths import migrations_dir


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
    if database_url.startswith("sqlite"):
        from sqlalchemy import create_engine

        from starlevel.db.engine import refresh_statistics

        engine = create_engine(database_url)
        try:
            with engine.begin() as conn:
                refresh_statistics(conn)
        finally:
            engine.dispose()


def current(database_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
