"""Routing by tag or source: copies of alerts for channels that subscribe to them.

Matching queues an alert for each channel a rule names. A channel with `tags` or
`sources` also wants the alerts of rules with one of those tags, or on articles from
one of those sources. Routing looks at each alert once (`routed_at`) and queues a copy
for every such channel that has no alert for that (rule, story) yet, so each
(rule, story, channel) is still alerted once, and a rule's `min_outlets`, source and
language filters apply to routed copies exactly as to the rule's own channels.

Several workers route side by side: each takes a batch of unrouted alerts with
`FOR UPDATE SKIP LOCKED` (a worker killed mid-batch rolls back and frees them) and
holds the locks of their stories (`alerts.claims.lock_stories`) while it writes, so a
copy is queued once even when two workers route alerts of one story.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from alerts.channels import Channel
from alerts.claims import lock_stories
from alerts.models import Notification, RuleMatch
from crawler.models import Article, utcnow

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def route_new_alerts(
    sessions: sessionmaker, channels: Mapping[str, Channel],
    rule_tags: Mapping[str, frozenset[str]], now: datetime | None = None,
) -> int:
    """Queue routed copies of the alerts not routed yet; return how many were queued."""
    now = now or utcnow()
    routed = [channel for channel in channels.values() if channel.routes]
    if not routed:
        with sessions.begin() as session:
            session.execute(
                update(Notification).where(Notification.routed_at.is_(None))
                .values(routed_at=now)
            )
        return 0
    queued = 0
    while True:
        with sessions.begin() as session:
            ids = session.scalars(
                select(Notification.id)
                .where(Notification.routed_at.is_(None))
                .order_by(Notification.id)
                .limit(BATCH_SIZE)
                .with_for_update(skip_locked=True)
            ).all()
            if not ids:
                return queued
            batch = session.scalars(
                select(Notification)
                .options(joinedload(Notification.match).joinedload(RuleMatch.article)
                         .joinedload(Article.source))
                .where(Notification.id.in_(ids))
                .order_by(Notification.id)
            ).all()
            lock_stories(session, (notification.story_id for notification in batch))
            for notification in batch:
                notification.routed_at = now
                queued += _route(session, notification, routed, rule_tags, now)


def _route(session: Session, notification: Notification, routed: list[Channel],
           rule_tags: Mapping[str, frozenset[str]], now: datetime) -> int:
    article = notification.match.article
    source = article.source.name if article.source else ""
    wanted = [
        channel.name for channel in routed
        if channel.routed_to(rule_tags.get(notification.rule, frozenset()), source)
    ]
    if not wanted:
        return 0
    session.flush()
    existing = set(session.scalars(
        select(Notification.channel).where(
            Notification.rule == notification.rule,
            Notification.story_id == notification.story_id,
        )
    ))
    queued = 0
    for name in wanted:
        if name in existing:
            continue
        session.add(Notification(
            match_id=notification.match_id, rule=notification.rule,
            article_id=notification.article_id, story_id=notification.story_id,
            channel=name, routed_at=now, created_at=now,
        ))
        existing.add(name)
        queued += 1
        logger.info("alert for rule %r routed to channel %r", notification.rule, name)
    return queued
