"""Loading and validating config.toml.

Every problem is reported on one line that names the file, the line, the key path
(`sources[2].interval`) and what was expected, so a user can fix it without reading code.
`${VAR}` in any string is replaced from the environment before validation, except in a
source's `url`, which keeps the text as written and expands it for the crawl only.
"""

# No `from __future__ import annotations` in this module: Pydantic would compile every
# field's annotation back from its string (a ForwardRef each), ~5% of what loading the
# config costs every command. Annotations that name a later class are quoted instead.

import difflib
import functools
import json
import os
import re
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.digests import DigestSchedule
from alerts.durations import format_duration, parse_duration
from alerts.query import QueryError, parse_query
from alerts.quiet_hours import QuietHours
from alerts.rate_limit import RateLimit
from scheduler.config_basics import CONFIG_ENV as CONFIG_ENV
from scheduler.config_basics import DEFAULT_CONFIG as DEFAULT_CONFIG
from scheduler.config_basics import ConfigError
from scheduler.config_basics import config_path as config_path
from scheduler.logs import mask_in_logs

DATABASE_URL_ENV = "NEWSWATCH_DATABASE_URL"
# For tests and benchmarks only: lowers the shortest poll interval accepted (default 10s),
# so a daemon test can run many cycles in seconds. Never set it in production.
TEST_MIN_INTERVAL_ENV = "NEWSWATCH_TEST_MIN_INTERVAL"
MIN_INTERVAL = timedelta(seconds=10)

def _parsed_by(parse: Callable[[str], object]) -> Callable[[str | None], str | None]:
    """A validator that keeps the text as written once `parse` accepts it."""

    def check(value: str | None) -> str | None:
        if value is not None:
            parse(value)
        return value

    return check


DigestText = Annotated[str | None, AfterValidator(_parsed_by(DigestSchedule.parse))]
RateLimitText = Annotated[str | None, AfterValidator(_parsed_by(RateLimit.parse))]
QuietHoursText = Annotated[str | None, AfterValidator(_parsed_by(QuietHours.parse))]

Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)
]


# The longest name the database columns that store it hold (sources.name; matches.rule and
# notifications.rule; notifications.channel and alert_messages.channel): a longer one would
# be refused by PostgreSQL at every matching cycle. Written out rather than read from the
# models so that loading a config does not import SQLAlchemy (tests/test_config_lengths.py
# checks them against the columns).
SOURCE_NAME_LENGTH = 200
RULE_NAME_LENGTH = 200
CHANNEL_NAME_LENGTH = 200


def _length_problem(value: str, limit: int) -> str | None:
    if len(value) <= limit:
        return None
    return f"expected a name of at most {limit} characters, got {len(value)}"


def _at_most(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        problem = _length_problem(value, limit)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


SourceName = Annotated[str, Field(min_length=1), _at_most(SOURCE_NAME_LENGTH)]
RuleName = Annotated[str, Field(min_length=1), _at_most(RULE_NAME_LENGTH)]

# A stable id for a rule or channel (`id = "r7f3a"`): renaming the entry keeps its alert
# history, so old stories are not alerted again (scheduler/renames.py).
StableId = Annotated[str | None, Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def database_url_problem(url: str) -> str | None:
    """Why newswatch can't use the database `url`, in words that say what to write, or None.

    Only SQLite and PostgreSQL through psycopg 3 are installed and tested; anything else
    would fail later with a driver's ModuleNotFoundError or "Can't load plugin"."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    backend, _, driver = scheme.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return None
    if backend == "postgresql" and driver in ("", "psycopg"):
        return None
    fix = "use sqlite:///FILE or postgresql+psycopg://USER@HOST/DATABASE"
    if not scheme:
        return f"expected a database URL such as sqlite:///newswatch.db; {fix}"
    if backend in ("postgres", "postgresql", "pg"):
        return f"{scheme}:// is not a driver newswatch has; write postgresql+psycopg://..."
    return f"{backend} is not supported; {fix}"


class StorageConfig(_Section):
    url: str = "sqlite:///newswatch.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str, info: ValidationInfo) -> str:
        problem = database_url_problem(expand_env(value, _environ(info)))
        if problem:
            raise ValueError(problem)
        return value


class CrawlerConfig(_Section):
    user_agent: str = "newswatch/0.1 (news monitoring; +https://pypi.org/project/newswatch/)"
    obey_robots_txt: bool = True
    max_article_age: Duration = timedelta(days=3)
    download_timeout: Duration = timedelta(seconds=30)
    download_delay: Duration = timedelta(seconds=1)
    concurrent_requests: int = Field(default=16, ge=1, le=256)
    concurrent_requests_per_domain: int = Field(default=2, ge=1, le=32)
    max_page_size: int = Field(default=5 * 1024 * 1024, ge=10_000)
    max_sitemap_size: int = Field(default=50 * 1024 * 1024, ge=10_000)
    max_redirects: int = Field(default=5, ge=0, le=20)
    # The longest Retry-After a crawl waits for; a longer one postpones the next poll.
    retry_after_limit: Duration = timedelta(minutes=2)
    verify_tls: bool = True
    crawl_time_limit: Duration = timedelta(minutes=15)
    # An article page that fails in a way that may pass (5xx, 429, timeout, 404 before it
    # is live) is tried again at later crawls, this many times, the delay doubling.
    page_retries: int = Field(default=5, ge=1, le=50)
    page_retry_delay: Duration = timedelta(minutes=2)
    # Adaptive polling: a source is polled between its interval and this, by its rate.
    max_poll_interval: Duration = timedelta(hours=2)
    max_backoff: Duration = timedelta(hours=6)
    unhealthy_after_failures: int = Field(default=5, ge=1, le=1000)
    # Processes extracting articles during a crawl: one per core by default; 0 extracts
    # in the crawl process itself.
    extraction_workers: int | None = Field(default=None, ge=0, le=64)


class DefaultsConfig(_Section):
    interval: Duration = timedelta(minutes=10)

    @field_validator("interval")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta) -> timedelta:
        return _check_interval(value)


def _check_interval(value: timedelta | None) -> timedelta | None:
    minimum = _minimum_interval()
    if value is not None and value < minimum:
        raise ValueError(f"expected an interval of at least {format_duration(minimum)}")
    return value


def _minimum_interval() -> timedelta:
    override = os.environ.get(TEST_MIN_INTERVAL_ENV)
    if not override:
        return MIN_INTERVAL
    try:
        return min(parse_duration(override), MIN_INTERVAL)
    except ValueError:
        return MIN_INTERVAL


_HTTP_URL = re.compile(r"https?://[^/\s]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+")
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "cookie"}


class SourceConfig(_Section):
    name: SourceName
    url: str
    # "auto" detects a feed, sitemap or page from the response (and feeds a homepage
    # announces); the other values force how the URL is read.
    kind: Literal["auto", "feed", "sitemap", "page"] = "auto"
    # A paused source stays in the config and the database but is not polled
    # (`newswatch sources pause NAME`).
    paused: bool = False
    # The shortest time between two polls (default: [defaults] interval); polling adapts
    # between it and max_interval (default: [crawler] max_poll_interval).
    interval: Duration | None = None
    max_interval: Duration | None = None
    # Network settings, sent only to the source's own site.
    headers: dict[str, str] = {}
    username: str | None = None
    password: str | None = None
    cookies: dict[str, str] = {}
    proxy: str | None = None
    ca_bundle: str | None = None  # a PEM file, relative to this config file's folder
    # Hosts besides the source's own site that its pages and sitemaps may link to.
    allowed_hosts: list[str] = []

    # The URL with its ${VAR} references replaced: what the crawl fetches. `url` keeps the
    # text as written, so the database and every output show the template, not the secret.
    _fetch_url: str | None = PrivateAttr(default=None)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not _HTTP_URL.match(expand_env(value, _environ(info))):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _expand_url(self, info: ValidationInfo) -> "SourceConfig":
        expanded = expand_env(self.url, _environ(info))
        if expanded != self.url:
            self._fetch_url = expanded
        return self

    @property
    def fetch_url(self) -> str:
        """The URL to fetch: `url` with its environment variables replaced."""
        return self._fetch_url or self.url

    @field_validator("interval", "max_interval")
    @classmethod
    def _at_least_a_minute(cls, value: timedelta | None) -> timedelta | None:
        return _check_interval(value)

    @field_validator("max_interval")
    @classmethod
    def _not_below_interval(cls, value: timedelta | None, info: ValidationInfo
                            ) -> timedelta | None:
        interval = info.data.get("interval")
        if value is not None and interval is not None and value < interval:
            raise ValueError(
                f"expected at least the source's interval ({format_duration(interval)})"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _header_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} can't be set here"
                                 + (" (use cookies = {...})" if name.lower() == "cookie" else ""))
            if "\r" in text or "\n" in text:
                raise ValueError(f"header {name!r}: a value can't contain a line break")
        return value

    @field_validator("password")
    @classmethod
    def _needs_username(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("username") is None:
            raise ValueError("a password needs a username (basic auth)")
        return value

    @field_validator("cookies")
    @classmethod
    def _cookie_pairs(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid cookie name")
            if any(char in text for char in ";\r\n"):
                raise ValueError(f"cookie {name!r}: a value can't contain ';' or a line break")
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError(
                f"expected a proxy URL such as \"http://proxy.example.org:3128\", got {value!r}"
            )
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected the path of a PEM file")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        for host in value:
            if not _HOST_NAME.fullmatch(host):
                raise ValueError(
                    f"expected host names such as \"cdn.example.com\", got {host!r}"
                )
        return [host.lower().strip("[]") for host in value]


class ChannelConfig(_Section):
    """Where alerts go and how they look; see alerts.channels and alerts.templates."""

    urls: list[str] = Field(min_length=1)
    id: StableId = None
    format: Literal["text", "markdown", "html"] = "text"
    timezone: str = "UTC"
    title: str | None = None
    body: str | None = None
    digest_title: str | None = None
    digest_body: str | None = None
    digest: DigestText = None
    rate_limit: RateLimitText = None
    quiet_hours: QuietHoursText = None
    retry_for: Duration = timedelta(days=1)
    tags: list[str] = []
    sources: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (expected a name such as \"Europe/Paris\")"
            ) from None
        return value

    @field_validator("title", "body", "digest_title", "digest_body")
    @classmethod
    def _renders(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            from alerts.render import check_template  # jinja2 and the renderers: only if used

            try:
                check_template(value, info.field_name or "body",
                               info.data.get("format", "text"), info.data.get("timezone", "UTC"))
            except ValueError as error:
                raise ValueError(f"template error: {error}") from None
        return value


class RuleConfig(_Section):
    name: RuleName
    id: StableId = None
    query: str
    channels: list[str] = Field(min_length=1)
    sources: list[str] | None = None
    languages: list[str] | None = None
    min_outlets: int = Field(default=1, ge=1, le=100)
    digest: DigestText = None  # batches this rule's alerts; wins over the channel's
    tags: list[str] = []  # channels with matching `tags` receive this rule's alerts too
    paused: bool = False  # a paused rule matches nothing (`newswatch rules pause NAME`)

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for code in value:
            if not re.fullmatch(r"[A-Za-z]{2,3}", code):
                raise ValueError(f"expected ISO 639-1 language codes such as \"en\", got {code!r}")
        return [code.lower() for code in value]

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parse_query(value)
        except QueryError as error:
            raise ValueError(f"invalid query {value!r}: {error}") from None
        return value


# The default and longest `daemon.heartbeat_interval` (scheduler.lock and scheduler.nodes
# count a daemon or node silent for four of them as stopped or gone).
HEARTBEAT_AT_MOST = timedelta(seconds=15)


class DaemonConfig(_Section):
    """How `newswatch run` schedules and supervises its work."""

    max_concurrent_crawls: int = Field(default=2, ge=1, le=16)
    # A crawl child using more resident memory than this is killed (its sources get the error).
    crawl_memory_limit_mb: int = Field(default=1024, ge=64)
    # On SIGTERM/SIGINT: how long deliveries and crawls in progress may take before exit.
    shutdown_grace: Duration = timedelta(seconds=30)
    deliver_interval: Duration = timedelta(minutes=1)
    housekeeping_interval: Duration = timedelta(hours=6)
    # How long a claim on an article being matched or a message being sent holds without
    # renewal: the work of a worker killed mid-task goes to the others after that.
    claim_lease: Duration = timedelta(minutes=5)
    # How often a daemon (and each cluster node) writes its heartbeat: at most 15 s, since
    # `status` calls a daemon silent for a minute stopped and a node silent for one gone.
    heartbeat_interval: Duration = HEARTBEAT_AT_MOST
    # How often a standby scheduler tries to take over from the active one.
    standby_retry: Duration = timedelta(seconds=5)

    @field_validator("deliver_interval", "housekeeping_interval", "claim_lease",
                     "heartbeat_interval", "standby_retry")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("expected an interval of at least 1s")
        return value

    @field_validator("heartbeat_interval")
    @classmethod
    def _at_most_the_default(cls, value: timedelta) -> timedelta:
        if value > HEARTBEAT_AT_MOST:
            raise ValueError("expected at most 15s: a daemon silent for a minute counts as "
                             "stopped")
        return value


class RetentionConfig(_Section):
    """How long rows are kept (scheduler/housekeeping.py has the rule of every table).

    Article bodies older than `article_bodies` are emptied; headlines, URLs and
    fingerprints stay, so deduplication and story history keep working. Alert history
    (matches, alerts, messages, delivery attempts) goes after `alert_history`, never while
    pending; articles (with their aliases, versions and alerts) go after `articles`.
    """

    article_bodies: Duration = timedelta(days=90)
    alert_history: Duration = timedelta(days=180)
    articles: Duration = timedelta(days=365)

    @field_validator("article_bodies", "alert_history", "articles")
    @classmethod
    def _at_least_a_day(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1):
            raise ValueError("expected a retention of at least 1d")
        return value


class AdminConfig(_Section):
    """Where the operator hears about sick sources, undeliverable alerts and crashes."""

    channel: str | None = None
    unhealthy_after: Duration = timedelta(days=1)


class WebConfig(_Section):
    """The browser UI, REST API and feeds (scheduler/web): `newswatch serve`, or the daemon
    when `enabled`. A non-loopback `host` is refused until a password is set."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # The address users reach the app at (behind a proxy), for links in feeds.
    base_url: str | None = None


class ScrapydConfig(_Section):
    """Crawl nodes (scheduler/scrapyd.py): with `nodes` set, the daemon hands batches of
    due sources to these Scrapyd servers instead of crawling in child processes."""

    nodes: list[str] = []
    project: str = Field(default="newswatch", pattern=r"^[A-Za-z0-9_.-]+$")
    spider: str = Field(default="news", pattern=r"^[A-Za-z0-9_.-]+$")
    # Sources per job, and jobs (running + pending) each node is given at most.
    batch_size: int = Field(default=50, ge=1, le=10_000)
    jobs_per_node: int = Field(default=4, ge=1, le=256)
    # How often running jobs are checked and due sources dispatched.
    poll_interval: Duration = timedelta(seconds=10)
    # A node unreachable this long: its jobs are counted as dead, their sources failed.
    node_timeout: Duration = timedelta(minutes=2)
    request_timeout: Duration = timedelta(seconds=5)

    @field_validator("nodes")
    @classmethod
    def _http_urls(cls, nodes: list[str]) -> list[str]:
        cleaned = []
        for node in nodes:
            parts = urlsplit(node)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{node!r} is not a Scrapyd address like http://host:6800")
            cleaned.append(node.rstrip("/"))
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a node is listed twice")
        return cleaned

    @field_validator("poll_interval", "node_timeout", "request_timeout")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("expected a duration of at least 1s")
        return value


class Config(_Section):
    storage: StorageConfig = StorageConfig()
    crawler: CrawlerConfig = CrawlerConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    sources: list[SourceConfig] = []
    channels: dict[str, ChannelConfig] = {}
    rules: list[RuleConfig] = []
    daemon: DaemonConfig = DaemonConfig()
    retention: RetentionConfig = RetentionConfig()
    admin: AdminConfig = AdminConfig()
    web: WebConfig = WebConfig()
    scrapyd: ScrapydConfig = ScrapydConfig()

    @model_validator(mode="after")
    def _retention_outlasts_the_age_limit(self) -> "Config":
        """History younger than `max_article_age` is what stops an edited article from
        alerting again, and an article's alerts are deleted with it."""
        retention, max_age = self.retention, self.crawler.max_article_age
        if retention.alert_history < max_age:
            raise _LocatedError(
                ("retention", "alert_history"),
                f"must be at least crawler.max_article_age ({format_duration(max_age)})",
            )
        if retention.articles < max(retention.alert_history, max_age):
            raise _LocatedError(("retention", "articles"),
                                "must be at least retention.alert_history and "
                                "crawler.max_article_age")
        return self

    @model_validator(mode="after")
    def _cross_references(self) -> "Config":
        _require_unique("sources", [s.name for s in self.sources])
        _require_unique("rules", [r.name for r in self.rules])
        _require_unique_ids("rules", [r.id for r in self.rules])
        channel_ids = [(name, c.id) for name, c in self.channels.items() if c.id]
        for position, (name, stable_id) in enumerate(channel_ids):
            if any(other == stable_id for _, other in channel_ids[:position]):
                raise _LocatedError(("channels", name, "id"), f"duplicate id {stable_id!r}")
        for name in self.channels:
            problem = _length_problem(name, CHANNEL_NAME_LENGTH)
            if problem:
                raise _LocatedError(("channels", name), problem)
        if self.admin.channel is not None and self.admin.channel not in self.channels:
            known = ", ".join(sorted(self.channels)) or "none defined"
            raise _LocatedError(
                ("admin", "channel"),
                f"unknown channel {self.admin.channel!r} (channels: {known})",
            )
        source_names = {source.name for source in self.sources}
        for name, channel_config in self.channels.items():
            for position, source in enumerate(channel_config.sources):
                if source not in source_names:
                    raise _LocatedError(
                        ("channels", name, "sources", position), f"unknown source {source!r}"
                    )
        for index, rule in enumerate(self.rules):
            for position, source in enumerate(rule.sources or ()):
                if source not in source_names:
                    raise _LocatedError(
                        ("rules", index, "sources", position), f"unknown source {source!r}"
                    )
            for position, channel in enumerate(rule.channels):
                if channel not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none defined"
                    raise _LocatedError(
                        ("rules", index, "channels", position),
                        f"unknown channel {channel!r} (channels: {known})",
                    )
        return self

    @property
    def polled_sources(self) -> list[SourceConfig]:
        """The sources the daemon polls: every one but the paused."""
        return [source for source in self.sources if not source.paused]

    @property
    def active_rules(self) -> list[RuleConfig]:
        """The rules new articles are matched against: every one but the paused."""
        return [rule for rule in self.rules if not rule.paused]

    def source_interval(self, source: SourceConfig) -> timedelta:
        return source.interval or self.defaults.interval


class _LocatedError(ValueError):
    """A cross-field problem that knows the key path it belongs to."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _require_unique_ids(section: str, ids: list[str | None]) -> None:
    seen: set[str] = set()
    for index, stable_id in enumerate(ids):
        if stable_id is None:
            continue
        if stable_id in seen:
            raise _LocatedError((section, index, "id"), f"duplicate id {stable_id!r}")
        seen.add(stable_id)


def _require_unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise _LocatedError((section, index, "name"), f"duplicate name {name!r}")
        seen.add(name)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from."""

    path: Path
    config: Config
    # As configured ($NEWSWATCH_DATABASE_URL, else storage.url); `database_url` resolves it.
    configured_database_url: str

    @property
    def database_url(self) -> str:
        """The database URL, a relative SQLite path taken from the config file's folder."""
        from crawler.database import resolve_database_url  # SQLAlchemy: only when needed

        return resolve_database_url(self.configured_database_url, self.path.resolve().parent)


def load_config(path: Path, environ: Mapping[str, str] | None = None, *,
                unused_sections: Collection[str] = ()) -> LoadedConfig:
    """Read, substitute and validate `path`; raise ConfigError with located problems.
    A ${VAR} that is not set is a problem, except in `unused_sections` (top-level tables
    this process never uses, such as `channels` on a crawl node), where it stays as
    written."""
    environ = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read the config file: {error.strerror}"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: not valid TOML: {error}"]) from None
    lines = KeyLines(text)
    problems: list[str] = []
    substituted = _substitute_env(raw, (), environ, problems, lines, path,
                                  frozenset(unused_sections))
    if problems:
        raise ConfigError(problems)
    _keep_source_url_templates(substituted, raw)
    try:
        config = Config.model_validate(substituted, context={"environ": environ})
    except ValidationError as error:
        secrets = _referenced_values(raw, environ)
        raise ConfigError(
            [_mask(_describe(path, lines, item, substituted), secrets)
             for item in error.errors()]
        ) from None
    mask_in_logs(
        values=_referenced_values(raw, environ)
        | {source.password for source in config.sources if source.password},
        urls=[url for channel in config.channels.values() for url in channel.urls],
    )
    from_environment = environ.get(DATABASE_URL_ENV)
    if from_environment:
        problem = database_url_problem(from_environment)
        if problem:
            raise ConfigError([f"${DATABASE_URL_ENV}: {problem}"])
    return LoadedConfig(path=path, config=config,
                        configured_database_url=from_environment or config.storage.url)


def check_channel_urls(loaded: LoadedConfig) -> None:
    """Raise ConfigError for every channel URL Apprise cannot use, located and masked.

    Not part of load_config: it needs Apprise's plugins, which take a second to load, and
    only the commands that send (run, reload, config check) ask for it."""
    from alerts.apprise_urls import redact, url_problem

    lines = KeyLines(loaded.path.read_text(encoding="utf-8"))
    problems = [
        f"{_where(loaded.path, lines, loc)}: {format_loc(loc)}: not a URL Apprise can use: "
        f"{redact(url)}: {problem} (see https://github.com/caronc/apprise/wiki)"
        for name, channel in loaded.config.channels.items()
        for index, url in enumerate(channel.urls)
        for problem in [url_problem(url)]
        if problem is not None
        for loc in [("channels", name, "urls", index)]
    ]
    if problems:
        raise ConfigError(problems)


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _referenced_values(raw: Any, environ: Mapping[str, str]) -> set[str]:
    """The values of every ${VAR} the config uses: tokens and passwords, as a rule."""
    names = set(_ENV_REFERENCE.findall(json.dumps(raw, default=str)))
    return {environ[name] for name in names if len(environ.get(name, "")) >= 3}


def _mask(message: str, secrets: set[str]) -> str:
    """A problem line with every value that came from the environment masked: validators
    quote what they got, and these lines reach the terminal, the log and the database."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "****")
    return message


def _environ(info: ValidationInfo) -> Mapping[str, str]:
    """Where ${VAR} come from: load_config's environment, else the process's."""
    return (info.context or {}).get("environ", os.environ)


def expand_env(text: str, environ: Mapping[str, str]) -> str:
    """`text` with each ${VAR} set in `environ` replaced by its value."""
    return _ENV_REFERENCE.sub(lambda ref: environ.get(ref.group(1), ref.group(0)), text)


def _keep_source_url_templates(substituted: Any, raw: Any) -> None:
    """Put each source's URL back as written: SourceConfig expands it for the crawl only."""
    sources, written = substituted.get("sources"), raw.get("sources")
    if not (isinstance(sources, list) and isinstance(written, list)):
        return
    for source, original in zip(sources, written, strict=True):
        if isinstance(source, dict) and isinstance(original, dict) and "url" in original:
            source["url"] = original["url"]


def _substitute_env(
    value: Any,
    loc: tuple[str | int, ...],
    environ: Mapping[str, str],
    problems: list[str],
    lines: "KeyLines",
    path: Path,
    unused: frozenset[str] = frozenset(),
) -> Any:
    if isinstance(value, dict):
        return {
            key: _substitute_env(item, (*loc, key), environ, problems, lines, path, unused)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _substitute_env(item, (*loc, index), environ, problems, lines, path, unused)
            for index, item in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def replace(reference: re.Match[str]) -> str:
        name = reference.group(1)
        if name not in environ and loc and loc[0] in unused:
            return reference.group(0)
        if name not in environ:
            problems.append(
                f"{_where(path, lines, loc)}: {format_loc(loc)}: environment variable "
                f"${{{name}}} is not set"
            )
            return ""
        return environ[name]

    return _ENV_REFERENCE.sub(replace, value)


def format_loc(loc: tuple[str | int, ...]) -> str:
    """('sources', 2, 'interval') -> 'sources[2].interval'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _where(path: Path, lines: "KeyLines", loc: tuple[str | int, ...]) -> str:
    line = lines.find(loc)
    return f"{path}:{line}" if line else str(path)


def _describe(path: Path, lines: "KeyLines", item: Any, data: Any) -> str:
    loc = tuple(part for part in item["loc"] if part not in _UNION_TAGS)
    context_error = (item.get("ctx") or {}).get("error")
    if isinstance(context_error, _LocatedError):
        loc, message = context_error.loc, str(context_error)
    elif item["type"] == "extra_forbidden":
        message = _unknown_key_message(loc, data)
    elif item["type"] == "missing":
        message = "required key is missing"
    else:
        message = item["msg"].removeprefix("Value error, ")
        message = _with_expected_type(item["type"], message)
    return f"{_where(path, lines, loc)}: {format_loc(loc)}: {message}"


_UNION_TAGS = {"function-before[parse_duration(), timedelta]", "timedelta", "none"}


def _with_expected_type(kind: str, message: str) -> str:
    expected = {
        "string_type": "expected a string",
        "bool_type": "expected true or false",
        "bool_parsing": "expected true or false",
        "int_type": "expected a whole number",
        "int_parsing": "expected a whole number",
        "list_type": "expected a list, e.g. [\"a\", \"b\"]",
        "dict_type": "expected a table",
        "model_type": "expected a table",
        "literal_error": message.replace("Input should be", "expected"),
    }
    return expected.get(kind, message)


def _unknown_key_message(loc: tuple[str | int, ...], data: Any) -> str:
    key = str(loc[-1])
    allowed = _allowed_keys(loc[:-1])
    message = f"unknown key {key!r}"
    suggestion = difflib.get_close_matches(key, allowed, n=1)
    if suggestion:
        return f"{message}; did you mean {suggestion[0]!r}?"
    if allowed:
        return f"{message} (expected one of: {', '.join(allowed)})"
    return message


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    annotation: Any = Config
    for part in parent:
        annotation = _child_annotation(annotation, part)
        if annotation is None:
            return []
    model = model_in(annotation)
    return sorted(model.model_fields) if model else []


def _child_annotation(annotation: Any, part: str | int) -> Any:
    if get_origin(annotation) in (list, dict):
        return get_args(annotation)[-1]
    model = model_in(annotation)
    if model is None or not isinstance(part, str) or part not in model.model_fields:
        return None
    return model.model_fields[part].annotation


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The config model an annotation holds (directly, or in a list, dict or union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = model_in(argument)
        if found is not None:
            return found
    return None


class KeyLines:
    """Maps key paths of a TOML document to the line that sets them.

    tomllib gives no positions, so this reads the table headers and `key =` lines of the
    text itself; a path that is not written out (a missing key) falls back to the line of
    its nearest written parent. The map is built on the first lookup: only a problem
    needs a line, and a config of many thousand sources has as many thousand lines.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _NAME = r"(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)"
    _KEY = re.compile(rf"^\s*({_NAME}(?:\s*\.\s*{_NAME})*)\s*=")

    def __init__(self, text: str) -> None:
        self._text = text

    @functools.cached_property
    def _lines(self) -> dict[tuple[str | int, ...], int]:
        lines: dict[tuple[str | int, ...], int] = {}
        array_counts: dict[tuple[str, ...], int] = {}
        table: tuple[str | int, ...] = ()
        for number, line in enumerate(self._text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                names = tuple(_split_dotted(header.group(2)))
                if header.group(1) == "[[":
                    index = array_counts.get(names, 0)
                    array_counts[names] = index + 1
                    table = (*names, index)
                else:
                    table = names
                lines.setdefault(table, number)
                continue
            key = self._KEY.match(line)
            if key:
                lines.setdefault((*table, *_split_dotted(key.group(1))), number)
        return lines

    def find(self, loc: tuple[str | int, ...]) -> int | None:
        for end in range(len(loc), 0, -1):
            if loc[:end] in self._lines:
                return self._lines[loc[:end]]
        return None


def _split_dotted(text: str) -> Iterator[str]:
    for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", text):
        yield part.strip("\"'")
