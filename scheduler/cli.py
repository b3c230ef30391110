"""The `newswatch` command line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from scheduler.app import App, CycleReport
# from scheduler.commands.extract import extract  # TEMP
from scheduler.config import CONFIG_ENV, ConfigError, LoadedConfig, config_path, load_config
from scheduler.logs import setup_logging

logger = logging.getLogger("newswatch")


class Context:
    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file

    def load(self) -> LoadedConfig:
        return load_config(self.config_file)


def fail(message: str, code: int = 1) -> None:
    """Print a one-line (or one line per problem) error and exit without a traceback."""
    click.echo(f"newswatch: {message}", err=True)
    sys.exit(code)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn config and database errors into clear messages and exit codes."""

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
def opened_app(ctx: Context) -> Iterator[App]:
    app = App(ctx.load())
    try:
        app.open()
        yield app
    finally:
        app.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config", "-c", "config_file", type=click.Path(path_type=Path), default=None,
    help=f"Config file. Default: ${CONFIG_ENV}, else ./config.toml.",
)
@click.option(
    "--log-level", default="INFO", show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="How much to log on stderr.",
)
@click.version_option(package_name="newswatch")
@click.pass_context
def main(click_ctx: click.Context, config_file: Path | None, log_level: str) -> None:
    """Watch news sources and get one alert per story, by email, chat or webhook.

    newswatch polls the feeds in config.toml, extracts each new article, matches it
    against your rules and sends alerts through Apprise. Start it with:

        newswatch run

    or do a single crawl-match-deliver cycle and exit with `newswatch run --once`.
    """
    setup_logging(log_level)
    click_ctx.obj = Context(config_path(config_file))


@main.command()
@click.option("--once", is_flag=True, help="Do one full cycle (crawl, match, deliver) and exit.")
@click.pass_obj
@reports_errors
def run(ctx: Context, once: bool) -> None:
    """Run the daemon: poll every source on its interval until stopped.

    Stops cleanly on Ctrl-C or SIGTERM. With --once, crawls every source, matches the new
    articles, delivers what is due, prints a summary and exits: 0 when the cycle ran (even
    if some sources failed; they are listed), non-zero when it could not run at all.

    Example: newswatch --config config.toml run --once
    """
    from scheduler.daemon import Daemon

    with opened_app(ctx) as app:
        if once:
            report_cycle(app.cycle())
            return
        sys.exit(Daemon(app).run())


def report_cycle(report: CycleReport) -> None:
    summary = report.crawl.summary
    if not report.crawl.ok:
        click.echo(f"crawl failed: {report.crawl.error}", err=True)
    click.echo(
        f"crawl: {summary.get('articles_stored', 0)} new articles, "
        f"{summary.get('requests', 0)} requests; "
        f"matching: {report.matches.articles} articles, {report.matches.matches} matches; "
        f"alerts: {report.delivery.sent} sent, {report.delivery.retrying} to retry, "
        f"{report.delivery.failed} failed",
        err=True,
    )
    for problem in report.source_problems:
        click.echo(f"source {problem.name!r} failed: {problem.error}", err=True)


@main.group()
def config() -> None:
    """Check the configuration."""


@config.command("check")
@click.pass_obj
@reports_errors
def config_check(ctx: Context) -> None:
    """Validate the config file without touching the network or the database.

    Prints one line per problem (file, line, key path, what was expected) and exits 2,
    or prints a summary and exits 0.

    Example: newswatch --config config.toml config check
    """
    loaded = ctx.load()
    cfg = loaded.config
    click.echo(
        f"{loaded.path}: ok ({len(cfg.sources)} sources, {len(cfg.rules)} rules, "
        f"{len(cfg.channels)} channels)"
    )


@main.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.pass_obj
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


# main.add_command(extract)  # TEMP
