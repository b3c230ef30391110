"""Tables the daemon writes: one row per daemon run, and the operator alerts already sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crawler.database import Base
from crawler.models import UTCDateTime, utcnow


class DaemonRun(Base):
    """A `newswatch run` daemon: who it is, whether it is alive, how it stopped.

    `stopped_at` is NULL while it runs; a row still NULL with a stale heartbeat is a
    daemon that died without shutting down (SIGKILL, power loss), which the next daemon
    marks `stopped_cleanly = false` and reports to the admin channel.
    """

    __tablename__ = "daemon_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    config_path: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_cleanly: Mapped[bool | None] = mapped_column(Boolean)
    # The outcome of the last SIGHUP, read back by `newswatch reload`.
    reloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reload_ok: Mapped[bool | None] = mapped_column(Boolean)
    reload_message: Mapped[str | None] = mapped_column(Text)


class AdminEvent(Base):
    """An operator alert already queued in the outbox (`sent_at`: when), by a key naming
    its event, so it is queued once."""

    __tablename__ = "admin_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSetting(Base):
    """A value the web app keeps (scheduler/web): the password's scrypt hash and the keys
    that sign session cookies and feed tokens. Never a password in clear."""

    __tablename__ = "web_settings"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """A bearer token for the REST API, stored as its SHA-256 (the token is shown once,
    at creation); `prefix` lets a user recognise it in `web token list`."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConfigId(Base):
    """The name a rule's or channel's stable `id` had when last seen: when the config
    gives that id another name, the history stored under the old name is renamed."""

    __tablename__ = "config_ids"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "rule" or "channel"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class ScrapydJob(Base):
    """A crawl handed to a Scrapyd node (scheduler/scrapyd.py), kept in the database so
    that a standby scheduler taking over goes on tracking the jobs the old one started.

    `state`: "scheduled" (handed over, not yet seen running), "running", then "finished"
    (the spider recorded `completed_at`), "failed" or "cancelled" with a `reason`.
    """

    __tablename__ = "scrapyd_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Scrapyd's job id
    node: Mapped[str] = mapped_column(String(255))
    source_ids: Mapped[str] = mapped_column(Text)  # comma-separated sources.id
    config_version: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The sources' `next_poll_at` while the job holds them: a source still at this time
    # when the job ends was not planned by the crawl.
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), index=True, default="scheduled")
    # Written by the spider on the node when it closes having finished its work.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)

    @property
    def sources(self) -> list[int]:
        return [int(part) for part in self.source_ids.split(",") if part]


class Node(Base):
    """A process of a cluster (`newswatch run --role ...`): what it is, where, whether it is
    alive (`heartbeat_at`, every `daemon.heartbeat_interval`) and what it is doing
    (`doing`, a small JSON object: claimed counts, the config version it runs)."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # scheduler: "active" or "standby"; worker: "running".
    state: Mapped[str] = mapped_column(String(20), default="running")
    doing: Mapped[dict] = mapped_column(JSON, default=dict)


class PublishedConfig(Base):
    """A version of the config the active scheduler published for every node: the text of
    config.toml as written, `${ENV_VAR}` references unexpanded (each node expands them
    from its own environment), so the database never holds a secret."""

    __tablename__ = "published_configs"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str] = mapped_column(String(255), default="")
