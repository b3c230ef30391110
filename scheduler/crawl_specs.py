"""What a crawl child is told, built from the validated config and the sources' rows, and
the secrets it was told masked in what it wrote back.

A source's URL is stored as written (`${VAR}` and all) and expanded only here, for the
child; the child's errors quote the URLs it fetched, so they are masked after each crawl.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from crawler.job import CrawlSettings, SourceSpec
from crawler.models import Source
from scheduler.config import Config, SourceConfig
from scheduler.logs import mask_secrets


def crawl_settings(config: Config) -> CrawlSettings:
    crawler = config.crawler
    return CrawlSettings(
        user_agent=crawler.user_agent,
        obey_robots_txt=crawler.obey_robots_txt,
        max_article_age_seconds=crawler.max_article_age.total_seconds(),
        download_timeout_seconds=crawler.download_timeout.total_seconds(),
        download_delay_seconds=crawler.download_delay.total_seconds(),
        concurrent_requests=crawler.concurrent_requests,
        concurrent_requests_per_domain=crawler.concurrent_requests_per_domain,
        max_page_size=crawler.max_page_size,
        max_sitemap_size=crawler.max_sitemap_size,
        max_redirects=crawler.max_redirects,
        retry_after_limit_seconds=crawler.retry_after_limit.total_seconds(),
        verify_tls=crawler.verify_tls,
        page_retries=crawler.page_retries,
        page_retry_delay_seconds=crawler.page_retry_delay.total_seconds(),
        extraction_workers=crawler.extraction_workers,
    )


def source_spec(
    config: Config, configured: SourceConfig, config_dir: Path, row: Source | None = None
) -> SourceSpec:
    """The crawl's view of one source: its config, plus the crawl state of its row (none
    for a source being previewed before it is saved)."""
    interval = config.source_interval(configured).total_seconds()
    crawler = config.crawler
    maximum = configured.max_interval or crawler.max_poll_interval
    ca_bundle = None
    if configured.ca_bundle:
        ca_bundle = str((config_dir / Path(configured.ca_bundle).expanduser()).resolve())
    return SourceSpec(
        id=row.id if row is not None else 0,
        name=configured.name,
        url=configured.fetch_url,
        kind=configured.kind,
        resolved_url=row.resolved_url if row is not None and configured.kind == "auto" else None,
        etag=row.etag if row is not None else None,
        last_modified=row.last_modified if row is not None else None,
        headers=dict(configured.headers),
        cookies=dict(configured.cookies),
        username=configured.username,
        password=configured.password,
        proxy=configured.proxy,
        ca_bundle=ca_bundle,
        allowed_hosts=list(configured.allowed_hosts),
        min_interval_seconds=interval,
        max_interval_seconds=max(interval, maximum.total_seconds()),
        max_backoff_seconds=max(interval, crawler.max_backoff.total_seconds()),
        unhealthy_after=crawler.unhealthy_after_failures,
    )


def mask_source_errors(sessions: sessionmaker, ids: Sequence[int]) -> None:
    """Mask the config's secrets in the errors a crawl recorded on sources `ids`."""
    with sessions.begin() as session:
        query = select(Source).where(Source.id.in_(ids), Source.last_error.is_not(None))
        for source in session.scalars(query):
            masked = mask_secrets(source.last_error)
            if masked != source.last_error:
                source.last_error = masked
