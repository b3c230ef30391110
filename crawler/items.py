"""Items the spider yields and the storage pipeline writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ArticleItem:
    source_id: int
    url: str  # canonical
    title: str
    body: str
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    from_feed: bool = False


@dataclass
class SourceStatusItem:
    """The outcome of fetching a source itself (the feed), recorded on the source."""

    source_id: int
    ok: bool
    status: str  # "ok", "not modified", or a short error class
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    entries: int = 0
