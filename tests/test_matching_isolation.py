"""Matching under bad rows and concurrent crawls: one bad article never stops the others,
an edit made while matching runs is matched, and the crawl can write while rules run."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import make_url, select
from sqlalchemy.orm import sessionmaker

from alerts.matcher import RuleSet
from alerts.matching import match_new_articles
from alerts.models import Notification, RuleMatch
from alerts.query import parse_query
from alerts.rules import Rule
from crawler.database import make_engine, make_sessionmaker
from crawler.items import ArticleItem
from crawler.models import Article, Source, Story
from crawler.store import ArticleStore
from scheduler.migrate import upgrade_database

NOW = datetime.now(UTC)
AGE = timedelta(days=3)


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker]:
    engine = make_engine(migrated_database_url)
    upgrade_database(engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        session.add(Source(name="Wire", url="http://wire.test/feed"))
    yield factory
    engine.dispose()


def add_article(sessions: sessionmaker, url: str, title: str, body: str,
                authors: object = ()) -> int:
    with sessions.begin() as session:
        source = session.scalars(select(Source)).one()
        article = Article(source=source, url=url, title=title, body=body,
                          authors=list(authors) if isinstance(authors, tuple) else authors,
                          language="en", content_hash=url, published_at=NOW,
                          story=Story(headline=title))
        session.add(article)
        session.flush()
        return article.id


def rule(name: str, query: str) -> Rule:
    return Rule(name, parse_query(query), ("desk",))


def alerted(sessions: sessionmaker) -> set[tuple[str, str]]:
    with sessions() as session:
        return {(n.rule, n.article.url) for n in session.scalars(select(Notification))}


def matched_at(sessions: sessionmaker, article_id: int) -> datetime | None:
    with sessions() as session:
        return session.get(Article, article_id).matched_at


def test_an_article_whose_rules_cannot_run_is_skipped_alone(
    sessions: sessionmaker, caplog: pytest.LogCaptureFixture
) -> None:
    add_article(sessions, "http://wire.test/1", "Flood in Valencia", "The flood rose.")
    # A row the matcher cannot read (authors stored as a number, not a list).
    bad = add_article(sessions, "http://wire.test/2", "Flood again", "More flood.", authors=5)
    add_article(sessions, "http://wire.test/3", "Flood warning", "A flood is coming.")
    rules = [rule("floods", "flood")]
    with caplog.at_level(logging.ERROR, logger="alerts.matching"):
        report = match_new_articles(sessions, rules, AGE)
    assert alerted(sessions) == {("floods", "http://wire.test/1"),
                                 ("floods", "http://wire.test/3")}
    assert report.failed == 1
    assert "'Wire'" in caplog.text and "http://wire.test/2" in caplog.text
    # Skipped for good, not retried at every cycle; a later article still alerts.
    assert matched_at(sessions, bad) is not None
    add_article(sessions, "http://wire.test/4", "Flood over", "The flood is over.")
    assert match_new_articles(sessions, rules, AGE).failed == 0
    assert ("floods", "http://wire.test/4") in alerted(sessions)


def test_an_article_whose_rule_filter_raises_is_skipped_alone(
    sessions: sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule's source/language filter failing on one article of a batch (a fault no
    real row is known to cause, hence the patch) costs that article only."""
    add_article(sessions, "http://wire.test/1", "Flood in Valencia", "The flood rose.")
    odd = add_article(sessions, "http://wire.test/2", "Flood again", "More flood.")
    add_article(sessions, "http://wire.test/3", "Flood warning", "A flood is coming.")
    with sessions.begin() as session:
        session.get(Article, odd).language = "xx"
    original = Rule.accepts

    def accepts_failing_on_xx(self: Rule, source: str, language: str | None) -> bool:
        if language == "xx":
            raise ValueError("no such language")
        return original(self, source, language)

    monkeypatch.setattr(Rule, "accepts", accepts_failing_on_xx)
    report = match_new_articles(sessions, [rule("floods", "flood")], AGE)
    assert alerted(sessions) == {("floods", "http://wire.test/1"),
                                 ("floods", "http://wire.test/3")}
    assert report.failed == 1


def test_a_value_the_database_refuses_does_not_stop_later_alerts(
    sessions: sessionmaker, migrated_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule name too long for its column (past the config check): on PostgreSQL the
    article it matches fails to store; every other article still alerts, this cycle and
    the next."""
    long_name = "r" * 201
    rules = [rule(long_name, "earthquake"), rule("floods", "flood")]
    add_article(sessions, "http://wire.test/1", "Flood in Valencia", "The flood rose.")
    poisoned = add_article(sessions, "http://wire.test/2", "Earthquake", "An earthquake hit.")
    add_article(sessions, "http://wire.test/3", "Flood warning", "A flood is coming.")
    with caplog.at_level(logging.ERROR, logger="alerts.matching"):
        report = match_new_articles(sessions, rules, AGE)
    assert {("floods", "http://wire.test/1"), ("floods", "http://wire.test/3")} <= alerted(
        sessions)
    assert matched_at(sessions, poisoned) is not None
    if make_url(migrated_database_url).get_backend_name() == "postgresql":
        assert report.failed == 1
        assert "'Wire'" in caplog.text and "http://wire.test/2" in caplog.text
    add_article(sessions, "http://wire.test/4", "Flood over", "The flood is over.")
    match_new_articles(sessions, rules, AGE)
    assert ("floods", "http://wire.test/4") in alerted(sessions)


def test_a_row_the_database_refuses_is_rolled_back_alone(
    sessions: sessionmaker, caplog: pytest.LogCaptureFixture
) -> None:
    """An article that already has a match for a rule, yet is unmatched at version 1 (its
    `matched_at` cleared by hand): writing the match again breaks the (rule, article)
    uniqueness. Only that article's savepoint is rolled back; the others alert."""
    add_article(sessions, "http://wire.test/1", "Flood in Valencia", "The flood rose.")
    bad = add_article(sessions, "http://wire.test/2", "Flood again", "More flood.")
    add_article(sessions, "http://wire.test/3", "Flood warning", "A flood is coming.")
    with sessions.begin() as session:
        session.add(RuleMatch(rule="floods", article_id=bad, hits=[]))
    with caplog.at_level(logging.ERROR, logger="alerts.matching"):
        report = match_new_articles(sessions, [rule("floods", "flood")], AGE)
    assert alerted(sessions) == {("floods", "http://wire.test/1"),
                                 ("floods", "http://wire.test/3")}
    assert (report.matches, report.failed) == (2, 1)
    assert "'Wire'" in caplog.text and "IntegrityError" in caplog.text
    assert matched_at(sessions, bad) is not None


def test_an_edit_stored_while_matching_runs_is_matched(
    sessions: sessionmaker, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crawl revises the article between the matcher's read and its write: the old text
    must not mark the new one as matched, and the next cycle matches the new text."""
    article_id = add_article(sessions, "http://wire.test/1", "Storm", "A storm is forecast.")
    with sessions() as session:
        source_id = session.scalars(select(Source.id)).one()
    store = ArticleStore(migrated_database_url)  # the crawl: its own engine and connections
    original = RuleSet.match_many  # a match cycle evaluates its batch at once
    revised = []

    def match_while_a_crawl_revises(self: RuleSet, documents):  # type: ignore[no-untyped-def]
        if not revised:
            revised.append(store.revise_article(ArticleItem(
                source_id=source_id, url="http://wire.test/1", title="Storm",
                body="A storm and a flood hit the coast.")))
        return original(self, documents)

    rules = [rule("floods", "flood")]
    try:
        monkeypatch.setattr(RuleSet, "match_many", match_while_a_crawl_revises)
        match_new_articles(sessions, rules, AGE)
        assert revised == [True]
        assert alerted(sessions) == set()
        assert matched_at(sessions, article_id) is None  # the new version is still due
        monkeypatch.undo()
        match_new_articles(sessions, rules, AGE)
    finally:
        store.close()
    assert alerted(sessions) == {("floods", "http://wire.test/1")}
    with sessions() as session:
        assert session.scalars(select(RuleMatch.rule)).all() == ["floods"]


@pytest.mark.parametrize("migrated_database_url", ["sqlite"], indirect=True)
def test_the_crawl_can_write_while_rules_are_evaluated(
    sessions: sessionmaker, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's write lock is never held while rules run: a writer that will not wait at
    all (busy timeout 0) gets through during every evaluation."""
    for number in range(1, 6):
        add_article(sessions, f"http://wire.test/{number}", "Flood", "A flood.")
    crawl = sqlite3.connect(make_url(migrated_database_url).database, timeout=0)
    original = RuleSet.match_many  # a match cycle evaluates its batch at once
    writes = []

    def match_while_the_crawl_writes(self: RuleSet, documents):  # type: ignore[no-untyped-def]
        documents = list(documents)
        with crawl:
            crawl.execute("UPDATE sources SET last_status = 'ok'")
        writes.extend(document.url for document in documents)
        return original(self, documents)

    monkeypatch.setattr(RuleSet, "match_many", match_while_the_crawl_writes)
    try:
        report = match_new_articles(sessions, [rule("floods", "flood")], AGE)
    finally:
        crawl.close()
    assert len(writes) == 5
    assert report.matches == 5
