"""The `newswatch` command line: the group and its commands (one module each)."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.commands.common import Context
from scheduler.commands.config import config
from scheduler.commands.db import db
from scheduler.commands.rules import rules, search
from scheduler.commands.run import run
from scheduler.commands.stories import stories
from scheduler.config import CONFIG_ENV, config_path
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


for command in (run, config, db, rules, search, stories):
    main.add_command(command)


if __name__ == "__main__":
    main()
