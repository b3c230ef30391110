"""The daemon's tables as SQLAlchemy Core `Table`s: its runs, operator alerts, the web
app's settings and tokens, and the cluster's nodes, jobs and published configs (see
crawler/tables.py for why Core; scheduler/models.py maps the ORM classes onto these)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, String, Table, Text

from crawler.tables import UTCDateTime, metadata, utcnow

daemon_runs = Table(
    "daemon_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("config_path", Text, default="", nullable=False),
    Column("started_at", UTCDateTime, default=utcnow, nullable=False),
    Column("heartbeat_at", UTCDateTime, default=utcnow, nullable=False),
    Column("stopped_at", UTCDateTime),
    Column("stopped_cleanly", Boolean),
    # The outcome of the last SIGHUP, read back by `newswatch reload`.
    Column("reloaded_at", UTCDateTime),
    Column("reload_ok", Boolean),
    Column("reload_message", Text),
)

admin_events = Table(
    "admin_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(300), unique=True, nullable=False),
    Column("sent_at", UTCDateTime, default=utcnow, nullable=False),
)

web_settings = Table(
    "web_settings",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, default=utcnow, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), unique=True, nullable=False),
    Column("token_hash", String(64), unique=True, nullable=False),
    Column("prefix", String(12), nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("last_used_at", UTCDateTime),
)

config_ids = Table(
    "config_ids",
    metadata,
    Column("kind", String(10), primary_key=True),  # "rule" or "channel"
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
)

scrapyd_jobs = Table(
    "scrapyd_jobs",
    metadata,
    Column("id", String(64), primary_key=True),  # Scrapyd's job id
    Column("node", String(255), nullable=False),
    Column("source_ids", Text, nullable=False),  # comma-separated sources.id
    Column("config_version", String(64), default="", nullable=False),
    Column("started_at", UTCDateTime, default=utcnow, nullable=False),
    # The sources" `next_poll_at` while the job holds them: a source still at this time
    # when the job ends was not planned by the crawl.
    Column("lease_until", UTCDateTime, nullable=False),
    Column("state", String(20), index=True, default="scheduled", nullable=False),
    # Written by the spider on the node when it closes having finished its work.
    Column("completed_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("reason", Text),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("role", String(20), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, default=utcnow, nullable=False),
    Column("heartbeat_at", UTCDateTime, default=utcnow, nullable=False),
    Column("stopped_at", UTCDateTime),
    # scheduler: "active" or "standby"; worker: "running".
    Column("state", String(20), default="running", nullable=False),
    Column("doing", JSON, default=dict, nullable=False),
)

published_configs = Table(
    "published_configs",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("published_at", UTCDateTime, default=utcnow, nullable=False),
    Column("published_by", String(255), default="", nullable=False),
)
