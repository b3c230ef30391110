"""`newswatch status`: what the daemon and the sources are doing, from the database."""

from __future__ import annotations

import json

import click

from scheduler.commands.common import Context, Database, fail, pass_context, reports_errors


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@pass_context
@reports_errors
def status(ctx: Context, as_json: bool) -> None:
    """Show whether the daemon runs, each source's last and next poll, and the alerts.

    Reads the database only (no migration, no crawl), so it is safe beside a running
    daemon, from any machine that reaches the database: daemon up since (or when it last
    stopped, and whether cleanly), every configured source's last poll, result and next
    poll, unhealthy sources, articles and stories of the last 24 hours, and pending and
    failed alerts. With `[scrapyd] nodes` set, also each crawl node (asked over HTTP: up
    or unreachable, running and pending jobs) and the open crawl jobs on it.

    Example: newswatch --config /etc/newswatch/config.toml status
    """
    from sqlalchemy import inspect

    from crawler.tables import sources
    from scheduler.status import config_status, format_status, status_json

    app = Database(ctx.load())
    try:
        if not inspect(app.engine).has_table(sources.name):
            fail("the database has no newswatch tables yet: start the daemon or run "
                 "`newswatch db upgrade`")
        with app.engine.connect() as connection:
            report = config_status(connection, app.config)
        nodes = None
        if app.config.scrapyd.nodes:
            from scheduler.scrapyd import crawl_nodes

            nodes = crawl_nodes(app.sessions, app.config.scrapyd)
    finally:
        app.close()
    if as_json:
        data = status_json(report)
        if nodes is not None:
            from scheduler.scrapyd import crawl_nodes_json

            data["crawl_nodes"] = crawl_nodes_json(nodes)
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        click.echo(format_status(report))
        if nodes is not None:
            from crawler.tables import utcnow
            from scheduler.scrapyd import format_crawl_nodes

            click.echo(format_crawl_nodes(nodes, utcnow()))
