"""Tables the crawler writes: sources and the articles found behind them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from crawler.database import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def url_digest(url: str) -> str:
    """SHA-256 (hex) of a URL. URLs are unique by their digest: a URL can be of any length,
    and a PostgreSQL btree index (hence a unique constraint) can't hold a value past
    about 2,700 bytes."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _digest_of_url(context: DefaultExecutionContext) -> str:
    """Column default for a Core insert that gives `url` only."""
    return url_digest(context.get_current_parameters()["url"])


class Source(Base):
    """A configured news source and its crawl state (validators, errors, schedule)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    # What the source is: "feed", "sitemap" or "page"; configured or detected.
    kind: Mapped[str] = mapped_column(String(20), default="feed")
    # The URL actually polled (a feed autodiscovered from a homepage), when not `url`.
    resolved_url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Adaptive polling: the interval in force, and when the source last had something new.
    poll_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    last_new_article_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unhealthy_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="source")


class Article(Base):
    """One article, stored once under its canonical URL."""

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("url_hash", name="uq_articles_url_hash"),
        # Lookups by URL: a hash index on PostgreSQL (see HASH_INDEXES).
        Index("ix_articles_url", "url"),
        # A source's newest publish dates (why it polls at its interval: status, sources).
        Index("ix_articles_source_published", "source_id", "published_at"),
        # The languages of a window of articles (rules test, search), from the index alone.
        Index("ix_articles_seen_language", "first_seen_at", "language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64), default=_digest_of_url)
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(8))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL", name="fk_articles_story_id"), index=True
    )
    # MinHash signature of the body, for near-duplicate (syndicated copy) detection.
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The feed entry's `updated` or the sitemap's `lastmod` when the page was last fetched.
    entry_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # True when the page could not be fetched and the feed's title and summary stand in.
    from_feed: Mapped[bool] = mapped_column(default=False)
    # Indexed: `status`, `crawl`'s progress, backtests and housekeeping read by time range.
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # NULL until the matcher has looked at the article: matching reads only new rows.
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # A matcher working on the article until then (alerts.claims): others leave it alone.
    match_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    source: Mapped[Source] = relationship(back_populates="articles")
    story: Mapped[Story | None] = relationship(back_populates="articles")

    @validates("url")
    def _keep_url_hash(self, _key: str, url: str) -> str:
        self.url_hash = url_digest(url)
        return url


class Story(Base):
    """One news story: an article and its syndicated or lightly edited copies elsewhere."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    headline: Mapped[str] = mapped_column(Text, default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="story")


class StoryBand(Base):
    """One locality-sensitive-hashing band of an article's signature: articles sharing a
    band are candidates for the same story. Indexed by `band`, so finding candidates is a
    lookup, not a scan, however many articles are stored."""

    __tablename__ = "story_bands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    band: Mapped[int] = mapped_column(BigInteger, index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"),
                                            index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ArticleVersion(Base):
    """An earlier text of an article whose page changed after it was first stored."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version", name="uq_article_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleAlias(Base):
    """Another URL that led to a stored article (a redirecting feed link, a link with
    query parameters the page's canonical URL drops): known, so never fetched again."""

    __tablename__ = "article_aliases"
    __table_args__ = (
        UniqueConstraint("url_hash", name="uq_article_aliases_url_hash"),
        Index("ix_article_aliases_url", "url"),  # a hash index on PostgreSQL
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(64), default=_digest_of_url)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE", name="fk_article_aliases_article_id"),
        index=True,
    )

    @validates("url")
    def _keep_url_hash(self, _key: str, url: str) -> str:
        self.url_hash = url_digest(url)
        return url


class CrawlEntry(Base):
    """What became of one listing entry the crawler set out to fetch, until its article is
    stored (then the row goes) or the row expires: see crawler/ledger.py for the states."""

    __tablename__ = "crawl_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the canonical URL: unique whatever the URL's length.
    url_key: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE", name="fk_crawl_entries_source_id"),
        index=True,
    )
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the listing said of the entry (title, summary, dates...): enough to fetch it
    # again when the listing no longer shows it, and to stand in for its page.
    entry: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# Indexes PostgreSQL builds as hash indexes, which take a URL of any length (migration
# 0010 makes them). Said in __table_args__ (postgresql_using="hash"), it would load
# SQLAlchemy's PostgreSQL dialect in every process, SQLite ones too, for Alembic alone:
# its environment calls declare_hash_indexes() instead.
HASH_INDEXES = frozenset({"ix_articles_url", "ix_article_aliases_url"})


def declare_hash_indexes() -> None:
    """Mark HASH_INDEXES as hash indexes on PostgreSQL in the models' metadata."""
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            if index.name in HASH_INDEXES:
                index.dialect_kwargs["postgresql_using"] = "hash"
