"""Supervising crawl child processes: time and memory limits, kill on shutdown, logs relayed.

Each crawl is `python -m crawler.run` in a session of its own (so a terminal's Ctrl-C goes
to the daemon, which decides, and a kill takes any grandchildren too). The supervisor
polls it every quarter second: past the time limit, past the memory limit, or when the
daemon is shutting down, the whole process group gets SIGKILL. Articles are committed one
by one, so a killed crawl loses only the page it was on. A crawl that crashed, hung or
blew up is recorded on each of its sources that it had not reported on itself
(`last_error`, `last_status = "crawl failed"`, `error_count + 1`), so `newswatch status`
and the backoff see it like any other failure.

The child's log lines (Scrapy's `date [logger] LEVEL: message`) are read back and logged
again through our logging, under `crawl.<logger>` with their level, so `--log-format
json` covers them too and a multi-line record (a traceback, the stats dump) stays one
event. Scrapy's own INFO chatter (settings, middlewares, stats: about a hundred lines a
crawl) is relayed at DEBUG, so a daemon's log at INFO has one line per event that
matters: newswatch's own crawl lines and every warning and error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from crawler.job import CrawlJob
from crawler.models import Source, utcnow
from crawler.process import CrawlOutcome

logger = logging.getLogger(__name__)

CRAWL_COMMAND = (sys.executable, "-m", "crawler.run")
POLL_SECONDS = 0.25
_CHATTY = ("scrapy", "py.warnings", "twisted", "asyncio")
_SCRAPY_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[.,]\d+)? \[(?P<name>[^\]]+)\] "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL): (?P<message>.*)$"
)


class CrawlRunner:
    """Runs a CrawlJob in a child process; a drop-in for `crawler.process.run_crawl`.

    `on_tick` is called about every quarter second while a crawl runs (progress displays);
    `kill_all()` ends every running crawl (shutdown).
    """

    def __init__(
        self,
        sessions: sessionmaker | None,
        memory_limit_mb: int = 1024,
        command: Sequence[str] = CRAWL_COMMAND,
        on_tick: Callable[[], None] | None = None,
        relay_log: bool = True,
        concurrent_crawls: int = 1,
    ) -> None:
        self.sessions = sessions
        # Crawls that may run at once share the cores between their extraction workers.
        self.concurrent_crawls = max(1, concurrent_crawls)
        self.memory_limit = memory_limit_mb * 1024 * 1024
        self.command = list(command)
        self.on_tick = on_tick
        self.relay_log = relay_log
        self._children: dict[int, subprocess.Popen[str]] = {}
        self._stop_reasons: dict[int, str] = {}
        self._lock = threading.Lock()
        self.shutting_down = False

    def __call__(self, job: CrawlJob, time_limit: float) -> CrawlOutcome:
        started = utcnow()
        if job.settings.extraction_workers is None:
            workers = max(1, _cores() // self.concurrent_crawls)
            job = replace(job, settings=replace(job.settings, extraction_workers=workers))
        outcome = self.run_child(job.to_json(), time_limit)
        if not outcome.ok and self.shutting_down:
            outcome = replace(outcome, interrupted=True)
        if not outcome.ok and self.sessions is not None:
            record_crawl_failure(
                self.sessions, [s.id for s in job.sources], started,
                outcome.error or "crawl failed",
                # a crawl stopped by a shutdown is not its sources' fault
                blame=not self.shutting_down,
            )
        return outcome

    def kill_all(self, reason: str) -> None:
        self.shutting_down = True
        with self._lock:
            children = list(self._children.values())
            for child in children:
                self._stop_reasons.setdefault(child.pid, reason)
        for child in children:
            _kill_group(child)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._children)

    def run_child(self, job_json: str, time_limit: float) -> CrawlOutcome:
        try:
            child = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if self.relay_log else None,
                text=True, start_new_session=True,
            )
        except OSError as error:
            return CrawlOutcome(ok=False, error=f"cannot start the crawl process: {error}")
        with self._lock:
            self._children[child.pid] = child
        stdout: list[str] = []
        readers = [_reader(child.stdout, stdout.append)]
        if self.relay_log:
            relay = LogRelay()
            readers.append(_reader(child.stderr, relay.feed, relay.flush))
        try:
            _write_job(child, job_json)
            error = self._supervise(child, time_limit)
        finally:
            with self._lock:
                self._children.pop(child.pid, None)
                stop_reason = self._stop_reasons.pop(child.pid, None)
            if child.poll() is None:
                _kill_group(child)
                child.wait()
            for reader in readers:
                reader.join(timeout=5)
        error = stop_reason or error
        if error is None and child.returncode != 0:
            error = _exit_description(child.returncode)
        if error is not None:
            return CrawlOutcome(ok=False, error=error)
        return CrawlOutcome(ok=True, summary=_summary(stdout))

    def _supervise(self, child: subprocess.Popen[str], time_limit: float) -> str | None:
        deadline = time.monotonic() + time_limit
        while True:
            try:
                child.wait(timeout=POLL_SECONDS)
                return None
            except subprocess.TimeoutExpired:
                pass
            if self.on_tick is not None:
                with contextlib.suppress(Exception):
                    self.on_tick()
            with self._lock:
                if child.pid in self._stop_reasons:
                    return self._stop_reasons[child.pid]
            if time.monotonic() >= deadline:
                _kill_group(child)
                return f"crawl killed after {time_limit:.0f}s time limit"
            resident = memory_over(child.pid, self.memory_limit)
            if resident is not None:
                _kill_group(child)
                return (f"crawl killed: it used {resident / 2**20:.0f} MB of memory, over the "
                        f"{self.memory_limit / 2**20:.0f} MB limit")


def record_crawl_failure(
    sessions: sessionmaker, source_ids: Sequence[int], started: datetime, error: str,
    blame: bool = True,
) -> None:
    """Put a failed crawl's error on each of its sources that it had not reported on.

    Every source of the crawl also forgets its feed's validators: the child may have
    stored a feed's ETag and been killed before fetching its articles, and the next poll
    must not be answered 304 and skip them (articles already stored are not fetched
    again, so the full poll costs one feed download)."""
    now = utcnow()
    with sessions.begin() as session:
        for source in session.scalars(select(Source).where(Source.id.in_(source_ids))):
            source.etag = source.last_modified = None
            if not blame or (source.last_polled_at is not None
                             and source.last_polled_at >= started):
                continue
            source.last_polled_at = now
            source.last_status = "crawl failed"
            source.last_error = error
            source.error_count = (source.error_count or 0) + 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Where a process's memory is read from /proc, in order of preference: the proportional
# set size (PSS; shared pages split between the processes sharing them), then RSS.
_PSS = (("/proc/{}/smaps_rollup", "Pss:"), ("/proc/{}/status", "VmRSS:"))
_RSS = (("/proc/{}/status", "VmRSS:"),)


def memory_over(pid: int, limit: int) -> int | None:
    """The crawl's `resident_memory` when it is over `limit` bytes, else None.

    Summed resident sizes, which the kernel keeps counted, are never less than the
    proportional ones, but reading those walks every page of every process (about 5 ms
    for a crawl of 300 MB, four times a second while it runs): they are read only once
    the resident sizes add up to more than the limit."""
    resident = _tree_memory(pid, _RSS)
    if resident is None or resident <= limit:
        return None
    resident = _tree_memory(pid, _PSS)
    return resident if resident is not None and resident > limit else None


def resident_memory(pid: int) -> int | None:
    """Memory of a crawl in bytes: the process and every process it started (its
    extraction workers), from /proc (None where there is none). Pages the forked workers
    still share with the crawl process are counted once, split between them (PSS)."""
    return _tree_memory(pid, _PSS)


def _tree_memory(pid: int, sources: tuple[tuple[str, str], ...]) -> int | None:
    total, found, stack = 0, False, [pid]
    while stack:
        current = stack.pop()
        size = _process_memory(current, sources)
        if size is None:
            continue
        total, found = total + size, True
        stack.extend(_child_pids(current))
    return total if found else None


def _process_memory(pid: int, sources: tuple[tuple[str, str], ...]) -> int | None:
    for pattern, key in sources:
        try:
            with open(pattern.format(pid), encoding="ascii") as lines:
                for line in lines:
                    if line.startswith(key):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return None


def _child_pids(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listed:
                children.extend(int(child) for child in listed.read().split())
    except (OSError, ValueError):
        pass
    return children


class LogRelay:
    """Re-logs a child's Scrapy log lines with their logger and level, one event per record."""

    def __init__(self) -> None:
        self._name = "crawl"
        self._level = logging.INFO
        self._lines: list[str] = []

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        match = _SCRAPY_LINE.match(line)
        if match is None:
            if not self._lines:
                self._name, self._level = "crawl", logging.WARNING
            self._lines.append(line)
            return
        self.flush()
        self._name = f"crawl.{match['name']}"
        self._level = logging.getLevelName(match["level"])
        if self._level == logging.INFO and match["name"].startswith(_CHATTY):
            self._level = logging.DEBUG
        self._lines = [match["message"]]

    def flush(self) -> None:
        if self._lines:
            logging.getLogger(self._name).log(self._level, "%s", "\n".join(self._lines))
            self._lines = []


def _reader(
    stream: IO[str] | None, handle: Callable[[str], None], at_end: Callable[[], None] | None = None
) -> threading.Thread:
    def read() -> None:
        if stream is None:
            return
        for line in stream:
            handle(line)
        if at_end is not None:
            at_end()

    thread = threading.Thread(target=read, name="crawl-output", daemon=True)
    thread.start()
    return thread


def _write_job(child: subprocess.Popen[str], job_json: str) -> None:
    assert child.stdin is not None
    try:
        child.stdin.write(job_json)
        child.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the child died before reading its job; its exit code says why


def _kill_group(child: subprocess.Popen[str]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            child.kill()


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"crawl process killed by {name}"
    return f"crawl process exited with code {code}"


def _summary(lines: list[str]) -> dict[str, object]:
    for line in reversed(lines):
        try:
            summary = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(summary, dict):
            return summary
    return {}
