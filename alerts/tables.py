"""The alert side's tables as SQLAlchemy Core `Table`s: which rule matched which article,
and the outbox (see crawler/tables.py for why Core; alerts/models.py maps the ORM classes
onto these)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from crawler.tables import UTCDateTime, metadata, utcnow

# A rule matched an article; `hits` records which terms matched where.
matches = Table(
    "matches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rule", String(200), nullable=False),
    # Indexed on its own: matching reads an article's and a story's matches by article, and
    # the unique (rule, article_id) index cannot serve a lookup without the rule.
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("hits", JSON, default=list, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    UniqueConstraint("rule", "article_id", name="uq_matches_rule_article"),
)

# The outbox: one alert to one channel (see alerts.models.Notification).
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    # Indexed for retention, which deletes old matches and articles with their alerts.
    Column("match_id", ForeignKey("matches.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("rule", String(200), nullable=False),
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("story_id",
           ForeignKey("stories.id", ondelete="CASCADE", name="fk_notifications_story_id"),
           nullable=False),
    Column("channel", String(200), nullable=False),
    Column("status", String(20), default="pending", nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    Column("last_error", Text),
    Column("url_results", JSON, default=dict, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("message_id",
           ForeignKey("alert_messages.id", ondelete="SET NULL", name="fk_notifications_message_id"),
           index=True),
    Column("held", String(20)),
    Column("routed_at", UTCDateTime, index=True),
    UniqueConstraint("rule", "story_id", "channel", name="uq_notifications_once"),
    # Alerts by status (the outbox, `status`), and sent ones by time (`status`'s 24 h).
    Index("ix_notifications_status_sent_at", "status", "sent_at"),
)

# One message to one channel: a single alert or a digest (alerts.models.AlertMessage).
alert_messages = Table(
    "alert_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(200), nullable=False),
    Column("kind", String(10), default="alert", nullable=False),  # alert, digest, admin
    Column("title", Text, default="", nullable=False),
    Column("body", Text, default="", nullable=False),
    Column("body_format", String(10), default="text", nullable=False),
    Column("status", String(20), default="pending", index=True, nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    Column("last_error", Text),
    Column("url_results", JSON, default=dict, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("give_up_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("claimed_by", String(200)),
    Column("claimed_until", UTCDateTime),
    Index("ix_alert_messages_channel_created_at", "channel", "created_at"),
)

# One try of one message at one Apprise URL (stored masked): the retry history.
alert_attempts = Table(
    "alert_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id",
           ForeignKey("alert_messages.id", ondelete="CASCADE", name="fk_alert_attempts_message_id"),
           index=True, nullable=False),
    Column("url_key", String(16), nullable=False),
    Column("url", Text, nullable=False),  # redacted: secrets masked
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("attempted_at", UTCDateTime, default=utcnow, nullable=False),
)
