"""Sending the outbox through Apprise, one URL at a time, recording each URL's result.

A delivery round first plans (`alerts.planner`: notifications become messages, or wait
for a digest, quiet hours or the rate limit), then sends every message that is due.
Each message is claimed first (`alerts.claims`), so no two senders ever send it, and
each URL's result is committed as soon as that URL has answered, with the time of that
answer, so:

* a daemon stopped or killed at any point loses nothing: messages and the
  notifications they carry are in the database before anything is sent, and pending
  messages are sent by the next round;
* a URL that accepted a message is never sent it again, and a retry goes only to the
  URLs that failed;
* the one unavoidable at-least-once window is between a URL accepting a message and
  the commit that records it: a crash exactly there repeats that one message, to that
  one URL, after the restart. Nothing else is ever sent twice.

Failed URLs are retried with exponential backoff and jitter (about 30 s, 1 min,
2 min, ... up to an hour between tries) until the channel's retry period (default a
day) has passed since the message was queued; then the message and its alerts are
marked failed and logged as errors.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from alerts.apprise_urls import load_apprise, redact, scrub
from alerts.channels import DEFAULT_RETRY_PERIOD, Channel, RuleOptions, as_channels
from alerts.claims import CLAIM_LEASE, claim, claim_next_message, new_owner, release, renew
from alerts.escaping import service_title
from alerts.faults import crash_point
from alerts.models import AlertMessage, DeliveryAttempt
from alerts.planner import plan_messages
from alerts.render import Message
from crawler.models import utcnow

if TYPE_CHECKING:
    import apprise

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
RETRY_PERIOD = DEFAULT_RETRY_PERIOD
_PROBLEM_LEVELS = {"WARNING", "ERROR", "CRITICAL"}


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0  # messages that reached every URL of their channel this round
    retrying: int = 0
    failed: int = 0  # given up this round
    held: int = 0  # alerts waiting for a digest, quiet hours or the rate limit


@dataclass(frozen=True)
class UrlResult:
    ok: bool
    error: str | None = None


def url_key(url: str) -> str:
    """A stable fingerprint of an Apprise URL, so its secrets never reach the database."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def send_to_url(url: str, message: Message) -> UrlResult:
    """Send one message to one Apprise URL; the error says why it failed, without secrets."""
    sender = _sender(url)
    if sender is None:
        return UrlResult(False, f"{redact(url)}: not a valid Apprise URL")
    try:
        blended = sender[0].title_maxlen <= 0  # the service has no title field
        result = sender.notify(title=service_title(message.title, message.format, blended),
                               body=message.body, body_format=message.format,
                               log_level=logging.DEBUG)  # the cause is logged at debug
    except Exception as error:  # a plugin bug must not stop the round
        return UrlResult(False, scrub(f"{redact(url)}: {type(error).__name__}: {error}", url))
    if result:
        return UrlResult(True)
    details = " ".join(dict.fromkeys(
        entry.message.strip() for entry in result.logs()
        if entry.message.strip() and (entry.level in _PROBLEM_LEVELS
                                      # the cause behind "Connection error ...", which
                                      # Apprise logs at debug level only
                                      or "Exception:" in entry.message)
    ))
    return UrlResult(False, scrub(f"{redact(url)}: {details or 'delivery failed'}", url))


def _sender(url: str) -> apprise.Apprise | None:
    """A fresh Apprise object for one URL: a reused one would make every message wait
    out the plugin's own request throttle (5 s for email), which the channel's rate
    limit already replaces."""
    sender = load_apprise().Apprise()
    return sender if sender.add(url) else None


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 30s, 1m, 2m, ... up to an hour."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return base * random.uniform(0.8, 1.2)


Clock = Callable[[], datetime]


def round_clock(start: datetime) -> Clock:
    """The time of each attempt: `start` (the round's start: now, or a time a test runs
    the round "at") plus the time the round has taken so far. Taken per attempt, so
    backoff and "sent at" are right even when a round takes minutes."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def deliver_pending(
    sessions: sessionmaker,
    channels: Mapping[str, Channel | Sequence[str]],
    rules: Mapping[str, RuleOptions] | None = None,
    now: datetime | None = None,
    retry_period: timedelta | None = None,
    stop: Callable[[], bool] | None = None,
    lease: timedelta = CLAIM_LEASE,
) -> DeliveryReport:
    """Plan the outbox, then claim and send every message that is due; return what
    happened.

    `channels` maps names to Channel settings (or bare URL lists, sent as plain text);
    `retry_period`, when given, overrides every channel's. `stop` is asked before each
    message: when it says so, the round ends and what is left stays pending. `lease`:
    how long a claim holds without renewal (a killed sender's messages wait that long).
    On PostgreSQL the next due message is claimed with SKIP LOCKED, one at a time, so
    any number of workers share the outbox.
    """
    started = now or utcnow()
    clock = round_clock(started)
    configured = as_channels(channels)
    if retry_period is not None:
        configured = {name: replace(channel, retry_period=retry_period)
                      for name, channel in configured.items()}
    # Planning sends nothing: it happens at the round's start; sending is timed per attempt.
    plan = plan_messages(sessions, configured, rules or {}, started)
    owner = new_owner()
    sent = retrying = failed = 0
    for outcome in _send_due(sessions, configured, clock, owner, lease, stop):
        if outcome == "sent":
            sent += 1
        elif outcome == "failed":
            failed += 1
        elif outcome == "pending":
            retrying += 1
    return DeliveryReport(sent, retrying, failed + plan.failed, plan.held)


def _send_due(
    sessions: sessionmaker, channels: Mapping[str, Channel], clock: Clock, owner: str,
    lease: timedelta, stop: Callable[[], bool] | None,
) -> Iterator[str | None]:
    """Send the due messages, yielding each one's status afterwards."""
    skip_locked = sessions.kw["bind"].dialect.name == "postgresql"
    due = iter(()) if skip_locked else iter(_due_messages(sessions, clock()))
    while not (stop is not None and stop()):
        if skip_locked:
            with sessions.begin() as session:
                message_id = claim_next_message(session, owner, clock(), lease)
            if message_id is None:
                return
            yield _send_and_release(sessions, message_id, channels, clock, owner, lease)
        else:
            message_id = next(due, None)
            if message_id is None:
                return
            yield deliver_message(sessions, message_id, channels, clock, owner, lease)


def _due_messages(sessions: sessionmaker, now: datetime) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AlertMessage.id)
                .where(AlertMessage.status == "pending")
                .where(or_(AlertMessage.next_attempt_at.is_(None),
                           AlertMessage.next_attempt_at <= now))
                .order_by(AlertMessage.id)
            )
        )


def deliver_message(
    sessions: sessionmaker, message_id: int, channels: Mapping[str, Channel],
    clock: Clock = utcnow, owner: str | None = None, lease: timedelta = CLAIM_LEASE,
) -> str | None:
    """Claim one pending message, send it to each of its channel's URLs that has not
    accepted it, and return its status afterwards (None if it was not pending, or is
    another sender's)."""
    owner = owner or new_owner()
    with sessions.begin() as session:
        if not claim(session, message_id, owner, clock(), lease):
            return None
    return _send_and_release(sessions, message_id, channels, clock, owner, lease)


def _send_and_release(
    sessions: sessionmaker, message_id: int, channels: Mapping[str, Channel], clock: Clock,
    owner: str, lease: timedelta,
) -> str | None:
    """Send a message `owner` has claimed; on an error, free the claim."""
    try:
        return _send_claimed(sessions, message_id, channels, clock, owner, lease)
    except BaseException:
        with suppress(Exception), sessions.begin() as session:  # free for the next round
            release(session, message_id, owner)
        raise


def _send_claimed(
    sessions: sessionmaker, message_id: int, channels: Mapping[str, Channel], clock: Clock,
    owner: str, lease: timedelta = CLAIM_LEASE,
) -> str | None:
    with sessions() as session:
        row = session.get(AlertMessage, message_id)
        assert row is not None
        content = Message(row.title, row.body, row.body_format)
        done = dict(row.url_results or {})
        channel = channels.get(row.channel)
    if channel is None or not channel.urls:
        with sessions.begin() as session:
            return _finish(session, message_id,
                           [f"channel {row.channel!r} is not configured"], clock(),
                           give_up=True)
    waiting = [url for url in channel.urls if done.get(url_key(url)) != "sent"]
    errors: list[str] = []
    for index, url in enumerate(waiting):
        crash_point("before_send")
        result = send_to_url(url, content)
        if result.ok:
            crash_point("after_send")
        else:
            errors.append(result.error or "delivery failed")
        # Committed right after each answer: the last one together with the outcome.
        with sessions.begin() as session:
            moment = clock()
            _record_attempt(session, message_id, url, result, moment)
            # The outcome is ours to write only while the claim is (renewing it also
            # holds the row until this commits).
            if not renew(session, message_id, owner, moment, lease):
                logger.warning("alert message %d: the claim expired while sending; another "
                               "sender has taken it", message_id)
                return None
            if index == len(waiting) - 1:
                return _finish(session, message_id, errors, moment)
    with sessions.begin() as session:  # every URL had accepted it before a crash
        if not renew(session, message_id, owner, clock(), lease):
            return None
        return _finish(session, message_id, errors, clock())


def _record_attempt(session: Session, message_id: int, url: str, result: UrlResult,
                    now: datetime) -> None:
    key = url_key(url)
    session.add(DeliveryAttempt(message_id=message_id, url_key=key, url=redact(url),
                                ok=result.ok, error=result.error, attempted_at=now))
    if result.ok:
        row = session.get(AlertMessage, message_id)
        assert row is not None
        row.url_results = {**(row.url_results or {}), key: "sent"}


def _finish(session: Session, message_id: int, errors: list[str], now: datetime,
            give_up: bool = False) -> str:
    row = session.get(AlertMessage, message_id,
                      options=[selectinload(AlertMessage.notifications)])
    assert row is not None
    row.attempts += 1
    row.claimed_by = row.claimed_until = None
    if not errors:
        row.status, row.sent_at, row.last_error = "sent", now, None
        logger.info("alert message %d sent to channel %r: %s", row.id, row.channel,
                    row.title)
    else:
        row.last_error = "; ".join(errors)
        if give_up or (row.give_up_at is not None and now >= row.give_up_at):
            row.status = "failed"
            logger.error("alert message %d to channel %r failed for good after %d "
                         "attempts: %s", row.id, row.channel, row.attempts, row.last_error)
        else:
            row.next_attempt_at = now + retry_delay(row.attempts)
            logger.warning("alert message %d to channel %r will be retried at %s: %s",
                           row.id, row.channel, f"{row.next_attempt_at:%H:%M:%S}",
                           row.last_error)
    for notification in row.notifications:
        notification.status = row.status
        notification.attempts = row.attempts
        notification.last_error = row.last_error
        notification.url_results = dict(row.url_results or {})
        notification.sent_at = row.sent_at
    return row.status
