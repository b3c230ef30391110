"""The running pieces of newswatch built from a validated config: database, rules, channels.

One `App` serves the CLI commands and the daemon: open it (migrations, source sync), then
crawl, match and deliver; each step reads and writes the database only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from alerts.delivery import DeliveryReport, deliver_pending
from alerts.matching import MatchReport, match_new_articles
from alerts.query import parse_query
from alerts.rules import Rule
from crawler.database import make_engine, make_sessionmaker
from crawler.job import CrawlJob, CrawlSettings, SourceSpec
from crawler.models import Source, utcnow
from crawler.process import CrawlOutcome, run_crawl
from scheduler.config import Config, LoadedConfig
from scheduler.migrate import upgrade_database

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceProblem:
    name: str
    error: str


@dataclass(frozen=True)
class CycleReport:
    crawl: CrawlOutcome
    source_problems: list[SourceProblem] = field(default_factory=list)
    matches: MatchReport = field(default_factory=MatchReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class App:
    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.engine = make_engine(loaded.database_url)
        self.sessions: sessionmaker = make_sessionmaker(self.engine)

    @property
    def config(self) -> Config:
        return self.loaded.config

    def open(self) -> None:
        """Apply pending migrations and make the database's sources match the config."""
        upgrade_database(self.engine)
        self.sync_sources()

    def close(self) -> None:
        self.engine.dispose()

    def rules(self) -> list[Rule]:
        return [
            Rule(
                rule.name,
                parse_query(rule.query),
                tuple(rule.channels),
                sources=frozenset(rule.sources) if rule.sources is not None else None,
                languages=frozenset(rule.languages) if rule.languages is not None else None,
                min_outlets=rule.min_outlets,
            )
            for rule in self.config.rules
        ]

    def channels(self) -> dict[str, list[str]]:
        return {name: list(channel.urls) for name, channel in self.config.channels.items()}

    def sync_sources(self) -> None:
        """Insert or update a row per configured source (rows of removed sources are kept,
        with their articles, but no longer polled)."""
        with self.sessions.begin() as session:
            stored = {source.name: source for source in session.scalars(select(Source))}
            for configured in self.config.sources:
                source = stored.get(configured.name)
                if source is None:
                    session.add(Source(name=configured.name, url=configured.url,
                                       kind=configured.kind))
                elif (source.url, source.kind) != (configured.url, configured.kind):
                    source.url, source.kind = configured.url, configured.kind
                    source.etag = source.last_modified = None

    def crawl_job(self, names: Sequence[str] | None = None) -> CrawlJob:
        wanted = set(names) if names is not None else {s.name for s in self.config.sources}
        with self.sessions() as session:
            sources = session.scalars(select(Source).where(Source.name.in_(wanted))).all()
        crawler = self.config.crawler
        return CrawlJob(
            database_url=self.loaded.database_url,
            settings=CrawlSettings(
                user_agent=crawler.user_agent,
                obey_robots_txt=crawler.obey_robots_txt,
                max_article_age_seconds=crawler.max_article_age.total_seconds(),
                download_timeout_seconds=crawler.download_timeout.total_seconds(),
                download_delay_seconds=crawler.download_delay.total_seconds(),
                concurrent_requests_per_domain=crawler.concurrent_requests_per_domain,
                max_page_size=crawler.max_page_size,
            ),
            sources=[
                SourceSpec(s.id, s.name, s.url, s.kind, s.etag, s.last_modified)
                for s in sources
            ],
        )

    def crawl(self, names: Sequence[str] | None = None) -> tuple[CrawlOutcome, list[SourceProblem]]:
        """Crawl the named sources (all by default) in a child process."""
        job = self.crawl_job(names)
        started = utcnow()
        outcome = run_crawl(job, self.config.crawler.crawl_time_limit.total_seconds())
        if not outcome.ok:
            logger.error("crawl failed: %s", outcome.error)
        problems = self.source_problems([s.id for s in job.sources], since=started)
        self.schedule_next_polls(job.sources)
        return outcome, problems

    def source_problems(self, ids: Sequence[int], since=None) -> list[SourceProblem]:
        with self.sessions() as session:
            query = select(Source).where(Source.id.in_(ids), Source.last_error.is_not(None))
            if since is not None:
                query = query.where(Source.last_polled_at >= since)
            return [SourceProblem(s.name, s.last_error or "") for s in session.scalars(query)]

    def schedule_next_polls(self, specs: Sequence[SourceSpec]) -> None:
        intervals = {s.name: self.config.source_interval(s) for s in self.config.sources}
        now = utcnow()
        with self.sessions.begin() as session:
            for spec in specs:
                source = session.get(Source, spec.id)
                if source is not None:
                    source.next_poll_at = now + intervals.get(spec.name, timedelta(minutes=10))

    def match(self) -> MatchReport:
        return match_new_articles(self.sessions, self.rules(), self.config.crawler.max_article_age)

    def deliver(self) -> DeliveryReport:
        return deliver_pending(self.sessions, self.channels())

    def cycle(self, names: Sequence[str] | None = None) -> CycleReport:
        """Crawl, then match what was stored, then deliver what is due."""
        outcome, problems = self.crawl(names)
        matches = self.match()
        delivery = self.deliver()
        return CycleReport(outcome, problems, matches, delivery)
