"""Writing crawl results to the database: articles once per canonical URL, their later
versions, the other URLs that led to them (aliases), and each source's fetch status and
polling schedule."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from crawler import ledger
from crawler.database import conflict_insert, is_retryable, make_engine, make_sessionmaker
from crawler.dedup import Fingerprint
from crawler.items import ArticleItem, EntryOutcomeItem, PendingEntriesItem, SourceStatusItem
from crawler.models import Article, ArticleAlias, ArticleVersion, Source, url_digest, utcnow
from crawler.polling import PollBounds, PollOutcome, apply_poll
from crawler.stories import StoryAssigner, lock_story_assignment

logger = logging.getLogger(__name__)

LOOKUP_CHUNK = 500
# What `ArticleStore.write_batch` did with each item.
STORED, KNOWN, REVISED, UNCHANGED, WRITTEN = "stored", "known", "revised", "unchanged", "written"


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
        """For each of these canonical URLs that is stored, itself or as an alias of a
        stored article: the article's `entry_updated_at`."""
        wanted = list(set(urls))
        found: dict[str, datetime | None] = {}
        with self.sessions() as session:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows = session.execute(
                    select(Article.url, Article.entry_updated_at).where(Article.url.in_(chunk))
                )
                found.update((row.url, row.entry_updated_at) for row in rows)
                rest = [url for url in chunk if url not in found]
                if not rest:
                    continue
                rows = session.execute(
                    select(ArticleAlias.url, Article.entry_updated_at)
                    .join(Article, Article.id == ArticleAlias.article_id)
                    .where(ArticleAlias.url.in_(rest))
                )
                found.update((row.url, row.entry_updated_at) for row in rows)
        return found

    def what_is_known(
        self, urls: list[str]
    ) -> tuple[dict[str, datetime | None], dict[str, str]]:
        """For a listing's entry URLs: `stored_change_dates` and `ledger_states`."""
        return self.stored_change_dates(urls), self.ledger_states(urls)

    def ledger_states(self, urls: Iterable[str]) -> dict[str, str]:
        """The crawl ledger's state of each of these entry URLs it holds."""
        with self.sessions() as session:
            return ledger.known_states(session, urls)

    def due_entries(self, source_ids: Iterable[int]) -> list[ledger.LedgerEntry]:
        """The ledger's entries of these sources whose pages are to be fetched now."""
        with self.sessions() as session:
            return ledger.due_entries(session, source_ids)

    def write_batch(self, items: Sequence[object],
                    policy: ledger.RetryPolicy | None = None) -> list[str | None]:
        """Write what a crawl found, in order, in one transaction: articles (`ArticleItem`),
        the ledger's pending entries and outcomes, and sources' fetch statuses. Returns,
        per item, what became of it (`STORED`, `KNOWN`, `REVISED`, `UNCHANGED`, `WRITTEN`),
        or None for an item the database refused: each item is written in a savepoint, so
        that one bad row is logged and skipped while the others are kept. A locked
        database or a lost race raises, for the whole batch to be run again
        (`retry_transient`).

        The batch holds the story lock from the start (two crawls storing copies of one
        story at once must not both start it); the stored articles of the batch's URLs
        are looked up in one query, the aliases and ledger rows to forget written in one
        statement each."""
        with self.sessions() as session:
            lock_story_assignment(session)
            batch = _Batch(session, items)
            outcomes: list[str | None] = []
            for item in items:
                try:
                    with session.begin_nested():
                        outcomes.append(batch.write(item, policy))
                except Exception as failure:
                    if is_retryable(failure):
                        raise
                    # A row the database refuses is one line; anything else is a bug,
                    # shown with its traceback.
                    logger.error("could not store %s: %s: %s", _describe(item),
                                 type(failure).__name__, str(failure).strip()[:300],
                                 exc_info=not isinstance(failure, SQLAlchemyError))
                    outcomes.append(None)
            batch.finish()
            session.commit()
        return outcomes

    def save_article(self, item: ArticleItem) -> bool:
        """Store the article unless its URL is stored already; True when it was new."""
        return self.write_batch([item]) == [STORED]

    def revise_article(self, item: ArticleItem) -> bool:
        """Record a re-fetched article: when its text changed, the old text becomes
        version N in `article_versions` and the article becomes version N+1 (same row,
        same story). True when the text changed; the new text is then matched again."""
        return self.write_batch([replace(item, revision=True)]) == [REVISED]

    def finish_poll(self, source_id: int, outcome: PollOutcome, bounds: PollBounds) -> None:
        """Plan the source's next poll; sooner when a page of it is due for another try
        (a story may be minutes late, not hours), though never sooner than its shortest
        interval, nor when the source itself failed or asked us to stay away."""
        with self.sessions.begin() as session:
            source = session.get(Source, source_id)
            if source is None:
                return
            now = utcnow()
            apply_poll(source, outcome, bounds, now)
            if not outcome.ok or outcome.retry_after is not None:
                return
            retry_at = ledger.next_retry(session, source_id, now)
            if retry_at is not None and source.next_poll_at is not None:
                soonest = max(retry_at, now + bounds.min_interval)
                source.next_poll_at = min(source.next_poll_at, soonest)


class _Batch:
    """The writes of one `ArticleStore.write_batch` transaction."""

    def __init__(self, session: Session, items: Sequence[object]) -> None:
        self.session = session
        new = [item for item in items if isinstance(item, ArticleItem) and not item.revision]
        self.article_ids = _stored_ids(session, [item.url for item in new])
        # The `articles` columns of each new URL's first item, and its fingerprint.
        self.new_articles: dict[str, tuple[dict[str, Any], Fingerprint | None]] = {}
        for item in new:
            if item.url not in self.article_ids and item.url not in self.new_articles:
                self.new_articles[item.url] = (_article_values(item), item.fingerprint)
        self.stories = StoryAssigner(session, list(self.new_articles.values()))
        self.aliases: dict[str, int] = {}
        self.forget: set[str] = set()

    def write(self, item: object, policy: ledger.RetryPolicy | None) -> str:
        session = self.session
        aliases: dict[str, int] = {}
        outcome = WRITTEN
        if isinstance(item, ArticleItem):
            outcome = self._revise(item, aliases) if item.revision else self._save(item, aliases)
            if not item.from_feed:
                # A stand-in keeps its ledger row: the page is tried again for the full text.
                self.forget.update((item.url, item.entry_url or item.url))
        elif isinstance(item, PendingEntriesItem):
            assert policy is not None, "pending entries need the ledger's policy"
            ledger.record_pending(session, item.entries, policy)
        elif isinstance(item, EntryOutcomeItem):
            assert policy is not None, "entry outcomes need the ledger's policy"
            ledger.record_outcome(session, item.item, item.state, item.reason, policy)
        elif isinstance(item, SourceStatusItem):
            _apply_source_status(session, item)
        self.aliases.update(aliases)
        return outcome

    def _save(self, item: ArticleItem, aliases: dict[str, int]) -> str:
        stored = self.article_ids.get(item.url)
        outcome = KNOWN
        if stored is None:
            values, mine = self.new_articles.get(item.url) or (_article_values(item),
                                                               item.fingerprint)
            stored = self.stories.assign(values, mine)
            outcome = STORED
            self.article_ids[item.url] = stored
        # New or known already, the links that led here are known from now on.
        aliases.update((url, stored) for url in item.aliases if url and url != item.url)
        return outcome

    def _revise(self, item: ArticleItem, aliases: dict[str, int]) -> str:
        session = self.session
        article = _article_at(session, item.url)
        if article is None:
            return UNCHANGED
        aliases.update((url, article.id) for url in (item.url, *item.aliases)
                       if url and url != article.url)
        previous_change = article.entry_updated_at
        article.entry_updated_at = item.entry_updated_at or article.entry_updated_at
        new_hash = content_hash(item.body or item.title)
        if item.from_feed and not article.from_feed:
            return UNCHANGED  # a summary never replaces a page's full text
        if new_hash == article.content_hash and item.title == article.title:
            return UNCHANGED
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
        self.stories.reindex(article, item.fingerprint)
        return REVISED

    def finish(self) -> None:
        _insert_aliases(self.session, self.aliases)
        ledger.forget(self.session, self.forget)


def _article_values(item: ArticleItem) -> dict[str, Any]:
    """The `articles` columns of a new article."""
    return {
        "source_id": item.source_id,
        "url": item.url,
        "url_hash": url_digest(item.url),
        "title": item.title,
        "body": item.body,
        "authors": item.authors,
        "published_at": item.published_at,
        "language": item.language,
        "content_hash": content_hash(item.body or item.title),
        "from_feed": item.from_feed,
        "entry_updated_at": item.entry_updated_at,
    }


def _stored_ids(session: Session, urls: list[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(urls))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        rows = session.execute(select(Article.url, Article.id)
                               .where(Article.url.in_(wanted[start:start + LOOKUP_CHUNK])))
        found.update((row.url, row.id) for row in rows)
    return found


def _insert_aliases(session: Session, aliases: dict[str, int]) -> None:
    """Record each URL as leading to its article, unless it is recorded already (for
    this article or another)."""
    if not aliases:
        return
    session.execute(
        conflict_insert(session, ArticleAlias).on_conflict_do_nothing(index_elements=["url_hash"]),
        [{"url": url, "url_hash": url_digest(url), "article_id": article_id}
         for url, article_id in sorted(aliases.items())],
    )


def _apply_source_status(session: Session, item: SourceStatusItem) -> None:
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


def _describe(item: object) -> str:
    if isinstance(item, ArticleItem):
        return f"article {item.url}"
    if isinstance(item, PendingEntriesItem):
        return f"{len(item.entries)} pending entries"
    if isinstance(item, EntryOutcomeItem):
        return f"the outcome of {item.item.entry.url}"
    if isinstance(item, SourceStatusItem):
        return f"the status of source {item.source_id}"
    return type(item).__name__


def _article_at(session: Session, url: str) -> Article | None:
    """The article stored under this URL, or that this URL is an alias of."""
    article = session.scalar(select(Article).where(Article.url == url))
    if article is None:
        article = session.scalar(
            select(Article).join(ArticleAlias, ArticleAlias.article_id == Article.id)
            .where(ArticleAlias.url == url)
        )
    return article
