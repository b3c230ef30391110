"""Scrapy item pipelines: storing what the spider found, or collecting a preview."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

from crawler.items import ArticleItem, PreviewItem, SourceStatusItem
from crawler.job import CrawlJob, SourceSpec
from crawler.polling import PollOutcome
from crawler.store import ArticleStore

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

PREVIEW_STAT = "newswatch/preview"


class StorePipeline:
    """Writes articles (once per canonical URL, or as a new version when re-fetched),
    each source's fetch status, and, when the crawl closes, each polled source's
    schedule (which needs the run's count of new articles)."""

    def __init__(self, crawler: Crawler, job: CrawlJob) -> None:
        self.store = ArticleStore(job.database_url)
        self.stats = crawler.stats
        self.sources: dict[int, SourceSpec] = {source.id: source for source in job.sources}
        self.statuses: dict[int, SourceStatusItem] = {}
        self.new_articles: Counter[int] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler, crawler.settings["NEWSWATCH_JOB"])

    def process_item(self, item: object) -> object:
        if isinstance(item, ArticleItem):
            self._store_article(item)
        elif isinstance(item, SourceStatusItem):
            self.store.record_source_status(item)
            self.statuses[item.source_id] = item
            if not item.ok:
                self.stats.inc_value("newswatch/sources_failed")
        return item

    def _store_article(self, item: ArticleItem) -> None:
        if item.revision:
            if self.store.revise_article(item):
                self.stats.inc_value("newswatch/articles_revised")
                logger.info("stored a new version of %s", item.url)
        elif self.store.save_article(item):
            self.stats.inc_value("newswatch/articles_stored")
            self.new_articles[item.source_id] += 1
            logger.info("stored %s", item.url)
        else:
            self.stats.inc_value("newswatch/articles_already_known")

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
                    self.store.finish_poll(source_id, outcome, source.poll_bounds())
                except Exception:  # one source's bad state must not unplan the others
                    logger.exception("could not plan the next poll of source %s", source.name)
        finally:
            self.store.close()


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
