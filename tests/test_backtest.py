"""`search` and `rules test` find exactly what the matcher would: the full-text prefilter
may only ever narrow to a superset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from alerts.backtest import find_matching, search_condition
from alerts.query import parse_query
from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, Source, Story
from scheduler.migrate import upgrade_database

ARTICLES = {
    "http://zeitung.test/1": ("de", "Alte Häuser im Zentrum",
                              "Das alte Haus am Markt steht seit Jahren leer."),
    "http://wire.test/2": ("en", "Putin in Pyongyang", "Putin visited Pyongyang on Tuesday."),
    "http://wire.test/3": ("en", "Markets", "Happiness is a rising index."),
}


@pytest.fixture
def sessions(migrated_database_url: str) -> Iterator[sessionmaker]:
    engine = make_engine(migrated_database_url)
    upgrade_database(engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        source = Source(name="s", url="http://s.test/feed")
        for url, (language, title, body) in ARTICLES.items():
            session.add(Article(source=source, url=url, title=title, body=body,
                                language=language, content_hash=url, story=Story(headline=title)))
    yield factory
    engine.dispose()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Häuser", ["http://zeitung.test/1"]),  # German stemming: Häuser ~ Haus
        ("lang:de OR Putin", ["http://wire.test/2", "http://zeitung.test/1"]),
        ("visit", ["http://wire.test/2"]),
        ("happy", ["http://wire.test/3"]),
        ("source:s Pyongyang", ["http://wire.test/2"]),
        ("Putin Tuesday", ["http://wire.test/2"]),
        ("Putin happiness", []),
        ("(Putin OR Haus) -Tuesday", ["http://zeitung.test/1"]),
        ("title:markets OR visit* index", ["http://wire.test/3"]),
        ('"visited Pyongyang" NEAR/3 Tuesday', ["http://wire.test/2"]),
    ],
)
def test_search_agrees_with_the_matcher(sessions: sessionmaker, query: str,
                                        expected: list[str]) -> None:
    with sessions() as session:
        found = [f.article.url for f in find_matching(session, parse_query(query))]
    assert sorted(found) == sorted(expected)


def test_the_full_text_condition_keeps_the_query_s_ands() -> None:
    """`a b` narrows to articles with both words' prefixes, not either: a backtest of a
    rule of common words reads only the articles that have them all."""
    assert search_condition(parse_query("Putin Tuesday -Minsk")) == (
        "and", (("prefix", "put"), ("prefix", "tu")))
    assert search_condition(parse_query("(Putin OR Kim) visit*")) == (
        "and", (("or", (("prefix", "put"), ("prefix", "ki"))), ("prefix", "visit")))
    assert search_condition(parse_query("lang:de OR Putin")) is None
    assert search_condition(parse_query("author:smith Putin")) == ("prefix", "put")


def test_a_word_as_common_as_the_is_left_to_the_matcher() -> None:
    """`"the president"`: the full-text index is asked for "presi*" only (merging the
    postings of every word starting "the" cost more than it ruled out); words all that
    common keep their AND."""
    english = frozenset({"en"})
    assert search_condition(parse_query('"the president"'), english) == ("prefix", "presi")
    assert search_condition(parse_query("said Putin"), english) == ("prefix", "puti")
    assert search_condition(parse_query("the said"), english) == (
        "and", (("prefix", "the"), ("prefix", "sai")))


def test_a_phrase_with_a_common_word_still_matches_exactly(sessions: sessionmaker) -> None:
    with sessions() as session:
        found = [f.article.url for f in find_matching(session, parse_query('"the index"'))]
        assert found == []
        found = [f.article.url for f in find_matching(session, parse_query('"a rising index"'))]
        assert found == ["http://wire.test/3"]


def test_prefixes_come_from_the_stemmers_of_the_stored_languages() -> None:
    """Only English stored: "price" is looked up as "pric*", not as the "pri*" that the
    stems of every Snowball language share (which would read "print", "prime", ...)."""
    assert search_condition(parse_query("price"), frozenset({"en"})) == ("prefix", "pric")
    assert search_condition(parse_query("price"), frozenset({"en", None})) == ("prefix", "pric")
    assert search_condition(parse_query("price")) == ("prefix", "pri")
    assert search_condition(parse_query("Häuser"), frozenset({"de", "en"})) == ("prefix", "hau")


def test_a_story_at_the_limit_shows_its_first_article_and_every_outlet(
    database_url: str
) -> None:
    """`rules test --limit 1`: the story's first copy and all its outlets, even when a
    newer story's article comes between its copies."""
    from alerts.backtest import backtest_stories

    engine = make_engine(database_url)
    upgrade_database(engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        source = Source(name="s", url="http://s.test/feed")
        visit = Story(headline="Putin in Pyongyang")
        for url, story in [("http://first.test/visit", visit),
                           ("http://wire.test/other", Story(headline="Putin elsewhere")),
                           ("http://second.test/visit", visit)]:
            session.add(Article(source=source, url=url, title="Putin", body="Putin.",
                                language="en", content_hash=url, story=story))
    with factory() as session:
        stories = backtest_stories(session, parse_query("Putin"), None, limit=1)
        assert len(stories) == 1
        assert stories[0].first.article.url == "http://first.test/visit"
        assert stories[0].outlets == ["first.test", "second.test"]
    engine.dispose()
