"""`newswatch crawl`: crawl sources by hand, with a progress display on a terminal."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
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
    from sqlalchemy.orm import sessionmaker

    from scheduler.app import App


@dataclass(frozen=True)
class SourceDone:
    name: str
    status: str
    error: str | None
    articles: int


class CrawlWatcher:
    """Reads the crawl's progress from the database: which sources have been polled since
    it started, and how many articles each stored."""

    def __init__(self, sessions: sessionmaker, names: Sequence[str]) -> None:
        from crawler.models import utcnow

        self.sessions = sessions
        self.names = list(names)
        self.started = utcnow()
        self.reported: set[str] = set()

    def poll(self) -> tuple[list[SourceDone], int]:
        """Sources finished since the last poll, and all articles stored so far."""
        from sqlalchemy import func, select

        from crawler.models import Article, Source

        with self.sessions() as session:
            counts = dict(session.execute(
                select(Article.source_id, func.count(Article.id))
                .where(Article.first_seen_at >= self.started)
                .group_by(Article.source_id)
            ).all())
            done = []
            for source in session.scalars(select(Source).where(Source.name.in_(self.names))):
                if source.name in self.reported or source.last_polled_at is None:
                    continue
                if source.last_polled_at < self.started:
                    continue
                self.reported.add(source.name)
                done.append(SourceDone(source.name, source.last_status or "done",
                                       source.last_error, counts.get(source.id, 0)))
        return done, sum(counts.values())


def describe(done: SourceDone) -> str:
    """A source as soon as its feed or page was fetched (its articles may still come)."""
    if done.error:
        return f"{done.name}: failed: {done.error}"
    return f"{done.name}: {done.status}"


class PlainDisplay:
    """One line per finished source: for logs, pipes and cron."""

    def __init__(self, watcher: CrawlWatcher) -> None:
        self.watcher = watcher
        self.articles = 0

    def __enter__(self) -> PlainDisplay:
        click.echo(f"crawling {plural(len(self.watcher.names), 'source')}")
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def tick(self) -> None:
        done, self.articles = self.watcher.poll()
        for source in done:
            click.echo(f"[{len(self.watcher.reported)}/{len(self.watcher.names)}] "
                       f"{describe(source)}")


class RichDisplay:
    """A live progress bar on the terminal (stderr); finished sources scroll above it."""

    def __init__(self, watcher: CrawlWatcher) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.watcher = watcher
        self.articles = 0
        self.console = Console(stderr=True)
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]crawling"), BarColumn(), MofNCompleteColumn(),
            TextColumn("sources · {task.fields[articles]} new articles"), TimeElapsedColumn(),
            console=self.console, transient=False,
        )
        self.task = self.progress.add_task("crawl", total=len(watcher.names), articles=0)
        self._handlers: list[logging.Handler] = []

    def __enter__(self) -> RichDisplay:
        # Log records would tear the live display: print them above it, warnings only
        # from the crawl child (its INFO lines are what the bar summarises).
        from rich.logging import RichHandler

        root = logging.getLogger()
        self._handlers = root.handlers[:]
        root.handlers[:] = [RichHandler(console=self.console, show_path=False)]
        logging.getLogger("crawl").setLevel(logging.WARNING)
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()
        logging.getLogger().handlers[:] = self._handlers
        logging.getLogger("crawl").setLevel(logging.NOTSET)

    def tick(self) -> None:
        done, self.articles = self.watcher.poll()
        for source in done:
            style = "red" if source.error else "green"
            self.progress.console.print(f"[{style}]{'✗' if source.error else '✓'}[/] "
                                        f"{describe(source)}", markup=True, highlight=False)
        self.progress.update(self.task, completed=len(self.watcher.reported),
                             articles=self.articles)


@click.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@pass_context
@reports_errors
def crawl(ctx: Context, sources: tuple[str, ...]) -> None:
    """Crawl sources now, by hand, and watch the progress.

    Crawls the named sources (every source not paused, by default) once, in one child
    process with the daemon's limits, and stores the new articles; the daemon's next
    cycle (or `newswatch run --once`) matches and alerts on them. On a terminal a progress
    bar shows sources done and articles stored; otherwise one line per source is printed.
    Exit status 0 when the crawl ran, even if some sources failed (they are listed); 1
    when the crawl itself failed (killed at the time limit, crashed), or when a daemon is
    running on the database (it crawls the sources itself: stop it first).

    Examples:

    \b
        newswatch crawl
        newswatch crawl "BBC World" "NPR World"
    """
    from scheduler.app import App

    app = App(ctx.load())
    try:
        configured = [s.name for s in app.config.sources]
        names = list(dict.fromkeys(sources)) or [s.name for s in app.config.polled_sources]
        unknown = [name for name in names if name not in configured]
        if unknown:
            fail(f"unknown {'source' if len(unknown) == 1 else 'sources'}: "
                 f"{', '.join(map(repr, unknown))} (configured: "
                 f"{', '.join(map(repr, configured)) or 'none'})")
        if not names and configured:
            fail("every source is paused: resume one with `newswatch sources resume NAME`, "
                 "or crawl it by name with `newswatch crawl NAME`")
        if not names:
            fail("no sources are configured")
        with opened_without_daemon(app):
            _crawl(app, names)
    finally:
        app.close()


def _crawl(app: App, names: list[str]) -> None:
    """Crawl `names` with the progress display; `app` is open and the lock held."""
    from scheduler.crawls import CrawlRunner

    watcher = CrawlWatcher(app.sessions, names)
    display = RichDisplay(watcher) if sys.stderr.isatty() else PlainDisplay(watcher)
    runner = CrawlRunner(app.sessions, app.config.daemon.crawl_memory_limit_mb,
                         on_tick=display.tick)
    started = time.monotonic()
    with display:
        outcome, problems = app.crawl(names, runner=runner)
        display.tick()
    failed = {problem.name for problem in problems}
    click.echo(
        f"crawl {'finished' if outcome.ok else 'failed'} in "
        f"{time.monotonic() - started:.1f}s: {plural(len(names), 'source')}, {len(failed)} "
        f"failed, {plural(display.articles, 'new article')}"
    )
    if not outcome.ok:
        fail(f"crawl failed: {outcome.error}")
