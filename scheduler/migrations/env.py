"""Alembic environment: runs on the connection handed over by scheduler.migrate."""

from alembic import context

import alerts.tables  # noqa: F401  (registers the alert tables)
import scheduler.tables  # noqa: F401  (registers the daemon tables)
from crawler.tables import declare_hash_indexes, metadata
from scheduler.migrate import is_modelled

config = context.config
declare_hash_indexes()
target_metadata = metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=is_modelled,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
