"""Retention: keeping a months-long database bounded without forgetting what was seen.

The rule of every table (README "Retention" has the reasons and a year's size):

* articles.body, article_versions.body: emptied after `retention.article_bodies`.
  Headlines, URLs, dates, `content_hash` and signatures stay, so an exact copy still
  joins its story; only near-duplicate confirmation, which compares text, cannot use a
  pruned article.
* articles (with their aliases, versions, bands, matches and alerts): deleted once first
  seen *and published* longer than `retention.articles` ago, in a story quiet for as long,
  with no alert pending. The URL row is what stops a refetch and a second alert, so it
  goes only when the article can no longer come back: a listing entry or page dated
  before `crawler.max_article_age` (which `retention.articles` outlasts) is skipped by
  the crawler, and an old article is never alerted on. An *undated* article has no such
  protection (the crawler stores undated entries, the matcher alerts on them), so its
  URL row is kept for good; its body is emptied, its old versions and bands go.
* stories: deleted once no article is left in them and quiet for `retention.articles`.
* article_versions: deleted with their article, or fetched longer than
  `retention.alert_history` ago.
* story_bands: deleted after the story window (crawler/stories.py `WINDOW`).
* matches, notifications, alert_messages (rendered alerts and digests), alert_attempts:
  deleted after `retention.alert_history`, never while pending, and only once the story
  they alert on has been quiet that long: a story still growing keeps the rows that say
  it was alerted, so a new copy never alerts again.
* crawl_entries (per-URL crawl state): deleted at `expires_at`; see `_prune_crawl_entries`.
* daemon_runs: the last `KEEP_DAEMON_RUNS`; admin_events: `KEEP_ADMIN_EVENTS`.
* scrapyd_jobs (crawls on Scrapyd nodes): ended ones after `KEEP_CRAWL_JOBS`; open
  ones never (the dispatcher ends them).
* sources: as configured (`sources` commands), never by age.

Rows go in small batches, each its own transaction, so a crawl writing at the same time
never waits long. Dependent rows are deleted explicitly before their parents rather than
left to ON DELETE CASCADE, so the result is the same whether or not the database enforces
foreign keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from alerts.models import AlertMessage, DeliveryAttempt, Notification, RuleMatch
from crawler.models import (
    Article,
    ArticleAlias,
    ArticleVersion,
    CrawlEntry,
    Story,
    StoryBand,
    utcnow,
)
from crawler.stories import WINDOW as STORY_WINDOW
from crawler.stories import forget_bands_before
from scheduler.config import RetentionConfig
from scheduler.models import AdminEvent, DaemonRun, ScrapydJob

logger = logging.getLogger(__name__)

BATCH = 500
KEEP_DAEMON_RUNS = 100
KEEP_ADMIN_EVENTS = timedelta(days=365)
KEEP_CRAWL_JOBS = timedelta(days=7)
PENDING = "pending"


@dataclass(frozen=True)
class HousekeepingReport:
    bodies_pruned: int = 0
    versions_pruned: int = 0
    runs_deleted: int = 0
    events_deleted: int = 0
    bands_deleted: int = 0
    messages_deleted: int = 0
    notifications_deleted: int = 0
    matches_deleted: int = 0
    versions_deleted: int = 0
    articles_deleted: int = 0
    stories_deleted: int = 0
    crawl_entries_deleted: int = 0
    crawl_jobs_deleted: int = 0

    def deleted(self) -> dict[str, int]:
        return {f.name.removesuffix("_deleted"): getattr(self, f.name) for f in fields(self)
                if f.name.endswith("_deleted") and getattr(self, f.name)}


def housekeeping(
    sessions: sessionmaker, retention: RetentionConfig, now: datetime | None = None
) -> HousekeepingReport:
    now = now or utcnow()
    bodies_before = now - retention.article_bodies
    history_before = now - retention.alert_history
    articles_before = now - retention.articles
    report = HousekeepingReport(
        bodies_pruned=prune_article_bodies(sessions, bodies_before),
        versions_pruned=prune_version_bodies(sessions, bodies_before),
        runs_deleted=_trim_daemon_runs(sessions),
        events_deleted=_trim_admin_events(sessions, now - KEEP_ADMIN_EVENTS),
        bands_deleted=_forget_old_bands(sessions, now - STORY_WINDOW),
        messages_deleted=delete_old_messages(sessions, history_before),
        notifications_deleted=delete_old_notifications(sessions, history_before),
        matches_deleted=delete_old_matches(sessions, history_before),
        versions_deleted=delete_old_versions(sessions, history_before),
        articles_deleted=delete_old_articles(sessions, articles_before),
        stories_deleted=delete_empty_stories(sessions, articles_before),
        crawl_entries_deleted=_prune_crawl_entries(sessions, now),
        crawl_jobs_deleted=_delete_batches(
            sessions, ScrapydJob, ScrapydJob.ended_at < now - KEEP_CRAWL_JOBS),
    )
    if report.bodies_pruned or report.versions_pruned:
        logger.info("retention: emptied the bodies of %d articles and %d earlier versions "
                    "first seen before %s", report.bodies_pruned, report.versions_pruned,
                    f"{bodies_before:%Y-%m-%d}")
    if deleted := report.deleted():
        logger.info("retention: deleted %s", ", ".join(f"{count} {table}"
                                                      for table, count in deleted.items()))
    return report


def _prune_crawl_entries(sessions: sessionmaker, now: datetime) -> int:
    """Per-URL crawl state (`crawl_entries`, crawler/ledger.py) past its `expires_at`: by
    then its entry is older than `max_article_age` and would not be stored anyway."""
    return _delete_batches(sessions, CrawlEntry, CrawlEntry.expires_at <= now)


# -- bodies --------------------------------------------------------------------------


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


# -- alert history -------------------------------------------------------------------


def _story_quiet_since(story_id: Any, cutoff: datetime) -> ColumnElement[bool]:
    """The story `story_id` (a column) got no article since `cutoff`, or there is none."""
    return or_(story_id.is_(None),
               exists().where(Story.id == story_id, Story.last_seen_at < cutoff))


def _pending_alert(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(Notification.status == PENDING, *conditions)


def delete_old_messages(sessions: sessionmaker, cutoff: datetime) -> int:
    """Sent or failed messages (rendered alerts and digests) queued before `cutoff`, with
    their delivery attempts."""
    return _delete_batches(
        sessions, AlertMessage,
        AlertMessage.created_at < cutoff, AlertMessage.status != PENDING,
        ~_pending_alert(Notification.message_id == AlertMessage.id),
        before=_detach_messages,
    )


def _detach_messages(session: Session, ids: list[int]) -> None:
    session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.message_id.in_(ids)))
    session.execute(update(Notification).where(Notification.message_id.in_(ids))
                    .values(message_id=None))


def delete_old_notifications(sessions: sessionmaker, cutoff: datetime) -> int:
    """Alerts queued before `cutoff`, sent or failed, of stories quiet since `cutoff`."""
    return _delete_batches(
        sessions, Notification,
        Notification.created_at < cutoff, Notification.status != PENDING,
        _story_quiet_since(Notification.story_id, cutoff),
    )


def delete_old_matches(sessions: sessionmaker, cutoff: datetime) -> int:
    """Matches made before `cutoff` that no alert refers to any more, in stories quiet
    since `cutoff`."""
    return _delete_batches(
        sessions, RuleMatch,
        RuleMatch.created_at < cutoff,
        ~exists().where(Notification.match_id == RuleMatch.id),
        exists().where(Article.id == RuleMatch.article_id,
                       _story_quiet_since(Article.story_id, cutoff)),
    )


def delete_old_versions(sessions: sessionmaker, cutoff: datetime) -> int:
    return _delete_batches(sessions, ArticleVersion, ArticleVersion.fetched_at < cutoff)


# -- articles and stories ------------------------------------------------------------


def delete_old_articles(sessions: sessionmaker, cutoff: datetime) -> int:
    """Articles first seen and published before `cutoff` (undated ones stay: see the module
    docstring), in stories quiet since `cutoff`, with no alert pending; and every row that
    depends on them."""
    return _delete_batches(
        sessions, Article,
        Article.first_seen_at < cutoff,
        Article.published_at.is_not(None), Article.published_at < cutoff,
        _story_quiet_since(Article.story_id, cutoff),
        ~_pending_alert(Notification.article_id == Article.id),
        before=_delete_article_dependants,
    )


def _delete_article_dependants(session: Session, ids: list[int]) -> None:
    matches = select(RuleMatch.id).where(RuleMatch.article_id.in_(ids))
    session.execute(delete(Notification).where(
        or_(Notification.article_id.in_(ids), Notification.match_id.in_(matches))))
    session.execute(delete(RuleMatch).where(RuleMatch.article_id.in_(ids)))
    for model in (StoryBand, ArticleAlias, ArticleVersion):
        session.execute(delete(model).where(model.article_id.in_(ids)))


def delete_empty_stories(sessions: sessionmaker, cutoff: datetime) -> int:
    """Stories no article is left in, quiet since `cutoff`."""
    return _delete_batches(
        sessions, Story,
        Story.last_seen_at < cutoff,
        ~exists().where(Article.story_id == Story.id),
        ~_pending_alert(Notification.story_id == Story.id),
        before=lambda session, ids: session.execute(
            delete(Notification).where(Notification.story_id.in_(ids))),
    )


def _delete_batches(
    sessions: sessionmaker, model: Any, *conditions: ColumnElement[bool],
    before: Callable[[Session, list[int]], object] | None = None,
) -> int:
    """Delete the rows of `model` meeting `conditions`, `BATCH` at a time, each batch in a
    transaction of its own; `before` first deletes or detaches the rows that refer to a
    batch. The count deleted."""
    total = 0
    while True:
        with sessions.begin() as session:
            ids = list(session.scalars(
                select(model.id).where(*conditions).order_by(model.id).limit(BATCH)
            ))
            if not ids:
                return total
            if before is not None:
                before(session, ids)
            session.execute(delete(model).where(model.id.in_(ids)))
        total += len(ids)


# -- the daemon's own history --------------------------------------------------------


def _forget_old_bands(sessions: sessionmaker, cutoff: datetime) -> int:
    """Near-duplicate lookups only read bands of the story window; older ones go."""
    with sessions.begin() as session:
        return forget_bands_before(session, cutoff)


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
