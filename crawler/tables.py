"""The crawler's tables as SQLAlchemy Core `Table`s: sources and the articles found behind
them, in newswatch's one `MetaData`.

The ORM classes (crawler/models.py) are mapped onto these same tables. Read-only commands
query them in Core and never import the ORM (a quarter of a second at start). Migrations
remain the source of the schema: tests/test_migrations.py holds these to them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from sqlalchemy.engine.default import DefaultExecutionContext

# Every newswatch table, crawler, alerts and daemon alike (the ORM's Base shares it).
metadata = MetaData()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
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


sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("url", Text, nullable=False),
    # What the source is: "feed", "sitemap" or "page"; configured or detected.
    Column("kind", String(20), default="feed", nullable=False),
    # The URL actually polled (a feed autodiscovered from a homepage), when not `url`.
    Column("resolved_url", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_polled_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_status", String(40)),
    Column("last_error", Text),
    Column("error_count", Integer, default=0, nullable=False),
    Column("next_poll_at", UTCDateTime),
    # Adaptive polling: the interval in force, and when the source last had something new.
    Column("poll_interval_seconds", Integer),
    Column("last_new_article_at", UTCDateTime),
    Column("unhealthy_since", UTCDateTime),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("url_hash", String(64), default=_digest_of_url, nullable=False),
    Column("title", Text, default="", nullable=False),
    Column("body", Text, default="", nullable=False),
    Column("authors", JSON, default=list, nullable=False),
    Column("published_at", UTCDateTime),
    Column("language", String(8)),
    Column("content_hash", String(64), index=True, nullable=False),
    Column("story_id",
           ForeignKey("stories.id", ondelete="SET NULL", name="fk_articles_story_id"),
           index=True),
    # MinHash signature of the body, for near-duplicate (syndicated copy) detection.
    Column("signature", LargeBinary),
    # The feed entry's `updated` or the sitemap's `lastmod` when the page was last fetched.
    Column("entry_updated_at", UTCDateTime),
    Column("version", Integer, default=1, nullable=False),
    # True when the page could not be fetched and the feed's title and summary stand in.
    Column("from_feed", Boolean, default=False, nullable=False),
    # Indexed: `status`, `crawl`'s progress, backtests and housekeeping read by time range.
    Column("first_seen_at", UTCDateTime, default=utcnow, index=True, nullable=False),
    # NULL until the matcher has looked at the article: matching reads only new rows.
    Column("matched_at", UTCDateTime, index=True),
    # A matcher working on the article until then (alerts.claims): others leave it alone.
    Column("match_claimed_until", UTCDateTime),
    UniqueConstraint("url_hash", name="uq_articles_url_hash"),
    # Lookups by URL: a hash index on PostgreSQL (see HASH_INDEXES).
    Index("ix_articles_url", "url"),
    # A source's newest publish dates (why it polls at its interval: status, sources).
    Index("ix_articles_source_published", "source_id", "published_at"),
    # The languages of a window of articles (rules test, search), from the index alone.
    Index("ix_articles_seen_language", "first_seen_at", "language"),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("headline", Text, default="", nullable=False),
    Column("first_seen_at", UTCDateTime, default=utcnow, index=True, nullable=False),
    Column("last_seen_at", UTCDateTime, default=utcnow, nullable=False),
)

story_bands = Table(
    "story_bands",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("band", BigInteger, index=True, nullable=False),
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, index=True, nullable=False),
)

article_versions = Table(
    "article_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", Text, default="", nullable=False),
    Column("body", Text, default="", nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("fetched_at", UTCDateTime, default=utcnow, nullable=False),
    UniqueConstraint("article_id", "version", name="uq_article_versions"),
)

article_aliases = Table(
    "article_aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False),
    Column("url_hash", String(64), default=_digest_of_url, nullable=False),
    Column("article_id",
           ForeignKey("articles.id", ondelete="CASCADE", name="fk_article_aliases_article_id"),
           index=True, nullable=False),
    UniqueConstraint("url_hash", name="uq_article_aliases_url_hash"),
    Index("ix_article_aliases_url", "url"),  # a hash index on PostgreSQL
)

crawl_entries = Table(
    "crawl_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    # SHA-256 of the canonical URL: unique whatever the URL's length.
    Column("url_key", String(64), unique=True, nullable=False),
    Column("url", Text, nullable=False),
    Column("source_id",
           ForeignKey("sources.id", ondelete="CASCADE", name="fk_crawl_entries_source_id"),
           index=True, nullable=False),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    Column("next_try_at", UTCDateTime, index=True),
    Column("last_error", Text),
    # What the listing said of the entry (title, summary, dates...): enough to fetch it
    # again when the listing no longer shows it, and to stand in for its page.
    Column("entry", JSON, default=dict, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("updated_at", UTCDateTime, default=utcnow, nullable=False),
    Column("expires_at", UTCDateTime, index=True, nullable=False),
)


# Indexes PostgreSQL builds as hash indexes, which take a URL of any length (migration
# 0010 makes them). Declared with postgresql_using="hash", they would load SQLAlchemy's
# PostgreSQL dialect in every process, SQLite ones too, for Alembic alone: its
# environment calls declare_hash_indexes() instead.
HASH_INDEXES = frozenset({"ix_articles_url", "ix_article_aliases_url"})


def declare_hash_indexes() -> None:
    """Mark HASH_INDEXES as hash indexes on PostgreSQL in the tables' metadata."""
    for table in metadata.tables.values():
        for index in table.indexes:
            if index.name in HASH_INDEXES:
                index.dialect_kwargs["postgresql_using"] = "hash"
