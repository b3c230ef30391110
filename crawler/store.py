"""Writing crawl results to the database: articles once per canonical URL, their later
versions, and each source's fetch status and polling schedule."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from crawler.database import make_engine, make_sessionmaker
from crawler.items import ArticleItem, SourceStatusItem
from crawler.models import Article, ArticleVersion, Source, utcnow
from crawler.polling import PollBounds, PollOutcome, PollState, plan_next_poll
from crawler.stories import reindex_article, story_for

LOOKUP_CHUNK = 500


def content_hash(body: str) -> str:
    """SHA-256 of the body with case and white space folded: equal for exact copies."""
    normalized = re.sub(r"\s+", " ", body).strip().casefold()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


class ArticleStore:
    """The crawler's view of the database."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.sessions: sessionmaker = make_sessionmaker(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def stored_change_dates(self, urls: Iterable[str]) -> dict[str, datetime | None]:
        """For each of these canonical URLs that is stored: its `entry_updated_at`."""
        wanted = list(set(urls))
        found: dict[str, datetime | None] = {}
        with self.sessions() as session:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows = session.execute(
                    select(Article.url, Article.entry_updated_at).where(Article.url.in_(chunk))
                )
                found.update((row.url, row.entry_updated_at) for row in rows)
        return found

    def save_article(self, item: ArticleItem) -> bool:
        """Store the article unless its URL is stored already; True when it was new."""
        article = Article(
            source_id=item.source_id,
            url=item.url,
            title=item.title,
            body=item.body,
            authors=item.authors,
            published_at=item.published_at,
            language=item.language,
            content_hash=content_hash(item.body or item.title),
            from_feed=item.from_feed,
            entry_updated_at=item.entry_updated_at,
        )
        with self.sessions() as session:
            if session.scalar(select(Article.id).where(Article.url == item.url)) is not None:
                return False
            try:
                # story_for flushes the article: a concurrent insert of the same URL
                # surfaces here or at commit.
                article.story = story_for(session, article)
                session.add(article)
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        return True

    def revise_article(self, item: ArticleItem) -> bool:
        """Record a re-fetched article: when its text changed, the old text becomes
        version N in `article_versions` and the article becomes version N+1 (same row,
        same story). True when the text changed; the new text is then matched again."""
        with self.sessions.begin() as session:
            article = session.scalar(select(Article).where(Article.url == item.url))
            if article is None:
                return False
            previous_change = article.entry_updated_at
            article.entry_updated_at = item.entry_updated_at or article.entry_updated_at
            new_hash = content_hash(item.body or item.title)
            if item.from_feed and not article.from_feed:
                return False  # a summary never replaces a page's full text
            if new_hash == article.content_hash and item.title == article.title:
                return False
            session.add(
                ArticleVersion(
                    article_id=article.id,
                    version=article.version,
                    title=article.title,
                    body=article.body,
                    content_hash=article.content_hash,
                    # when the old text was fetched, as near as the table knows
                    fetched_at=article.first_seen_at
                    if article.version == 1 else (previous_change or utcnow()),
                )
            )
            article.title = item.title or article.title
            article.body = item.body
            article.content_hash = new_hash
            article.authors = item.authors or article.authors
            article.published_at = article.published_at or item.published_at
            article.language = item.language or article.language
            article.from_feed = item.from_feed
            article.version += 1
            article.matched_at = None
            reindex_article(session, article)
        return True

    def record_source_status(self, item: SourceStatusItem) -> None:
        """What fetching the source itself gave: status, error or warning, validators,
        detected kind and resolved URL. (Error counts and the next poll are set by
        `finish_poll` once the whole run is known.)"""
        with self.sessions.begin() as session:
            source = session.get(Source, item.source_id)
            if source is None:
                return
            source.last_polled_at = utcnow()
            source.last_status = item.status
            source.last_error = item.error
            if item.ok:
                source.last_success_at = source.last_polled_at
            if item.kind:
                source.kind = item.kind
            if item.resolved_url is not None:
                if (item.resolved_url or None) != source.resolved_url:
                    source.etag = source.last_modified = None
                source.resolved_url = item.resolved_url or None
            if item.ok and item.status != "not modified":
                source.etag = item.etag
                source.last_modified = item.last_modified

    def finish_poll(self, source_id: int, outcome: PollOutcome, bounds: PollBounds) -> None:
        with self.sessions.begin() as session:
            source = session.get(Source, source_id)
            if source is not None:
                apply_poll(source, outcome, bounds, utcnow())


def poll_state(source: Source) -> PollState:
    return PollState(
        interval=timedelta(seconds=source.poll_interval_seconds)
        if source.poll_interval_seconds else None,
        error_count=source.error_count or 0,
        unhealthy_since=source.unhealthy_since,
    )


def apply_poll(source: Source, outcome: PollOutcome, bounds: PollBounds, now: datetime,
               state: PollState | None = None) -> None:
    """Set the source's error count, health, interval and next poll from one poll
    (from `state`, or the state the row holds)."""
    plan = plan_next_poll(state or poll_state(source), outcome, bounds, now)
    source.error_count = plan.error_count
    source.unhealthy_since = plan.unhealthy_since
    source.poll_interval_seconds = round(plan.interval.total_seconds())
    source.next_poll_at = plan.next_poll_at
    if outcome.new_articles:
        source.last_new_article_at = now
