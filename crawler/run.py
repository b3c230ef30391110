"""Entry point of a crawl child process: `python -m crawler.run < job.json`.

Scrapy's Twisted reactor cannot be restarted inside one process, so every crawl run is a
fresh child process; the daemon stays free of Twisted and survives whatever a crawl does.
The child prints one JSON line of statistics on stdout when it is done.
"""

from __future__ import annotations

import json
import sys

from scrapy.crawler import CrawlerProcess

from crawler.job import CrawlJob
from crawler.settings import scrapy_settings
from crawler.spiders.news import NewsSpider

SUMMARY_KEYS = {
    "newswatch/articles_stored": "articles_stored",
    "newswatch/articles_already_known": "articles_already_known",
    "newswatch/sources_failed": "sources_failed",
    "downloader/request_count": "requests",
    "finish_reason": "finish_reason",
}


def crawl(job: CrawlJob) -> dict[str, object]:
    process = CrawlerProcess(scrapy_settings(job), install_root_handler=True)
    crawler = process.create_crawler(NewsSpider)
    process.crawl(crawler, job=job)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return {name: stats.get(key, 0) for key, name in SUMMARY_KEYS.items()}


def main() -> int:
    job = CrawlJob.from_json(sys.stdin.read())
    summary = crawl(job)
    print(json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
