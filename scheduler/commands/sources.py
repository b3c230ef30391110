"""`newswatch sources`: list, add, remove, import and export the sources in config.toml."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from alerts.durations import format_duration
from scheduler.commands.common import (
    Context,
    echo_json,
    fail,
    json_option,
    opened_app,
    pass_context,
    plural,
    reports_errors,
    set_paused,
)
from scheduler.config_basics import ConfigError
from scheduler.logs import mask_secrets

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row

    from scheduler.config import SourceConfig

PREVIEW_TIME_LIMIT = 90.0
KINDS = ("auto", "feed", "sitemap", "page")


@click.group(invoke_without_command=True)
@json_option()
@click.pass_context
def sources(click_ctx: click.Context, as_json: bool) -> None:
    """List the sources, or add, remove, import and export them.

    Without a subcommand, lists every configured source with its kind (as configured,
    and what it turned out to be), the URL actually polled, the last fetch and its
    error, and when it is polled next.

    Example: newswatch sources
    """
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(sources_list, as_json=as_json)


@sources.command("list")
@json_option()
@pass_context
@reports_errors
def sources_list(ctx: Context, as_json: bool) -> None:
    """List the sources and their crawl state (the same as `newswatch sources`), with why
    each is polled at its current interval and what was skipped.

    Example: newswatch sources list
    """
    from sqlalchemy import select

    from crawler import tables
    from scheduler.status import describe_polling, newest_publish_dates, polling_bounds

    with opened_app(ctx, sync=False) as app:
        now = tables.utcnow()
        bounds = polling_bounds(app.config)
        with app.engine.connect() as connection:
            rows = {row.name: row for row in connection.execute(select(tables.sources))}
            pages = _pages_of(connection, rows, now, app.config.crawler.max_article_age)
            configured = app.config.sources
            # Only the listed sources: the table keeps the rows of removed ones too.
            polling = {source.name: describe_polling(row,
                                                     newest_publish_dates(connection, row.id,
                                                                          now),
                                                     bounds.get(source.name), now)
                       for source in configured
                       for row in [rows.get(source.name)] if row is not None}
        if as_json:
            for source in configured:
                echo_json(source_record(source, rows.get(source.name),
                                        polling.get(source.name, "not polled yet")))
            return
        if not configured:
            click.echo("No sources configured. Add one with: newswatch sources add URL")
        for source in configured:
            click.echo(describe_source(source, rows.get(source.name), now,
                                       pages.get(source.name, []),
                                       polling.get(source.name, "not polled yet")))


def source_record(source: SourceConfig, row: Row | None, polling: str) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "name": source.name, "url": source.url, "kind": source.kind,
        "detected_kind": row.kind if row is not None else None,
        "polls": mask_secrets(row.resolved_url) if row is not None else None,
        "paused": source.paused,
        "last_polled_at": iso(row.last_polled_at) if row else None,
        "last_status": row.last_status if row else None,
        "last_error": mask_secrets(row.last_error) if row else None,
        "error_count": row.error_count if row else 0,
        "next_poll_at": iso(row.next_poll_at) if row else None,
        "polling": polling,
    }


def _pages_of(connection: Connection, rows: dict[str, Row], now: datetime,
              max_age: timedelta) -> dict[str, list[str]]:
    """For each source: what the crawl ledger says of its article pages (to retry, too
    old, gone, given up, with the newest reasons), as lines."""
    from sqlalchemy import inspect

    from crawler import ledger
    from crawler.tables import crawl_entries

    if not inspect(connection).has_table(crawl_entries.name):
        return {}
    counts = ledger.counts_by_source(connection, now)
    pages: dict[str, list[str]] = {}
    for name, row in rows.items():
        note = ledger.describe_counts(counts.get(row.id, Counter()), format_duration(max_age))
        if not note:
            continue
        lines = [f"  pages:      {note}"]
        for url, reason in ledger.last_errors(connection, row.id, (ledger.RETRY, ledger.FAILED,
                                                                ledger.GONE), now):
            lines.append(f"              {mask_secrets(url)}: {mask_secrets(reason)}")
        pages[name] = lines
    return pages


def describe_source(source: SourceConfig, row: Row | None, now: datetime,
                    pages: list[str] | None = None, polling: str | None = None) -> str:
    kind = row.kind if row is not None and row.kind != "auto" else "not yet known"
    detected = f"{kind} (auto)" if source.kind == "auto" else source.kind
    paused = "  (paused: `newswatch sources resume` polls it again)" if source.paused else ""
    lines = [f"{source.name}: {detected}{paused}", f"  url:        {source.url}"]
    if row is not None and row.resolved_url:
        lines.append(f"  polls:      {mask_secrets(row.resolved_url)}")
    if row is None or row.last_polled_at is None:
        lines.append("  last fetch: never")
    else:
        lines.append(f"  last fetch: {_when(row.last_polled_at, now)} ({row.last_status})")
        if row.last_error:
            lines.append(f"  last error: {mask_secrets(row.last_error)}")
    if row is not None and row.next_poll_at is not None:
        interval = row.poll_interval_seconds
        every = f", every {format_duration(timedelta(seconds=interval))}" if interval else ""
        lines.append(f"  next poll:  {_when(row.next_poll_at, now)}{every}")
    else:
        lines.append("  next poll:  as soon as the daemon runs")
    if polling and not source.paused:
        lines.append(f"  polling:    {polling}")
    if row is not None and row.unhealthy_since is not None:
        lines.append(f"  unhealthy since {_when(row.unhealthy_since, now)}, "
                     f"{row.error_count} failures in a row")
    lines.extend(pages or [])
    return "\n".join(lines)


def _when(moment: datetime, now: datetime) -> str:
    delta = moment - now
    stamp = moment.strftime("%Y-%m-%d %H:%M UTC")
    span = format_duration(abs(delta) // timedelta(seconds=1) * timedelta(seconds=1))
    return f"{stamp}, in {span}" if delta.total_seconds() > 0 else f"{stamp}, {span} ago"


@sources.command("add")
@click.argument("url")
@click.option("--name", "-n", help="The source's name (default: the feed's or page's title).")
@click.option("--kind", type=click.Choice(KINDS), default="auto", show_default=True,
              help="How to read the URL; auto detects it.")
@click.option("--dry-run", is_flag=True, help="Only show what was found; change nothing.")
@click.option("--force", is_flag=True, help="Add the source even if it can't be read now.")
@pass_context
@reports_errors
def sources_add(ctx: Context, url: str, name: str | None, kind: str, dry_run: bool,
                force: bool) -> None:
    """Add a source: a feed, a sitemap, a homepage or a section page.

    Fetches URL once (robots.txt, limits and address checks as in any crawl), tells what
    it is (for a homepage, the feed it announces, if any), shows its first entries, and
    adds a [[sources]] entry at the end of the config file, keeping the file's comments
    and layout.

    Example: newswatch sources add https://www.theguardian.com/world --name "Guardian World"
    """
    from pydantic import ValidationError

    from scheduler.config import SourceConfig
    from scheduler.config_file import append_entry

    loaded = ctx.load()
    config = loaded.config
    if any(url in (source.url, source.fetch_url) for source in config.sources):
        fail(f"{url} is already a source")
    polled_by = _source_polling(loaded, url)
    if polled_by is not None:
        fail(f"{url} is already polled: it is the feed the source {polled_by!r} announces "
             "(remove that source first to add the feed itself)")
    if name is not None and any(source.name == name for source in config.sources):
        fail(f"a source named {name!r} exists already; choose another --name")
    try:
        candidate = SourceConfig(name=name or "preview", url=url, kind=kind)
    except ValidationError as error:
        fail(error.errors()[0]["msg"].removeprefix("Value error, "))
        return
    preview = _preview(loaded.config, candidate, loaded.path.resolve().parent)
    if not preview.get("ok"):
        click.echo(f"Could not read {url}: {preview.get('error') or 'no answer'}", err=True)
        if not force:
            sys.exit(1)
    else:
        click.echo(_describe_preview(preview))
        resolved = preview.get("resolved_url")
        twin = next((source.name for source in config.sources
                     if resolved and resolved in (source.url, source.fetch_url)), None)
        if twin is not None:
            fail(f"the page announces the feed {resolved}, which is already the source "
                 f"{twin!r}: nothing added")
    name = name or _unique_name(preview.get("title") or _host(url),
                                {source.name for source in config.sources})
    entry: dict[str, Any] = {"name": name, "url": url}
    if kind != "auto":
        entry["kind"] = kind
    if dry_run:
        click.echo(f"Would add source {name!r} (dry run: {loaded.path} unchanged).")
        return
    append_entry(loaded.path, "sources", entry)
    click.echo(f"Added source {name!r} to {loaded.path}.")


def _source_polling(loaded: Any, url: str) -> str | None:
    """The source whose polled URL (a feed its homepage announced) is `url`, from the
    database, if there is one and it has been polled. A convenience: adding a source to the
    config never needs the database (none is created, an unreachable one is skipped)."""
    from sqlalchemy import inspect, make_url, select
    from sqlalchemy.exc import SQLAlchemyError

    from crawler import tables
    from scheduler.commands.common import Database

    database_url = make_url(loaded.database_url)
    if database_url.get_backend_name() == "sqlite" and not (
            database_url.database and Path(database_url.database).exists()):
        return None
    database = Database(loaded)
    try:
        if not inspect(database.engine).has_table(tables.sources.name):
            return None
        configured = {source.name for source in loaded.config.sources}
        with database.engine.connect() as connection:
            names = connection.scalars(select(tables.sources.c.name)
                                       .where(tables.sources.c.resolved_url == url))
            return next((name for name in names if name in configured), None)
    except SQLAlchemyError:
        return None
    finally:
        database.close()


def _preview(config: Any, candidate: SourceConfig, config_dir: Path) -> dict[str, Any]:
    from crawler.job import CrawlJob
    from scheduler.crawl_specs import crawl_settings, source_spec
    from scheduler.crawls import CrawlRunner

    spec = source_spec(config, candidate, config_dir)
    job = CrawlJob(database_url="", settings=crawl_settings(config), sources=[spec],
                   preview=True)
    # The child's log is relayed through ours: newswatch's lines only, in its format.
    outcome = CrawlRunner(None)(job, PREVIEW_TIME_LIMIT)
    if not outcome.ok:
        return {"ok": False, "error": outcome.error}
    return outcome.summary.get("preview") or {"ok": False, "error": "nothing was found"}


def _describe_preview(preview: dict[str, Any]) -> str:
    title = f" {preview['title']!r}" if preview.get("title") else ""
    lines = [f"Found a {preview['kind']}{title}"]
    if preview.get("resolved_url"):
        lines[0] += f": the feed {preview['resolved_url']} announced by the page"
    if preview.get("warning"):
        lines.append(f"Warning: {preview['warning']}")
    entries = preview.get("entries") or []
    total = preview.get("total_entries", len(entries))
    if entries:
        lines.append(f"First entries (of {total} recent ones):")
        for entry in entries:
            date = entry.get("date", "")[:16].replace("T", " ") or "undated"
            lines.append(f"  {date:16}  {entry.get('title') or '(no title)'}")
            lines.append(f"  {'':16}  {entry['url']}")
    else:
        lines.append("No recent entries right now.")
    return "\n".join(lines)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or url).removeprefix("www.")


def _unique_name(wanted: str, taken: set[str]) -> str:
    wanted = " ".join(wanted.split())[:150] or "source"
    name, number = wanted, 2
    while name in taken:
        name, number = f"{wanted} ({number})", number + 1
    return name


@sources.command("remove")
@click.argument("name")
@pass_context
@reports_errors
def sources_remove(ctx: Context, name: str) -> None:
    """Remove the source called NAME from the config file (comments and layout kept).

    Its articles stay in the database; it is no longer polled.

    Example: newswatch sources remove "Guardian World"
    """
    from scheduler.config_file import remove_entry

    path = ctx.config_file
    try:
        remove_entry(path, "sources", name)
    except KeyError:
        fail(f"no source named {name!r} in {path}")
    click.echo(f"Removed source {name!r} from {path}.")


@sources.command("pause")
@click.argument("name")
@pass_context
@reports_errors
def sources_pause(ctx: Context, name: str) -> None:
    """Stop polling the source NAME without removing it (`paused = true` in the config).

    Its articles, history and polling state are kept; `sources resume` starts it again.

    Example: newswatch sources pause "Guardian World"
    """
    set_paused(ctx, "sources", name, True, "it is not polled")


@sources.command("resume")
@click.argument("name")
@pass_context
@reports_errors
def sources_resume(ctx: Context, name: str) -> None:
    """Poll the paused source NAME again.

    Example: newswatch sources resume "Guardian World"
    """
    set_paused(ctx, "sources", name, False, "it is polled again")


@sources.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only list what would be added.")
@pass_context
@reports_errors
def sources_import(ctx: Context, opml_file: Path, dry_run: bool) -> None:
    """Add the feeds of an OPML file (a feed reader's export) as sources.

    Feeds whose URL is already a source are skipped; a name already taken gets a number.
    Nothing is fetched: each feed is read at its first poll.

    Example: newswatch sources import ~/Downloads/feedly.opml
    """
    from scheduler.config_file import append_entry
    from scheduler.opml import OPMLError, read_opml

    try:
        outlines = read_opml(opml_file.read_bytes())
    except OPMLError as error:
        fail(f"{opml_file}: {error}")
        return
    loaded = ctx.load()
    urls = {url for source in loaded.config.sources for url in (source.url, source.fetch_url)}
    names = {source.name for source in loaded.config.sources}
    added = skipped = 0
    for outline in outlines:
        if outline.url in urls:
            skipped += 1
            continue
        name = _unique_name(outline.name or _host(outline.url), names)
        entry = {"name": name, "url": outline.url}
        if outline.kind != "auto":
            entry["kind"] = outline.kind
        if not dry_run:
            try:
                append_entry(loaded.path, "sources", entry)
            except ConfigError as error:
                click.echo(f"skipped {outline.url}: {error.problems[0]}", err=True)
                skipped += 1
                continue
        urls.add(outline.url)
        names.add(name)
        added += 1
        click.echo(f"{'would add' if dry_run else 'added'} {name!r}: {outline.url}")
    verb = "Would add" if dry_run else "Added"
    if not outlines:
        fail(f"{opml_file}: no feeds in this OPML file (nothing added)")
    click.echo(f"{verb} {plural(added, 'source')} from {opml_file} ({skipped} skipped).")


@sources.command("export")
@pass_context
@reports_errors
def sources_export(ctx: Context) -> None:
    """Print the sources as OPML 2.0, for a feed reader or another newswatch.

    A homepage whose feed was discovered is exported as that feed; sitemaps and pages,
    which feed readers can't follow, as plain links.

    Example: newswatch sources export > newswatch.opml
    """
    from sqlalchemy import select

    from crawler import tables
    from scheduler.opml import Outline, write_opml

    with opened_app(ctx, sync=False) as app:
        with app.engine.connect() as connection:
            rows = {row.name: row for row in connection.execute(select(tables.sources))}
        outlines = []
        for source in app.config.sources:
            row = rows.get(source.name)
            kind = source.kind if source.kind != "auto" else (row.kind if row else "auto")
            if kind == "feed":
                resolved = mask_secrets(row.resolved_url) if row is not None else None
                outlines.append(Outline(source.name, resolved or source.url, "feed",
                                        html_url=source.url if resolved else None))
            else:
                outlines.append(Outline(source.name, source.url, "auto"))
    click.echo(write_opml(outlines).decode("utf-8"), nl=False)
