"""Database engine and sessions shared by every part of newswatch.

SQLite is the embedded default: it runs in WAL mode with a busy timeout so that the
crawl child process can write while the daemon reads. PostgreSQL (or any SQLAlchemy
URL) goes through the same code.
"""

from __future__ import annotations

import importlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# How long a write keeps being retried while the database is locked: far past any
# transaction newswatch itself runs, so giving up means something else holds the lock.
RETRY_WRITES_FOR_SECONDS = 600.0
FIRST_RETRY_DELAY_SECONDS = 0.05
LONGEST_RETRY_DELAY_SECONDS = 5.0
# PostgreSQL's answers to a transaction that lost a race and may simply run again:
# serialization failure, deadlock detected, lock not available (lock_timeout).
_POSTGRES_RETRYABLE = frozenset({"40001", "40P01", "55P03"})
_SQLITE_LOCKED = ("database is locked", "database table is locked")

T = TypeVar("T")


def resolve_database_url(url: str, relative_to: Path) -> str:
    """Make a relative SQLite file path relative to `relative_to` (the config file's folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return url
    database = parsed.database
    if not database or database == ":memory:" or Path(database).is_absolute():
        return url
    return parsed.set(database=str((relative_to / database).resolve())).render_as_string(
        hide_password=False
    )


def _sqlite_configurer(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return configure


def conflict_insert(session: Session, table: Any) -> Any:
    """An INSERT into `table` that takes ON CONFLICT clauses, in the session's database's
    dialect (SQLite or PostgreSQL), imported here: a dialect module is a tenth of a second
    that the commands never writing this way should not pay at start."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"no INSERT ... ON CONFLICT for the {dialect} dialect")
    return importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(table)


def make_engine(url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    """Create an engine for `url`; SQLite connections get WAL, a busy timeout (how long a
    statement waits for another connection's write lock) and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})
        event.listen(engine, "connect", _sqlite_configurer(busy_timeout_ms))
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    from sqlalchemy.orm import sessionmaker  # the ORM: not for the read-only commands

    return sessionmaker(engine, expire_on_commit=False)


def is_retryable(error: BaseException) -> bool:
    """True for a failure that running the same transaction again may cure: SQLite's
    "database is locked" (another connection held the write lock past the busy timeout,
    or this one read an older snapshot than the last write) and PostgreSQL's
    serialization failures, deadlocks and lock timeouts."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    if getattr(original, "sqlstate", None) in _POSTGRES_RETRYABLE:
        return True
    return isinstance(original, sqlite3.OperationalError) and str(original).lower().startswith(
        _SQLITE_LOCKED
    )


def retry_transient(
    work: Callable[[], T],
    what: str = "database write",
    give_up_after: float = RETRY_WRITES_FOR_SECONDS,
    first_delay: float = FIRST_RETRY_DELAY_SECONDS,
    longest_delay: float = LONGEST_RETRY_DELAY_SECONDS,
) -> T:
    """Run `work` (a whole unit of work: it must open and commit its own transaction) and
    run it again, with growing jittered delays, while it fails with a locked database or
    a lost race (see `is_retryable`). Each retry is logged as a warning; after
    `give_up_after` seconds the last error is raised. Any other error is raised at once."""
    deadline = time.monotonic() + give_up_after
    delay = first_delay
    attempt = 1
    while True:
        try:
            return work()
        except DBAPIError as error:
            if not is_retryable(error):
                raise
            wait = min(delay, longest_delay) * random.uniform(0.5, 1.0)
            if time.monotonic() + wait > deadline:
                logger.error("%s failed after %d attempts, giving up: %s",
                             what, attempt, error.orig)
                raise
            logger.warning("%s failed (attempt %d: %s); retrying in %.2fs",
                           what, attempt, error.orig, wait)
            time.sleep(wait)
            delay *= 2
            attempt += 1


def write_with_retry(
    sessions: sessionmaker, unit: Callable[[Session], T], what: str = "database write",
    give_up_after: float = RETRY_WRITES_FOR_SECONDS,
) -> T:
    """Run `unit` in a transaction of its own and commit it; on a locked database or a
    lost race, roll back and run `unit` again in a fresh transaction (see
    `retry_transient`). `unit` must therefore only touch the database through its
    session, and objects it loads belong to that attempt only."""

    def attempt() -> T:
        with sessions.begin() as session:
            return unit(session)

    return retry_transient(attempt, what, give_up_after)


def serialize_transaction(session: Session, key: int) -> None:
    """Until `session` commits, let no other transaction that takes the same lock run
    alongside (two crawls assigning stories, two delivery rounds planning).

    PostgreSQL: a transaction-level advisory lock named by `key`. SQLite: the database's
    write lock (one for every key), taken now with `BEGIN IMMEDIATE`, so the reads that
    follow see the latest commit. SQLite's driver begins a transaction only at the first
    write, so one already open holds the write lock already."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect == "sqlite":
        connection = session.connection()
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
