"""What one crawl run is asked to do, passed from the daemon to the crawl process as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SourceSpec:
    id: int
    name: str
    url: str
    kind: str = "feed"
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class CrawlSettings:
    user_agent: str
    obey_robots_txt: bool = True
    max_article_age_seconds: float = 3 * 86400
    download_timeout_seconds: float = 30
    download_delay_seconds: float = 1
    concurrent_requests_per_domain: int = 2
    max_page_size: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class CrawlJob:
    database_url: str
    settings: CrawlSettings
    sources: list[SourceSpec] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CrawlJob:
        data = json.loads(text)
        return cls(
            database_url=data["database_url"],
            settings=CrawlSettings(**data["settings"]),
            sources=[SourceSpec(**source) for source in data["sources"]],
        )
