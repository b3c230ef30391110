"""The alert side's ORM classes, mapped onto its Core tables (alerts/tables.py): which rule
matched which article, and the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, relationship

from alerts.tables import alert_attempts, alert_messages, matches, notifications
from crawler.models import Article, Base, Story


class RuleMatch(Base):
    """A rule matched an article; `hits` records which terms matched where."""

    __table__ = matches

    id: Mapped[int]
    rule: Mapped[str]
    article_id: Mapped[int]
    hits: Mapped[list[dict]]
    created_at: Mapped[datetime]

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

    __table__ = notifications

    id: Mapped[int]
    match_id: Mapped[int]
    rule: Mapped[str]
    article_id: Mapped[int]
    story_id: Mapped[int]
    channel: Mapped[str]
    status: Mapped[str]
    attempts: Mapped[int]
    last_error: Mapped[str | None]
    url_results: Mapped[dict[str, str]]
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None]
    held: Mapped[str | None]
    routed_at: Mapped[datetime | None]

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

    __table__ = alert_messages

    id: Mapped[int]
    channel: Mapped[str]
    kind: Mapped[str]
    title: Mapped[str]
    body: Mapped[str]
    body_format: Mapped[str]
    status: Mapped[str]
    attempts: Mapped[int]
    last_error: Mapped[str | None]
    url_results: Mapped[dict[str, str]]
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    give_up_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None]
    claimed_until: Mapped[datetime | None]

    notifications: Mapped[list[Notification]] = relationship(back_populates="message")
    url_attempts: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="message", order_by="DeliveryAttempt.id"
    )


class DeliveryAttempt(Base):
    """One try of one message at one Apprise URL (stored masked): the retry history."""

    __table__ = alert_attempts

    id: Mapped[int]
    message_id: Mapped[int]
    url_key: Mapped[str]
    url: Mapped[str]
    ok: Mapped[bool]
    error: Mapped[str | None]
    attempted_at: Mapped[datetime]

    message: Mapped[AlertMessage] = relationship(back_populates="url_attempts")
