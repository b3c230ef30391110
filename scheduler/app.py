"""The running pieces of newswatch built from a validated config: database, rules, channels.

One `App` serves the CLI commands and the daemon: open it (migrations, source sync), then
crawl, match and deliver; each step reads and writes the database only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import channel_from_settings, rule_options
from alerts.delivery import DeliveryReport, deliver_pending
from alerts.matching import MatchReport, match_new_articles
from alerts.query import parse_query
from alerts.routing import route_new_alerts
from alerts.rules import Rule
from crawler.database import make_engine, make_sessionmaker, retry_transient, write_with_retry
from crawler.job import CrawlJob, SourceSpec
from crawler.models import Source, utcnow
from crawler.polling import PollOutcome, PollState, apply_poll, poll_state
from crawler.process import CrawlOutcome, run_crawl
from scheduler.config import Config, LoadedConfig
from scheduler.crawl_specs import crawl_settings, mask_source_errors, source_spec
from scheduler.crawls import CrawlRunner
from scheduler.migrate import upgrade_database
from scheduler.renames import follow_renames

logger = logging.getLogger(__name__)

# What runs a crawl job within a time limit: `run_crawl`, or the daemon's CrawlRunner.
CrawlFunction = Callable[[CrawlJob, float], CrawlOutcome]


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
        follow_renames(self.sessions, self.config)

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
            for rule in self.config.active_rules
        ]

    def channels(self) -> dict[str, list[str]]:
        return {name: list(channel.urls) for name, channel in self.config.channels.items()}

    def sync_sources(self) -> None:
        """Insert or update a row per configured source (rows of removed sources are kept,
        with their articles, but no longer polled). A changed URL, or a kind forced to
        something else, forgets what the crawler learnt (resolved feed, validators)."""
        with self.sessions.begin() as session:
            stored = {source.name: source for source in session.scalars(select(Source))}
            new = [{"name": configured.name, "url": configured.url, "kind": configured.kind}
                   for configured in self.config.sources if configured.name not in stored]
            if new:
                # One bulk INSERT without RETURNING: a first start with tens of thousands of
                # sources took minutes as ORM objects, each inserted to read back its id.
                session.execute(insert(Source), new)
            for configured in self.config.sources:
                source = stored.get(configured.name)
                if source is None:
                    continue
                forced = configured.kind != "auto" and source.kind != configured.kind
                if source.url != configured.url or forced:
                    source.url, source.kind = configured.url, configured.kind
                    source.resolved_url = source.etag = source.last_modified = None

    def crawl_job(self, names: Sequence[str] | None = None) -> CrawlJob:
        configured = {s.name: s for s in self.config.sources}
        polled = {s.name for s in self.config.polled_sources}
        wanted = polled if names is None else set(names) & set(configured)
        with self.sessions() as session:
            rows = session.scalars(select(Source).where(Source.name.in_(wanted))).all()
        config_dir = self.loaded.path.resolve().parent
        return CrawlJob(
            database_url=self.loaded.database_url,
            settings=crawl_settings(self.config),
            sources=[
                source_spec(self.config, configured[row.name], config_dir, row) for row in rows
            ],
        )

    def crawl(
        self, names: Sequence[str] | None = None, runner: CrawlFunction | None = None
    ) -> tuple[CrawlOutcome, list[SourceProblem]]:
        """Crawl the named sources (all by default) in a child process (through `runner`,
        the daemon's supervisor, when given)."""
        job = self.crawl_job(names)
        before = self._poll_states([s.id for s in job.sources])
        started = utcnow()
        outcome = (runner or run_crawl)(job, self.config.crawler.crawl_time_limit.total_seconds())
        try:
            retry_transient(partial(mask_source_errors, self.sessions,
                                    [s.id for s in job.sources]), "masking crawl errors")
        except Exception:  # the crawl's results matter more than their wording
            logger.exception("could not mask the secrets in the sources' errors")
        if outcome.interrupted:
            # Left as they were, the sources are due again when the daemon next starts.
            logger.info("crawl stopped by shutdown: %s", outcome.error)
            return outcome, []
        if not outcome.ok:
            logger.error("crawl failed: %s", outcome.error)
        self.schedule_next_polls(job.sources, before, started, outcome.error)
        problems = self.source_problems([s.id for s in job.sources], since=started)
        return outcome, problems

    def source_problems(
        self, ids: Sequence[int], since: datetime | None = None
    ) -> list[SourceProblem]:
        """Sources whose last poll (since `since`) failed; warnings (a malformed but
        readable feed) are shown by `newswatch sources`, not reported as failures."""
        with self.sessions() as session:
            query = select(Source).where(
                Source.id.in_(ids),
                Source.last_error.is_not(None),
                Source.last_status.is_distinct_from("warning"),
            )
            if since is not None:
                query = query.where(Source.last_polled_at >= since)
            return [SourceProblem(s.name, s.last_error or "") for s in session.scalars(query)]

    def _poll_states(self, ids: Sequence[int]) -> dict[int, tuple[datetime | None, PollState]]:
        """Each source's next poll and polling state, as they were before a crawl."""
        with self.sessions() as session:
            return {
                source.id: (source.next_poll_at, poll_state(source))
                for source in session.scalars(select(Source).where(Source.id.in_(ids)))
            }

    def schedule_next_polls(
        self,
        specs: Sequence[SourceSpec],
        before: dict[int, tuple[datetime | None, PollState]] | None = None,
        started: datetime | None = None,
        crawl_error: str | None = None,
    ) -> None:
        """Schedule the sources the crawl did not schedule itself.

        The crawl child plans each source it polled (crawler/polling.py) as it closes. A
        source whose `next_poll_at` did not change got no plan: the child was killed or
        crashed, or failed on that source. It is planned here from its state before the
        crawl: a failure, unless the child did record a successful fetch."""
        now = utcnow()
        started = started or now

        def schedule(session: Session) -> None:
            for spec in specs:
                source = session.get(Source, spec.id)
                if source is None:
                    continue
                next_poll_before, state = (before or {}).get(spec.id, (None, poll_state(source)))
                if before is not None and source.next_poll_at != next_poll_before:
                    continue
                reported = source.last_polled_at is not None and source.last_polled_at >= started
                if not reported:
                    source.last_polled_at = now
                    source.last_status = "crawl failed"
                    source.last_error = crawl_error or "the crawl gave no result for this source"
                ok = reported and source.last_status in ("ok", "not modified", "warning")
                apply_poll(source, PollOutcome(ok=ok), spec.poll_bounds(), now, state)

        # Another crawl may be writing: a locked database delays the schedule, never loses it.
        write_with_retry(self.sessions, schedule, "scheduling the next polls")

    def match(self) -> MatchReport:
        return match_new_articles(self.sessions, self.rules(), self.config.crawler.max_article_age,
                                  lease=self.config.daemon.claim_lease)

    def deliver(self, now: datetime | None = None,
                stop: Callable[[], bool] | None = None) -> DeliveryReport:
        """Queue copies of new alerts for channels routing by tag or source, then send
        what is due (digests, quiet hours and rate limits decide what that is); `stop`
        is asked before each message."""
        channels = {
            name: channel_from_settings(name, settings)
            for name, settings in self.config.channels.items()
        }
        rules = {rule.name: rule_options(rule) for rule in self.config.rules}
        route_new_alerts(self.sessions, channels,
                         {name: options.tags for name, options in rules.items()}, now)
        return deliver_pending(self.sessions, channels, rules, now=now, stop=stop,
                               lease=self.config.daemon.claim_lease)

    def cycle(
        self, names: Sequence[str] | None = None, runner: CrawlFunction | None = None
    ) -> CycleReport:
        """Crawl (a supervised child process: time and memory limits, failures recorded on
        the sources), then match what was stored, then deliver what is due."""
        runner = runner or CrawlRunner(self.sessions, self.config.daemon.crawl_memory_limit_mb)
        outcome, problems = self.crawl(names, runner=runner)
        matches = self.match()
        delivery = self.deliver()
        return CycleReport(outcome, problems, matches, delivery)
