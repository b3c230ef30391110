"""A write that finds the database locked (or loses a race on PostgreSQL) waits and is
retried as a whole, instead of failing and losing what it was writing."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from crawler.database import make_engine, make_sessionmaker, write_with_retry
from crawler.models import Source
from scheduler.app import App
from scheduler.config import load_config

SHORT_BUSY_TIMEOUT_MS = 100  # so that SQLite gives up waiting within a test


def notes_table(engine: Engine) -> None:
    key = "INTEGER PRIMARY KEY" if engine.dialect.name == "sqlite" else "SERIAL PRIMARY KEY"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE notes (id {key}, note TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO notes (note) VALUES ('first')"))


def notes(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT note FROM notes ORDER BY id")).scalars())


def add_note(note: str):
    def unit(session: Session) -> str:
        session.execute(text("INSERT INTO notes (note) VALUES (:note)"), {"note": note})
        return note

    return unit


@contextmanager
def write_lock_held(path: Path, release: threading.Event | None = None,
                    write: str = "INSERT INTO notes (note) VALUES ('holder')") -> Iterator[None]:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE, `write` done) in a
    thread of its own until `release` is set (or the block ends); it then commits."""
    locked, release = threading.Event(), release or threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(write)
        locked.set()
        release.wait(60)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()


@contextmanager
def set_on_first_retry() -> Iterator[threading.Event]:
    """An event set as soon as a retry is logged (to let a lock holder go)."""
    retried = threading.Event()

    class OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                retried.set()

    handler = OnRetry()
    logging.getLogger("crawler.database").addHandler(handler)
    try:
        yield retried
    finally:
        logging.getLogger("crawler.database").removeHandler(handler)


def test_a_locked_sqlite_write_waits_and_succeeds_once_the_lock_is_released(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=SHORT_BUSY_TIMEOUT_MS)
    notes_table(engine)
    sessions = make_sessionmaker(engine)
    try:
        with caplog.at_level(logging.WARNING, "crawler.database"), \
                set_on_first_retry() as retried, write_lock_held(path, retried):
            written = write_with_retry(sessions, add_note("second"), "storing a note")
    finally:
        engine.dispose()

    assert written == "second"
    assert notes(make_engine(f"sqlite:///{path}")) == ["first", "holder", "second"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("storing a note failed" in w and "database is locked" in w
                            for w in warnings)


def test_a_write_gives_up_after_its_bound_and_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=SHORT_BUSY_TIMEOUT_MS)
    notes_table(engine)
    try:
        with write_lock_held(path), pytest.raises(OperationalError, match="database is locked"):
            write_with_retry(make_sessionmaker(engine), add_note("second"), give_up_after=0.5)
    finally:
        engine.dispose()
    assert notes(make_engine(f"sqlite:///{path}")) == ["first", "holder"]
    assert any("giving up" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_other_errors_are_not_retried(database_url: str) -> None:
    engine = make_engine(database_url)
    attempts = []

    def duplicate(session: Session) -> None:
        attempts.append(1)
        add_note("first")(session)

    try:
        notes_table(engine)
        with pytest.raises(IntegrityError):
            write_with_retry(make_sessionmaker(engine), duplicate)
    finally:
        engine.dispose()
    assert len(attempts) == 1


def test_a_postgresql_serialization_failure_runs_the_unit_again(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    notes_table(engine)
    attempts = []

    def rename_first(session: Session) -> int:
        """Read the note, let another transaction change it, then write it: the first
        attempt loses the race (REPEATABLE READ) and must read again."""
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        attempts.append(session.execute(text("SELECT note FROM notes WHERE id = 1")).scalar())
        if len(attempts) == 1:
            with engine.begin() as other:
                other.execute(text("UPDATE notes SET note = 'changed' WHERE id = 1"))
        session.execute(text("UPDATE notes SET note = note || ' and renamed' WHERE id = 1"))
        return len(attempts)

    try:
        assert write_with_retry(make_sessionmaker(engine), rename_first) == 2
        assert attempts == ["first", "changed"]
        assert notes(engine) == ["changed and renamed"]
    finally:
        engine.dispose()


def test_the_daemon_schedules_next_polls_despite_a_crawl_holding_the_lock(
    tmp_path: Path
) -> None:
    path = tmp_path / "newswatch.db"
    config = tmp_path / "config.toml"
    config.write_text(f'''[storage]
url = "sqlite:///{path}"
[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/feed"
''', encoding="utf-8")
    app = App(load_config(config, {}))
    try:
        app.open()
        specs = app.crawl_job().sources
        app.engine.dispose()  # new connections wait only briefly for a lock
        event.listen(app.engine, "connect", lambda connection, _record: connection.execute(
            f"PRAGMA busy_timeout={SHORT_BUSY_TIMEOUT_MS}"))
        with set_on_first_retry() as retried, write_lock_held(
            path, retried, "UPDATE sources SET error_count = 0"
        ):
            app.schedule_next_polls(specs)  # a crawl that reported nothing
        with app.sessions() as session:
            source = session.scalars(select(Source)).one()
        assert retried.is_set()
        assert source.last_status == "crawl failed" and source.next_poll_at is not None
    finally:
        app.close()
