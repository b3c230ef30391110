"""The outbox as people look at it: alert history with attempts, requeuing, a summary.

An alert is one notification (rule, story, channel); it is sent as its own message or
within a digest, and its attempts are those of that message, one row per URL tried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from alerts.models import AlertMessage, Notification
from alerts.statuses import STATUSES as STATUSES
from crawler.models import Article


@dataclass(frozen=True)
class AttemptLine:
    attempted_at: datetime
    url: str  # masked
    ok: bool
    error: str | None


@dataclass(frozen=True)
class AlertLine:
    id: int
    status: str
    channel: str
    rule: str
    headline: str
    link: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    held: str | None  # why a pending alert waits: digest, quiet_hours, rate_limit
    next_attempt_at: datetime | None
    message_id: int | None
    digest_size: int  # alerts in its message (1 for a single alert)
    url_attempts: tuple[AttemptLine, ...]


def alert_history(session: Session, status: str | None = None, limit: int = 20, *,
                  channel: str | None = None, rule: str | None = None) -> list[AlertLine]:
    """The newest alerts (optionally with one status, of one channel or rule), newest
    first, with attempts."""
    query = (
        select(Notification)
        .options(
            joinedload(Notification.article),
            joinedload(Notification.message).selectinload(AlertMessage.url_attempts),
            joinedload(Notification.message).selectinload(AlertMessage.notifications),
        )
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Notification.status == status)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    if rule is not None:
        query = query.where(Notification.rule == rule)
    return [_line(notification) for notification in session.scalars(query).unique()]


def _line(notification: Notification) -> AlertLine:
    message = notification.message
    article: Article = notification.article
    return AlertLine(
        id=notification.id,
        status=notification.status,
        channel=notification.channel,
        rule=notification.rule,
        headline=article.title,
        link=article.url,
        created_at=notification.created_at,
        sent_at=notification.sent_at,
        attempts=message.attempts if message else notification.attempts,
        last_error=message.last_error if message else notification.last_error,
        held=notification.held,
        next_attempt_at=message.next_attempt_at if message else notification.next_attempt_at,
        message_id=notification.message_id,
        digest_size=len(message.notifications) if message else 1,
        url_attempts=tuple(
            AttemptLine(attempt.attempted_at, attempt.url, attempt.ok, attempt.error)
            for attempt in (message.url_attempts if message else [])
        ),
    )


@dataclass(frozen=True)
class Requeued:
    id: int
    outcome: str  # "requeued", "pending", "sent", "missing"


def requeue(
    session: Session, ids: Sequence[int] | None, now: datetime,
    retry_period: Callable[[str], timedelta],
) -> list[Requeued]:
    """Put failed alerts back in the outbox (all failed ones when `ids` is None), each
    with a fresh retry period (`retry_period(channel)`). An alert sent in a digest is
    requeued with its digest; URLs that accepted a message are not sent it again."""
    if ids is None:
        notifications = list(session.scalars(
            select(Notification).where(Notification.status == "failed").order_by(Notification.id)
        ))
        wanted = [notification.id for notification in notifications]
    else:
        wanted = list(ids)
        found = session.scalars(select(Notification).where(Notification.id.in_(wanted)))
        notifications = list(found)
    by_id = {notification.id: notification for notification in notifications}
    results = []
    for notification_id in wanted:
        notification = by_id.get(notification_id)
        if notification is None:
            results.append(Requeued(notification_id, "missing"))
        elif notification.status != "failed":
            results.append(Requeued(notification_id, notification.status))
        else:
            _requeue_one(notification, now, retry_period(notification.channel))
            results.append(Requeued(notification_id, "requeued"))
    return results


def _requeue_one(notification: Notification, now: datetime, period: timedelta) -> None:
    message = notification.message
    if message is None:
        notification.status = "pending"
        notification.held = None
        notification.next_attempt_at = None
        return
    message.status = "pending"
    message.next_attempt_at = None
    message.give_up_at = now + period
    for sibling in message.notifications:
        sibling.status = "pending"
