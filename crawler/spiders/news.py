"""The spider: reads each source's feed and fetches the articles it has not stored yet."""

from __future__ import annotations

import calendar
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.extract import extract_article
from crawler.items import ArticleItem, SourceStatusItem
from crawler.job import CrawlJob, SourceSpec
from crawler.store import ArticleStore
from crawler.urls import canonical_url, preferred_url

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedEntry:
    """What a feed says about one article: enough to stand in if the page can't be fetched."""

    url: str
    title: str
    summary: str
    authors: list[str]
    published: datetime | None


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, job: CrawlJob, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.max_age = timedelta(seconds=job.settings.max_article_age_seconds)
        self.store = ArticleStore(job.database_url)

    def closed(self, reason: str) -> None:
        self.store.close()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for source in self.job.sources:
            yield self.source_request(source)

    def source_request(self, source: SourceSpec) -> scrapy.Request:
        headers = {}
        if source.etag:
            headers["If-None-Match"] = source.etag
        if source.last_modified:
            headers["If-Modified-Since"] = source.last_modified
        return scrapy.Request(
            source.url,
            callback=self.parse_feed,
            errback=self.source_failed,
            headers=headers,
            cb_kwargs={"source": source},
            meta={"handle_httpstatus_list": [304], "source": source},
            dont_filter=True,
        )

    def parse_feed(self, response: Response, source: SourceSpec) -> Iterator[Any]:
        if response.status == 304:
            yield SourceStatusItem(source.id, ok=True, status="not modified")
            return
        parsed = feedparser.parse(response.body, response_headers=_lower_headers(response))
        if not parsed.entries and parsed.get("bozo"):
            yield SourceStatusItem(
                source.id,
                ok=False,
                status="parse error",
                error=f"not a readable feed: {parsed.get('bozo_exception')}",
            )
            return
        entries = [entry for entry in map(_feed_entry, parsed.entries) if entry is not None]
        yield SourceStatusItem(
            source.id,
            ok=True,
            status="ok",
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            entries=len(entries),
        )
        recent = [entry for entry in entries if self.is_recent(entry.published)]
        known = self.store.known_urls(entry.url for entry in recent)
        for entry in recent:
            if entry.url in known:
                continue
            yield scrapy.Request(
                entry.url,
                callback=self.parse_article,
                errback=self.article_failed,
                cb_kwargs={"source": source, "entry": entry},
            )

    def parse_article(
        self, response: Response, source: SourceSpec, entry: FeedEntry
    ) -> Iterator[ArticleItem]:
        if not isinstance(response, scrapy.http.TextResponse):
            logger.info("skipped %s: not an HTML page", response.url)
            return
        extracted = extract_article(response.body, response.url)
        if extracted.error or not extracted.body:
            logger.info("no article text at %s (%s); using the feed entry", response.url,
                        extracted.error)
            yield _item_from_feed(source, entry)
            return
        published = extracted.published or entry.published
        if not self.is_recent(published):
            return
        yield ArticleItem(
            source_id=source.id,
            url=preferred_url(response.url, extracted.canonical_url),
            title=extracted.title or entry.title,
            body=extracted.body,
            authors=extracted.authors or entry.authors,
            published_at=published,
            language=extracted.language,
        )

    def source_failed(self, failure: Failure) -> Iterator[SourceStatusItem]:
        source: SourceSpec = failure.request.meta["source"]
        reason = _describe_failure(failure)
        logger.warning("source %r failed: %s", source.name, reason)
        yield SourceStatusItem(source.id, ok=False, status="error", error=reason)

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        """The page could not be fetched: store the feed's own title and summary instead."""
        request = failure.request
        entry: FeedEntry = request.cb_kwargs["entry"]
        source: SourceSpec = request.cb_kwargs["source"]
        logger.info("could not fetch %s (%s); using the feed entry", request.url,
                    _describe_failure(failure))
        yield _item_from_feed(source, entry)

    def is_recent(self, published: datetime | None) -> bool:
        """Whether an article is young enough to be stored (undated ones are kept)."""
        return published is None or published >= datetime.now(UTC) - self.max_age


def _feed_entry(entry: Any) -> FeedEntry | None:
    link = entry.get("link")
    if not link or not str(link).startswith(("http://", "https://")):
        return None
    parsed_time = entry.get("published_parsed") or entry.get("updated_parsed")
    published = (
        datetime.fromtimestamp(calendar.timegm(parsed_time), UTC) if parsed_time else None
    )
    authors = [a.get("name") for a in entry.get("authors", []) if a.get("name")]
    return FeedEntry(
        url=canonical_url(link),
        title=entry.get("title", ""),
        summary=_plain_text(entry.get("summary", "")),
        authors=authors,
        published=published,
    )


def _item_from_feed(source: SourceSpec, entry: FeedEntry) -> ArticleItem:
    return ArticleItem(
        source_id=source.id,
        url=entry.url,
        title=entry.title,
        body=entry.summary,
        authors=entry.authors,
        published_at=entry.published,
        from_feed=True,
    )


def _plain_text(html: str) -> str:
    if "<" not in html:
        return html.strip()
    return " ".join(scrapy.Selector(text=html).xpath("//text()").getall()).strip()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _lower_headers(response: Response) -> dict[str, str]:
    return {
        key.decode("latin-1").lower(): value.decode("latin-1")
        for key, value in response.headers.items()
        for value in value[:1]
    }


def _describe_failure(failure: Failure) -> str:
    """A short human reason: "HTTP 500", "DNS lookup failed", "timed out", ..."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    name = type(failure.value).__name__
    message = str(failure.value).strip()
    return f"{name}: {message}" if message else name
