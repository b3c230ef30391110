"""Cluster mode on PostgreSQL: one config for every node, published in the database.

The active scheduler (`newswatch run --role scheduler`) owns config.toml: it publishes
its text, versioned, in `published_configs` when it becomes active and after each
reload; workers load the newest version and follow new ones (`FOLLOW_EVERY`), and each
crawl job on a Scrapyd node loads the version it was dispatched with. The text
is published as written, `${ENV_VAR}` references unexpanded: each node expands them
from its own environment, so the database never holds a secret whole. A config whose
channel URLs or storage URL hold a literal password or token is refused in cluster mode
(`literal_secrets`), with the key to change; so is a source's literal password, cookie,
authenticating header or proxy password. A node keeps its own database URL (its
config file's, or $NEWSWATCH_DATABASE_URL): the published one may name the database
as another machine sees it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from crawler.models import utcnow
from scheduler.config import LoadedConfig, check_channel_urls, load_config
from scheduler.config_basics import ConfigError
from scheduler.lock import this_host
from scheduler.models import PublishedConfig

ROLES = ("scheduler", "worker")
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_PLACEHOLDER = "nwenvref"
# Request headers whose value is a credential (Authorization, X-Api-Key, X-Auth-Token...).
_CREDENTIAL_HEADER = re.compile(r"auth|token|key|secret|session|password|signature", re.I)


class ClusterError(Exception):
    """Cluster mode cannot start: the message (one line) says why."""


def require_postgresql(database_url: str) -> None:
    if make_url(database_url).get_backend_name() != "postgresql":
        raise ClusterError(
            "--role needs PostgreSQL (cluster mode): this config's database is "
            f"{make_url(database_url).get_backend_name()}; run `newswatch run` without "
            "--role on a single machine"
        )


def literal_secrets(path: Path) -> list[str]:
    """One line per channel URL or storage URL in the config file at `path` that holds
    a literal password or token (a part the project's masking would hide that is not a
    ${ENV_VAR} reference)."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    problems = []
    storage = (raw.get("storage") or {}).get("url")
    if isinstance(storage, str) and _url_password(storage):
        problems.append(_refusal(path, "storage.url", "password"))
    for name, channel in (raw.get("channels") or {}).items():
        urls = channel.get("urls") if isinstance(channel, dict) else None
        for index, url in enumerate(urls or []):
            if isinstance(url, str) and _channel_secret(url):
                problems.append(_refusal(path, f"channels.{name}.urls[{index}]",
                                         "password or token"))
    for index, source in enumerate(raw.get("sources") or []):
        if isinstance(source, dict):
            problems += [_refusal(path, f"sources[{index}].{key}", "credential")
                         for key in _source_credentials(source)]
    return problems


def _source_credentials(source: dict) -> list[str]:
    """The keys of a source's table that hold a literal credential: its basic-auth
    password, a cookie, a header that authenticates, a proxy URL's password."""
    keys = []
    if _literal(source.get("password")):
        keys.append("password")
    for name, value in (source.get("headers") or {}).items():
        if _CREDENTIAL_HEADER.search(name) and _literal(value):
            keys.append(f"headers.{name}")
    keys += [f"cookies.{name}" for name, value in (source.get("cookies") or {}).items()
             if _literal(value)]
    proxy = source.get("proxy")
    if isinstance(proxy, str) and _url_password(proxy):
        keys.append("proxy")
    return keys


def _literal(value: object) -> bool:
    """A non-empty string with something besides ${ENV_VAR} references in it."""
    return isinstance(value, str) and bool(_REFERENCE.sub("", value).strip())


def _refusal(path: Path, key: str, what: str) -> str:
    return (f"{path}: {key} holds a literal {what}, which cluster mode would publish in "
            "the database: write it as ${ENV_VAR} and set the variable on every node")


def _url_password(url: str) -> bool:
    try:
        password = make_url(_REFERENCE.sub(_PLACEHOLDER, url)).password
    except ArgumentError:
        return False
    return bool(password) and _PLACEHOLDER not in str(password)


def _channel_secret(url: str) -> bool:
    from alerts.apprise_urls import hidden_parts  # Apprise: only when checking

    templated = _REFERENCE.sub(_PLACEHOLDER, url)
    return any(_PLACEHOLDER not in part for part in hidden_parts(templated))


def publish_config(sessions: sessionmaker, text: str) -> int:
    """Publish `text` as the newest config version unless it is the newest already;
    return the newest version."""
    with sessions.begin() as session:
        newest = session.scalar(select(PublishedConfig)
                                .order_by(PublishedConfig.version.desc()).limit(1))
        if newest is not None and newest.text == text:
            return newest.version
        version = (session.scalar(select(func.max(PublishedConfig.version))) or 0) + 1
        session.add(PublishedConfig(version=version, text=text, published_at=utcnow(),
                                    published_by=this_host()))
        return version


def newest_version(sessions: sessionmaker) -> int | None:
    """The newest published config version; None before any (or before the schema)."""
    try:
        with sessions() as session:
            return session.scalar(select(func.max(PublishedConfig.version)))
    except SQLAlchemyError:
        return None  # the scheduler has not created the tables yet


class PublishedConfigs:
    """A node's copy of the published config: each version is written to a private
    folder (the text holds no secret) and loaded like config.toml, from the node's
    environment, keeping the node's own database URL. A worker checks the channel URLs
    it will deliver to; a crawl node (scheduler/crawl_node.py) leaves the tables it never
    uses unexpanded (`unused_sections`) and unchecked."""

    def __init__(self, own: LoadedConfig, *, unused_sections: Collection[str] = (),
                 check_channels: bool = True) -> None:
        self.own = own
        self.unused_sections = tuple(unused_sections)
        self.check_channels = check_channels
        self.folder = Path(tempfile.mkdtemp(prefix="newswatch-config-"))

    def load(self, sessions: sessionmaker, version: int) -> LoadedConfig:
        """Load and validate `version`; raise ConfigError if this node cannot use it."""
        with sessions() as session:
            row = session.get(PublishedConfig, version)
            text = None if row is None else row.text
        if text is None:
            raise ConfigError([f"config version {version} is not in the database"])
        path = self.folder / f"config-v{version}.toml"
        path.write_text(text, encoding="utf-8")
        loaded = load_config(path, unused_sections=self.unused_sections)
        if self.check_channels:
            check_channel_urls(loaded)
        return LoadedConfig(path=path, config=loaded.config,
                            configured_database_url=self.own.configured_database_url)

    def discard(self) -> None:
        """Remove the copies (a crawl node's job is done with its version)."""
        shutil.rmtree(self.folder, ignore_errors=True)
