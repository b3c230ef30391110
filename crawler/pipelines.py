"""Scrapy item pipeline that stores what the spider found."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crawler.items import ArticleItem, SourceStatusItem
from crawler.store import ArticleStore

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class StorePipeline:
    """Writes articles (once per canonical URL) and each source's fetch outcome."""

    def __init__(self, database_url: str, crawler: Crawler) -> None:
        self.store = ArticleStore(database_url)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler.settings["NEWSWATCH_DATABASE_URL"], crawler)

    def close_spider(self, spider: Spider | None = None) -> None:
        self.store.close()

    def process_item(self, item: object, spider: Spider | None = None) -> object:
        if isinstance(item, ArticleItem):
            if self.store.save_article(item):
                self.stats.inc_value("newswatch/articles_stored")
                logger.info("stored %s", item.url)
            else:
                self.stats.inc_value("newswatch/articles_already_known")
        elif isinstance(item, SourceStatusItem):
            self.store.record_source_status(item)
            if not item.ok:
                self.stats.inc_value("newswatch/sources_failed")
        return item
