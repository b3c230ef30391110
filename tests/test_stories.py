"""Stories in the database: story_for as save_article calls it, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Row, Select, func, select, update
from test_dedup import BACKGROUND, FERRY, ORCHARD, text

from crawler.database import make_engine, make_sessionmaker
from crawler.dedup import BANDS_PER_LEAD, LEADS
from crawler.items import ArticleItem
from crawler.models import Article, Source, Story, StoryBand, utcnow
from crawler.store import ArticleStore
from crawler.stories import WINDOW, forget_bands_before, reindex_article
from scheduler.migrate import upgrade_database

BANDS_PER_ARTICLE = BANDS_PER_LEAD * len(LEADS)


@pytest.fixture
def database(migrated_database_url: str) -> str:
    """A migrated database with two sources (ids 1 and 2)."""
    engine = make_engine(migrated_database_url)
    upgrade_database(engine)
    with make_sessionmaker(engine).begin() as session:
        session.add_all([Source(id=1, name="wire", url="http://wire.test/feed"),
                         Source(id=2, name="outlet", url="http://outlet.test/feed")])
    engine.dispose()
    return migrated_database_url


def save(database_url: str, url: str, title: str, body: str, source_id: int = 1,
         *, from_feed: bool = False) -> None:
    """Store one article as the crawler does, through a fresh ArticleStore (a fresh
    engine: nothing survives in memory between calls)."""
    store = ArticleStore(database_url)
    try:
        assert store.save_article(ArticleItem(source_id, url, title, body, from_feed=from_feed))
    finally:
        store.close()


def stories_of(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {url: story_id for url, story_id in
                    connection.execute(select(Article.url, Article.story_id))}
    finally:
        engine.dispose()


def query(database_url: str, statement: Select[Any]) -> Sequence[Row[Any]]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return session.execute(statement).all()
    finally:
        engine.dispose()


def test_syndicated_copy_joins_the_existing_story(database: str) -> None:
    save(database, "http://wire.test/ferry", "Ferry timetable cut after failed inspection",
         text(FERRY))
    copy = text(["Islanders face weeks of disruption.", *FERRY[:4],
                 "Reporting by Maren Solberg; Editing by Tom Achebe"])
    save(database, "http://outlet.test/news/ferry", "Island braces for ferry chaos", copy, 2)

    stories = stories_of(database)
    assert stories["http://wire.test/ferry"] == stories["http://outlet.test/news/ferry"]
    [(headline, first_seen, last_seen)] = query(
        database, select(Story.headline, Story.first_seen_at, Story.last_seen_at))
    assert headline == "Ferry timetable cut after failed inspection"  # the first article's
    assert last_seen > first_seen
    # Each article has its signature, and its bands are indexed.
    rows = query(database, select(Article.id, Article.signature, func.count(StoryBand.id))
                 .join(StoryBand, StoryBand.article_id == Article.id)
                 .group_by(Article.id, Article.signature))
    assert len(rows) == 2
    assert all(count == BANDS_PER_ARTICLE and signature for _, signature, count in rows)


def test_different_article_starts_a_new_story(database: str) -> None:
    save(database, "http://wire.test/ferry", "Ferry timetable cut",
         text([*FERRY[:4], BACKGROUND, *FERRY[4:]]))
    save(database, "http://wire.test/orchard", "Frost ruins apple harvest",
         text([*ORCHARD[:3], BACKGROUND, *ORCHARD[3:]]))

    stories = stories_of(database)
    assert stories["http://wire.test/ferry"] != stories["http://wire.test/orchard"]
    assert [row.headline for row in query(database, select(Story.headline).order_by(Story.id))] \
        == ["Ferry timetable cut", "Frost ruins apple harvest"]


def test_index_is_in_the_database_and_survives_a_restart(database: str) -> None:
    save(database, "http://wire.test/ferry", "Ferry timetable cut", text(FERRY))
    # save() opens a new engine each time: the second article can only find the first
    # through the stored bands, not through anything kept in memory.
    save(database, "http://outlet.test/ferry", "Ferry woes", text(FERRY[:3]), 2)
    save(database, "http://other.test/orchard", "Frost", text(ORCHARD), 2)

    stories = stories_of(database)
    assert stories["http://wire.test/ferry"] == stories["http://outlet.test/ferry"]
    assert stories["http://other.test/orchard"] != stories["http://wire.test/ferry"]


def age_bands(database_url: str, by: timedelta) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(StoryBand).values(created_at=utcnow() - by))
    engine.dispose()


def test_bands_older_than_the_window_are_not_searched(database: str) -> None:
    save(database, "http://wire.test/ferry", "Ferry timetable cut", text(FERRY))
    age_bands(database, WINDOW + timedelta(days=1))
    save(database, "http://outlet.test/ferry", "Ferry woes", text(FERRY[:3]), 2)
    save(database, "http://exact.test/ferry", "Ferry", text(FERRY), 2)

    stories = stories_of(database)
    assert stories["http://wire.test/ferry"] != stories["http://outlet.test/ferry"]
    # An exact copy still joins: the content hash is not bounded by the window.
    assert stories["http://wire.test/ferry"] == stories["http://exact.test/ferry"]

    # Rows older than the window can go; the newer articles' stay.
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        assert forget_bands_before(session, utcnow() - WINDOW) == BANDS_PER_ARTICLE
    with engine.connect() as connection:
        remaining = connection.execute(select(StoryBand.article_id).distinct()).scalars().all()
    engine.dispose()
    assert sorted(remaining) == [2, 3]


def test_feed_summaries_join_only_essentially_identical_text(database: str) -> None:
    save(database, "http://wire.test/ferry", "Ferry timetable cut", text(FERRY))
    save(database, "http://outlet.test/ferry", "Islanders angry", FERRY[0], 2, from_feed=True)
    # Another feed's summary: the same sentence, punctuated differently (another hash).
    save(database, "http://third.test/ferry", "Islanders angry at ferry cut",
         FERRY[0].replace(",", ";"), 2, from_feed=True)

    stories = stories_of(database)
    assert stories["http://outlet.test/ferry"] != stories["http://wire.test/ferry"]
    assert stories["http://third.test/ferry"] == stories["http://outlet.test/ferry"]


def test_revised_article_is_found_by_its_new_text(database: str) -> None:
    summary = "Ferry passengers face weeks of reduced service after inspectors find corrosion."
    save(database, "http://wire.test/ferry", "Ferry timetable cut", summary, from_feed=True)
    # The page is fetched later and its full text replaces the feed's summary.
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        article = session.scalars(select(Article)).one()
        article.body, article.from_feed = text(FERRY), False
        reindex_article(session, article)
    engine.dispose()
    save(database, "http://outlet.test/ferry", "Ferry woes", text(FERRY[:3]), 2)

    stories = stories_of(database)
    assert stories["http://wire.test/ferry"] == stories["http://outlet.test/ferry"]
    assert len(query(database, select(StoryBand.id).where(StoryBand.article_id == 1))) \
        == BANDS_PER_ARTICLE


def test_identical_short_teasers_of_different_articles_stay_apart(database: str) -> None:
    teaser = "Read the full story on our website."
    save(database, "http://wire.test/a", "Floods hit the coast", teaser)
    save(database, "http://outlet.test/b", "Election called for autumn", teaser, source_id=2)
    stories = stories_of(database)
    assert stories["http://wire.test/a"] != stories["http://outlet.test/b"]


def test_two_crawls_storing_copies_at_the_same_moment_make_one_story(database: str) -> None:
    """Two writers (as two crawl children are) store the copies of each story at once:
    story assignment is serialised, so each pair still makes one story."""
    import random
    import threading

    pairs = 12
    vocabulary = [f"{a}{b}{c}" for a in "bdfklmnprst" for b in "aeiou" for c in "lmnrst"]
    bodies = [" ".join(random.Random(n).choices(vocabulary, k=120)) for n in range(pairs)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(outlet: str, source_id: int) -> None:
        store = ArticleStore(database)
        try:
            for n, body in enumerate(bodies):
                barrier.wait(timeout=30)
                store.save_article(ArticleItem(source_id, f"http://{outlet}.test/{n}",
                                               f"Ferry story {n}", body))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            barrier.abort()
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=("wire", 1)),
               threading.Thread(target=writer, args=("outlet", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    stories = stories_of(database)
    assert len(stories) == 2 * pairs
    split = [n for n in range(pairs)
             if stories[f"http://wire.test/{n}"] != stories[f"http://outlet.test/{n}"]]
    assert split == []


def test_copies_stored_in_one_batch_make_one_story(database: str) -> None:
    """A crawl writes up to 200 articles in one transaction: an article finds the copies
    stored earlier in its own batch as it finds those of earlier batches, and a batch
    with a stored copy of its own story joins that story."""
    save(database, "http://wire.test/orchard", "Frost ruins apple harvest", text(ORCHARD))
    store = ArticleStore(database)
    try:
        outcomes = store.write_batch([
            ArticleItem(1, "http://wire.test/ferry", "Ferry timetable cut", text(FERRY)),
            ArticleItem(2, "http://outlet.test/ferry-exact", "Ferry cut", text(FERRY)),
            ArticleItem(2, "http://outlet.test/ferry-trimmed", "Ferry woes", text(FERRY[:3])),
            ArticleItem(2, "http://outlet.test/orchard", "Orchards hit by frost",
                        text(["Growers count the cost.", *ORCHARD[:4]])),
            ArticleItem(1, "http://wire.test/ferry", "Ferry timetable cut", text(FERRY)),
        ])
    finally:
        store.close()

    assert outcomes == ["stored", "stored", "stored", "stored", "known"]
    stories = stories_of(database)
    ferry = stories["http://wire.test/ferry"]
    assert stories["http://outlet.test/ferry-exact"] == ferry
    assert stories["http://outlet.test/ferry-trimmed"] == ferry
    assert stories["http://outlet.test/orchard"] == stories["http://wire.test/orchard"] != ferry
    assert len(query(database, select(Story.id))) == 2


def test_a_copy_after_a_revision_in_its_batch_finds_the_revised_text(database: str) -> None:
    """A page first stored as its feed's stand-in, upgraded to its full text in a batch that
    then holds another outlet's copy of that text: the copy joins the page's story, as it
    would if the upgrade had come in an earlier batch (two stories would alert twice)."""
    save(database, "http://wire.test/ferry", "Ferry news",
         "Ferry passengers face weeks of reduced service.", from_feed=True)
    store = ArticleStore(database)
    try:
        outcomes = store.write_batch([
            ArticleItem(1, "http://wire.test/ferry", "Ferry timetable cut", text(FERRY),
                        revision=True),
            ArticleItem(2, "http://outlet.test/ferry", "Ferry timetable cut", text(FERRY)),
            ArticleItem(2, "http://outlet.test/ferry-trimmed", "Ferry woes", text(FERRY[:3])),
        ])
    finally:
        store.close()

    assert outcomes == ["revised", "stored", "stored"]
    stories = stories_of(database)
    assert stories["http://outlet.test/ferry"] == stories["http://wire.test/ferry"]
    assert stories["http://outlet.test/ferry-trimmed"] == stories["http://wire.test/ferry"]
