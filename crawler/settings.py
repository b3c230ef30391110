"""Scrapy settings for a newswatch crawl, derived from the job.

Scrapy's library defaults are not polite or safe enough for a crawler that runs for
months against arbitrary sites, so everything that matters is set here explicitly:

* politeness: robots.txt, a descriptive User-Agent, per-domain concurrency and delay
  (randomised), AutoThrottle, Retry-After (crawler/middlewares/retry_after.py);
* limits: response size (DOWNLOAD_MAXSIZE aborts while streaming, and bounds what gzip,
  deflate, brotli and zstd may decompress to), download timeout, redirect cap, one retry;
* safety: the address guard first in the chain (crawler/middlewares/guard.py), a DNS
  resolver that resolves every address and caches them for the connection, no cookies
  kept between requests, TLS verification with per-source CA bundles (crawler/tls.py),
  no telnet console or remote-control server.
"""

from __future__ import annotations

import os
from typing import Any

from crawler.addresses import TREAT_AS_PUBLIC_ENV
from crawler.job import CrawlJob


def scrapy_settings(job: CrawlJob) -> dict[str, Any]:
    settings = job.settings
    delay = settings.download_delay_seconds
    pipeline = "crawler.pipelines.PreviewPipeline" if job.preview else (
        "crawler.pipelines.StorePipeline")
    return {
        "BOT_NAME": "newswatch",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots_txt,
        "CONCURRENT_REQUESTS": settings.concurrent_requests,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # each delay is 0.5x to 1.5x DOWNLOAD_DELAY
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": max(30.0, delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(settings.concurrent_requests_per_domain),
        "DOWNLOAD_TIMEOUT": settings.download_timeout_seconds,
        "DNS_TIMEOUT": settings.download_timeout_seconds,
        "DOWNLOAD_MAXSIZE": settings.max_page_size,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_VERIFY_CERTIFICATES": settings.verify_tls,
        "REDIRECT_MAX_TIMES": settings.max_redirects,
        "METAREFRESH_MAXDELAY": 10,
        # One retry within a crawl; a page still failing is tried again at later crawls
        # (crawler/ledger.py).
        "RETRY_TIMES": 1,
        # Scrapy handles each response's output with this many asyncio tasks (and one
        # more), however little it yields: at its default of 100, creating and running
        # them cost 15% of the crawl process's CPU. A response yields one article, or a
        # listing's pending entries, its requests and its status; a few tasks keep the
        # requests moving while an item waits for its batch to be written.
        "CONCURRENT_ITEMS": 4,
        # Scrapy's 2,083 drops longer links silently; they are stored like any other.
        "URLLENGTH_LIMIT": 16_384,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy 2.19's remote control runs Python sent over local HTTP and writes job
        # files to the user's profile: nothing a crawl child should offer.
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING" if job.preview else "INFO",
        "TWISTED_DNS_RESOLVER": "scrapy.resolver.CachingHostnameResolver",
        "DOWNLOAD_HANDLERS": {"https": "crawler.tls.SourceTrustDownloadHandler"},
        "DOWNLOADER_MIDDLEWARES": {
            # First the source's proxy (the guard still checks what it may reach), then
            # the guard, before robots.txt (100): a refused URL costs no robots.txt fetch.
            "crawler.middlewares.source_network.SourceNetworkMiddleware": 35,
            "crawler.middlewares.guard.AddressGuardMiddleware": 40,
            # Response path runs from high to low: this sees 429/503 before RetryMiddleware.
            "crawler.middlewares.retry_after.RetryAfterMiddleware": 560,
        },
        "ITEM_PIPELINES": {pipeline: 300},
        "NEWSWATCH_JOB": job,
        "NEWSWATCH_RETRY_AFTER_LIMIT": settings.retry_after_limit_seconds,
        TREAT_AS_PUBLIC_ENV: os.environ.get(TREAT_AS_PUBLIC_ENV, ""),
    }
