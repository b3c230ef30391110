"""Matching stored articles: filters, one alert per story, min_outlets, no backfill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from alerts.matching import match_new_articles
from alerts.models import Notification, RuleMatch
from alerts.query import parse_query
from alerts.rules import Rule
from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, Source, Story
from scheduler.migrate import upgrade_database

NOW = datetime.now(UTC)
BODY = "Putin arrived in Pyongyang for a visit, his first in 24 years."


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker]:
    engine = make_engine(migrated_database_url)
    upgrade_database(engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        session.add_all([Source(name="Wire", url="http://wire.test/feed"),
                         Source(name="Gazette", url="http://gazette.test/feed")])
    yield factory
    engine.dispose()


def add_article(sessions: sessionmaker, url: str, *, source: str = "Wire", story: int | None = None,
                body: str = BODY, language: str = "en", age: timedelta = timedelta(hours=1)) -> int:
    with sessions.begin() as session:
        source_row = session.scalars(select(Source).where(Source.name == source)).one()
        story_row = session.get(Story, story) if story else Story(headline=url)
        article = Article(source=source_row, url=url, title="Putin in Pyongyang", body=body,
                          language=language, content_hash=url, published_at=NOW - age,
                          story=story_row)
        session.add(article)
        session.flush()
        return article.story_id


def rule(name: str = "r", query: str = "Putin visit Pyongyang", **filters: object) -> Rule:
    return Rule(name, parse_query(query), ("desk", "mail"), **filters)


def notifications(sessions: sessionmaker) -> list[tuple[str, str, str]]:
    with sessions() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [(n.rule, n.channel, n.article.url) for n in rows]


def test_one_alert_per_rule_story_and_channel(sessions: sessionmaker) -> None:
    story = add_article(sessions, "http://wire.test/1")
    add_article(sessions, "http://gazette.test/copy", source="Gazette", story=story)
    report = match_new_articles(sessions, [rule()], timedelta(days=3))
    assert report.matches == 2
    assert notifications(sessions) == [("r", "desk", "http://wire.test/1"),
                                       ("r", "mail", "http://wire.test/1")]
    add_article(sessions, "http://gazette.test/later", source="Gazette", story=story)
    match_new_articles(sessions, [rule()], timedelta(days=3))
    assert len(notifications(sessions)) == 2


def test_source_and_language_filters(sessions: sessionmaker) -> None:
    add_article(sessions, "http://wire.test/en")
    add_article(sessions, "http://gazette.test/en", source="Gazette")
    add_article(sessions, "http://wire.test/de", language="de")
    rules = [rule("wire only", sources=frozenset({"Wire"})),
             rule("german", languages=frozenset({"de"}))]
    match_new_articles(sessions, rules, timedelta(days=3))
    assert sorted({(name, url) for name, _, url in notifications(sessions)}) == [
        ("german", "http://wire.test/de"),
        ("wire only", "http://wire.test/de"),
        ("wire only", "http://wire.test/en"),
    ]


def test_min_outlets_waits_for_a_second_outlet(sessions: sessionmaker) -> None:
    two = rule(min_outlets=2)
    story = add_article(sessions, "http://wire.test/1")
    match_new_articles(sessions, [two], timedelta(days=3))
    assert notifications(sessions) == []
    # The copy matches nothing itself (no "visit"), but brings the story to two outlets.
    add_article(sessions, "http://gazette.test/copy", source="Gazette", story=story,
                body="Putin arrived in Pyongyang.")
    match_new_articles(sessions, [two], timedelta(days=3))
    assert notifications(sessions) == [("r", "desk", "http://wire.test/1"),
                                       ("r", "mail", "http://wire.test/1")]


def test_old_articles_and_rules_added_later_do_not_backfill(sessions: sessionmaker) -> None:
    add_article(sessions, "http://wire.test/old", age=timedelta(days=10))
    add_article(sessions, "http://wire.test/new")
    match_new_articles(sessions, [rule("first")], timedelta(days=3))
    assert [url for _, _, url in notifications(sessions)] == ["http://wire.test/new"] * 2
    match_new_articles(sessions, [rule("first"), rule("added later")], timedelta(days=3))
    with sessions() as session:
        assert session.scalars(select(RuleMatch.rule)).all() == ["first"]


def test_an_edited_article_is_matched_again_once(sessions: sessionmaker) -> None:
    add_article(sessions, "http://wire.test/1", body="Putin arrived in Pyongyang.")
    match_new_articles(sessions, [rule(), rule("arrival", "Putin arrived")], timedelta(days=3))
    assert {name for name, _, _ in notifications(sessions)} == {"arrival"}
    with sessions.begin() as session:  # what ArticleStore.revise_article does
        article = session.scalars(select(Article)).one()
        article.body = BODY
        article.version = 2
        article.matched_at = None
    match_new_articles(sessions, [rule(), rule("arrival", "Putin arrived")], timedelta(days=3))
    with sessions() as session:
        assert sorted(session.scalars(select(RuleMatch.rule))) == ["arrival", "r"]
    assert sorted({name for name, _, _ in notifications(sessions)}) == ["arrival", "r"]
    assert len(notifications(sessions)) == 4


def test_an_edited_rule_is_matched_as_edited_at_the_next_cycle(sessions: sessionmaker) -> None:
    """The indexed rules are kept between cycles while they stay the same; an edit (same
    name, new query) must not be answered from the kept index."""
    add_article(sessions, "http://wire.test/1", body="Putin arrived in Pyongyang.")
    match_new_articles(sessions, [rule("watch", "Pyongyang")], timedelta(days=3))
    add_article(sessions, "http://wire.test/2", body="Kim arrived in Vladivostok.")
    match_new_articles(sessions, [rule("watch", "Vladivostok")], timedelta(days=3))
    add_article(sessions, "http://wire.test/3", body="Putin returned from Pyongyang.")
    match_new_articles(sessions, [rule("watch", "Vladivostok")], timedelta(days=3))
    assert [url for _, channel, url in notifications(sessions) if channel == "desk"] == [
        "http://wire.test/1", "http://wire.test/2"]
