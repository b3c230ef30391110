"""Schema migrations with Alembic, applied at start and by `newswatch db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")

# Objects that migrations create by hand and the models do not describe (full-text search).
UNMODELLED_PREFIXES = ("articles_fts", "ix_articles_fulltext")


def is_modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic `include_name` hook: leave the hand-made search objects out of comparisons."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema up to `revision`, by default every head (a no-op when it is there)."""
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild SQLite tables; with foreign keys on, dropping the
            # old table would cascade-delete the rows that reference it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def current_revision(engine: Engine) -> str:
    """The revisions the database is at, comma-separated ("" for an empty database)."""
    with engine.connect() as connection:
        return ",".join(sorted(MigrationContext.configure(connection).get_current_heads()))


def head_revision() -> str:
    """The newest revisions the code knows, comma-separated."""
    return ",".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def make_revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the models (a developer tool, not used at run time)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
