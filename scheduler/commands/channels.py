"""`newswatch channels`: list, add, remove and test where alerts go."""

from __future__ import annotations

import os

import click

from scheduler.commands.common import (
    Context,
    echo_json,
    fail,
    json_option,
    pass_context,
    plural,
    print_table,
    reports_errors,
)

FORMATS = ("text", "markdown", "html")


def shown_url(url: str) -> str:
    """A channel URL with nothing but its scheme: tokens and passwords hide anywhere in
    the rest (`alerts test` shows Apprise's masked form, at the cost of loading it)."""
    scheme, separator, _rest = url.partition("://")
    return f"{scheme}://…" if separator else "…"


@click.group(invoke_without_command=True)
@json_option()
@click.pass_context
def channels(click_ctx: click.Context, as_json: bool) -> None:
    """List, add, remove and test channels: where alerts go.

    A channel is a name for one or more Apprise URLs (mailto://, json://, slack://,
    ntfy://, tgram://, ...: https://github.com/caronc/apprise/wiki) and how its alerts
    look; rules name the channels they alert. Without a subcommand, lists them.
    """
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(channels_list, as_json=as_json)


@channels.command("list")
@json_option()
@pass_context
@reports_errors
def channels_list(ctx: Context, as_json: bool) -> None:
    """Show each channel: its URLs (scheme only), format, and the rules that alert it.

    Example: newswatch channels list
    """
    config = ctx.load().config
    users = {name: [rule.name for rule in config.rules if name in rule.channels]
             for name in config.channels}
    if as_json:
        for name, channel in config.channels.items():
            echo_json({"name": name, "urls": [shown_url(url) for url in channel.urls],
                       "format": channel.format, "rules": users[name]})
        return
    if not config.channels:
        click.echo("No channels. Add one with: newswatch channels add NAME APPRISE_URL")
        return
    print_table(
        ["NAME", "URLS", "FORMAT", "RULES"],
        [[name, ", ".join(shown_url(url) for url in channel.urls), channel.format,
          ", ".join(users[name]) or "-"] for name, channel in config.channels.items()],
        wide=(3,),
    )
    click.echo(plural(len(config.channels), "channel"))


@channels.command("add")
@click.argument("name")
@click.argument("urls", nargs=-1, required=True, metavar="APPRISE_URL...")
@click.option("--format", "message_format", type=click.Choice(FORMATS), default=None,
              help="How alerts are written (default: text).")
@pass_context
@reports_errors
def channels_add(ctx: Context, name: str, urls: tuple[str, ...],
                 message_format: str | None) -> None:
    """Add a channel NAME sending to one or more Apprise URLs (comments and layout of the
    config file are kept). Nothing is sent: try it with `newswatch channels test NAME`.

    Put secrets in the environment and write ${VAR} in the URL (quote it for the shell).

    \b
    Examples:
      newswatch channels add desk 'mailto://me:${MAIL_PASSWORD}@example.com'
      newswatch channels add hook json://127.0.0.1:8080/alerts --format markdown
    """
    from alerts.apprise_urls import redact, url_problem
    from scheduler.config import expand_env
    from scheduler.config_file import set_table

    loaded = ctx.load()
    if name in loaded.config.channels:
        fail(f"a channel named {name!r} exists already; remove it first "
             f"(newswatch channels remove {name}) or choose another name", code=2)
    for url in urls:
        problem = url_problem(expand_env(url, os.environ))
        if problem is not None:
            fail(f"{redact(url)} is not a URL Apprise can use: {problem} (see "
                 "https://github.com/caronc/apprise/wiki for each service's form)", code=2)
    entry: dict[str, object] = {"urls": list(urls)}
    if message_format:
        entry["format"] = message_format
    set_table(loaded.path, "channels", name, entry)
    click.echo(f"Added channel {name!r} to {loaded.path}. "
               f"Try it with: newswatch channels test {name}")


@channels.command("remove")
@click.argument("name")
@pass_context
@reports_errors
def channels_remove(ctx: Context, name: str) -> None:
    """Remove the channel NAME from the config file. Refused while a rule alerts it
    (remove the rule or give it another channel first). Its alert history is kept.

    Example: newswatch channels remove desk
    """
    from scheduler.config_file import remove_table

    loaded = ctx.load()
    config = loaded.config
    if name not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none defined"
        fail(f"no channel named {name!r} (channels: {known})", code=2)
    users = [rule.name for rule in config.rules if name in rule.channels]
    if users:
        fail(f"channel {name!r} is used by {plural(len(users), 'rule')} "
             f"({', '.join(users)}): remove them or change their channels first", code=2)
    if config.admin.channel == name:
        fail(f"channel {name!r} is admin.channel: change that setting first", code=2)
    remove_table(loaded.path, "channels", name)
    click.echo(f"Removed channel {name!r} from {loaded.path}.")


@channels.command("test")
@click.argument("name")
@click.pass_context
def channels_test(click_ctx: click.Context, name: str) -> None:
    """Send a sample alert to each URL of channel NAME and say, per URL, whether it
    worked (the same as `newswatch alerts test NAME`). Exits 1 if any URL failed.

    Example: newswatch channels test desk
    """
    from scheduler.commands.alerts import alerts_test

    click_ctx.invoke(alerts_test, channel=name)
