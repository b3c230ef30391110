"""The `newswatch` command line: the group and its commands (one module each)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from scheduler.commands.common import Context
from scheduler.config_basics import CONFIG_ENV, config_path
from scheduler.logs import setup_logging

# Each command's module:attribute. A command's module is imported when it runs (`--help`
# lists them all): a read-only command need not pay for the others' imports.
COMMANDS = {
    "alerts": "scheduler.commands.alerts:alerts",
    "articles": "scheduler.commands.articles:articles",
    "channels": "scheduler.commands.channels:channels",
    "config": "scheduler.commands.config:config",
    "crawl": "scheduler.commands.crawl:crawl",
    "db": "scheduler.commands.db:db",
    "extract": "scheduler.commands.extract:extract",
    "init": "scheduler.commands.init:init",
    "reload": "scheduler.commands.reload:reload",
    "rules": "scheduler.commands.rules:rules",
    "run": "scheduler.commands.run:run",
    "search": "scheduler.commands.rules:search",
    "serve": "scheduler.commands.web:serve",
    "sources": "scheduler.commands.sources:sources",
    "status": "scheduler.commands.status:status",
    "stories": "scheduler.commands.stories:stories",
    "web": "scheduler.commands.web:web",
}


class LazyGroup(click.Group):
    """A group whose commands (`lazy`: name -> "module:attribute") are imported on first
    use, each given --config (see accept_config_anywhere)."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            accept_config_anywhere(command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


if __name__ == "__main__":
    main()
