"""Writing crawl results to the database: articles once per canonical URL, source status."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from crawler.database import make_engine, make_sessionmaker
from crawler.items import ArticleItem, SourceStatusItem
from crawler.models import Article, Source, utcnow
from crawler.stories import story_for


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

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Which of these canonical URLs are stored already."""
        wanted = list(set(urls))
        known: set[str] = set()
        with self.sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                known.update(session.scalars(select(Article.url).where(Article.url.in_(chunk))))
        return known

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
        )
        with self.sessions() as session:
            if session.scalar(select(Article.id).where(Article.url == item.url)) is not None:
                return False
            article.story = story_for(session, article)
            session.add(article)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return False
        return True

    def record_source_status(self, item: SourceStatusItem) -> None:
        with self.sessions.begin() as session:
            source = session.get(Source, item.source_id)
            if source is None:
                return
            now = utcnow()
            source.last_polled_at = now
            source.last_status = item.status
            if item.ok:
                source.last_success_at = now
                source.last_error = None
                source.error_count = 0
                if item.status != "not modified":
                    source.etag = item.etag
                    source.last_modified = item.last_modified
            else:
                source.last_error = item.error
                source.error_count += 1
