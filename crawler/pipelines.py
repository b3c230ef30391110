"""Scrapy item pipelines: storing what the spider found, or collecting a preview."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from crawler.database import retry_transient
from crawler.items import ArticleItem, EntryOutcomeItem, PreviewItem, SourceStatusItem
from crawler.job import CrawlJob, SourceSpec
from crawler.ledger import RetryPolicy
from crawler.polling import PollOutcome
from crawler.store import KNOWN, REVISED, STORED, ArticleStore

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

PREVIEW_STAT = "newswatch/preview"
# Items written in one transaction at most: a batch's commit is also when its articles
# become visible to matching.
MAX_BATCH = 200


class StorePipeline:
    """Writes articles (once per canonical URL, or as a new version when re-fetched),
    the crawl ledger's entries, each source's fetch status and, when the crawl closes,
    each polled source's schedule (which needs the run's count of new articles).

    Every write runs on one writer thread, in the order the items came: the reactor
    never waits on the database, and an entry is always written down as pending before
    its article can arrive. Items that arrive while a batch is being written form the
    next batch, written in one transaction (`ArticleStore.write_batch`): the busier the
    crawl, the bigger the batches, and an idle crawl writes each item at once."""

    def __init__(self, crawler: Crawler, job: CrawlJob) -> None:
        self.store = ArticleStore(job.database_url)
        self.stats = crawler.stats
        self.sources: dict[int, SourceSpec] = {source.id: source for source in job.sources}
        self.statuses: dict[int, SourceStatusItem] = {}
        self.new_articles: Counter[int] = Counter()
        self.policy = RetryPolicy(
            retries=job.settings.page_retries,
            retry_delay=timedelta(seconds=job.settings.page_retry_delay_seconds),
            memory=timedelta(seconds=job.settings.max_article_age_seconds),
        )
        self.waiting: list[tuple[object, Deferred[None]]] = []
        self.writing = False
        self.writer = ThreadPool(minthreads=1, maxthreads=1, name="newswatch-store")
        self.writer.start()
        # Also stopped when the crawl is forced down without closing the spider: a live
        # pool thread would keep the crawl process from exiting.
        from twisted.internet import reactor  # the one Scrapy installed

        reactor.addSystemEventTrigger("before", "shutdown", self._stop_writer)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler, crawler.settings["NEWSWATCH_JOB"])

    async def process_item(self, item: object) -> object:
        written: Deferred[None] = Deferred()
        self.waiting.append((item, written))
        self._write_next_batch()
        await maybe_deferred_to_future(written)
        return item

    def _write_next_batch(self) -> None:
        from twisted.internet import reactor  # imported early, Twisted's default would win

        if self.writing or not self.waiting:
            return
        batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
        items = [item for item, _ in batch]
        self.writing = True
        # A batch that finds the database locked is run again whole rather than lost.
        writing = deferToThreadPool(reactor, self.writer, retry_transient,
                                    partial(self.store.write_batch, items, self.policy),
                                    "storing what the crawl found")

        def written(outcomes: list[str | None] | Failure) -> None:
            self.writing = False
            if isinstance(outcomes, Failure):
                for _, done in batch:
                    done.errback(outcomes)
            else:
                for (item, done), outcome in zip(batch, outcomes, strict=True):
                    self._count(item, outcome)
                    done.callback(None)
            self._write_next_batch()

        writing.addBoth(written)

    def _count(self, item: object, outcome: str | None) -> None:
        if outcome is None:
            return  # refused by the database, and logged
        if isinstance(item, ArticleItem):
            if outcome == REVISED:
                self.stats.inc_value("newswatch/articles_revised")
                logger.info("stored a new version of %s", item.url)
            elif outcome == STORED:
                self.stats.inc_value("newswatch/articles_stored")
                self.new_articles[item.source_id] += 1
                logger.info("stored %s", item.url)
            elif outcome == KNOWN:
                self.stats.inc_value("newswatch/articles_already_known")
        elif isinstance(item, EntryOutcomeItem):
            self.stats.inc_value(f"newswatch/entries_{item.state}")
        elif isinstance(item, SourceStatusItem):
            self.statuses[item.source_id] = item
            if not item.ok:
                self.stats.inc_value("newswatch/sources_failed")

    def close_spider(self) -> None:
        try:
            for source_id, status in self.statuses.items():
                source = self.sources.get(source_id)
                if source is None:
                    continue
                retry_after = status.retry_after_seconds
                outcome = PollOutcome(
                    ok=status.ok,
                    new_articles=self.new_articles[source_id],
                    entry_dates=status.entry_dates,
                    retry_after=timedelta(seconds=retry_after) if retry_after else None,
                )
                try:
                    retry_transient(partial(self.store.finish_poll, source_id, outcome,
                                            source.poll_bounds()), "planning the next poll")
                except Exception:  # one source's bad state must not unplan the others
                    logger.exception("could not plan the next poll of source %s", source.name)
        finally:
            self._stop_writer()
            self.store.close()

    def _stop_writer(self) -> None:
        if not self.writer.joined:
            self.writer.stop()


class PreviewPipeline:
    """Keeps what a preview found in the crawl stats, for crawler/run.py to print."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PreviewPipeline:
        return cls(crawler)

    def process_item(self, item: object) -> object:
        if isinstance(item, PreviewItem):
            self.stats.set_value(PREVIEW_STAT, {"ok": True, **vars(item)})
        elif isinstance(item, SourceStatusItem) and not item.ok:
            self.stats.set_value(PREVIEW_STAT, {"ok": False, "error": item.error})
        return item
