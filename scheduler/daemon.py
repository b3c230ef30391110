"""The long-lived daemon: APScheduler decides when, two worker threads decide what.

Jobs (APScheduler 3.11, in memory, UTC):

- `source:<name>`, one per configured source: its interval is the adaptive interval the
  crawler stored (`sources.poll_interval_seconds`) or the configured one, jittered by 10%
  (at most a minute) so sources drift apart. `max_instances=1`; no misfire grace limit
  (`misfire_grace_time=None`: a poll that comes late still happens); `coalesce=True`, so
  after a pause or a suspend each source is polled once, not once per missed interval.
- `match`, `deliver` (every `daemon.deliver_interval`; digests are the deliverer's; it
  wakes the delivery worker),
  `housekeeping` (retention, every `daemon.housekeeping_interval`), `scrapyd` (with
  `[scrapyd] nodes`: track crawl jobs on the nodes and dispatch, every
  `scrapyd.poll_interval`; then crawls start there, not in child processes), `admin` (operator
  alerts, every 5 minutes) and `heartbeat` (every `daemon.heartbeat_interval`, the one
  job that does its work in the scheduler's thread, so a busy worker never looks dead).

Job ids come from the config, so a reload re-syncs them: new sources get a job, removed
ones lose theirs, changed intervals are rescheduled.

The jobs only queue work. The worker thread takes everything queued at that moment
and, for sources, asks the database which are really due (Miniflux-style: `next_poll_at`,
which the crawler's adaptive polling and backoff write, is the truth; a job that fires for a
source backed off to later is skipped and moved to that time), adds any other source the
database says is overdue, and crawls them together in one child process, so that
Scrapy's per-domain concurrency and politeness work across sources. After each crawl the
source jobs follow the database's `next_poll_at`. At most `daemon.max_concurrent_crawls`
crawls run at once; a source already being crawled is not crawled twice. Matching runs
in the worker after each crawl and on its own schedule; housekeeping and the operator
check (which only queues operator alerts in the outbox) run there too.

Delivery has a thread of its own (`scheduler.deliverer`), woken by the `deliver` job and
whenever matching or the operator check queued something, so a channel that hangs (100
alerts to a webhook that never answers take about 13 minutes of Apprise timeouts) never
delays crawl starts, matching or housekeeping. Each message is claimed before it is
sent (`alerts.claims`), and the time of each attempt is taken when it answers. Both
workers log an error and go on.

Why crawl in child processes rather than in a long-lived Twisted reactor? Measured on
this project's 2-core machine (Python 3.11, Scrapy 2.13, a local feed of two articles):

- one crawl of an unchanged feed: 3.6 s wall in a child process (2.2 s of it is
  start-up: interpreter, Scrapy, Twisted, the extractors), against 0.15 s in a
  long-lived reactor;
- memory: the child peaks at 117 MB and returns all of it when it exits; a long-lived
  reactor holds about 210 MB for good. The daemon never imports Scrapy or Twisted: it
  sits at 130-140 MB (imported libraries, mostly) and stays there (bench/soak.py);
- a hang, a crash, a memory blow-up: kill the child and the daemon and the other crawls
  go on; in-process it takes the daemon down or needs a restart.

At the default 10-minute interval, with every due source in one crawl, the start-up cost
is about 0.4% of one core: a price worth paying for a daemon meant to run for months
(and Scrapy's reactor cannot be restarted in one process anyway). Each child is
supervised by `scheduler.crawls.CrawlRunner`: killed at `crawler.crawl_time_limit`, or
past `daemon.crawl_memory_limit_mb` of resident memory, its failure recorded on its
sources.

Roles (cluster mode, PostgreSQL only; `newswatch run` alone is role "all", everything
on one machine):

- `scheduler` (`newswatch run --role scheduler`): polls and crawls (`_dispatch_crawl`
  hands each batch of due sources to the crawl dispatcher), housekeeping, operator
  checks, and publishes the config (`scheduler.cluster`). One is active at a time: it
  holds the one-daemon lock (a session advisory lock on a connection of its own). A
  standby tries to take it every `daemon.standby_retry`; when the active scheduler dies its
  connection drops, the server frees the lock, and the standby takes over within
  seconds (at most the server's detection of the dead connection, well under a minute
  for a killed process). Only the active scheduler migrates the database and writes
  the sources table.
- `worker` (`newswatch run --role worker`, any number): matches, routes, plans and
  delivers, with claims on every piece of work (`alerts.claims`), and follows the
  published config (checked every `FOLLOW_CONFIG`). Workers never take the lock.

Each cluster node has a row in `nodes` (`scheduler.nodes`), heartbeat every
`daemon.heartbeat_interval` (15 s).

Lifecycle: SIGTERM/SIGINT stop the scheduler, the worker after its current step and the
delivery worker after the message it is sending, wait up to `daemon.shutdown_grace` for
them and for running crawls, kill the crawls that overrun, record a clean stop, and exit
0. Alerts not sent stay pending in the database for the next start (a claim left by a
send cut short is freed by the next start on this host, or expires). SIGHUP reloads
config.toml (`scheduler.reload`). One daemon per database (`scheduler.lock`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update

from alerts.channels import channel_from_settings
from alerts.delivery import DeliveryReport
from crawler.models import Source, utcnow
from scheduler import nodes
from scheduler.admin import queue_admin_alerts
from scheduler.app import App
from scheduler.cluster import PublishedConfigs, newest_version, publish_config
from scheduler.config import ConfigError, SourceConfig
from scheduler.crawls import CrawlRunner
from scheduler.deliverer import DeliveryWorker
from scheduler.heap import release_freed_memory
from scheduler.housekeeping import housekeeping
from scheduler.lock import NoDaemonLock, daemon_lock, held_by_message, this_host
from scheduler.models import DaemonRun
from scheduler.reload import compare_configs, record_reload, reload_app
from scheduler.scrapyd import Dispatcher

if TYPE_CHECKING:
    from scheduler.web.server import BackgroundServer

logger = logging.getLogger(__name__)

SOURCE_JOB = "source:"
FIRST_POLL_SPREAD = 3.0  # seconds over which a start spreads the polls that are due
ADMIN_CHECK = timedelta(minutes=5)
# Crawl threads available; `daemon.max_concurrent_crawls` (at most 16) caps their use,
# so a reload can change the cap.
CRAWL_THREADS = 16
FOLLOW_CONFIG = timedelta(seconds=10)  # how often a worker looks for a new config version


@dataclass(frozen=True)
class Work:
    """A unit of work for the worker: poll, crawled, match, housekeeping, admin, reload or
    stop, and the sources it concerns. (Delivery has a worker of its own.)"""

    kind: str
    sources: tuple[str, ...] = ()


class Daemon:
    def __init__(self, app: App, role: str = "all") -> None:
        self.app = app
        self.role = role
        self.node_id: int | None = None
        self.config_version: int | None = None
        self.matched = self.sent = 0
        self.work: queue.Queue[Work] = queue.Queue()
        self.stopping = threading.Event()
        self.exit_code = 0
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.runner = CrawlRunner(app.sessions, app.config.daemon.crawl_memory_limit_mb,
                                  concurrent_crawls=app.config.daemon.max_concurrent_crawls)
        self.crawl_threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=CRAWL_THREADS, thread_name_prefix="crawl"
        )
        self.crawl_futures: set[concurrent.futures.Future[None]] = set()
        self.crawls_running = 0  # batches in flight; touched by the worker thread only
        self.pending: set[str] = set()  # due, waiting for a crawl slot
        self.in_flight: set[str] = set()  # being crawled now
        self.lock = NoDaemonLock() if role == "worker" else daemon_lock(app.engine)
        # With `[scrapyd] nodes`, crawls run there (scheduler/scrapyd.py), not in children.
        self.scrapyd = Dispatcher(app)
        self.run_id: int | None = None
        self.published = PublishedConfigs(app.loaded) if role == "worker" else None
        self.delivery = DeliveryWorker(self._deliver, self.stopping,
                                       lambda: self._enqueue("admin"))

    # -- lifecycle -------------------------------------------------------------------

    def run(self) -> int:
        if self.role == "worker":
            return self._run_worker()
        if self.role == "scheduler":
            if not self._wait_until_active():
                self._node_stopped()
                return self.exit_code
        elif not self.lock.acquire():
            with self.app.sessions() as session:
                message = held_by_message(session, self.lock)
            logger.error("%s", message)
            return 1
        try:
            # Only the lock holder migrates and syncs: a refused daemon writes nothing.
            self.app.open()
            if self.role == "scheduler":
                self.config_version = publish_config(self.app.sessions, self._config_text())
                self.scrapyd.published_version = self.config_version
                self._node_beat()
                logger.info("active scheduler: config version %d published",
                            self.config_version)
            self._record_start()
            self._install_signal_handlers()
            self.scheduler.start()
            self._sync_jobs()
            logger.info(
                "newswatch daemon started: pid %d, %d sources, %d rules, database %s, "
                "config %s", os.getpid(), len(self.app.config.sources),
                len(self.app.config.rules),
                self.app.engine.url.render_as_string(hide_password=True), self.app.loaded.path,
            )
            worker = threading.Thread(target=self._work_loop, name="worker", daemon=True)
            worker.start()
            if self.role == "all":
                self.delivery.start()
            web = self._start_web()
            while not self.stopping.wait(0.5):
                pass
            if web is not None:
                web.stop()
            self._shutdown(worker)
        finally:
            self.lock.release()
            self._node_stopped()
        return self.exit_code

    # -- cluster roles ------------------------------------------------------------------

    def _wait_until_active(self) -> bool:
        """A scheduler: take the one-daemon lock, or stand by, trying again every few
        seconds, until it is free (True) or the daemon is stopped (False)."""
        self._install_signal_handlers()
        if self.lock.acquire():
            return True
        logger.info("another scheduler is active; standing by (pid %d)", os.getpid())
        while not self.stopping.wait(self.app.config.daemon.standby_retry.total_seconds()):
            if self.lock.acquire():
                logger.info("the active scheduler is gone: this one takes over")
                return True
            self._node_beat()
        return False

    def _config_text(self) -> str:
        return self.app.loaded.path.read_text(encoding="utf-8")

    def _run_worker(self) -> int:
        """A worker: wait for the scheduler's config, then match and deliver until
        stopped. No lock: any number of workers run side by side."""
        self._install_signal_handlers()
        waiting_logged = False
        while self.config_version is None:
            version = newest_version(self.app.sessions)
            if version is not None:
                try:
                    self._apply_config(version)
                except ConfigError as error:
                    for problem in error.problems:
                        logger.error("published config version %d: %s", version, problem)
                    logger.error("this worker cannot use the published config; stopping")
                    return 2
                break
            if not waiting_logged:
                logger.info("waiting for the active scheduler to publish the config")
                waiting_logged = True
            if self.stopping.wait(2.0):
                return 0
        self._node_beat()
        self.scheduler.start()
        self._sync_jobs()
        logger.info("newswatch worker started: pid %d, config version %d, %d rules, "
                    "%d channels, database %s", os.getpid(), self.config_version,
                    len(self.app.config.rules), len(self.app.config.channels),
                    self.app.engine.url.render_as_string(hide_password=True))
        worker = threading.Thread(target=self._work_loop, name="worker", daemon=True)
        worker.start()
        self.delivery.start()
        self.delivery.wake()
        try:
            while not self.stopping.wait(0.5):
                pass
            self._shutdown(worker)
        finally:
            self._node_stopped()
        return self.exit_code

    def _apply_config(self, version: int) -> str:
        """Load published config `version` and run with it; what changed."""
        assert self.published is not None
        loaded = self.published.load(self.app.sessions, version)
        change = compare_configs(self.app.config, loaded.config).describe()
        self.app.loaded = loaded
        self.config_version = version
        return change

    def _follow_config(self) -> None:
        version = newest_version(self.app.sessions)
        if version is None or version == self.config_version:
            return
        try:
            change = self._apply_config(version)
        except ConfigError as error:
            for problem in error.problems:
                logger.error("published config version %d: %s", version, problem)
            logger.error("config version %d refused on this worker; it keeps version %s",
                         version, self.config_version)
            self.config_version = version  # not retried every few seconds; logged once
            return
        self._sync_jobs()
        logger.info("config version %d applied: %s", version, change)
        self._node_beat()

    def _node_state(self) -> str:
        if self.role == "worker":
            return "running"
        return "active" if self.run_id is not None or self.lock.check() else "standby"

    def _node_doing(self) -> dict[str, object]:
        if self.role == "worker":
            return {"config_version": self.config_version, "matched": self.matched,
                    "sent": self.sent}
        return {"config_version": self.config_version, "crawls_running": self.crawls_running,
                "sources_crawling": len(self.in_flight)}

    def _node_beat(self) -> None:
        """Register this cluster node, or write its heartbeat; a failure is logged."""
        if self.role == "all":
            return
        try:
            if self.node_id is None:
                self.node_id = nodes.register(self.app.sessions, self.role, self._node_state())
            nodes.beat(self.app.sessions, self.node_id, self._node_state(), self._node_doing())
        except Exception as error:
            logger.warning("node heartbeat not recorded: %s", str(error).splitlines()[0])

    def _node_stopped(self) -> None:
        if self.node_id is None:
            return
        try:
            nodes.stopped(self.app.sessions, self.node_id)
        except Exception:
            logger.exception("could not record that this node stopped")

    def _start_web(self) -> BackgroundServer | None:
        """The web app on a thread, when `[web] enabled`: the same app as `newswatch
        serve`, refused (and logged) on a non-loopback address without a password."""
        settings = self.app.config.web
        if not settings.enabled:
            return None
        from scheduler.web.server import BackgroundServer, UnsafeBind

        try:
            web = BackgroundServer(self.app, settings.host, settings.port)
        except UnsafeBind as error:
            logger.error("web app not started: %s", error)
            return None
        return web if web.start() else None

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            if self.stopping.is_set():
                logger.info("received %s again; already stopping", signal.Signals(signum).name)
                return
            logger.info("received %s, stopping", signal.Signals(signum).name)
            self.stop()

        def reload(_signum: int, _frame: FrameType | None) -> None:
            logger.info("received SIGHUP, reloading %s", self.app.loaded.path)
            self.work.put(Work("reload"))

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _shutdown(self, worker: threading.Thread) -> None:
        grace = self.app.config.daemon.shutdown_grace.total_seconds()
        deadline = time.monotonic() + grace
        self.scheduler.shutdown(wait=False)
        self.work.put(Work("stop"))
        if worker.is_alive() or self.delivery.is_alive() or self.runner.running:
            logger.info("waiting up to %.0fs for the delivery and crawls in progress", grace)
        worker.join(max(0.0, deadline - time.monotonic()))
        self.delivery.join(max(0.0, deadline - time.monotonic()))
        concurrent.futures.wait(self.crawl_futures, max(0.0, deadline - time.monotonic()))
        if self.runner.running:
            logger.warning("killing %d crawl(s) still running after the %.0fs grace period",
                           self.runner.running, grace)
            self.runner.kill_all("crawl stopped: the daemon was shutting down")
            concurrent.futures.wait(self.crawl_futures, 10)
        if self.delivery.is_alive():
            logger.warning("an alert was still being sent after the %.0fs grace period; it "
                           "and the other unsent alerts stay pending for the next start", grace)
        if worker.is_alive():
            logger.warning("the worker was still busy after the %.0fs grace period", grace)
        self.crawl_threads.shutdown(wait=False, cancel_futures=True)
        self._record_stop()
        logger.info("newswatch daemon stopped")

    # -- the daemon_runs row -----------------------------------------------------------

    def _record_start(self) -> None:
        now = utcnow()
        with self.app.sessions.begin() as session:
            for stale in session.scalars(select(DaemonRun).where(DaemonRun.stopped_at.is_(None))):
                stale.stopped_at = stale.heartbeat_at
                stale.stopped_cleanly = False
                logger.warning(
                    "the previous daemon (pid %d on %s, started %s) stopped without shutting "
                    "down; its last heartbeat was at %s", stale.pid, stale.host,
                    f"{stale.started_at:%Y-%m-%d %H:%M:%S} UTC",
                    f"{stale.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC",
                )
            run = DaemonRun(pid=os.getpid(), host=this_host(),
                            config_path=str(self.app.loaded.path.resolve()),
                            started_at=now, heartbeat_at=now)
            session.add(run)
            session.flush()
            self.run_id = run.id

    def _record_stop(self) -> None:
        try:
            with self.app.sessions.begin() as session:
                session.execute(
                    update(DaemonRun).where(DaemonRun.id == self.run_id)
                    .values(stopped_at=utcnow(), stopped_cleanly=True)
                )
        except Exception:
            logger.exception("could not record the clean stop")

    def _heartbeat(self) -> None:
        self._node_beat()
        if self.role == "worker":
            return
        if not self.lock.check() and not self.lock.acquire():
            logger.error("lost the single-daemon lock and cannot take it back; stopping")
            self.exit_code = 1
            self.stop()
            return
        try:
            with self.app.sessions.begin() as session:
                session.execute(
                    update(DaemonRun).where(DaemonRun.id == self.run_id)
                    .values(heartbeat_at=utcnow())
                )
        except Exception as error:
            logger.warning("heartbeat not recorded: %s", str(error).splitlines()[0])

    # -- jobs --------------------------------------------------------------------------

    def _enqueue(self, kind: str, *sources: str) -> None:
        self.work.put(Work(kind, sources))

    def _sync_jobs(self) -> None:
        """Make the scheduler's jobs match the config (and the database's intervals)."""
        config = self.app.config
        now = utcnow()
        deliver = config.daemon.deliver_interval
        heartbeat = config.daemon.heartbeat_interval
        if self.role == "worker":
            self._ensure_job("match", deliver, now + timedelta(seconds=1),
                             lambda: self._enqueue("match"))
            self._ensure_job("deliver", deliver, now + deliver, self.delivery.wake)
            self._ensure_job("follow", FOLLOW_CONFIG, now + FOLLOW_CONFIG,
                             lambda: self._enqueue("follow"))
            self._ensure_job("heartbeat", heartbeat, now + heartbeat, self._heartbeat)
            return
        rows = self._source_rows([s.name for s in config.polled_sources])
        wanted = set()
        for source in config.polled_sources:
            job_id = SOURCE_JOB + source.name
            wanted.add(job_id)
            row = rows.get(source.name)
            interval = self._interval(source, row)
            job = self.scheduler.get_job(job_id)
            if job is None:
                self.scheduler.add_job(
                    self._enqueue, _trigger(interval), args=("poll", source.name),
                    id=job_id, name=f"poll {source.name}", max_instances=1, coalesce=True,
                    misfire_grace_time=None, next_run_time=_first_run(row, interval, now),
                )
            elif job.trigger.interval != interval:
                job.reschedule(_trigger(interval))
                job.modify(next_run_time=_first_run(row, interval, now))
        for job in self.scheduler.get_jobs():
            if job.id.startswith(SOURCE_JOB) and job.id not in wanted:
                job.remove()
                self.pending.discard(job.id.removeprefix(SOURCE_JOB))
                name = job.id.removeprefix(SOURCE_JOB)
                paused = any(s.name == name for s in config.sources)
                logger.info("source %r is %s", name, "paused" if paused else "no longer polled")

        housekeeping_every = config.daemon.housekeeping_interval
        if self.role == "all":
            self._ensure_job("match", deliver, now + deliver, lambda: self._enqueue("match"))
            self._ensure_job("deliver", deliver, now + deliver, self.delivery.wake)
        self._ensure_job("housekeeping", housekeeping_every,
                         now + min(housekeeping_every, timedelta(minutes=1)),
                         lambda: self._enqueue("housekeeping"))
        self._ensure_job("admin", ADMIN_CHECK, now + timedelta(seconds=2),
                         lambda: self._enqueue("admin"))
        self._ensure_job("heartbeat", heartbeat, now + heartbeat, self._heartbeat)
        if config.scrapyd.nodes:
            self._ensure_job("scrapyd", config.scrapyd.poll_interval, now,
                             lambda: self._enqueue("scrapyd"))
        elif self.scheduler.get_job("scrapyd") is not None:
            self.scheduler.remove_job("scrapyd")

    def _ensure_job(self, job_id: str, every: timedelta, first: datetime,
                    func: Callable[[], None]) -> None:
        job = self.scheduler.get_job(job_id)
        if job is not None and job.trigger.interval == every:
            return
        self.scheduler.add_job(
            func, IntervalTrigger(seconds=every.total_seconds(), timezone=UTC), id=job_id,
            name=job_id, max_instances=1, coalesce=True, misfire_grace_time=None,
            next_run_time=first, replace_existing=True,
        )

    def _interval(self, source: SourceConfig, row: Source | None) -> timedelta:
        if row is not None and row.poll_interval_seconds:
            return timedelta(seconds=row.poll_interval_seconds)
        return self.app.config.source_interval(source)

    def _source_rows(self, names: list[str]) -> dict[str, Source]:
        with self.app.sessions() as session:
            rows = session.scalars(select(Source).where(Source.name.in_(names)))
            return {source.name: source for source in rows}

    def _follow_database(self, names: tuple[str, ...]) -> None:
        """Move the jobs of just-crawled sources to the next poll the database asks for."""
        configured = {s.name: s for s in self.app.config.polled_sources}
        now = utcnow()
        for name, row in self._source_rows([n for n in names if n in configured]).items():
            job = self.scheduler.get_job(SOURCE_JOB + name)
            if job is None:
                continue
            interval = self._interval(configured[name], row)
            if job.trigger.interval != interval:
                job.reschedule(_trigger(interval))
            if row.next_poll_at is not None and row.next_poll_at > now:
                job.modify(next_run_time=row.next_poll_at + _jitter_delay(interval))

    # -- the worker --------------------------------------------------------------------

    def _work_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                batch = [self.work.get(timeout=0.5)]
            except queue.Empty:
                continue
            while True:
                try:
                    batch.append(self.work.get_nowait())
                except queue.Empty:
                    break
            self._handle(batch)

    def _handle(self, batch: list[Work]) -> None:
        kinds = {work.kind for work in batch}
        crawled = tuple(name for work in batch if work.kind == "crawled" for name in work.sources)
        for work in batch:
            if work.kind == "crawled":
                self.crawls_running -= 1
                self.in_flight.difference_update(work.sources)
        if "reload" in kinds:
            self._step("reload", self._reload)
        if "follow" in kinds:
            self._step("following the published config", self._follow_config)
        if crawled:
            self._step("scheduling", lambda: self._follow_database(crawled))
        self.pending.update(n for work in batch if work.kind == "poll" for n in work.sources)
        if self.role != "worker" and (self.pending or "match" in kinds):
            self._step("starting crawls", self._start_crawls)
        if self.role != "scheduler" and (crawled or "match" in kinds):
            self._step("matching", self._match)
        if crawled:
            self.delivery.wake()  # routing by tag or source, digests: the deliverer's
        if "scrapyd" in kinds:
            self._step("crawl nodes", self._track_crawl_nodes)
        if "housekeeping" in kinds:
            self._step("housekeeping", self._housekeeping)
        if "admin" in kinds:
            self._step("admin alerts", self._admin_alerts)

    def _step(self, name: str, action: Callable[[], object]) -> object:
        if self.stopping.is_set():
            return None
        try:
            return action()
        except Exception:
            logger.exception("%s failed; the daemon goes on", name)
            return None

    def _start_crawls(self) -> None:
        """Crawl, in one batch, every source the database says is due."""
        if self.app.config.scrapyd.nodes:
            self.pending.clear()  # the database says what is due; the dispatcher claims it
            self.scrapyd.dispatch()
            return
        configured = {s.name: s for s in self.app.config.polled_sources}
        self.pending &= configured.keys()
        limit = self.app.config.daemon.max_concurrent_crawls
        if self.crawls_running >= limit:
            if self.pending:
                logger.debug("%d source(s) due, waiting for one of %d crawl slots",
                             len(self.pending), limit)
            return
        now = utcnow()
        due = []
        for name, row in self._source_rows(list(configured)).items():
            if name in self.in_flight:
                continue
            interval = self._interval(configured[name], row)
            if name in self.pending:
                tolerance = min(interval * 0.1, timedelta(seconds=30))
                if row.next_poll_at is None or row.next_poll_at <= now + tolerance:
                    due.append(name)
                    continue
                self.pending.discard(name)
                job = self.scheduler.get_job(SOURCE_JOB + name)
                if job is not None:
                    job.modify(next_run_time=row.next_poll_at + _jitter_delay(interval))
                logger.debug("source %r is not due until %s", name, row.next_poll_at)
            elif row.next_poll_at is not None and row.next_poll_at <= now:
                due.append(name)  # overdue by the database: joins the batch
        if not due:
            return
        batch = tuple(sorted(due))
        self.pending.difference_update(batch)
        self.in_flight.update(batch)
        self.crawls_running += 1
        self._dispatch_crawl(batch)

    def _dispatch_crawl(self, batch: tuple[str, ...]) -> None:
        """Hand a batch of due sources to the crawl dispatcher (here: a local child
        process on a crawl thread); it must end with a `crawled` work item."""
        future = self.crawl_threads.submit(self._crawl, batch)
        self.crawl_futures = {f for f in self.crawl_futures if not f.done()} | {future}

    def _crawl(self, names: tuple[str, ...]) -> None:
        """A crawl thread: one child process for `names`, then hand back to the worker."""
        started = time.monotonic()
        logger.info("crawl started: %d source(s): %s", len(names), ", ".join(names))
        try:
            outcome, problems = self.app.crawl(names, runner=self.runner)
            elapsed = time.monotonic() - started
            if outcome.ok:
                summary = outcome.summary
                logger.info(
                    "crawl finished in %.1fs: %d source(s), %s new articles, %s requests",
                    elapsed, len(names), summary.get("articles_stored", 0),
                    summary.get("requests", 0),
                )
            else:
                logger.error("crawl of %s failed after %.1fs: %s", ", ".join(names), elapsed,
                             outcome.error)
            for problem in problems:
                logger.warning("source %r: %s", problem.name, problem.error)
        except Exception:
            logger.exception("crawl of %s failed; the daemon goes on", ", ".join(names))
        finally:
            self.work.put(Work("crawled", names))

    def _track_crawl_nodes(self) -> None:
        if not self.app.config.scrapyd.nodes:
            return
        if self.scrapyd.track() and self.role == "all":
            self._match()  # in a cluster, the workers match
        self.scrapyd.dispatch()

    def _deliver(self, stop: Callable[[], bool]) -> DeliveryReport:
        report = self.app.deliver(stop=stop)
        self.sent += report.sent
        return report

    def _match(self) -> None:
        report = self.app.match()
        self.matched += report.articles
        if report.articles:
            # What matching freed (the articles read, a new language's rule index being
            # built) would otherwise stay in the daemon's heap (scheduler/heap.py).
            release_freed_memory()
            logger.info("matched %d new articles: %d matches, %d alerts queued",
                        report.articles, report.matches, report.notifications)
        if report.notifications:
            self.delivery.wake()

    def _housekeeping(self) -> None:
        housekeeping(self.app.sessions, self.app.config.retention)

    def _admin_alerts(self) -> None:
        config = self.app.config
        if config.admin.channel is None:
            return
        channel = channel_from_settings(config.admin.channel,
                                        config.channels[config.admin.channel])
        queued = queue_admin_alerts(
            self.app.sessions, channel.name, [s.name for s in config.sources],
            config.admin.unhealthy_after, channel.retry_period,
        )
        if queued:
            self.delivery.wake()

    def _reload(self) -> None:
        assert self.run_id is not None
        try:
            change = reload_app(self.app)
        except ConfigError as error:
            for problem in error.problems:
                logger.error("config reload refused: %s", problem)
            logger.error("the new config was refused; the daemon keeps running with the "
                         "config it had")
            record_reload(self.app.sessions, self.run_id, False, "\n".join(error.problems))
            return
        except Exception as error:
            logger.exception("config reload failed; the daemon keeps running with the "
                             "config it had")
            record_reload(self.app.sessions, self.run_id, False, str(error))
            return
        self.runner.memory_limit = self.app.config.daemon.crawl_memory_limit_mb * 2**20
        self._sync_jobs()
        described = change.describe()
        if self.role == "scheduler":
            self.config_version = publish_config(self.app.sessions, self._config_text())
            self.scrapyd.published_version = self.config_version
            described += f" (config version {self.config_version} published)"
            self._node_beat()
        logger.info("config reloaded from %s: %s", self.app.loaded.path, described)
        record_reload(self.app.sessions, self.run_id, True, described)
        self._enqueue("admin")


def _trigger(interval: timedelta) -> IntervalTrigger:
    return IntervalTrigger(seconds=interval.total_seconds(),
                           jitter=_jitter_seconds(interval), timezone=UTC)


def _jitter_seconds(interval: timedelta) -> int | None:
    seconds = int(min(interval.total_seconds() * 0.1, 60))
    return seconds or None


def _jitter_delay(interval: timedelta) -> timedelta:
    return timedelta(seconds=random.uniform(0, _jitter_seconds(interval) or 0))


def _first_run(row: Source | None, interval: timedelta, now: datetime) -> datetime:
    """When a (re)started daemon first polls a source: when the database says it is due,
    but no later than one interval from now; spread over a few seconds when due now."""
    spread = timedelta(seconds=random.uniform(0, FIRST_POLL_SPREAD))
    if row is None or row.next_poll_at is None or row.next_poll_at <= now:
        return now + spread
    return min(row.next_poll_at, now + interval) + spread
