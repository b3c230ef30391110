"""The long-lived daemon: APScheduler decides when, one worker does the work.

Scheduler jobs only put work on a queue (a source is due, deliveries are due); the worker
in the main thread takes everything due at that moment, crawls those sources together in
one child process, then matches and delivers. A failure in one cycle is logged and the
worker goes on. SIGINT/SIGTERM stop the scheduler and end the worker after its current
step.
"""

from __future__ import annotations

import logging
import queue
import random
import signal
import threading
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from crawler.models import utcnow
from scheduler.app import App

logger = logging.getLogger(__name__)

DELIVERY_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class Work:
    """A unit of work for the worker: a due source, or a delivery round (source None)."""

    source: str | None = None


class Daemon:
    def __init__(self, app: App) -> None:
        self.app = app
        self.work: queue.Queue[Work] = queue.Queue()
        self.stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone="UTC")

    def run(self) -> int:
        self._install_signal_handlers()
        self._schedule_jobs()
        self.scheduler.start()
        logger.info(
            "newswatch daemon started: %d sources, %d rules, database %s",
            len(self.app.config.sources), len(self.app.config.rules),
            self.app.engine.url.render_as_string(hide_password=True),
        )
        try:
            while not self.stopping.is_set():
                batch = self._next_batch()
                if batch:
                    self._run_safely(batch)
        finally:
            self.scheduler.shutdown(wait=False)
            logger.info("newswatch daemon stopped")
        return 0

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: FrameType | None) -> None:
            logger.info("received %s, stopping", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _schedule_jobs(self) -> None:
        now = utcnow()
        for source in self.app.config.sources:
            interval = self.app.config.source_interval(source)
            self.scheduler.add_job(
                self.work.put,
                "interval",
                args=[Work(source.name)],
                seconds=interval.total_seconds(),
                jitter=min(interval.total_seconds() * 0.1, 60),
                next_run_time=now + _first_poll_delay(),
                id=f"source:{source.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(interval.total_seconds()),
            )
        self.scheduler.add_job(
            self.work.put,
            "interval",
            args=[Work()],
            seconds=DELIVERY_INTERVAL.total_seconds(),
            id="deliver",
            max_instances=1,
            coalesce=True,
        )

    def _next_batch(self) -> list[Work]:
        try:
            first = self.work.get(timeout=0.5)
        except queue.Empty:
            return []
        batch = [first]
        while True:
            try:
                batch.append(self.work.get_nowait())
            except queue.Empty:
                return batch

    def _run_safely(self, batch: list[Work]) -> None:
        sources = sorted({work.source for work in batch if work.source is not None})
        try:
            if sources:
                report = self.app.cycle(sources)
                for problem in report.source_problems:
                    logger.warning("source %r: %s", problem.name, problem.error)
            else:
                self.app.deliver()
        except Exception:
            logger.exception("cycle failed; the daemon goes on")


def _first_poll_delay() -> timedelta:
    """Spread the first polls over a few seconds so that a restart does not stampede."""
    return timedelta(seconds=random.uniform(0, 3))

