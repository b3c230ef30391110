"""A Scrapyd crawl node's side: the Scrapy project settings module and the spider it runs.

A node is a Scrapyd server with newswatch installed (`pip install 'newswatch[cluster]'`)
and this module declared as the project's settings in scrapyd.conf:

    [settings]
    newswatch = scheduler.crawl_node

No egg is uploaded: Scrapyd's runner imports the installed package. The dispatcher
(scheduler/scrapyd.py) schedules spider `news` with three arguments only: `sources`
(comma-separated `sources.id`), `config_version` and Scrapyd's own `_job`. The spider
builds its crawl job from the node's own config ($NEWSWATCH_CONFIG, with
$NEWSWATCH_DATABASE_URL if set; ${ENV_VAR}s of channels, admin and web may be
unset): source URLs, credentials and the database URL never pass through Scrapyd,
whose listjobs and logs show every argument. It writes to the database
through the same store pipeline as a local crawl and, when it has finished its work,
records `completed_at` on its `scrapyd_jobs` row: a job that ends without it (killed,
crashed, cancelled) is one the dispatcher marks failed.

Extraction runs in the crawl process (`extraction_workers = 0`): Scrapyd already runs
several jobs per node, one process each, which is how a node uses its cores.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from scrapy.crawler import Crawler
from sqlalchemy import select, update

from crawler.models import Source, utcnow
from crawler.settings import scrapy_settings
from crawler.spiders.news import NewsSpider
from scheduler.app import App
from scheduler.config import load_config
from scheduler.config_basics import config_path
from scheduler.models import ScrapydJob
from scheduler.scrapyd import config_version

logger = logging.getLogger(__name__)

# The Scrapy project settings: what cannot wait for the spider (the spider module, the
# process-wide DNS resolver); every crawl setting comes from the node's config.
BOT_NAME = "newswatch"
SPIDER_MODULES = ["scheduler.crawl_node"]
TWISTED_DNS_RESOLVER = "scrapy.resolver.CachingHostnameResolver"
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# A crawl never alerts nor serves pages: the ${ENV_VAR}s of these tables (channel URLs
# and their tokens, in cluster mode) need not be set on a crawl node, and are not.
NOT_CRAWLING = ("channels", "admin", "web")


class NodeSpider(NewsSpider):
    """The news spider as a Scrapyd job: its sources named by id, the rest from the node."""

    name = "news"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NodeSpider:
        sources = str(kwargs.pop("sources", ""))
        wanted_version = str(kwargs.pop("config_version", ""))
        app = App(load_config(config_path(), unused_sections=NOT_CRAWLING))
        ids = [int(part) for part in sources.split(",") if part.strip()]
        with app.sessions() as session:
            names = list(session.scalars(select(Source.name).where(Source.id.in_(ids))))
        job = app.crawl_job(names)
        job = replace(job, settings=replace(job.settings, extraction_workers=0))
        if wanted_version and wanted_version != config_version(app.loaded):
            logger.warning("this node's config (%s) is not the scheduler's (%s): copy the "
                           "scheduler's config.toml here", config_version(app.loaded),
                           wanted_version)
        missing = len(ids) - len(job.sources)
        if missing:
            logger.warning("%d source(s) of this job are not in this node's config; they "
                           "are left to the scheduler to mark failed", missing)
        crawler.settings.setdict(scrapy_settings(job), priority="spider")
        spider = super().from_crawler(crawler, *args, job=job, **kwargs)
        assert isinstance(spider, NodeSpider)
        spider.app = app
        return spider

    app: App

    def closed(self, reason: str) -> None:
        super().closed(reason)
        try:
            job_id = getattr(self, "_job", None)
            if reason == "finished" and job_id:
                with self.app.sessions.begin() as session:
                    session.execute(update(ScrapydJob).where(ScrapydJob.id == job_id)
                                    .values(completed_at=utcnow()))
        finally:
            self.app.close()
