"""The daemon's ORM classes, mapped onto its Core tables (scheduler/tables.py): its runs,
operator alerts, the web app's settings and tokens, and the cluster's bookkeeping."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped

from crawler.models import Base
from scheduler.tables import (
    admin_events,
    api_tokens,
    config_ids,
    daemon_runs,
    nodes,
    published_configs,
    scrapyd_jobs,
    web_settings,
)


class DaemonRun(Base):
    """A `newswatch run` daemon: who it is, whether it is alive, how it stopped.

    `stopped_at` is NULL while it runs; a row still NULL with a stale heartbeat is a
    daemon that died without shutting down (SIGKILL, power loss), which the next daemon
    marks `stopped_cleanly = false` and reports to the admin channel.
    """

    __table__ = daemon_runs

    id: Mapped[int]
    pid: Mapped[int]
    host: Mapped[str]
    config_path: Mapped[str]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    stopped_cleanly: Mapped[bool | None]
    reloaded_at: Mapped[datetime | None]
    reload_ok: Mapped[bool | None]
    reload_message: Mapped[str | None]


class AdminEvent(Base):
    """An operator alert already queued in the outbox (`sent_at`: when), by a key naming
    its event, so it is queued once."""

    __table__ = admin_events

    id: Mapped[int]
    key: Mapped[str]
    sent_at: Mapped[datetime]


class WebSetting(Base):
    """A value the web app keeps (scheduler/web): the password's scrypt hash and the keys
    that sign session cookies and feed tokens. Never a password in clear."""

    __table__ = web_settings

    key: Mapped[str]
    value: Mapped[str]
    updated_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for the REST API, stored as its SHA-256 (the token is shown once,
    at creation); `prefix` lets a user recognise it in `web token list`."""

    __table__ = api_tokens

    id: Mapped[int]
    name: Mapped[str]
    token_hash: Mapped[str]
    prefix: Mapped[str]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class ConfigId(Base):
    """The name a rule's or channel's stable `id` had when last seen: when the config
    gives that id another name, the history stored under the old name is renamed."""

    __table__ = config_ids

    kind: Mapped[str]
    id: Mapped[str]
    name: Mapped[str]


class ScrapydJob(Base):
    """A crawl handed to a Scrapyd node (scheduler/scrapyd.py), kept in the database so
    that a standby scheduler taking over goes on tracking the jobs the old one started.

    `state`: "scheduled" (handed over, not yet seen running), "running", then "finished"
    (the spider recorded `completed_at`), "failed" or "cancelled" with a `reason`.
    """

    __table__ = scrapyd_jobs

    id: Mapped[str]
    node: Mapped[str]
    source_ids: Mapped[str]
    config_version: Mapped[str]
    started_at: Mapped[datetime]
    lease_until: Mapped[datetime]
    state: Mapped[str]
    completed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str | None]

    @property
    def sources(self) -> list[int]:
        return [int(part) for part in self.source_ids.split(",") if part]


class Node(Base):
    """A process of a cluster (`newswatch run --role ...`): what it is, where, whether it is
    alive (`heartbeat_at`, every `daemon.heartbeat_interval`) and what it is doing
    (`doing`, a small JSON object: claimed counts, the config version it runs)."""

    __table__ = nodes

    id: Mapped[int]
    role: Mapped[str]
    host: Mapped[str]
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    state: Mapped[str]
    doing: Mapped[dict]


class PublishedConfig(Base):
    """A version of the config the active scheduler published for every node: the text of
    config.toml as written, `${ENV_VAR}` references unexpanded (each node expands them
    from its own environment), so the database never holds a secret."""

    __table__ = published_configs

    version: Mapped[int]
    text: Mapped[str]
    published_at: Mapped[datetime]
    published_by: Mapped[str]
