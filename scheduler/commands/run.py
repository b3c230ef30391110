"""`newswatch run`: the daemon, or one cycle with --once."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from scheduler.commands.common import (
    Context,
    fail,
    opened_without_daemon,
    pass_context,
    plural,
    reports_errors,
)

if TYPE_CHECKING:
    from scheduler.app import CycleReport


@click.command()
@click.option("--once", is_flag=True, help="Do one full cycle (crawl, match, deliver) and exit.")
@click.option("--role", type=click.Choice(["scheduler", "worker"]), default=None,
              help="Cluster mode (PostgreSQL only): run only the scheduler (polls, crawls, "
                   "housekeeping; one active, the others stand by) or a worker (matching "
                   "and delivery; any number).")
@pass_context
@reports_errors
def run(ctx: Context, once: bool, role: str | None) -> None:
    """Run the daemon: poll every source on its interval until stopped.

    Stops cleanly on Ctrl-C or SIGTERM. With --once, crawls every source, matches the new
    articles, delivers what is due, prints a summary and exits: 0 when the cycle ran (even
    if some sources failed; they are listed), non-zero when it could not run at all (a
    bad config, an unusable database, or a daemon already running on the database).

    Cluster mode on PostgreSQL (see "Scale out on PostgreSQL" in the README): --role
    scheduler publishes its config in the database and crawls; --role worker follows
    that config and matches and delivers. The scheduler refuses a config whose channel
    URLs or storage URL hold a literal password or token (use ${ENV_VAR}).

    Example: newswatch --config config.toml run --once

    Example: newswatch --config /etc/newswatch/config.toml run --role worker
    """
    if role is not None and once:
        fail("--once runs everything on one machine; it cannot be combined with --role")
    try:
        _run(ctx, once, role)
    except KeyboardInterrupt:
        # Before the daemon has its own handler (loading, migrating), or during --once.
        if once:
            click.echo("newswatch: interrupted; what was stored is kept and the next run "
                       "goes on from there", err=True)
            sys.exit(130)
        click.echo("newswatch: stopped before the daemon had started", err=True)
        sys.exit(0)


def _run(ctx: Context, once: bool, role: str | None) -> None:
    from scheduler.app import App
    from scheduler.cluster import literal_secrets, require_postgresql
    from scheduler.config import check_channel_urls

    loaded = ctx.load()
    if role is not None:
        try:
            require_postgresql(loaded.database_url)
        except Exception as error:
            fail(str(error))
    if role == "scheduler":
        for problem in literal_secrets(loaded.path):
            fail(problem)
    if role != "worker":  # a worker checks the published config's URLs instead
        check_channel_urls(loaded)
    app = App(loaded)
    try:
        if not once:
            from scheduler.daemon import Daemon  # not --once's: APScheduler, housekeeping

            sys.exit(Daemon(app, role or "all").run())  # takes the lock, migrates, syncs
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
