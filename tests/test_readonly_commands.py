"""Commands that only read leave the sources table alone: beside a running daemon they
must not rewrite it from a config file the daemon may not have loaded. `newswatch crawl`
refuses to run beside a daemon, as `run --once` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Source
from scheduler.cli import main
from scheduler.lock import daemon_lock
from scheduler.migrate import upgrade_database


def write_config(tmp_path: Path, database_url: str) -> Path:
    """A config with a source the database does not have, and one whose URL differs."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"[storage]\nurl = {json.dumps(database_url)}\n\n"
        '[[sources]]\nname = "Only in the file"\nurl = "http://new.example.test/feed/"\n\n'
        '[[sources]]\nname = "Shared"\nurl = "http://moved.example.test/feed/"\n',
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def source_rows(database_url: str) -> dict[str, tuple[str, str, str | None, str | None]]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return {row.name: (row.url, row.kind, row.resolved_url, row.etag)
                    for row in session.scalars(select(Source))}
    finally:
        engine.dispose()


@pytest.fixture
def stored(database_url: str) -> dict[str, tuple[str, str, str | None, str | None]]:
    """A database whose sources are not those of the config file on disk."""
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        with make_sessionmaker(engine).begin() as session:
            session.add(Source(name="Only in the database", url="http://old.example.test/rss",
                               kind="feed"))
            session.add(Source(name="Shared", url="http://shared.example.test/",
                               kind="auto", resolved_url="http://shared.example.test/rss",
                               etag='"v1"'))
    finally:
        engine.dispose()
    return source_rows(database_url)


@pytest.mark.parametrize("command", [
    ["stories"],
    ["stories", "show", "1"],
    ["search", "anything"],
    ["rules", "test", "anything"],
    ["sources"],
    ["sources", "list"],
    ["alerts", "list"],
    ["status"],
], ids=" ".join)
def test_read_only_commands_leave_the_sources_table_alone(
    tmp_path: Path, database_url: str, stored: dict, command: list[str]
) -> None:
    config = write_config(tmp_path, database_url)
    result = cli(config, *command)
    assert result.exit_code in (0, 1), result.output  # `stories show 1`: no such story
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert source_rows(database_url) == stored
    assert "Only in the file" not in source_rows(database_url)


def test_a_read_only_command_still_migrates_an_empty_database(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'new.db'}"
    result = cli(write_config(tmp_path, database_url), "stories")
    assert result.exit_code == 0, result.output
    assert source_rows(database_url) == {}


def test_crawl_refuses_to_run_beside_a_daemon(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    engine = make_engine(database_url)
    upgrade_database(engine)
    lock = daemon_lock(engine)
    assert lock.acquire()
    try:
        result = cli(config, "crawl")
    finally:
        lock.release()
        engine.dispose()
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith("newswatch: another newswatch daemon is already running on "
                              "this database"), message
    assert lock.description in message
    assert len(message.splitlines()) == 1
    assert source_rows(database_url) == {}  # not synced, not crawled
