"""Scrapy settings for a newswatch crawl, derived from the job.

Scrapy's library defaults are not polite enough for a crawler that runs for months, so
per-domain concurrency, delay, AutoThrottle, timeouts, size caps and redirects are all set
here explicitly.
"""

from __future__ import annotations

from typing import Any

from crawler.job import CrawlJob


def scrapy_settings(job: CrawlJob) -> dict[str, Any]:
    settings = job.settings
    delay = settings.download_delay_seconds
    return {
        "BOT_NAME": "newswatch",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": settings.obey_robots_txt,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": delay,
        "RANDOMIZE_DOWNLOAD_DELAY": delay > 0,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": max(30.0, delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "DOWNLOAD_TIMEOUT": settings.download_timeout_seconds,
        "DOWNLOAD_MAXSIZE": settings.max_page_size,
        "DOWNLOAD_WARNSIZE": settings.max_page_size // 2,
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_TIMES": 1,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "ITEM_PIPELINES": {"crawler.pipelines.StorePipeline": 300},
        "NEWSWATCH_DATABASE_URL": job.database_url,
    }
