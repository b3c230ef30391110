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
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from crawler.database import make_engine, make_sessionmaker, write_with_retry

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
def write_lock_held(path: Path, release: threading.Event | None = None) -> Iterator[None]:
    """Another connection holds SQLite's write lock (BEGIN IMMEDIATE, a row written) in a
    thread of its own until `release` is set (or the block ends); it then commits."""
    locked, release = threading.Event(), release or threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO notes (note) VALUES ('holder')")
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


def test_a_locked_sqlite_write_waits_and_succeeds_once_the_lock_is_released(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=SHORT_BUSY_TIMEOUT_MS)
    notes_table(engine)
    sessions = make_sessionmaker(engine)
    release = threading.Event()

    class Release(logging.Handler):  # lets the holder go once a retry has been logged
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                release.set()

    handler = Release()
    logging.getLogger("crawler.database").addHandler(handler)
    try:
        with caplog.at_level(logging.WARNING, "crawler.database"), \
                write_lock_held(path, release):
            written = write_with_retry(sessions, add_note("second"), "storing a note")
    finally:
        logging.getLogger("crawler.database").removeHandler(handler)
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
