"""Honouring `Retry-After` on 429 and 503 answers.

Scrapy's RetryMiddleware retries those at once. This middleware sits just before it on
the response path: when the server says how long to wait, the retry is scheduled with a
not-before time, and held back in `process_request` by an asynchronous timer (the
reactor keeps serving other sites meanwhile). A wait longer than
NEWSWATCH_RETRY_AFTER_LIMIT is not spent inside this crawl: the request fails and the
source's next poll is pushed back instead (see crawler/polling.py).
"""

from __future__ import annotations

import email.utils
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import task

from crawler import meta

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler, limit: float) -> None:
        self.crawler = crawler
        self.limit = limit

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured
        return cls(crawler, crawler.settings.getfloat("NEWSWATCH_RETRY_AFTER_LIMIT", 120))

    async def process_request(self, request: Request) -> None:
        not_before = request.meta.get(meta.RETRY_AT)
        wait = not_before - time.monotonic() if not_before else 0
        if wait > 0:
            from twisted.internet import reactor

            await maybe_deferred_to_future(task.deferLater(reactor, wait))  # type: ignore[arg-type]

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in RETRY_AFTER_STATUSES or request.meta.get("dont_retry"):
            return response
        delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None:
            return response  # RetryMiddleware retries it the usual way
        request.meta["dont_retry"] = True  # whatever happens, not RetryMiddleware's way
        if delay > self.limit:
            logger.info("%s: HTTP %d, Retry-After %.0fs is beyond this crawl's patience",
                        request.url, response.status, delay)
            return response
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,  # type: ignore[arg-type]
            reason=f"HTTP {response.status}, Retry-After {delay:.0f}s",
        )
        if retry is None:
            return response
        retry.meta["dont_retry"] = False
        retry.meta[meta.RETRY_AT] = time.monotonic() + delay
        return retry
