"""Tables the alert side writes: which rule matched which article, and the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crawler.database import Base
from crawler.models import Article, Story, UTCDateTime, utcnow


class RuleMatch(Base):
    """A rule matched an article; `hits` records which terms matched where."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("rule", "article_id", name="uq_matches_rule_article"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    # Indexed on its own: matching reads an article's and a story's matches by article, and
    # the unique (rule, article_id) index cannot serve a lookup without the rule.
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    hits: Mapped[list[dict]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    article: Mapped[Article] = relationship()


class Notification(Base):
    """One alert to send to one channel: the outbox row, unique per (rule, story, channel),
    so a syndicated copy of a story already alerted on is not alerted again.

    A pending notification is sent as part of a message (`message_id`): its own, or a
    digest shared with other notifications. Until then `held` says why it waits
    ("digest", "quiet_hours", "rate_limit") and `next_attempt_at` until when. `status`,
    `attempts`, `last_error`, `url_results` and `sent_at` follow its message's.
    `routed_at` is set once the channels that route by tag or source have had their
    copies of the alert queued.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("rule", "story_id", "channel", name="uq_notifications_once"),
        # Alerts by status (the outbox, `status`), and sent ones by time (`status`'s 24 h).
        Index("ix_notifications_status_sent_at", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed for retention, which deletes old matches and articles with their alerts.
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"),
                                          index=True)
    rule: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"),
                                            index=True)
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE", name="fk_notifications_story_id")
    )
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    url_results: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_messages.id", ondelete="SET NULL", name="fk_notifications_message_id"),
        index=True,
    )
    held: Mapped[str | None] = mapped_column(String(20))
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    match: Mapped[RuleMatch] = relationship()
    article: Mapped[Article] = relationship()
    story: Mapped[Story] = relationship()
    message: Mapped[AlertMessage | None] = relationship(back_populates="notifications")


class AlertMessage(Base):
    """One message to one channel: a single alert or a digest of several.

    Title and body are rendered once, when the message is queued, so every URL and
    every retry gets the same text. `url_results` maps the fingerprint of each of the
    channel's Apprise URLs to "sent" once that URL accepted the message: a retry goes
    only to the URLs that failed. Retries stop at `give_up_at`.

    A sender claims a message before sending it (`claimed_by`, until `claimed_until`):
    no other sender takes it while the claim holds, and a crashed sender's claim
    expires, so the message is sent later, never lost. `kind` "admin" is an operator
    alert (`scheduler.admin`), which carries no rule notifications.
    """

    __tablename__ = "alert_messages"
    __table_args__ = (
        Index("ix_alert_messages_channel_created_at", "channel", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="alert")  # alert, digest, admin
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_format: Mapped[str] = mapped_column(String(10), default="text")
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    url_results: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    notifications: Mapped[list[Notification]] = relationship(back_populates="message")
    url_attempts: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="message", order_by="DeliveryAttempt.id"
    )


class DeliveryAttempt(Base):
    """One try of one message at one Apprise URL (stored masked): the retry history."""

    __tablename__ = "alert_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("alert_messages.id", ondelete="CASCADE", name="fk_alert_attempts_message_id"),
        index=True,
    )
    url_key: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)  # redacted: secrets masked
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[AlertMessage] = relationship(back_populates="url_attempts")
