"""Fixtures: real servers on loopback (see ``servers.py``) and test databases."""

from __future__ import annotations

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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty PostgreSQL database, dropped afterwards.

    Fails when PostgreSQL is unreachable, or skips if NEWSWATCH_SKIP_POSTGRES=1.
    """
    try:
        with create_postgres_database() as url:
            yield url
            return
    except PostgresUnavailable as exc:
        reason = str(exc)
    if skip_postgres():
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


@pytest.fixture
def migrated_sessions(database_url: str) -> Iterator[sessionmaker]:
    """Sessions on a database of each kind, migrated to the newest schema."""
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'newswatch.db'}"
    return str(request.getfixturevalue("postgres_url"))
