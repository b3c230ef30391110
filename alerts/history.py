"""The outbox as people look at it: alert history with attempts, requeuing, a summary.

An alert is one notification (rule, story, channel); it is sent as its own message or
within a digest, and its attempts are those of that message, one row per URL tried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Row, func, select

from alerts.statuses import STATUSES as STATUSES
from alerts.tables import alert_attempts, alert_messages, notifications
from crawler.tables import articles

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from alerts.models import Notification


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


def alert_history(session: Session | Connection, status: str | None = None, limit: int = 20,
                  *, channel: str | None = None, rule: str | None = None) -> list[AlertLine]:
    """The newest alerts (optionally with one status, of one channel or rule), newest
    first, with attempts."""
    message = alert_messages.alias("message")
    query = (
        select(notifications, articles.c.title.label("headline"),
               articles.c.url.label("link"), message.c.id.label("sent_in"),
               message.c.attempts.label("message_attempts"),
               message.c.last_error.label("message_error"),
               message.c.next_attempt_at.label("message_next_attempt_at"))
        .join(articles, articles.c.id == notifications.c.article_id)
        .outerjoin(message, message.c.id == notifications.c.message_id)
        .order_by(notifications.c.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(notifications.c.status == status)
    if channel is not None:
        query = query.where(notifications.c.channel == channel)
    if rule is not None:
        query = query.where(notifications.c.rule == rule)
    rows = session.execute(query).all()
    messages = sorted({row.sent_in for row in rows if row.sent_in is not None})
    attempts: dict[int, list[AttemptLine]] = {}
    sizes: dict[int, int] = {}
    if messages:
        for attempt in session.execute(
                select(alert_attempts).where(alert_attempts.c.message_id.in_(messages))
                .order_by(alert_attempts.c.id)):
            attempts.setdefault(attempt.message_id, []).append(
                AttemptLine(attempt.attempted_at, attempt.url, attempt.ok, attempt.error))
        sizes = {message_id: count for message_id, count in session.execute(
            select(notifications.c.message_id, func.count())
            .where(notifications.c.message_id.in_(messages))
            .group_by(notifications.c.message_id))}
    return [_line(row, attempts, sizes) for row in rows]


def _line(row: Row, attempts: dict[int, list[AttemptLine]], sizes: dict[int, int]) -> AlertLine:
    """An alert; its attempts are its message's, if it has one yet."""
    sent_in = row.sent_in
    return AlertLine(
        id=row.id,
        status=row.status,
        channel=row.channel,
        rule=row.rule,
        headline=row.headline,
        link=row.link,
        created_at=row.created_at,
        sent_at=row.sent_at,
        attempts=row.message_attempts if sent_in is not None else row.attempts,
        last_error=row.message_error if sent_in is not None else row.last_error,
        held=row.held,
        next_attempt_at=(row.message_next_attempt_at if sent_in is not None
                         else row.next_attempt_at),
        message_id=row.message_id,
        digest_size=sizes.get(sent_in, 0) if sent_in is not None else 1,
        url_attempts=tuple(attempts.get(sent_in, ())) if sent_in is not None else (),
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
    from alerts.models import Notification  # the ORM: requeuing writes

    if ids is None:
        candidates = list(session.scalars(
            select(Notification).where(Notification.status == "failed").order_by(Notification.id)
        ))
        wanted = [notification.id for notification in candidates]
    else:
        wanted = list(ids)
        candidates = list(session.scalars(select(Notification)
                                          .where(Notification.id.in_(wanted))))
    by_id = {notification.id: notification for notification in candidates}
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
