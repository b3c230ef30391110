"""`newswatch config`: check the configuration."""

from __future__ import annotations

import click

from scheduler.commands.common import Context, pass_context, reports_errors


@click.group()
def config() -> None:
    """Check the configuration."""


@config.command("check")
@pass_context
@reports_errors
def config_check(ctx: Context) -> None:
    """Validate the config file without touching the network or the database.

    Prints one line per problem (file, line, key path, what was expected) and exits 2,
    or prints a summary and exits 0.

    Example: newswatch --config config.toml config check
    """
    from scheduler.config import check_channel_urls

    loaded = ctx.load()
    check_channel_urls(loaded)
    cfg = loaded.config
    click.echo(
        f"{loaded.path}: ok ({len(cfg.sources)} sources, {len(cfg.rules)} rules, "
        f"{len(cfg.channels)} channels)"
    )
