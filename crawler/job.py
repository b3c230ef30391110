"""What one crawl run is asked to do, passed from the daemon to the crawl process as JSON.

The job carries everything the child needs (sources with their network settings, crawl
limits, polling bounds) so that the child never reads the config file itself. It is
written to the child's stdin, never to its command line, because it may hold secrets.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from typing import Any, TypeVar

from crawler.polling import PollBounds

T = TypeVar("T")


@dataclass(frozen=True)
class SourceSpec:
    id: int
    name: str
    url: str
    # As configured: "auto" (detected from the response), "feed", "sitemap" or "page".
    kind: str = "auto"
    # The URL actually polled when it is not `url` (a feed autodiscovered from a homepage).
    resolved_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # Network settings, applied only to requests on the source's own site.
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    proxy: str | None = None
    ca_bundle: str | None = None
    # Hosts besides the source's own site whose links its pages and sitemaps may follow.
    allowed_hosts: list[str] = field(default_factory=list)
    # Adaptive polling bounds (see crawler/polling.py).
    min_interval_seconds: float = 600
    max_interval_seconds: float = 7200
    max_backoff_seconds: float = 6 * 3600
    unhealthy_after: int = 5

    @property
    def poll_url(self) -> str:
        return self.resolved_url or self.url

    def poll_bounds(self) -> PollBounds:
        return PollBounds(
            min_interval=timedelta(seconds=self.min_interval_seconds),
            max_interval=timedelta(seconds=max(self.min_interval_seconds,
                                               self.max_interval_seconds)),
            max_backoff=timedelta(seconds=self.max_backoff_seconds),
            unhealthy_after=self.unhealthy_after,
        )


@dataclass(frozen=True)
class CrawlSettings:
    user_agent: str
    obey_robots_txt: bool = True
    max_article_age_seconds: float = 3 * 86400
    download_timeout_seconds: float = 30
    download_delay_seconds: float = 1
    concurrent_requests: int = 16
    concurrent_requests_per_domain: int = 2
    max_page_size: int = 5 * 1024 * 1024
    max_sitemap_size: int = 50 * 1024 * 1024
    max_redirects: int = 5
    retry_after_limit_seconds: float = 120
    verify_tls: bool = True
    # An article page failing in a way that may pass is tried this many times, at later
    # crawls, waiting page_retry_delay, then twice that, and so on (crawler/ledger.py).
    page_retries: int = 5
    page_retry_delay_seconds: float = 120
    # Processes extracting articles beside the crawl's own; None: one per core, 0: none
    # (extraction runs in the crawl process).
    extraction_workers: int | None = None


@dataclass(frozen=True)
class CrawlJob:
    database_url: str
    settings: CrawlSettings
    sources: list[SourceSpec] = field(default_factory=list)
    # A preview (`newswatch sources add`) detects and lists, but fetches no article and
    # writes nothing to the database.
    preview: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CrawlJob:
        data = json.loads(text)
        return cls(
            database_url=data["database_url"],
            settings=_build(CrawlSettings, data["settings"]),
            sources=[_build(SourceSpec, source) for source in data["sources"]],
            preview=bool(data.get("preview", False)),
        )


def _build(cls: type[T], data: dict[str, Any]) -> T:
    """`cls(**data)` ignoring unknown keys, so parent and child may differ by a version."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{key: value for key, value in data.items() if key in known})
