"""The crawler's ORM classes, mapped onto its Core tables (crawler/tables.py): sources and
the articles found behind them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped, relationship, validates

from crawler.tables import UTCDateTime as UTCDateTime  # the migrations name it here
from crawler.tables import (
    article_aliases,
    article_versions,
    articles,
    crawl_entries,
    metadata,
    sources,
    stories,
    story_bands,
)
from crawler.tables import url_digest as url_digest
from crawler.tables import utcnow as utcnow


class Base(DeclarativeBase):
    """Declarative base of every newswatch ORM class, on the Core tables' metadata."""

    metadata = metadata


class Source(Base):
    """A configured news source and its crawl state (validators, errors, schedule)."""

    __table__ = sources

    id: Mapped[int]
    name: Mapped[str]
    url: Mapped[str]
    kind: Mapped[str]
    resolved_url: Mapped[str | None]
    etag: Mapped[str | None]
    last_modified: Mapped[str | None]
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status: Mapped[str | None]
    last_error: Mapped[str | None]
    error_count: Mapped[int]
    next_poll_at: Mapped[datetime | None]
    poll_interval_seconds: Mapped[int | None]
    last_new_article_at: Mapped[datetime | None]
    unhealthy_since: Mapped[datetime | None]
    created_at: Mapped[datetime]

    articles: Mapped[list[Article]] = relationship(back_populates="source")


class Article(Base):
    """One article, stored once under its canonical URL."""

    __table__ = articles

    id: Mapped[int]
    source_id: Mapped[int]
    url: Mapped[str]
    url_hash: Mapped[str]
    title: Mapped[str]
    body: Mapped[str]
    authors: Mapped[list[str]]
    published_at: Mapped[datetime | None]
    language: Mapped[str | None]
    content_hash: Mapped[str]
    story_id: Mapped[int | None]
    signature: Mapped[bytes | None]
    entry_updated_at: Mapped[datetime | None]
    version: Mapped[int]
    from_feed: Mapped[bool]
    first_seen_at: Mapped[datetime]
    matched_at: Mapped[datetime | None]
    match_claimed_until: Mapped[datetime | None]

    source: Mapped[Source] = relationship(back_populates="articles")
    story: Mapped[Story | None] = relationship(back_populates="articles")

    @property
    def source_name(self) -> str | None:
        """As the read-only queries label it on an `articles` row (alerts.documents)."""
        return self.source.name if self.source else None

    @validates("url")
    def _keep_url_hash(self, _key: str, url: str) -> str:
        self.url_hash = url_digest(url)
        return url


class Story(Base):
    """One news story: an article and its syndicated or lightly edited copies elsewhere."""

    __table__ = stories

    id: Mapped[int]
    headline: Mapped[str]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    articles: Mapped[list[Article]] = relationship(back_populates="story")


class StoryBand(Base):
    """One locality-sensitive-hashing band of an article's signature: articles sharing a
    band are candidates for the same story. Indexed by `band`, so finding candidates is a
    lookup, not a scan, however many articles are stored."""

    __table__ = story_bands

    id: Mapped[int]
    band: Mapped[int]
    article_id: Mapped[int]
    created_at: Mapped[datetime]


class ArticleVersion(Base):
    """An earlier text of an article whose page changed after it was first stored."""

    __table__ = article_versions

    id: Mapped[int]
    article_id: Mapped[int]
    version: Mapped[int]
    title: Mapped[str]
    body: Mapped[str]
    content_hash: Mapped[str]
    fetched_at: Mapped[datetime]


class ArticleAlias(Base):
    """Another URL that led to a stored article (a redirecting feed link, a link with
    query parameters the page's canonical URL drops): known, so never fetched again."""

    __table__ = article_aliases

    id: Mapped[int]
    url: Mapped[str]
    url_hash: Mapped[str]
    article_id: Mapped[int]

    @validates("url")
    def _keep_url_hash(self, _key: str, url: str) -> str:
        self.url_hash = url_digest(url)
        return url


class CrawlEntry(Base):
    """What became of one listing entry the crawler set out to fetch, until its article is
    stored (then the row goes) or the row expires: see crawler/ledger.py for the states."""

    __table__ = crawl_entries

    id: Mapped[int]
    url_key: Mapped[str]
    url: Mapped[str]
    source_id: Mapped[int]
    state: Mapped[str]
    attempts: Mapped[int]
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None]
    entry: Mapped[dict]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]
