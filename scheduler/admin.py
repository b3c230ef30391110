"""Operator alerts: what the person running newswatch must hear about, sent to `admin.channel`.

Three events: a source failing for longer than `admin.unhealthy_after` (default a day),
alerts that could not be delivered for good, and a daemon that stopped without shutting
down (found by the next daemon). Each new event is queued in the outbox as a message
(kind "admin") to the admin channel, so it is claimed, sent, retried with backoff per URL
and given up after the channel's retry period exactly as rule alerts are; it carries no
rule notification. The event's key is remembered in `admin_events` in the transaction
that queues it, so each event is queued once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from alerts.models import AlertMessage, Notification
from alerts.render import Message
from crawler.models import Source, utcnow
from scheduler.models import AdminEvent, DaemonRun
from scheduler.status import failing_since

logger = logging.getLogger(__name__)

# Events older than this are not announced (e.g. when an admin channel is first set up).
LOOKBACK = timedelta(days=7)
MAX_LISTED = 10


@dataclass(frozen=True)
class AdminEventMessage:
    keys: tuple[str, ...]
    message: Message


def pending_events(
    sessions: sessionmaker, sources: Sequence[str], unhealthy_after: timedelta,
    now: datetime | None = None,
) -> list[AdminEventMessage]:
    """Every event not yet announced: unhealthy configured sources, alerts failed for good,
    unclean daemon stops."""
    now = now or utcnow()
    with sessions() as session:
        sent = set(session.scalars(select(AdminEvent.key)))
        events: list[AdminEventMessage] = []
        for source in session.scalars(select(Source).where(Source.name.in_(sources))):
            since = failing_since(source)
            if since is None or now - since < unhealthy_after:
                continue
            key = f"unhealthy:{source.id}:{since.isoformat()}"
            if key not in sent:
                events.append(AdminEventMessage((key,), _unhealthy_message(source, since, now)))

        failed = [
            n for n in session.scalars(
                select(Notification)
                .where(Notification.status == "failed", Notification.created_at >= now - LOOKBACK)
                .order_by(Notification.id)
            )
            if f"delivery-failed:{n.id}" not in sent
        ]
        if failed:
            events.append(AdminEventMessage(
                tuple(f"delivery-failed:{n.id}" for n in failed), _failed_message(failed)
            ))

        for run in session.scalars(
            select(DaemonRun)
            .where(DaemonRun.stopped_cleanly.is_(False), DaemonRun.started_at >= now - LOOKBACK)
            .order_by(DaemonRun.id)
        ):
            key = f"unclean-stop:{run.id}"
            if key not in sent:
                events.append(AdminEventMessage((key,), _unclean_message(run)))
    return events


def queue_admin_alerts(
    sessions: sessionmaker,
    channel: str,
    sources: Sequence[str],
    unhealthy_after: timedelta,
    retry_period: timedelta,
    now: datetime | None = None,
) -> int:
    """Queue each new event as an outbox message to `channel`; the number queued."""
    now = now or utcnow()
    queued = 0
    for event in pending_events(sessions, sources, unhealthy_after, now):
        try:
            with sessions.begin() as session:
                session.add_all(AdminEvent(key=key, sent_at=now) for key in event.keys)
                session.add(AlertMessage(
                    channel=channel, kind="admin", title=event.message.title,
                    body=event.message.body, body_format=event.message.format,
                    status="pending", attempts=0, url_results={}, created_at=now,
                    give_up_at=now + retry_period,
                ))
        except IntegrityError:
            continue  # queued already by a check that raced this one
        logger.info("admin alert queued for channel %r: %s", channel, event.message.title)
        queued += 1
    return queued


def _unhealthy_message(source: Source, since: datetime, now: datetime) -> Message:
    hours = (now - since).total_seconds() / 3600
    duration = f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} hours"
    return Message(
        title=f"newswatch: source {source.name!r} has been failing for {duration}",
        body="\n".join([
            f"Source: {source.name} ({source.url})",
            f"Failing since: {since:%Y-%m-%d %H:%M} UTC ({source.error_count} failed polls)",
            f"Last error: {source.last_error or 'unknown'}",
            f"Last poll: {_when(source.last_polled_at)}",
            "It is still polled; check the URL, or remove the source from config.toml.",
        ]),
    )


def _failed_message(failed: Sequence[Notification]) -> Message:
    lines = [f"{len(failed)} alert(s) could not be delivered and will not be retried:"]
    for notification in failed[:MAX_LISTED]:
        lines.append(f"- rule {notification.rule!r} to channel {notification.channel!r}: "
                     f"{notification.last_error or 'delivery failed'}")
    if len(failed) > MAX_LISTED:
        lines.append(f"... and {len(failed) - MAX_LISTED} more")
    lines.append("Check the channels' URLs in config.toml.")
    return Message(title=f"newswatch: {len(failed)} alert(s) failed for good",
                   body="\n".join(lines))


def _unclean_message(run: DaemonRun) -> Message:
    return Message(
        title="newswatch: the daemon restarted after an unclean stop",
        body="\n".join([
            f"The previous daemon (pid {run.pid} on host {run.host}, started "
            f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC) stopped without shutting down.",
            f"Its last heartbeat was at {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC.",
            "It was killed, crashed or lost its machine; nothing pending is lost, but "
            "check the system log if this repeats.",
        ]),
    )


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never"
