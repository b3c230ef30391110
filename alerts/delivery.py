"""Sending the outbox through Apprise, one URL at a time, recording each URL's result.

A notification is committed after each attempt, so a daemon stopped mid-cycle loses
nothing: pending rows are sent on the next run, and URLs that already accepted a message
are never sent it again.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import apprise
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, sessionmaker

import alerts.log_channel  # noqa: F401  (registers the log:// scheme with Apprise)
from alerts.models import Notification, RuleMatch
from alerts.render import Message, render_notification
from crawler.models import Article, utcnow

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
RETRY_PERIOD = timedelta(days=1)


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class UrlResult:
    ok: bool
    error: str | None = None


def url_key(url: str) -> str:
    """A stable fingerprint of an Apprise URL, so its secrets never reach the database."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def redact(url: str) -> str:
    """The URL with passwords and tokens masked, for logs and error messages."""
    instance = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if instance is None:
        scheme = url.split("://", 1)[0]
        return f"{scheme}://..."
    return instance.url(privacy=True)


def send_to_url(url: str, message: Message) -> UrlResult:
    """Send one message to one Apprise URL; the error says why it failed, without secrets."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return UrlResult(False, f"{redact(url)}: not a valid Apprise URL")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = bool(sender.notify(title=message.title, body=message.body))
    if ok:
        return UrlResult(True)
    details = " ".join(line.strip() for line in captured.getvalue().splitlines() if line.strip())
    return UrlResult(False, f"{redact(url)}: {details or 'delivery failed'}")


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 30s, 1m, 2m, ... up to an hour."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return base * random.uniform(0.8, 1.2)


def deliver_pending(
    sessions: sessionmaker,
    channels: Mapping[str, Sequence[str]],
    now: datetime | None = None,
    retry_period: timedelta = RETRY_PERIOD,
) -> DeliveryReport:
    """Send every pending notification that is due; return what happened."""
    now = now or utcnow()
    sent = retrying = failed = 0
    for notification_id in _due_notifications(sessions, now):
        with sessions.begin() as session:
            notification = session.get(
                Notification,
                notification_id,
                options=[
                    joinedload(Notification.article).joinedload(Article.source),
                    joinedload(Notification.match).joinedload(RuleMatch.article),
                ],
            )
            if notification is None or notification.status != "pending":
                continue
            outcome = _attempt(notification, channels.get(notification.channel), now,
                               retry_period)
        if outcome == "sent":
            sent += 1
        elif outcome == "failed":
            failed += 1
        else:
            retrying += 1
    return DeliveryReport(sent, retrying, failed)


def _due_notifications(sessions: sessionmaker, now: datetime) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Notification.id)
                .where(Notification.status == "pending")
                .where(
                    or_(Notification.next_attempt_at.is_(None),
                        Notification.next_attempt_at <= now)
                )
                .order_by(Notification.id)
            )
        )


def _attempt(
    notification: Notification,
    urls: Sequence[str] | None,
    now: datetime,
    retry_period: timedelta,
) -> str:
    if not urls:
        notification.status = "failed"
        notification.last_error = f"channel {notification.channel!r} is not configured"
        logger.error("alert %d not sent: %s", notification.id, notification.last_error)
        return "failed"
    message = render_notification(notification)
    results = dict(notification.url_results or {})
    errors = []
    for url in urls:
        key = url_key(url)
        if results.get(key) == "sent":
            continue
        result = send_to_url(url, message)
        if result.ok:
            results[key] = "sent"
        else:
            errors.append(result.error or "delivery failed")
    notification.url_results = results
    notification.attempts += 1
    if not errors:
        notification.status = "sent"
        notification.sent_at = now
        notification.last_error = None
        logger.info("alert sent: rule %r, %s, channel %r", notification.rule,
                    notification.article.url, notification.channel)
        return "sent"
    notification.last_error = "; ".join(errors)
    if now - notification.created_at >= retry_period:
        notification.status = "failed"
        logger.error("alert %d failed for good: %s", notification.id, notification.last_error)
        return "failed"
    notification.next_attempt_at = now + retry_delay(notification.attempts)
    logger.warning("alert %d will be retried: %s", notification.id, notification.last_error)
    return "retrying"
