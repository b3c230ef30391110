"""The spider: reads each source (feed, sitemap or section page) and fetches the articles
it has not stored yet, or stored before the listing said they changed.

    source URL ──> detect kind ──> feed      ─┐
        │            (auto)        sitemap   ─┼─> entries ─> new or changed? ─> article page
        └─ homepage with <link rel=alternate> ─> its feed      (per canonical URL)

Each source is isolated: whatever happens to it ends in one SourceStatusItem with a
human-readable reason, and never stops the others. Every entry whose page is to be
fetched is first written down in the crawl ledger (crawler/ledger.py), before the
listing's validators are saved, so that a crawl cut short loses nothing: the next crawl
fetches what is still pending, whatever the listing answers. A page that fails in a way
that may pass (5xx, 429, timeout, 404 before the page is live...) is tried again at later
crawls; one refused for good (robots.txt, 401/403, not HTML) is replaced by the feed's
own title and summary, marked `from_feed`, and upgraded to the full article if the page
becomes readable; a page older than `max_article_age` is remembered and not fetched
again; a request refused by the address guard is dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import StopDownload
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure

from crawler import meta
from crawler.discovery import FEED, PAGE, SITEMAP, feed_links, sniff_kind
from crawler.entries import Entry
from crawler.extraction_pool import (
    ExtractedPage,
    ExtractionCrashed,
    ExtractionPool,
    extract_and_trim,
)
from crawler.failures import BLOCKED as BLOCKED_PAGE
from crawler.failures import MISSING, REFUSED, TRANSIENT, describe_failure, page_failure_kind
from crawler.feeds import parse_feed
from crawler.items import (
    ArticleItem,
    EntryOutcomeItem,
    PendingEntriesItem,
    PreviewItem,
    SourceStatusItem,
    stand_in,
)
from crawler.job import CrawlJob, SourceSpec
from crawler.ledger import BLOCKED, FAILED, GONE, RETRY, SKIPPED, LedgerEntry, RetryPolicy
from crawler.middlewares.retry_after import RETRY_AFTER_STATUSES, retry_after_seconds
from crawler.pages import article_links, path_date
from crawler.sitemaps import ChildSitemap, parse_sitemap
from crawler.sites import SourceDirectory
from crawler.store import ArticleStore
from crawler.tls import read_ca_bundle
from crawler.urls import canonical_url, preferred_url

logger = logging.getLogger(__name__)

SOURCE_PRIORITY = 10  # every source is read before the article pages queue up
MAX_SITEMAP_DEPTH = 2  # index -> index -> URL set
MAX_SITEMAPS_PER_SOURCE = 50
MAX_LINKS_PER_PAGE = 150
PREVIEW_ENTRIES = 5
# Content types an article page may come with; anything else is stopped at the headers.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/octet-stream")


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, job: CrawlJob, extraction_pool: ExtractionPool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        # Worker processes for extraction (crawler/run.py starts them); None: in-process.
        self.extraction_pool = extraction_pool
        self.max_age = timedelta(seconds=job.settings.max_article_age_seconds)
        self.policy = RetryPolicy(
            retries=job.settings.page_retries,
            retry_delay=timedelta(seconds=job.settings.page_retry_delay_seconds),
            memory=self.max_age,
        )
        self.store = None if job.preview else ArticleStore(job.database_url)
        self.directory = SourceDirectory(job.sources)
        self.sitemaps_requested: Counter[int] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.stop_non_html, signal=signals.headers_received)
        return spider

    def closed(self, reason: str) -> None:
        if self.store is not None:
            self.store.close()

    async def start(self) -> AsyncIterator[Any]:
        crawled: dict[int, SourceSpec] = {}
        for source in self.job.sources:
            problem = _configuration_problem(source)
            if problem:
                logger.warning("source %r not crawled: %s", source.name, problem)
                yield SourceStatusItem(source.id, ok=False, status="config error", error=problem)
            else:
                crawled[source.id] = source
                yield self.source_request(source)
        if self.store is None:
            return
        # Pages left pending by an earlier crawl, or due for another try.
        due = await maybe_deferred_to_future(deferToThread(self.store.due_entries, crawled))
        for item in due:
            yield self.article_request(crawled[item.source_id], item)

    # -- the source itself ------------------------------------------------------------

    def source_request(self, source: SourceSpec, discovered: str | None = None) -> scrapy.Request:
        """The request for a source's listing; `discovered` is a feed found on its page."""
        url = discovered or source.poll_url
        headers = {}
        if url == source.poll_url:
            if source.etag:
                headers["If-None-Match"] = source.etag
            if source.last_modified:
                headers["If-Modified-Since"] = source.last_modified
        return scrapy.Request(
            url,
            callback=self.parse_source,
            errback=self.source_failed,
            headers=headers,
            priority=SOURCE_PRIORITY,
            dont_filter=True,
            cb_kwargs={"source": source, "discovered": discovered},
            meta={
                meta.SOURCE: source,
                meta.SCOPE: meta.ANYWHERE,
                meta.ROLE: "source",
                "handle_httpstatus_list": [304],
                "download_maxsize": self._listing_maxsize(source.kind),
            },
        )

    async def parse_source(
        self, response: Response, source: SourceSpec, discovered: str | None
    ) -> AsyncIterator[Any]:
        if response.status == 304:
            yield SourceStatusItem(source.id, ok=True, status="not modified")
            return
        kind = sniff_kind(response.body, _content_type(response))
        if source.kind != "auto" and not discovered:
            kind = source.kind if kind is not None or source.kind == PAGE else None
        if kind is None or (discovered and kind != FEED):
            what = f"the feed {discovered} announced by the page" if discovered else "the URL"
            served = _content_type(response) or "no Content-Type"
            yield self._failed_status(
                source, "parse error", f"{what} is not a feed, sitemap or HTML page ({served})"
            )
            return
        if kind == PAGE and source.kind == "auto" and not discovered:
            announced = feed_links(_text(response), response.url)
            if announced:
                logger.info("source %r: using the feed %s its page announces",
                            source.name, announced[0])
                yield self.source_request(source, discovered=announced[0])
                return
        resolved = discovered if discovered else None
        if kind == FEED:
            listing = self.read_feed(response, source, resolved)
        elif kind == SITEMAP:
            listing = self.read_sitemap(response, source, depth=0)
        else:
            listing = self.read_page(response, source)
        async for found in listing:
            yield found

    def source_failed(self, failure: Failure) -> Iterator[SourceStatusItem]:
        request = failure.request  # type: ignore[attr-defined]
        source: SourceSpec = request.meta[meta.SOURCE]
        status, reason = describe_failure(failure)
        response = getattr(failure.value, "response", None)
        retry_after = None
        forget_resolved = None
        if response is not None:
            if response.status in RETRY_AFTER_STATUSES:
                retry_after = retry_after_seconds(response.headers.get(b"Retry-After"))
            if response.status in (404, 410) and request.url == source.resolved_url:
                forget_resolved = ""  # the announced feed is gone: look for it again
        where = f" ({request.url})" if request.url != source.url else ""
        # The parent reports each failed source once, from what this item records.
        logger.debug("source %r failed: %s%s", source.name, reason, where)
        yield SourceStatusItem(
            source.id, ok=False, status=status, error=reason + where,
            retry_after_seconds=retry_after, resolved_url=forget_resolved,
        )

    def _failed_status(self, source: SourceSpec, status: str, error: str) -> SourceStatusItem:
        logger.debug("source %r failed: %s", source.name, error)
        return SourceStatusItem(source.id, ok=False, status=status, error=error)

    # -- feeds ----------------------------------------------------------------------

    async def read_feed(self, response: Response, source: SourceSpec,
                        resolved: str | None) -> AsyncIterator[Any]:
        parsed = parse_feed(response.body, response.url, _content_type(response))
        if parsed.error:
            yield self._failed_status(source, "parse error", parsed.error)
            return
        if parsed.warning:
            logger.warning("source %r: %s", source.name, parsed.warning)
        if self.job.preview:
            yield self._ok_status(response, source, FEED, resolved, parsed.entries,
                                  parsed.warning)
            yield _preview(source, FEED, resolved, parsed.title, parsed.entries, parsed.warning)
            return
        to_fetch = await self.new_or_changed(source, parsed.entries, meta.ANYWHERE)
        if to_fetch:
            yield PendingEntriesItem(to_fetch)
        yield self._ok_status(response, source, FEED, resolved, parsed.entries, parsed.warning)
        for item in to_fetch:
            yield self.article_request(source, item)

    # -- sitemaps --------------------------------------------------------------------

    async def read_sitemap(self, response: Response, source: SourceSpec,
                           depth: int) -> AsyncIterator[Any]:
        parsed = parse_sitemap(response.body, response.url, self.job.settings.max_sitemap_size)
        is_source = depth == 0
        if parsed.error:
            if is_source:
                yield self._failed_status(source, "parse error", parsed.error)
            else:
                logger.warning("source %r: sitemap %s: %s", source.name, response.url,
                               parsed.error)
            return
        dated = [entry for entry in parsed.entries if entry.dated is not None]
        warning = None
        if len(dated) < len(parsed.entries):
            warning = (f"{len(parsed.entries) - len(dated)} sitemap URLs without lastmod or "
                       "publication date were skipped")
        if self.job.preview:
            if is_source:
                yield self._ok_status(response, source, SITEMAP, None, dated, warning)
            children = [Entry(url=child.url, updated=child.lastmod) for child in parsed.sitemaps]
            yield _preview(source, SITEMAP, None, "", dated or children, warning)
            return
        to_fetch = await self.new_or_changed(source, dated, meta.SITE)
        if to_fetch:
            yield PendingEntriesItem(to_fetch)
        if is_source:
            # An index's validators are not kept: its children may change while it does
            # not, and a crawl cut short before they were read must read them again.
            yield self._ok_status(response, source, SITEMAP, None, dated, warning,
                                  validators=not parsed.sitemaps)
        for request in self.follow_sitemaps(source, parsed.sitemaps, depth):
            yield request
        for item in to_fetch:
            yield self.article_request(source, item)

    def follow_sitemaps(self, source: SourceSpec, sitemaps: Iterable[ChildSitemap],
                        depth: int) -> Iterator[scrapy.Request]:
        """Child sitemaps of an index, newest first; those last modified before the age
        limit can't list a new article and are skipped."""
        fresh = [child for child in sitemaps if child.lastmod is None
                 or self.is_recent(child.lastmod)]
        fresh.sort(key=lambda child: child.lastmod or datetime.max.replace(tzinfo=UTC),
                   reverse=True)
        if fresh and depth + 1 > MAX_SITEMAP_DEPTH:
            logger.warning("source %r: sitemap indexes nested deeper than %d are not read",
                           source.name, MAX_SITEMAP_DEPTH)
            return
        for child in fresh:
            if self.sitemaps_requested[source.id] >= MAX_SITEMAPS_PER_SOURCE:
                logger.warning("source %r: more than %d sitemaps, the rest are not read",
                               source.name, MAX_SITEMAPS_PER_SOURCE)
                return
            self.sitemaps_requested[source.id] += 1
            yield scrapy.Request(
                child.url,
                callback=self.read_sitemap,
                errback=self.listing_failed,
                priority=SOURCE_PRIORITY,
                cb_kwargs={"source": source, "depth": depth + 1},
                meta={
                    meta.SOURCE: source,
                    meta.SCOPE: meta.SITE,
                    meta.ROLE: "sitemap",
                    "download_maxsize": self.job.settings.max_sitemap_size,
                },
            )

    def listing_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        _, reason = describe_failure(failure)
        logger.warning("source %r: sitemap %s failed: %s", request.meta[meta.SOURCE].name,
                       request.url, reason)

    # -- section pages ---------------------------------------------------------------

    async def read_page(self, response: Response, source: SourceSpec) -> AsyncIterator[Any]:
        links = article_links(_text(response), response.url, self.directory.scope(source),
                              MAX_LINKS_PER_PAGE)
        oldest = (datetime.now(UTC) - self.max_age).date() - timedelta(days=1)
        fresh = [link for link in links if (path_date(link.url) or oldest) >= oldest]
        if self.job.preview:
            yield self._ok_status(response, source, PAGE, None, [], None, count=len(links))
            yield _preview(source, PAGE, None, _page_title(response), fresh, None)
            return
        to_fetch = await self.new_or_changed(source, fresh, meta.SITE)
        if to_fetch:
            yield PendingEntriesItem(to_fetch)
        yield self._ok_status(response, source, PAGE, None, [], None, count=len(links))
        for item in to_fetch:
            yield self.article_request(source, item)

    # -- articles --------------------------------------------------------------------

    async def new_or_changed(self, source: SourceSpec, entries: Iterable[Entry],
                             scope: str) -> list[LedgerEntry]:
        """The entries whose pages are to be fetched: new, or changed since stored. The
        caller yields them as pending for the ledger, then the listing's status, then
        their requests. Entries the ledger holds are left to it. The database is asked
        on a thread, in two queries for the whole listing: the reactor never waits."""
        assert self.store is not None
        wanted: dict[str, Entry] = {}
        outside = 0
        for entry in entries:
            if entry.url in wanted or not self.is_recent(entry.dated):
                continue
            if scope == meta.SITE and not self.directory.scope(source).contains(entry.url):
                outside += 1
                continue
            wanted[entry.url] = entry
        if outside:
            logger.info("source %r: %d links to other sites not followed", source.name, outside)
        stored, known = await maybe_deferred_to_future(
            deferToThread(self.store.what_is_known, list(wanted)))
        to_fetch: list[LedgerEntry] = []
        for url, entry in wanted.items():
            if url in known:
                continue  # fetched when the ledger says it is due
            if url not in stored:
                to_fetch.append(LedgerEntry(source.id, entry, scope))
            elif _moved_forward(entry.changed_at, stored[url]):
                to_fetch.append(LedgerEntry(source.id, entry, scope, revision=True))
        return to_fetch

    def article_request(self, source: SourceSpec, item: LedgerEntry) -> scrapy.Request:
        return scrapy.Request(
            item.entry.url,
            callback=self.parse_article,
            errback=self.article_failed,
            dont_filter=item.revision,
            cb_kwargs={"source": source, "item": item},
            meta={
                meta.SOURCE: source,
                meta.SCOPE: item.scope or meta.SITE,
                meta.ROLE: "article",
                "download_maxsize": self.job.settings.max_page_size,
            },
        )

    async def parse_article(self, response: Response, source: SourceSpec,
                            item: LedgerEntry) -> AsyncIterator[ArticleItem | EntryOutcomeItem]:
        if not _is_html(response):
            logger.info("skipped %s: not an HTML page (%s)", response.url,
                        _content_type(response) or "no type")
            outcomes = self._unreadable(source, item, "not an HTML page")
        else:
            try:
                page = await self.extract(_markup(response), response.url)
            except ExtractionCrashed as crash:
                outcomes = self._try_later(source, item, TRANSIENT, str(crash))
            else:
                outcomes = self._article(response, source, item, page)
        for outcome in outcomes:
            yield outcome

    async def extract(self, markup: str | bytes, url: str) -> ExtractedPage:
        """The page's article, extracted in the crawl's worker processes when it has them."""
        if self.extraction_pool is None:
            return extract_and_trim(markup, url)
        return await maybe_deferred_to_future(self.extraction_pool.extract(markup, url))

    def _article(self, response: Response, source: SourceSpec, item: LedgerEntry,
                 page: ExtractedPage) -> Iterator[ArticleItem | EntryOutcomeItem]:
        entry, revision, extracted = item.entry, item.revision, page.article
        if extracted.error or not extracted.body:
            yield from self._unreadable(source, item, extracted.error or "no text")
            return
        published = extracted.published or entry.published
        if not revision and not self.is_recent(published):
            assert published is not None
            reason = f"published {published.date().isoformat()}, older than max_article_age"
            logger.info("source %r: skipped %s: %s", source.name, entry.url, reason)
            yield EntryOutcomeItem(item, SKIPPED, reason)
            return
        url = entry.url if revision else preferred_url(response.url, extracted.canonical_url)
        yield ArticleItem(
            source_id=source.id,
            url=url,
            title=extracted.title or entry.title,
            body=extracted.body,
            authors=extracted.authors or entry.authors,
            published_at=published,
            language=extracted.language,
            entry_updated_at=entry.changed_at,
            revision=revision,
            aliases=_aliases(url, entry, response),
            entry_url=entry.url,
            fingerprint=page.fingerprint,
        )

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem | EntryOutcomeItem]:
        request = failure.request  # type: ignore[attr-defined]
        source: SourceSpec = request.cb_kwargs["source"]
        item: LedgerEntry = request.cb_kwargs["item"]
        kind = page_failure_kind(failure)
        _, reason = describe_failure(failure)
        if kind == REFUSED:
            yield EntryOutcomeItem(item, FAILED, reason)
            return
        if kind == BLOCKED_PAGE:
            yield from self._unreadable(source, item, reason)
            return
        yield from self._try_later(source, item, kind, reason)

    def _try_later(self, source: SourceSpec, item: LedgerEntry, kind: str,
                   reason: str) -> Iterator[ArticleItem | EntryOutcomeItem]:
        """A page that failed in a way that may pass: tried again at a later crawl, until
        the retries run out (then gone, or given up with the listing's text standing in)."""
        tries = item.attempts + 1
        if tries < self.policy.retries:
            logger.info("could not read %s (%s); trying again later (%d of %d)",
                        item.entry.url, reason, tries, self.policy.retries)
            yield EntryOutcomeItem(item, RETRY, reason)
            return
        if kind == MISSING:
            logger.warning("source %r: %s is gone (%s, %d tries)", source.name,
                           item.entry.url, reason, tries)
            yield EntryOutcomeItem(item, GONE, f"{reason} after {tries} tries")
            return
        logger.warning("source %r: gave up on %s after %d tries (%s)", source.name,
                       item.entry.url, tries, reason)
        if not item.revision:
            yield from self._stand_in(source, item, reason)
        yield EntryOutcomeItem(item, FAILED, f"{reason} after {tries} tries")

    def _unreadable(self, source: SourceSpec, item: LedgerEntry,
                    reason: str) -> Iterator[ArticleItem | EntryOutcomeItem]:
        """A page refused for good: the listing's text stands in (once), and the ledger
        tries the page again now and then to upgrade it to the full article."""
        stood_in = False
        if not item.revision:
            for article in self._stand_in(source, item, reason):
                stood_in = True
                yield article
        yield EntryOutcomeItem(replace(item, revision=item.revision or stood_in), BLOCKED,
                               reason)

    def _stand_in(self, source: SourceSpec, item: LedgerEntry,
                  reason: str) -> Iterator[ArticleItem]:
        article = stand_in(source.id, item.entry)
        if article is None:
            logger.info("no article from %s: %s", item.entry.url, reason)
            return
        logger.info("could not read %s (%s); storing the feed's title and summary",
                    item.entry.url, reason)
        self.crawler.stats.inc_value("newswatch/articles_from_feed")
        yield article

    def stop_non_html(self, headers: Any, body_length: int, request: scrapy.Request,
                      spider: scrapy.Spider) -> None:
        """Article pages that announce another type (images, PDFs, video...) are not
        downloaded at all."""
        if request.meta.get(meta.ROLE) != "article":
            return
        kind = (headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0]
        kind = kind.strip().lower()
        if kind and kind not in _PAGE_TYPES:
            raise StopDownload(fail=True)

    # -- helpers ---------------------------------------------------------------------

    def is_recent(self, when: datetime | None) -> bool:
        """Whether an article is young enough to fetch and store (undated ones are)."""
        return when is None or when >= datetime.now(UTC) - self.max_age

    def _listing_maxsize(self, kind: str) -> int:
        settings = self.job.settings
        if kind in (FEED, PAGE):
            return settings.max_page_size
        return max(settings.max_page_size, settings.max_sitemap_size)

    def _ok_status(self, response: Response, source: SourceSpec, kind: str,
                   resolved: str | None, entries: list[Entry], warning: str | None,
                   count: int | None = None, validators: bool = True) -> SourceStatusItem:
        return SourceStatusItem(
            source.id,
            ok=True,
            status="warning" if warning else "ok",
            error=f"warning: {warning}" if warning else None,
            etag=_header(response, b"ETag") if validators else None,
            last_modified=_header(response, b"Last-Modified") if validators else None,
            entries=len(entries) if count is None else count,
            kind=kind,
            resolved_url=resolved,
            entry_dates=[entry.dated for entry in entries if entry.dated is not None],
        )


def _configuration_problem(source: SourceSpec) -> str | None:
    if source.ca_bundle:
        if not Path(source.ca_bundle).is_file():
            return f"ca_bundle {source.ca_bundle} is not a file"
        try:
            read_ca_bundle(source.ca_bundle)
        except (OSError, ValueError) as error:
            return f"cannot use ca_bundle: {error}"
    return None


def _aliases(url: str, entry: Entry, response: Response) -> list[str]:
    """The canonical forms of the URLs that led to the article stored as `url`, other
    than `url`: the listing's link, and every address of the redirect chain."""
    chain = [entry.url, *response.meta.get("redirect_urls", ()), response.url]
    aliases: dict[str, None] = {}
    for address in chain:
        alias = canonical_url(address)
        if alias != url:
            aliases[alias] = None
    return list(aliases)


def _moved_forward(listed: datetime | None, stored: datetime | None) -> bool:
    """Whether the listing's change date is later than the one stored with the article."""
    return listed is not None and stored is not None and listed - stored > timedelta(seconds=1)


def _preview(source: SourceSpec, kind: str, resolved: str | None, title: str,
             entries: list[Entry], warning: str | None) -> PreviewItem:
    return PreviewItem(
        kind=kind,
        url=source.url,
        resolved_url=resolved,
        title=title,
        entries=[
            {
                "title": entry.title,
                "url": entry.url,
                "date": entry.dated.isoformat() if entry.dated else "",
            }
            for entry in entries[:PREVIEW_ENTRIES]
        ],
        total_entries=len(entries),
        warning=warning,
    )


def _content_type(response: Response) -> str:
    return (_header(response, b"Content-Type") or "").strip()


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _is_html(response: Response) -> bool:
    kind = _content_type(response).split(";")[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return True
    if kind in ("", "text/plain", "application/octet-stream"):
        return sniff_kind(response.body, "") == PAGE
    return False


def _text(response: Response) -> str:
    if isinstance(response, TextResponse):
        return response.text
    return response.body.decode("utf-8", errors="replace")


def _markup(response: Response) -> str | bytes:
    """The page for extraction: text when the server named its charset, else the bytes,
    so that extraction can read the page's own declaration or detect the encoding."""
    if isinstance(response, TextResponse) and "charset=" in _content_type(response).lower():
        return response.text
    return response.body


def _page_title(response: Response) -> str:
    if not isinstance(response, TextResponse):
        return ""
    return " ".join((response.xpath("//title/text()").get() or "").split())
