"""Planning the outbox: which pending notifications go out now, alone or as a digest.

Each delivery round starts here, in one transaction and without any network: every
notification that is due and not yet in a message is either put into a message (its
own, or a digest shared with others) or held with the time it may go:

* a rule's or channel's `digest` holds it until the next digest time, when everything
  waiting for that digest becomes one message;
* quiet hours hold it until they end, when everything held becomes one message;
* a rate limit holds what does not fit until the window has room, when everything
  held becomes one message (a digest is one message too): alerts fold, never drop.

The message's title and body are rendered here, so retries resend the same text.

Planning is serialised per channel (`_lock_channel`: a PostgreSQL advisory lock per
channel, SQLite's write lock): two rounds planning one channel at once (two threads, or
two workers of a cluster) would both see the same notifications waiting and put each
into two messages, which claiming the messages could not stop, and would each count the
rate limit's window without the other's messages. Each channel is planned in a
transaction of its own, so workers plan different channels side by side.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from alerts.channels import Channel, RuleOptions
from alerts.digests import DigestSchedule
from alerts.models import AlertMessage, Notification, RuleMatch
from alerts.render import render_notifications
from crawler.database import serialize_transaction
from crawler.models import Article, Story

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanReport:
    messages: int = 0
    held: int = 0
    failed: int = 0

    def __add__(self, other: PlanReport) -> PlanReport:
        return PlanReport(self.messages + other.messages, self.held + other.held,
                          self.failed + other.failed)


def plan_messages(
    sessions: sessionmaker, channels: Mapping[str, Channel],
    rules: Mapping[str, RuleOptions], now: datetime,
) -> PlanReport:
    """Queue messages for the notifications due at `now`; hold the others."""
    report = PlanReport()
    with sessions() as session:
        names = sorted(set(session.scalars(
            select(Notification.channel).distinct().where(*_due(now))
        )))
    for name in names:
        with sessions.begin() as session:
            _lock_channel(session, name)
            notifications = _due_notifications(session, now, name)
            if not notifications:
                continue  # another round planned them meanwhile
            channel = channels.get(name)
            if channel is None:
                report += _fail_unconfigured(notifications, name)
            else:
                report += _plan_channel(session, channel, notifications, rules, now)
    return report


def _lock_channel(session: Session, name: str) -> None:
    """Serialise the planning of one channel before reading what is due, so a concurrent
    round plans it after this one commits and sees what it queued."""
    serialize_transaction(session, channel_lock_key(name))


def channel_lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of a channel's planning (64 bits from its name)."""
    digest = hashlib.sha256(f"newswatch planning {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Notification.status == "pending",
        Notification.message_id.is_(None),
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )


def _due_notifications(session: Session, now: datetime, channel: str
                       ) -> Sequence[Notification]:
    return session.scalars(
        select(Notification)
        .options(
            selectinload(Notification.match)
            .joinedload(RuleMatch.article)
            .joinedload(Article.source),
            selectinload(Notification.story).selectinload(Story.articles),
        )
        .where(Notification.channel == channel, *_due(now))
        .order_by(Notification.id)
    ).all()


def _fail_unconfigured(notifications: Sequence[Notification], name: str) -> PlanReport:
    for notification in notifications:
        notification.status = "failed"
        notification.last_error = f"channel {name!r} is not configured"
        logger.error("alert %d not sent: %s", notification.id, notification.last_error)
    return PlanReport(failed=len(notifications))


def _plan_channel(
    session: Session, channel: Channel, notifications: Sequence[Notification],
    rules: Mapping[str, RuleOptions], now: datetime,
) -> PlanReport:
    zone = channel.zone
    digests: dict[DigestSchedule, list[Notification]] = defaultdict(list)
    immediate: list[Notification] = []
    newly_held = 0
    for notification in notifications:
        options = rules.get(notification.rule)
        schedule = (options.digest if options else None) or channel.digest
        if schedule is None:
            immediate.append(notification)
        elif notification.held is None:
            notification.held = "digest"
            notification.next_attempt_at = schedule.next_time(now, zone)
            newly_held += 1
        else:
            digests[schedule].append(notification)

    if channel.quiet_hours is not None and channel.quiet_hours.contains(now, zone):
        until = channel.quiet_hours.end_after(now, zone)
        for notification in immediate:
            notification.held = "quiet_hours"
            notification.next_attempt_at = until
        for group in digests.values():
            for notification in group:
                notification.next_attempt_at = until
        return PlanReport(held=newly_held + len(immediate) + sum(map(len, digests.values())))

    slots = _Slots(session, channel, now)
    messages = held = 0
    for group in digests.values():
        wait = slots.take()
        if wait is None:
            _queue(session, channel, group, rules, now, "digest")
            messages += 1
        else:
            _hold(group, wait)
            held += len(group)

    folded = [notification for notification in immediate if notification.held is not None]
    if folded:
        # Alerts held back by quiet hours or the rate limit go out together, with any
        # that are due alongside them.
        wait = slots.take()
        if wait is None:
            _queue(session, channel, immediate, rules, now, folded[0].held or "rate_limit")
            messages += 1
        else:
            _hold(immediate, wait, "rate_limit")
            held += len(immediate)
    else:
        for index, notification in enumerate(immediate):
            wait = slots.take()
            if wait is not None:
                _hold(immediate[index:], wait, "rate_limit")
                held += len(immediate) - index
                break
            _queue(session, channel, [notification], rules, now, "alert")
            messages += 1
    return PlanReport(messages=messages, held=newly_held + held)


class _Slots:
    """The channel's rate limit as it stands during this round."""

    def __init__(self, session: Session, channel: Channel, now: datetime) -> None:
        self.limit = channel.rate_limit
        self.now = now
        self.sent: list[datetime] = []
        if self.limit is not None:
            self.sent = list(session.scalars(
                select(AlertMessage.created_at).where(
                    AlertMessage.channel == channel.name,
                    AlertMessage.created_at > now - self.limit.window,
                )
            ))

    def take(self) -> datetime | None:
        """Take a slot for a message now and return None, or return when one frees up."""
        if self.limit is None:
            return None
        free_at = self.limit.free_at(self.sent, self.now)
        if free_at is None:
            self.sent.append(self.now)
        return free_at


def _hold(notifications: Sequence[Notification], until: datetime,
          reason: str | None = None) -> None:
    for notification in notifications:
        notification.next_attempt_at = until
        if reason is not None:
            notification.held = reason


def _queue(
    session: Session, channel: Channel, notifications: Sequence[Notification],
    rules: Mapping[str, RuleOptions], now: datetime, reason: str,
) -> AlertMessage:
    message = render_notifications(channel, notifications, rules, reason)
    single = len(notifications) == 1
    row = AlertMessage(
        channel=channel.name,
        kind="alert" if single else "digest",
        title=message.title,
        body=message.body,
        body_format=message.format,
        status="pending",
        attempts=0,
        # A notification queued before messages existed may have reached some URLs.
        url_results=dict(notifications[0].url_results or {}) if single else {},
        created_at=now,
        give_up_at=now + channel.retry_period,
    )
    session.add(row)
    for notification in notifications:
        notification.message = row
        notification.held = None
        notification.next_attempt_at = None
    if not single:
        logger.info("digest of %d alerts queued for channel %r (%s)", len(notifications),
                    channel.name, reason)
    return row
