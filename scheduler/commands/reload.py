"""`newswatch reload`: make the running daemon re-read its config."""

from __future__ import annotations

import sys

import click

from scheduler.commands.common import Context, fail, pass_context, reports_errors
from scheduler.config_basics import ConfigError


@click.command()
@click.option("--wait", default=15.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the daemon's answer.")
@pass_context
@reports_errors
def reload(ctx: Context, wait: float) -> None:
    """Tell the running daemon to re-read its config file (like `kill -HUP PID`).

    The daemon is found through the database it uses (its pid and host are recorded
    there), so run this on the daemon's machine with the same config. Added, removed and
    changed sources, rules and channels take effect without a restart. A config with
    errors is refused (checked here first, and again by the daemon) and the daemon keeps
    the one it had: the errors are printed and the exit status is 2. Exit status 1: no
    daemon running, or no answer.

    Example: newswatch --config /etc/newswatch/config.toml reload
    """
    from scheduler.app import App
    from scheduler.reload import NoDaemon, signal_daemon

    try:
        loaded = ctx.load()
    except ConfigError as error:
        for problem in error.problems:
            click.echo(f"newswatch: config error: {problem}", err=True)
        click.echo("newswatch: the daemon was not told to reload and keeps the config it has",
                   err=True)
        sys.exit(2)
    app = App(loaded)
    try:
        daemon, outcome = signal_daemon(app.sessions, wait)
    except NoDaemon as error:
        fail(str(error))
        return
    finally:
        app.close()
    if outcome.ok is None:
        fail(outcome.message)
    if not outcome.ok:
        click.echo(f"newswatch: the daemon (pid {daemon.pid}) refused the new config and "
                   "keeps running with the old one:", err=True)
        for problem in outcome.message.splitlines():
            click.echo(f"newswatch: config error: {problem}", err=True)
        sys.exit(2)
    click.echo(f"daemon pid {daemon.pid} reloaded its config: {outcome.message}")
