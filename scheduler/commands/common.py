"""What every command shares: the config file, error reporting, an opened App."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scheduler.config_basics import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

    from scheduler.app import App
    from scheduler.config import LoadedConfig

# Commands import what they use inside their function, so that `newswatch --help` and the
# read-only commands start without SQLAlchemy's ORM, Alembic, Apprise, numpy or Scrapy.


class Database:
    """The configured database for reading: what a read-only command needs of an App,
    without the crawl, matching and delivery machinery (and their imports)."""

    def __init__(self, loaded: LoadedConfig) -> None:
        from crawler.database import make_engine

        self.loaded = loaded
        self.engine = make_engine(loaded.database_url)

    @cached_property
    def sessions(self) -> sessionmaker:
        """ORM sessions, made (and the ORM imported) only for a command that asks: the
        read-only commands query the Core tables on `engine.connect()`."""
        from crawler.database import make_sessionmaker

        return make_sessionmaker(self.engine)

    @property
    def config(self) -> Any:
        return self.loaded.config

    def close(self) -> None:
        self.engine.dispose()


class Context:
    """The `click` context object: where the config is, loaded on demand."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file

    def load(self) -> LoadedConfig:
        from scheduler.config import load_config

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
        except Exception as error:
            if "sqlalchemy" not in sys.modules:
                raise
            from sqlalchemy.exc import OperationalError, SQLAlchemyError

            if isinstance(error, OperationalError):
                fail(f"cannot use the database: {error.orig or error}".splitlines()[0])
            if isinstance(error, SQLAlchemyError):
                fail(f"database error: {error}".splitlines()[0])
            raise

    return wrapper


@contextmanager
def opened_app(ctx: Context, *, sync: bool = True) -> Iterator[Any]:
    """An App on the configured database, migrated and, with `sync`, its sources synced
    from the config file.

    Read-only commands pass `sync=False`: beside a running daemon they must not rewrite
    the sources table from a config file the daemon may not have loaded. They still apply
    pending migrations (a no-op on a current database), so an old database works."""
    from scheduler.migrate import upgrade_database

    if sync:
        from scheduler.app import App

        app: Any = App(ctx.load())
    else:
        app = Database(ctx.load())
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
    from scheduler.lock import daemon_lock, held_by_message

    lock = daemon_lock(app.engine)
    if not lock.acquire():
        with app.sessions() as session:
            fail(held_by_message(session, lock))
    try:
        app.open()
        yield app
    finally:
        lock.release()


def duration_option(_ctx: click.Context, _param: click.Parameter,
                    value: str | None) -> timedelta | None:
    """A click callback: "7d", "6h" and the like as a timedelta (None stays None)."""
    from alerts.durations import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def set_paused(ctx: Context, array: str, name: str, paused: bool, effect: str) -> None:
    """Pause or resume the entry `name` of `[[array]]` (sources, rules) in the config:
    `paused = true`, or the key removed. `effect` says what that changes, in words."""
    from scheduler.config_file import update_entry

    kind = array.removesuffix("s")
    try:
        update_entry(ctx.config_file, array, name, {"paused": True if paused else None})
    except KeyError:
        fail(f"no {kind} named {name!r} in {ctx.config_file} (see `newswatch {array} list`)",
             code=2)
    click.echo(f"{'Paused' if paused else 'Resumed'} {kind} {name!r}: {effect} from the "
               "daemon's next reload (`newswatch reload`) or start.")


def plural(number: int, singular: str, plural_form: str | None = None) -> str:
    """"1 rule", "2 rules", "1 story", "2 stories" (give the plural when it is not +s)."""
    return f"{number} {singular if number == 1 else plural_form or singular + 's'}"


def echo_json(value: Any) -> None:
    """One JSON value on one line (listings print one per item, JSON Lines)."""
    import json

    click.echo(json.dumps(value, ensure_ascii=False, default=str))


def json_option(help_text: str = "One JSON object per line instead of a table.") -> Any:
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def print_table(headers: list[str], rows: list[list[Any]], *,
                wide: tuple[int, ...] = ()) -> None:
    """A table with a header row on stdout: fitted to a terminal's width, and never
    wrapped when the output goes to a file or a pipe. `wide` columns may wrap first."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    stdout = sys.stdout
    console = Console(file=stdout, highlight=False, soft_wrap=False,
                      width=None if stdout.isatty() else 10_000)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for index, header in enumerate(headers):
        table.add_column(header, overflow="fold", ratio=1 if index in wide else None,
                         no_wrap=index not in wide)
    for row in rows:  # plain strings are text, never rich markup: "[word]" stays as is
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    console.print(table)
