"""Tables the alert side writes: which rule matched which article, and the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crawler.database import Base
from crawler.models import Article, UTCDateTime, utcnow


class RuleMatch(Base):
    """A rule matched an article; `hits` records which terms matched where."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("rule", "article_id", name="uq_matches_rule_article"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    hits: Mapped[list[dict]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    article: Mapped[Article] = relationship()


class Notification(Base):
    """One alert to send to one channel: the outbox row, unique per (rule, story, channel),
    so a syndicated copy of a story already alerted on is not alerted again.

    `url_results` maps a fingerprint of each of the channel's Apprise URLs to "sent" once
    that URL accepted the message, so a retry only goes to the URLs that failed.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("rule", "story_id", "channel", name="uq_notifications_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(200))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE", name="fk_notifications_story_id")
    )
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    url_results: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    match: Mapped[RuleMatch] = relationship()
    article: Mapped[Article] = relationship()
