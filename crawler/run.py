"""Entry point of a crawl child process: `python -m crawler.run < job.json`.

Scrapy's Twisted reactor cannot be restarted inside one process, so every crawl run is a
fresh child process; the daemon stays free of Twisted and survives whatever a crawl does.
The child prints one JSON line of statistics on stdout when it is done (with a preview
job, what the preview found).
"""

from __future__ import annotations

import json
import sys

# Imported before the rest, on purpose: Scrapy's TLS modules call inspect.stack()
# as they load (create_deprecated_class), which costs more with every module already
# loaded (CPython #92041). First, they cost 0.07 s of CPU per crawl instead of 0.3-0.5 s.
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import CrawlerProcess

from crawler.extraction_pool import start_pool
from crawler.job import CrawlJob
from crawler.pipelines import PREVIEW_STAT
from crawler.settings import scrapy_settings
from crawler.spiders.news import NewsSpider

SUMMARY_KEYS = {
    "newswatch/articles_stored": "articles_stored",
    "newswatch/articles_already_known": "articles_already_known",
    "newswatch/articles_revised": "articles_revised",
    "newswatch/articles_from_feed": "articles_from_feed",
    "newswatch/sources_failed": "sources_failed",
    "newswatch/refused_requests": "refused_requests",
    "downloader/request_count": "requests",
    "finish_reason": "finish_reason",
}


def crawl(job: CrawlJob) -> dict[str, object]:
    # Forked first, while this process has no other thread (crawler/extraction_pool.py).
    pool = None if job.preview else start_pool(job.settings.extraction_workers)
    try:
        process = CrawlerProcess(scrapy_settings(job))
        crawler = process.create_crawler(NewsSpider)
        process.crawl(crawler, job=job, extraction_pool=pool)
        process.start()
    finally:
        if pool is not None:
            pool.close()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    summary = {name: stats.get(key, 0) for key, name in SUMMARY_KEYS.items()}
    summary["peak_memory_bytes"] = peak_memory() or stats.get("memusage/max", 0)
    if job.preview:
        summary["preview"] = stats.get(PREVIEW_STAT)
    return summary


def peak_memory() -> int | None:
    """This process's peak resident memory in bytes (Linux). Unlike ru_maxrss, which
    Scrapy's memusage reports, VmHWM starts afresh at exec, so a large parent process
    does not count."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def main() -> int:
    job = CrawlJob.from_json(sys.stdin.read())
    summary = crawl(job)
    print(json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
