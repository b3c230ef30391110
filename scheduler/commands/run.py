"""`newswatch run`: the daemon, or one cycle with --once."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from scheduler.commands.common import (
    Context,
    opened_without_daemon,
    pass_context,
    plural,
    reports_errors,
)

if TYPE_CHECKING:
    from scheduler.app import CycleReport


@click.command()
@click.option("--once", is_flag=True, help="Do one full cycle (crawl, match, deliver) and exit.")
@pass_context
@reports_errors
def run(ctx: Context, once: bool) -> None:
    """Run the daemon: poll every source on its interval until stopped.

    Stops cleanly on Ctrl-C or SIGTERM. With --once, crawls every source, matches the new
    articles, delivers what is due, prints a summary and exits: 0 when the cycle ran (even
    if some sources failed; they are listed), non-zero when it could not run at all (a
    bad config, an unusable database, or a daemon already running on the database).

    Example: newswatch --config config.toml run --once
    """
    try:
        _run(ctx, once)
    except KeyboardInterrupt:
        # Before the daemon has its own handler (loading, migrating), or during --once.
        if once:
            click.echo("newswatch: interrupted; what was stored is kept and the next run "
                       "goes on from there", err=True)
            sys.exit(130)
        click.echo("newswatch: stopped before the daemon had started", err=True)
        sys.exit(0)


def _run(ctx: Context, once: bool) -> None:
    from scheduler.app import App
    from scheduler.config import check_channel_urls
    from scheduler.daemon import Daemon

    loaded = ctx.load()
    check_channel_urls(loaded)
    app = App(loaded)
    try:
        if not once:
            sys.exit(Daemon(app).run())  # takes the lock, then migrates and syncs
        with opened_without_daemon(app):
            report_cycle(app.cycle())
    finally:
        app.close()


def report_cycle(report: CycleReport) -> None:
    summary = report.crawl.summary
    if not report.crawl.ok:
        click.echo(f"crawl failed: {report.crawl.error}", err=True)
    click.echo(
        f"crawl: {plural(int(summary.get('articles_stored', 0)), 'new article')}, "
        f"{plural(int(summary.get('requests', 0)), 'request')}; "
        f"matching: {plural(report.matches.articles, 'article')}, "
        f"{plural(report.matches.matches, 'match', 'matches')}; "
        f"alerts: {report.delivery.sent} sent, {report.delivery.retrying} to retry, "
        f"{report.delivery.failed} failed",
        err=True,
    )
    for problem in report.source_problems:
        click.echo(f"source {problem.name!r} failed: {problem.error}", err=True)
