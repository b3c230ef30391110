"""What every command shares: the config file, error reporting, an opened App."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from scheduler.app import App
from scheduler.config import ConfigError, LoadedConfig, load_config
from scheduler.lock import daemon_lock, held_by_message
from scheduler.migrate import upgrade_database


class Context:
    """The `click` context object: where the config is, loaded on demand."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file

    def load(self) -> LoadedConfig:
        return load_config(self.config_file)


pass_context = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error and exit without a traceback."""
    click.echo(f"newswatch: {message}", err=True)
    sys.exit(code)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn config and database errors into one-line messages: exit 2 for a bad config,
    1 for a database that can't be used."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            for problem in error.problems:
                click.echo(f"newswatch: config error: {problem}", err=True)
            sys.exit(2)
        except OperationalError as error:
            fail(f"cannot use the database: {error.orig or error}".splitlines()[0])
        except SQLAlchemyError as error:
            fail(f"database error: {error}".splitlines()[0])

    return wrapper


@contextmanager
def opened_app(ctx: Context, *, sync: bool = True) -> Iterator[App]:
    """An App on the configured database, migrated and, with `sync`, its sources synced
    from the config file.

    Read-only commands pass `sync=False`: beside a running daemon they must not rewrite
    the sources table from a config file the daemon may not have loaded. They still apply
    pending migrations (a no-op on a current database), so an old database works."""
    app = App(ctx.load())
    try:
        if sync:
            app.open()
        else:
            upgrade_database(app.engine)
        yield app
    finally:
        app.close()


@contextmanager
def opened_without_daemon(app: App) -> Iterator[App]:
    """Open `app` holding the single-daemon lock, for commands that crawl or deliver: beside
    a running daemon they would poll behind its back or send an alert twice, so they are
    refused with a line naming the daemon."""
    lock = daemon_lock(app.engine)
    if not lock.acquire():
        with app.sessions() as session:
            fail(held_by_message(session, lock))
    try:
        app.open()
        yield app
    finally:
        lock.release()
