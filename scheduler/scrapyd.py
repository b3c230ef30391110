"""Crawls on Scrapyd nodes: hand batches of due sources to the least-loaded node, track
each job in the database, and fail the sources of jobs that overran or died.

With `[scrapyd] nodes` set, the daemon's crawl start calls `Dispatcher.dispatch` and a
periodic job calls `Dispatcher.track` (scheduler/daemon.py); the node side is
scheduler/crawl_node.py. Everything about a job lives in `scrapyd_jobs`, nothing in this
process's memory but which nodes are down, so a standby scheduler that takes over tracks
the jobs the old one started.

* Dispatch: each reachable node's load is its running + pending jobs
  (`daemonstatus.json`); while a node has fewer than `jobs_per_node`, the node with the
  most room gets the next `batch_size` due sources. They are claimed in one statement
  (`UPDATE sources SET next_poll_at = <lease> WHERE id IN (SELECT ... FOR UPDATE SKIP
  LOCKED LIMIT n) RETURNING ...`) together with the job's row, so two schedulers never
  put a source in two jobs: the lease (`next_poll_at` pushed past the time limit) keeps
  it out of later claims until the job's end re-plans it. The job's arguments are the
  source ids and the config version only: Scrapyd shows arguments in listjobs and logs.
  The config version is the published one (scheduler/cluster.py) when the scheduler
  publishes (`--role scheduler`), which the node loads from the database; else a
  fingerprint of this config file, which the node only compares with its own copy.
* Tracking (`listjobs.json` per node): a job finished with its completion record (the
  spider writes `completed_at`) is done, and any of its sources the crawl did not plan is
  failed; past `crawler.crawl_time_limit` a job is cancelled (`cancel.json`, SIGKILL);
  one finished without its record (killed, crashed, or the reason the node wrote on the
  job's row, such as a config version it could not load), unknown to its node (restarted), or
  on a node unreachable for `node_timeout`, is failed. A failed job's sources get the
  reason (`record_crawl_failure`) and the usual backoff, so they are retried.
* A node that does not answer is skipped, logged once when it goes down and once when
  it is back.

The Scrapyd API is three JSON endpoints; they are called with the standard library
(urllib), so the scheduler needs no HTTP client and never imports Scrapy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from crawler.models import Source, utcnow
from crawler.polling import poll_state
from scheduler.config import LoadedConfig, ScrapydConfig
from scheduler.crawl_specs import mask_source_errors
from scheduler.crawls import record_crawl_failure
from scheduler.models import ScrapydJob

if TYPE_CHECKING:
    from scheduler.app import App

logger = logging.getLogger(__name__)

OPEN_STATES = ("scheduled", "running")


def config_version(loaded: LoadedConfig) -> str:
    """A short fingerprint of the config file, so a node can tell its copy is stale."""
    try:
        return hashlib.sha256(loaded.path.read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


def published_version(argument: str) -> int | None:
    """The published config version a job's `config_version` argument names; None for a
    fingerprint (16 hex digits: the all-in-one daemon, which publishes nothing)."""
    if argument.isdecimal() and len(argument) < 16:
        return int(argument)
    return None


# The first schedule.json of a project on a node runs `scrapy list` in Scrapyd's own
# thread (seconds, on a busy machine) before it answers.
SCHEDULE_TIMEOUT = 60.0


class NodeUnreachable(Exception):
    """A Scrapyd node did not answer, or answered with an error. `uncertain`: it timed out
    after the request was sent, so it may have acted on it."""

    def __init__(self, message: str, uncertain: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain


class ScrapydNode:
    """The few Scrapyd API calls the dispatcher makes, on one node."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def daemon_status(self) -> dict[str, Any]:
        return self._call("daemonstatus.json")

    def list_jobs(self, project: str) -> dict[str, Any]:
        return self._call("listjobs.json", {"project": project})

    def schedule(self, project: str, spider: str, job_id: str, args: dict[str, str]) -> None:
        self._call("schedule.json", {"project": project, "spider": spider, "jobid": job_id,
                                     **args}, post=True,
                   timeout=max(self.timeout, SCHEDULE_TIMEOUT))

    def cancel(self, project: str, job_id: str) -> None:
        # SIGKILL, as a local crawl past its limit: SIGINT would let Scrapy finish slowly.
        self._call("cancel.json", {"project": project, "job": job_id, "signal": "KILL"},
                   post=True)

    def _call(self, endpoint: str, params: dict[str, str] | None = None,
              post: bool = False, timeout: float | None = None) -> dict[str, Any]:
        query = urllib.parse.urlencode(params or {})
        url = f"{self.url}/{endpoint}"
        request = (urllib.request.Request(url, data=query.encode(), method="POST") if post
                   else urllib.request.Request(f"{url}?{query}" if query else url))
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except TimeoutError:
            raise NodeUnreachable("timed out", uncertain=True) from None
        except (OSError, ValueError) as error:  # URLError, timeouts, bad JSON
            raise NodeUnreachable(_describe(error)) from None
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise NodeUnreachable(f"{endpoint} answered: {message}")
        return answer


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class JobReport:
    id: str
    sources: int
    state: str
    started_at: datetime


@dataclass(frozen=True)
class NodeReport:
    """A crawl node as `newswatch status` shows it."""

    url: str
    reachable: bool
    running: int = 0
    pending: int = 0
    capacity: int = 0
    error: str | None = None
    jobs: list[JobReport] = field(default_factory=list)


class Dispatcher:
    """Schedules and tracks crawl jobs on the configured Scrapyd nodes (see the module)."""

    def __init__(self, app: App, published_version: int | None = None) -> None:
        self.app = app
        # Set by the active scheduler when it publishes: its jobs' nodes load that version.
        self.published_version = published_version
        self._down_since: dict[str, float] = {}

    @property
    def settings(self) -> ScrapydConfig:
        return self.app.config.scrapyd

    @property
    def time_limit(self) -> timedelta:
        return self.app.config.crawler.crawl_time_limit

    def node(self, url: str) -> ScrapydNode:
        return ScrapydNode(url, self.settings.request_timeout.total_seconds())

    # -- dispatching ---------------------------------------------------------------------

    def dispatch(self) -> list[str]:
        """Hand due sources, a batch at a time, to the nodes with room; the job ids."""
        room: dict[str, int] = {}
        for url in self.settings.nodes:
            try:
                status = self.node(url).daemon_status()
            except NodeUnreachable as error:
                self._node_down(url, str(error))
                continue
            self._node_up(url)
            load = int(status.get("running", 0)) + int(status.get("pending", 0))
            room[url] = self.settings.jobs_per_node - load
        started: list[str] = []
        while room:
            url = max(room, key=lambda node: room[node])
            if room[url] <= 0:
                break
            job = self.claim_due_sources(url)
            if job is None:
                break
            if self._schedule(job):
                started.append(job.id)
                room[url] -= 1
            else:
                del room[url]
        return started

    def _named(self, names: list[str]) -> ColumnElement[bool]:
        """`Source.name` among `names`. On PostgreSQL one array parameter: a statement
        carries at most 65,535 parameters, and a cluster watches more sources than that."""
        if self.app.engine.dialect.name == "postgresql":
            return Source.name == any_(bindparam("names", names, type_=ARRAY(String)))
        return Source.name.in_(names)

    def claim_due_sources(self, url: str) -> ScrapydJob | None:
        """Claim up to `batch_size` due sources for a new job on `url` (None: none due)."""
        now = utcnow()
        lease = now + self.time_limit + self.settings.node_timeout + 3 * self.settings.poll_interval
        polled = [source.name for source in self.app.config.polled_sources]
        due = (
            select(Source.id)
            .where(self._named(polled),
                   Source.next_poll_at.is_(None) | (Source.next_poll_at <= now))
            .order_by(Source.next_poll_at.asc().nulls_first(), Source.id)
            .limit(self.settings.batch_size)
            .with_for_update(skip_locked=True)
        )
        with self.app.sessions.begin() as session:
            claimed = session.execute(
                update(Source).where(Source.id.in_(due.scalar_subquery()))
                .values(next_poll_at=lease).returning(Source.id)
                .execution_options(synchronize_session=False)
            ).scalars().all()
            if not claimed:
                return None
            job = ScrapydJob(
                id=uuid.uuid4().hex, node=url, source_ids=",".join(map(str, sorted(claimed))),
                config_version=self._job_config_version(), started_at=now,
                lease_until=lease, state="scheduled",
            )
            session.add(job)
        return job

    def _job_config_version(self) -> str:
        if self.published_version is not None:
            return str(self.published_version)
        return config_version(self.app.loaded)

    def _schedule(self, job: ScrapydJob) -> bool:
        try:
            self.node(job.node).schedule(
                self.settings.project, self.settings.spider, job.id,
                {"sources": job.source_ids, "config_version": job.config_version},
            )
        except NodeUnreachable as error:
            self._node_down(job.node, str(error))
            if error.uncertain:  # it may run: tracking finds it, or fails it after a while
                return False
            self._release(job, f"could not start the crawl on {job.node}: {error}")
            return False
        logger.info("crawl job %s on %s: %d source(s)", job.id, job.node, len(job.sources))
        return True

    def _release(self, job: ScrapydJob, reason: str) -> None:
        """A job that never started: its sources are due again, through no fault of theirs."""
        with self.app.sessions.begin() as session:
            if not _end(session, job.id, "failed", reason):
                return
            session.execute(
                update(Source).where(Source.id.in_(job.sources),
                                     Source.next_poll_at == job.lease_until)
                .values(next_poll_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    # -- tracking ------------------------------------------------------------------------

    def track(self) -> int:
        """Check every open job on its node: finished, overrunning, or dead. How many
        ended (their articles are in the database: time to match)."""
        with self.app.sessions() as session:
            jobs = list(session.scalars(
                select(ScrapydJob).where(ScrapydJob.state.in_(OPEN_STATES))
                .order_by(ScrapydJob.started_at)))
            session.expunge_all()
        by_node: dict[str, list[ScrapydJob]] = {}
        for job in jobs:
            by_node.setdefault(job.node, []).append(job)
        for url, node_jobs in by_node.items():
            self._track_node(url, node_jobs)
        with self.app.sessions() as session:
            still_open = session.scalar(select(func.count()).select_from(ScrapydJob).where(
                ScrapydJob.state.in_(OPEN_STATES)))
        return max(0, len(jobs) - (still_open or 0))

    def _track_node(self, url: str, jobs: list[ScrapydJob]) -> None:
        node = self.node(url)
        try:
            listing = node.list_jobs(self.settings.project)
        except NodeUnreachable as error:
            down_for = self._node_down(url, str(error))
            if down_for >= self.settings.node_timeout.total_seconds():
                for job in jobs:
                    self._fail(job, "failed", f"crawl node {url} unreachable for "
                               f"{down_for:.0f}s ({error})")
            return
        self._node_up(url)
        running = {entry["id"] for entry in listing.get("running", [])}
        pending = {entry["id"] for entry in listing.get("pending", [])}
        finished = {entry["id"]: entry for entry in listing.get("finished", [])}
        now = utcnow()
        for job in jobs:
            age = now - job.started_at
            if job.id in finished:
                self._finished(job, finished[job.id])
            elif job.id in running or job.id in pending:
                if age > self.time_limit:
                    limit = self.time_limit.total_seconds()
                    try:
                        node.cancel(self.settings.project, job.id)
                    except NodeUnreachable as error:
                        logger.warning("could not cancel crawl job %s on %s: %s",
                                       job.id, url, error)
                        continue
                    self._fail(job, "cancelled",
                               f"crawl cancelled after {limit:.0f}s time limit on {url}")
                elif job.id in running and job.state == "scheduled":
                    with self.app.sessions.begin() as session:
                        session.execute(update(ScrapydJob).where(
                            ScrapydJob.id == job.id, ScrapydJob.state == "scheduled")
                            .values(state="running"))
            elif age > 3 * self.settings.poll_interval + self.settings.request_timeout:
                self._fail(job, "failed", f"crawl node {url} no longer knows the job "
                           "(restarted, or it never started)")

    def _finished(self, job: ScrapydJob, entry: dict[str, Any]) -> None:
        with self.app.sessions() as session:
            completed, node_reason = session.execute(
                select(ScrapydJob.completed_at, ScrapydJob.reason)
                .where(ScrapydJob.id == job.id)).one()
        if completed is None:
            log = entry.get("log_url")
            why = (f"{node_reason} (on {job.node})" if node_reason else
                   f"the crawl job ended without finishing its work (killed or crashed) "
                   f"on {job.node}")
            self._fail(job, "failed", why + (f"; see {log}" if log else ""))
            return
        self._settle(job, "finished", None, blame=False)

    def _fail(self, job: ScrapydJob, state: str, reason: str) -> None:
        logger.error("crawl job %s (%d source(s)) %s: %s", job.id, len(job.sources),
                     state, reason)
        self._settle(job, state, reason, blame=True)

    def _settle(self, job: ScrapydJob, state: str, reason: str | None, blame: bool) -> None:
        """End `job` (once, whichever scheduler gets there first), record `reason` on the
        sources it did not report on, and plan the next poll of those it did not plan."""
        with self.app.sessions.begin() as session:
            if not _end(session, job.id, state, reason):
                return
        names, before = self._unplanned(job)
        if blame and reason is not None:
            record_crawl_failure(self.app.sessions, job.sources, job.started_at, reason)
        specs = [spec for spec in self.app.crawl_job(names).sources if spec.id in before]
        self.app.schedule_next_polls(specs, before, job.started_at, reason)
        mask_source_errors(self.app.sessions, job.sources)

    def _unplanned(self, job: ScrapydJob) -> tuple[list[str], dict[int, Any]]:
        """The job's sources still on its lease (the crawl did not plan them), with their
        polling state as it is before the failure is recorded."""
        with self.app.sessions() as session:
            rows = session.scalars(select(Source).where(
                Source.id.in_(job.sources), Source.next_poll_at == job.lease_until)).all()
            return ([row.name for row in rows],
                    {row.id: (job.lease_until, poll_state(row)) for row in rows})

    # -- nodes ---------------------------------------------------------------------------

    def _node_down(self, url: str, error: str) -> float:
        """Note `url` as unreachable (logged once); how long it has been down, in seconds."""
        now = time.monotonic()
        since = self._down_since.setdefault(url, now)
        if since == now:
            logger.warning("crawl node %s is unreachable (%s); skipped until it answers",
                           url, error)
        return now - since

    def _node_up(self, url: str) -> None:
        if self._down_since.pop(url, None) is not None:
            logger.info("crawl node %s answers again", url)

    def report(self) -> list[NodeReport]:
        return crawl_nodes(self.app.sessions, self.settings)

def _end(session: Session, job_id: str, state: str, reason: str | None) -> bool:
    """Move an open job to `state`; False when it was already ended (by another scheduler)."""
    result = session.execute(
        update(ScrapydJob).where(ScrapydJob.id == job_id, ScrapydJob.state.in_(OPEN_STATES))
        .values(state=state, reason=reason, ended_at=utcnow())
    )
    return bool(result.rowcount)



def crawl_nodes(sessions: sessionmaker, settings: ScrapydConfig) -> list[NodeReport]:
    """Every configured node (and any other still holding open jobs): its load as Scrapyd
    reports it and the open jobs the database has on it (`newswatch status`)."""
    with sessions() as session:
        jobs = list(session.scalars(
            select(ScrapydJob).where(ScrapydJob.state.in_(OPEN_STATES))
            .order_by(ScrapydJob.started_at)))
    by_node: dict[str, list[JobReport]] = {url: [] for url in settings.nodes}
    for job in jobs:
        by_node.setdefault(job.node, []).append(
            JobReport(job.id, len(job.sources), job.state, job.started_at))
    reports = []
    for url, node_jobs in by_node.items():
        try:
            status = ScrapydNode(url, settings.request_timeout.total_seconds()).daemon_status()
        except NodeUnreachable as error:
            reports.append(NodeReport(url, False, capacity=settings.jobs_per_node,
                                      error=str(error), jobs=node_jobs))
            continue
        reports.append(NodeReport(
            url, True, int(status.get("running", 0)), int(status.get("pending", 0)),
            settings.jobs_per_node, jobs=node_jobs))
    return reports


def format_crawl_nodes(reports: list[NodeReport], now: datetime) -> str:
    lines = ["Crawl nodes (Scrapyd):"]
    for node in reports:
        if node.reachable:
            lines.append(f"  {node.url}: up, {node.running} running, {node.pending} pending "
                         f"(room for {node.capacity})")
        else:
            lines.append(f"  {node.url}: UNREACHABLE ({node.error})")
        for job in node.jobs:
            age = (now - job.started_at).total_seconds()
            lines.append(f"    job {job.id}: {job.state}, {job.sources} source(s), "
                         f"started {age:.0f}s ago")
    return "\n".join(lines)


def crawl_nodes_json(reports: list[NodeReport]) -> list[dict[str, Any]]:
    return [
        {"url": node.url, "reachable": node.reachable, "running": node.running,
         "pending": node.pending, "capacity": node.capacity, "error": node.error,
         "jobs": [{"id": job.id, "state": job.state, "sources": job.sources,
                   "started_at": job.started_at.isoformat()} for job in node.jobs]}
        for node in reports
    ]
