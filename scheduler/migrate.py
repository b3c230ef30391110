"""Schema migrations with Alembic, applied at start and by `newswatch db upgrade`."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=]*=\s*(.+)$", re.M)

# Objects that migrations create by hand and the models do not describe (full-text search).
UNMODELLED_PREFIXES = ("articles_fts", "ix_articles_fulltext")


def is_modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic `include_name` hook: leave the hand-made search objects out of comparisons."""
    return not (name or "").startswith(UNMODELLED_PREFIXES)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema up to `revision`, by default every head (a no-op when it is there).

    A database already at every head is recognised without Alembic (a second of imports),
    so read-only commands start fast."""
    if revision == "heads" and _revisions_in(engine) == written_heads():
        return
    from alembic import command

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


def _revisions_in(engine: Engine) -> frozenset[str] | None:
    """The revisions recorded in the database's alembic_version table (None without one)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(row[0] for row in rows)
    except DBAPIError:
        return None


@cache
def written_heads() -> frozenset[str]:
    """The head revisions of the migration scripts, read from their `revision` and
    `down_revision` lines (tests/test_migrations.py checks it against Alembic's answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            written = ast.literal_eval(value.strip())
            if key == "revision":
                revisions.add(written)
            elif isinstance(written, str):
                parents.add(written)
            elif written:
                parents.update(written)
    return frozenset(revisions - parents)


def current_revision(engine: Engine) -> str:
    """The revisions the database is at, comma-separated ("" for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return ",".join(sorted(MigrationContext.configure(connection).get_current_heads()))


def head_revision() -> str:
    """The newest revisions the code knows, comma-separated."""
    from alembic.script import ScriptDirectory

    return ",".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def make_revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the models (a developer tool, not used at run time)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
