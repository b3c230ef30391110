"""One daemon per database: a lock that dies with the process holding it.

PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) taken on a dedicated
connection kept open for the daemon's life, in autocommit so that connection never sits
in an open transaction for months. The server drops the lock when that connection ends,
however the daemon ends. SQLite: an OS file lock (flock, through filelock) on a file
beside the database; the kernel drops it when the process exits, even on SIGKILL. So a
killed daemon never blocks its own restart, and no stale lock file needs cleaning up.

Who holds the lock is read from the `daemon_runs` table, which the holder fills in.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from crawler.tables import utcnow
from scheduler.config import HEARTBEAT_AT_MOST
from scheduler.tables import daemon_runs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# A fixed 64-bit key in PostgreSQL's advisory lock space, derived from a name.
ADVISORY_KEY = int.from_bytes(
    hashlib.sha256(b"newswatch daemon").digest()[:8], "big", signed=True
)
# A daemon writes a heartbeat every `daemon.heartbeat_interval`, at most HEARTBEAT; one
# silent for STALE_AFTER is not running.
HEARTBEAT = HEARTBEAT_AT_MOST
STALE_AFTER = HEARTBEAT * 4


class DaemonLock(Protocol):
    description: str

    def acquire(self) -> bool:
        """Take the lock without waiting; False if another process holds it."""

    def check(self) -> bool:
        """Whether the lock is still held (False if its connection was lost)."""

    def release(self) -> None: ...


class FileDaemonLock:
    """An exclusive flock on `<database>.lock`, for SQLite."""

    def __init__(self, path: str) -> None:
        import filelock  # here: `status` reads daemon_runs from this module, never locks

        self.description = f"file lock {path}"
        # Not thread-local: the heartbeat checks from the scheduler's threads.
        self._lock = filelock.FileLock(path, timeout=0, thread_local=False)

    def acquire(self) -> bool:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            return False
        return True

    def check(self) -> bool:
        return self._lock.is_locked  # the kernel keeps it for as long as we live

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


class AdvisoryDaemonLock:
    """A PostgreSQL session advisory lock on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self.description = f"PostgreSQL advisory lock {ADVISORY_KEY}"
        self._engine = engine
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar_one()
        except BaseException:
            connection.close()
            raise
        if not held:
            connection.close()
            return False
        self._connection = connection
        return True

    def check(self) -> bool:
        if self._connection is None:
            return False
        try:
            # The lock lives as long as this session: a live connection still holds it.
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            logger.warning("the daemon lock's database connection was lost")
            self._close()
            return False
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        # If the connection is gone already, the lock went with it.
        with contextlib.suppress(SQLAlchemyError):
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
            )
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
            self._connection = None


class NoDaemonLock:
    """For databases with no lock we know how to take (an in-memory SQLite database)."""

    description = "no lock"

    def acquire(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def release(self) -> None:
        pass


def daemon_lock(engine: Engine) -> DaemonLock:
    """The right kind of lock for this database."""
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            return NoDaemonLock()
        return FileDaemonLock(url.database + ".lock")
    if backend == "postgresql":
        return AdvisoryDaemonLock(engine)
    logger.warning("no single-daemon lock for %s databases: do not start two daemons", backend)
    return NoDaemonLock()


@dataclass(frozen=True)
class RunningDaemon:
    """What the database says about the daemon that is (or was last) running."""

    id: int
    pid: int
    host: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    stopped_cleanly: bool | None

    @property
    def alive(self) -> bool:
        return self.stopped_at is None and utcnow() - self.heartbeat_at < STALE_AFTER

    def describe(self) -> str:
        return (f"pid {self.pid} on host {self.host}, running since "
                f"{self.started_at:%Y-%m-%d %H:%M:%S} UTC")


def latest_run(session: Session | Connection, *,
               running_only: bool = False) -> RunningDaemon | None:
    query = select(daemon_runs).order_by(daemon_runs.c.id.desc()).limit(1)
    if running_only:
        query = query.where(daemon_runs.c.stopped_at.is_(None))
    run = session.execute(query).first()
    if run is None:
        return None
    return RunningDaemon(run.id, run.pid, run.host, run.started_at, run.heartbeat_at,
                         run.stopped_at, run.stopped_cleanly)


def held_by_message(session: Session, lock: DaemonLock) -> str:
    """The one-line refusal for a second daemon, naming the one that holds the lock."""
    try:
        holder = latest_run(session, running_only=True)
    except SQLAlchemyError:
        holder = None
    if holder is None:
        return (f"another newswatch daemon is already running on this database "
                f"(it holds the {lock.description}; it is still starting)")
    return (f"another newswatch daemon is already running on this database: "
            f"{holder.describe()}; stop it first (or use `newswatch reload` to apply a new "
            f"config)")


def this_host() -> str:
    return socket.gethostname()
