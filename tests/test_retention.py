"""Bounded growth: housekeeping deletes old rows of every growing table, and keeps what
deduplication, "never refetch" and pending deliveries need."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.models import AlertMessage, DeliveryAttempt, Notification, RuleMatch
from crawler.models import Article, ArticleAlias, ArticleVersion, Source, Story, utcnow
from scheduler.config import Config, RetentionConfig
from scheduler.housekeeping import housekeeping

NOW = utcnow()
DEFAULTS = RetentionConfig()  # alert history 180d, articles 365d


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def sessions(migrated_sessions: sessionmaker) -> sessionmaker:
    return migrated_sessions


def add_article(session: Session, name: str, *, seen: float, published: float | None,
                story: Story) -> Article:
    source = session.scalars(select(Source)).first() or Source(name="s", url="http://s.test/")
    article = Article(source=source, url=f"http://s.test/{name}", title=name, body="text",
                      content_hash=name, story=story, first_seen_at=ago(seen),
                      published_at=None if published is None else ago(published),
                      matched_at=ago(seen))
    session.add(article)
    session.flush()
    session.add(ArticleAlias(url=f"http://s.test/{name}?from=feed", article_id=article.id))
    session.add(ArticleVersion(article_id=article.id, version=1, title=name,
                               content_hash=name, fetched_at=ago(seen)))
    return article


def add_alert(session: Session, article: Article, *, age: float, status: str = "sent",
              with_message: bool = True) -> None:
    match = RuleMatch(rule=article.title, article=article, created_at=ago(age))
    notification = Notification(rule=article.title, match=match, article=article,
                                story_id=article.story_id, channel="desk", status=status,
                                created_at=ago(age))
    if with_message:
        message = AlertMessage(channel="desk", title=article.title, body="digest " * 200,
                               status=status, created_at=ago(age))
        message.url_attempts.append(DeliveryAttempt(url_key="k", url="json://***", ok=False,
                                                    attempted_at=ago(age)))
        notification.message = message
    session.add(notification)


def story(first_seen: float, last_seen: float) -> Story:
    return Story(headline="h", first_seen_at=ago(first_seen), last_seen_at=ago(last_seen))


def seed(sessions: sessionmaker) -> None:
    with sessions.begin() as session:
        old = add_article(session, "old", seen=400, published=400, story=story(400, 400))
        add_alert(session, old, age=400)
        add_article(session, "undated", seen=400, published=None, story=story(400, 400))
        mid = add_article(session, "mid", seen=200, published=200, story=story(200, 200))
        add_alert(session, mid, age=200)
        pending = add_article(session, "pending", seen=400, published=400,
                              story=story(400, 400))
        add_alert(session, pending, age=400, status="pending")
        live = story(400, 1)  # a story still growing: a copy joined it yesterday
        add_alert(session, add_article(session, "live-old", seen=400, published=400,
                                       story=live), age=400, with_message=False)
        add_article(session, "live-new", seen=1, published=1, story=live)
        young = add_article(session, "young", seen=10, published=10, story=story(10, 10))
        add_alert(session, young, age=10)
        session.add(story(400, 400))  # a story left with no article


def remaining(sessions: sessionmaker) -> dict[str, list[str]]:
    with sessions() as session:
        def titles(rows) -> list[str]:
            return sorted(rows)
        return {
            "articles": titles(session.scalars(select(Article.title))),
            "aliases": titles(a.url.split("/")[-1].split("?")[0]
                              for a in session.scalars(select(ArticleAlias))),
            "versions": titles(session.scalars(select(ArticleVersion.title))),
            "matches": titles(session.scalars(select(RuleMatch.rule))),
            "notifications": titles(session.scalars(select(Notification.rule))),
            "messages": titles(session.scalars(select(AlertMessage.title))),
            "attempts": titles(a.message.title for a in session.scalars(select(DeliveryAttempt))),
            "stories": titles(min(a.title for a in s.articles) if s.articles else "(empty)"
                              for s in session.scalars(select(Story))),
        }


def test_old_rows_go_and_what_dedup_and_pending_alerts_need_stays(
    sessions: sessionmaker,
) -> None:
    seed(sessions)
    report = housekeeping(sessions, DEFAULTS, NOW)
    kept = ["live-new", "live-old", "mid", "pending", "undated", "young"]
    assert remaining(sessions) == {
        # The undated article's URL row stays: nothing else would stop it being stored
        # and alerted on again if a page still links to it.
        "articles": kept,
        "aliases": kept,
        "versions": ["live-new", "young"],
        # Alert history older than 180 days goes, except a pending alert and the alert of
        # a story still growing (a new copy must not alert again).
        "matches": ["live-old", "pending", "young"],
        "notifications": ["live-old", "pending", "young"],
        "messages": ["pending", "young"],
        "attempts": ["pending", "young"],
        "stories": ["live-new", "mid", "pending", "undated", "young"],
    }
    assert (report.articles_deleted, report.stories_deleted, report.messages_deleted) == (
        1, 2, 2)
    assert housekeeping(sessions, DEFAULTS, NOW).deleted() == {}


def test_retention_shorter_than_what_dedup_needs_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_article_age"):
        Config.model_validate({"crawler": {"max_article_age": "7d"},
                               "retention": {"alert_history": "5d"}})
    with pytest.raises(ValidationError, match=r"retention\.alert_history"):
        Config.model_validate({"retention": {"alert_history": "200d", "articles": "100d"}})


def test_crawl_ledger_rows_go_once_expired(sessions: sessionmaker) -> None:
    from crawler.models import CrawlEntry

    with sessions.begin() as session:
        source = Source(name="s", url="http://s.test/")
        session.add(source)
        session.flush()
        for name, expires in (("expired", ago(1)), ("live", NOW + timedelta(days=1))):
            session.add(CrawlEntry(url_key=name, url=f"http://s.test/{name}",
                                   source_id=source.id, state="skipped", attempts=1,
                                   entry={}, expires_at=expires))
    report = housekeeping(sessions, DEFAULTS, NOW)
    assert report.crawl_entries_deleted == 1
    with sessions() as session:
        assert list(session.scalars(select(CrawlEntry.url_key))) == ["live"]
