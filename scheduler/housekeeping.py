"""Retention: keeping a months-long database small without forgetting what was seen.

Article bodies (and earlier versions' bodies) older than `retention.article_bodies` are
emptied. Headlines, URLs, dates, `content_hash`, MinHash `signature` and story bands stay,
so a URL already stored is never fetched again and an exact copy still joins its story;
only near-duplicate confirmation, which compares text, cannot use a pruned article (a
trimmed copy of a story older than the retention starts a story of its own). Rows are
updated in small batches, each its own transaction, so a crawl writing at the same time
never waits long. The daemon's own history is trimmed too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import InstrumentedAttribute, sessionmaker

from crawler.models import Article, ArticleVersion, utcnow
from crawler.stories import WINDOW as STORY_WINDOW
from crawler.stories import forget_bands_before
from scheduler.models import AdminEvent, DaemonRun

logger = logging.getLogger(__name__)

BATCH = 500
KEEP_DAEMON_RUNS = 100
KEEP_ADMIN_EVENTS = timedelta(days=365)


@dataclass(frozen=True)
class HousekeepingReport:
    bodies_pruned: int = 0
    versions_pruned: int = 0
    runs_deleted: int = 0
    events_deleted: int = 0
    bands_deleted: int = 0


def housekeeping(
    sessions: sessionmaker, body_retention: timedelta, now: datetime | None = None
) -> HousekeepingReport:
    now = now or utcnow()
    cutoff = now - body_retention
    report = HousekeepingReport(
        bodies_pruned=prune_article_bodies(sessions, cutoff),
        versions_pruned=prune_version_bodies(sessions, cutoff),
        runs_deleted=_trim_daemon_runs(sessions),
        events_deleted=_trim_admin_events(sessions, now - KEEP_ADMIN_EVENTS),
        bands_deleted=_forget_old_bands(sessions, now - STORY_WINDOW),
    )
    if report.bodies_pruned or report.versions_pruned:
        logger.info("retention: emptied the bodies of %d articles and %d earlier versions "
                    "first seen before %s", report.bodies_pruned, report.versions_pruned,
                    f"{cutoff:%Y-%m-%d}")
    return report


def _forget_old_bands(sessions: sessionmaker, cutoff: datetime) -> int:
    """Near-duplicate lookups only read bands of the story window; older ones go."""
    with sessions.begin() as session:
        return forget_bands_before(session, cutoff)


def prune_article_bodies(sessions: sessionmaker, cutoff: datetime) -> int:
    """Empty the body of every article first seen before `cutoff`; the count emptied."""
    return _empty_bodies(sessions, Article, Article.first_seen_at, cutoff)


def prune_version_bodies(sessions: sessionmaker, cutoff: datetime) -> int:
    """Empty the body of every earlier version fetched before `cutoff`."""
    return _empty_bodies(sessions, ArticleVersion, ArticleVersion.fetched_at, cutoff)


def _empty_bodies(
    sessions: sessionmaker, model: type[Article] | type[ArticleVersion],
    seen: InstrumentedAttribute[datetime], cutoff: datetime,
) -> int:
    """Empty bodies of rows seen before `cutoff`, in batches (short write transactions, so
    a running crawl is never blocked for long); the count emptied."""
    total = 0
    while True:
        with sessions.begin() as session:
            ids = list(session.scalars(
                select(model.id)
                .where(seen < cutoff, model.body != "")
                .order_by(model.id)
                .limit(BATCH)
            ))
            if not ids:
                return total
            session.execute(update(model).where(model.id.in_(ids)).values(body=""))
        total += len(ids)


def _trim_daemon_runs(sessions: sessionmaker) -> int:
    with sessions.begin() as session:
        keep_from = session.scalar(
            select(DaemonRun.id).order_by(DaemonRun.id.desc()).offset(KEEP_DAEMON_RUNS - 1)
            .limit(1)
        )
        if keep_from is None:
            return 0
        result = session.execute(delete(DaemonRun).where(DaemonRun.id < keep_from))
        return result.rowcount or 0


def _trim_admin_events(sessions: sessionmaker, before: datetime) -> int:
    with sessions.begin() as session:
        result = session.execute(delete(AdminEvent).where(AdminEvent.sent_at < before))
        return result.rowcount or 0
