"""Alembic environment: runs on the connection handed over by scheduler.migrate."""

from alembic import context

import alerts.models  # noqa: F401  (registers the alert tables)
import crawler.models  # noqa: F401  (registers the crawler tables)
import scheduler.models  # noqa: F401  (registers the daemon tables)
from crawler.database import Base
from crawler.models import declare_hash_indexes
from scheduler.migrate import is_modelled

config = context.config
declare_hash_indexes()
target_metadata = Base.metadata


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
