"""`newswatch db`: the database schema."""

from __future__ import annotations

import click

from scheduler.commands.common import Context, pass_context, reports_errors


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_context
@reports_errors
def db_upgrade(ctx: Context) -> None:
    """Apply pending schema migrations (the daemon also does this at start).

    Example: newswatch db upgrade
    """
    from crawler.database import make_engine
    from scheduler.migrate import current_revision, upgrade_database

    engine = make_engine(ctx.load().database_url)
    try:
        upgrade_database(engine)
        click.echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()
