"""A Scrapyd crawl node's side: the Scrapy project settings module and the spider it runs.

A node is a Scrapyd server with newswatch installed (`pip install 'newswatch[cluster]'`)
and this module declared as the project's settings in scrapyd.conf:

    [settings]
    newswatch = scheduler.crawl_node

No egg is uploaded: Scrapyd's runner imports the installed package. The dispatcher
(scheduler/scrapyd.py) schedules spider `news` with three arguments only: `sources`
(comma-separated `sources.id`), `config_version` and Scrapyd's own `_job`. The node's
own config ($NEWSWATCH_CONFIG, with $NEWSWATCH_DATABASE_URL if set) gives the database;
with a cluster scheduler (`--role scheduler`), `config_version` is a published version
number and the spider loads that version from the database (`PublishedConfigs`), so a
node's file needs only `[storage] url` and `newswatch reload` reaches the next job.
Otherwise (the all-in-one daemon publishes nothing) the crawl uses the node's own file,
with a warning when it is not the scheduler's. Either way the ${ENV_VAR}s of channels,
admin and web may be unset: source URLs, credentials and the database URL never pass
through Scrapyd, whose listjobs and logs show every argument. A version the node cannot
load (a ${VAR} of a source unset here) fails the job with the reason on its row.

The spider writes to the database through the same store pipeline as a local crawl
and, when it has finished its work, records `completed_at` on its `scrapyd_jobs` row:
a job that ends without it (killed, crashed, cancelled) is one the dispatcher marks
failed.

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
from scheduler.cluster import PublishedConfigs
from scheduler.config import load_config
from scheduler.config_basics import ConfigError, config_path
from scheduler.models import ScrapydJob
from scheduler.scrapyd import OPEN_STATES, config_version, published_version

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
        published = _follow_published(app, wanted_version, str(kwargs.get("_job", "")))
        ids = [int(part) for part in sources.split(",") if part.strip()]
        with app.sessions() as session:
            names = list(session.scalars(select(Source.name).where(Source.id.in_(ids))))
        job = app.crawl_job(names)
        job = replace(job, settings=replace(job.settings, extraction_workers=0))
        if published is None and wanted_version and wanted_version != config_version(app.loaded):
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
        spider.published = published
        return spider

    app: App
    published: PublishedConfigs | None

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
            if self.published is not None:
                self.published.discard()


def _follow_published(app: App, argument: str, job_id: str) -> PublishedConfigs | None:
    """Run `app` with the published config version `argument` names (None: a fingerprint,
    the node's own file stays). A version this node cannot load fails the job: the reason
    goes on its row, where the dispatcher finds it, then ConfigError ends the process."""
    version = published_version(argument)
    if version is None:
        return None
    published = PublishedConfigs(app.loaded, unused_sections=NOT_CRAWLING,
                                 check_channels=False)
    try:
        app.loaded = published.load(app.sessions, version)
    except ConfigError as error:
        reason = (f"this crawl node cannot load config version {version}: "
                  + "; ".join(error.problems))
        logger.error("%s", reason)
        if job_id:
            with app.sessions.begin() as session:
                session.execute(update(ScrapydJob).where(
                    ScrapydJob.id == job_id, ScrapydJob.state.in_(OPEN_STATES))
                    .values(reason=reason))
        published.discard()
        app.close()
        raise
    logger.info("crawling with published config version %d", version)
    return published
