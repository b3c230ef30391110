"""Fixtures: real servers on loopback (see ``servers.py``) and test databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    SEED_SITE,
    PostgresUnavailable,
    SiteServer,
    SMTPServer,
    WebhookReceiver,
    create_postgres_database,
    skip_postgres,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from crawler.database import make_engine, make_sessionmaker
from scheduler.logs import SECRETS
from scheduler.migrate import upgrade_database


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> Iterator[None]:
    """Each test starts with no secret registered for masking by an earlier test's config
    (loading a config registers its secrets for the whole process)."""
    yield
    SECRETS.forget()


@pytest.fixture
def seed_site() -> Iterator[SiteServer]:
    """The seed news site at ``seed_site.base_url``, its story dated within the last day."""
    with SiteServer(SEED_SITE, fresh_dates=True) as site:
        yield site


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """An SMTP server on ``smtp_server.host``/``.port``; mails in ``.messages``."""
    with SMTPServer() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A webhook receiver at ``webhook.url``; requests in ``.requests``."""
    with WebhookReceiver() as receiver:
        yield receiver


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of `template` if given), dropped afterwards.

    Fails when PostgreSQL is unreachable, or skips if NEWSWATCH_SKIP_POSTGRES=1."""
    try:
        with create_postgres_database(template=template) as url:
            yield url
            return
    except PostgresUnavailable as exc:
        reason = str(exc)
    if skip_postgres():
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty PostgreSQL database, dropped afterwards.

    Fails when PostgreSQL is unreachable, or skips if NEWSWATCH_SKIP_POSTGRES=1.
    """
    yield from _postgres_database()


@pytest.fixture(scope="session")
def _migrated_postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to the newest schema once per run,
    to be copied (`CREATE DATABASE ... TEMPLATE`): a migration takes seconds, a copy
    a fraction of one."""
    for url in _postgres_database():
        engine = make_engine(url)
        try:
            upgrade_database(engine)
        finally:
            engine.dispose()  # a template cannot be copied while a session is connected
        yield str(make_url(url).database)


@pytest.fixture
def migrated_postgres_url(_migrated_postgres_template: str) -> Iterator[str]:
    """The URL of a new PostgreSQL database already at the newest schema, dropped
    afterwards (a copy of a database migrated once)."""
    yield from _postgres_database(template=_migrated_postgres_template)


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the newest schema once per run, to be copied."""
    path = tmp_path_factory.mktemp("sqlite-template") / "newswatch.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def migrated_sessions(migrated_database_url: str) -> Iterator[sessionmaker]:
    """Sessions on a database of each kind, migrated to the newest schema."""
    engine = make_engine(migrated_database_url)
    try:
        upgrade_database(engine)  # at the newest already: checks it, as `App.open` does
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'newswatch.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of each kind at the newest schema, as a first start leaves it: a copy
    of a SQLite file or PostgreSQL database migrated once per run."""
    if request.param == "sqlite":
        path = tmp_path / "newswatch.db"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite_template"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("migrated_postgres_url"))
