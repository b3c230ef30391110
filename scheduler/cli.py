"""The `newswatch` command line: the group and its commands (one module each)."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.commands.alerts import alerts
from scheduler.commands.articles import articles
from scheduler.commands.channels import channels
from scheduler.commands.common import Context
from scheduler.commands.config import config
from scheduler.commands.crawl import crawl
from scheduler.commands.db import db
from scheduler.commands.extract import extract
from scheduler.commands.init import init
from scheduler.commands.reload import reload
from scheduler.commands.rules import rules, search
from scheduler.commands.run import run
from scheduler.commands.sources import sources
from scheduler.commands.status import status
from scheduler.commands.stories import stories
from scheduler.commands.web import serve, web
from scheduler.config_basics import CONFIG_ENV, config_path
from scheduler.logs import setup_logging


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
@click.option(
    "--log-format", default="text", show_default=True, envvar="NEWSWATCH_LOG_FORMAT",
    type=click.Choice(["text", "json"]),
    help="Log lines as text, or as one JSON object each for log shippers "
         "(env: NEWSWATCH_LOG_FORMAT).",
)
@click.version_option(package_name="newswatch")
@click.pass_context
def main(
    click_ctx: click.Context, config_file: Path | None, log_level: str, log_format: str
) -> None:
    """Watch news sources and get one alert per story, by email, chat or webhook.

    newswatch polls the feeds in config.toml, extracts each new article, matches it
    against your rules and sends alerts through Apprise. Start it with:

        newswatch run

    or do a single crawl-match-deliver cycle and exit with `newswatch run --once`.
    """
    setup_logging(log_level, "json" if log_format == "json" else "text")
    click_ctx.obj = Context(config_path(config_file))


def _use_config(click_ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    context = click_ctx.find_object(Context)  # made by `main`, which runs first
    if value is not None and context is not None:
        context.config_file = value


def accept_config_anywhere(command: click.Command) -> None:
    """Give `command` and its subcommands their own --config, so that it works after the
    subcommand too (`newswatch status --config F`), as before it."""
    command.params.append(click.Option(
        ["--config", "-c"], type=click.Path(path_type=Path), default=None,
        expose_value=False, callback=_use_config,
        help="Config file (also accepted before the command).",
    ))
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            accept_config_anywhere(subcommand)


for command in (
    init, run, status, reload, crawl, sources, channels, config, db, extract, rules, search,
    stories, articles, alerts, serve, web,
):
    accept_config_anywhere(command)
    main.add_command(command)


if __name__ == "__main__":
    main()
