"""URLs of any length are stored, found again and kept unique: a canonical URL over the
old 2,000-character column (long query strings exist) must not fail the store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from outlets import Copy, write_outlet
from servers import SEED_HOST, SiteServer, WebhookReceiver
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from test_end_to_end import SEED_ARTICLE, newswatch, stored_articles
from test_story_alerts import config_for

from crawler.database import make_engine, make_sessionmaker
from crawler.items import ArticleItem
from crawler.models import Article, ArticleAlias, Source
from crawler.store import ArticleStore
from scheduler.migrate import upgrade_database

LONG = "https://news.test/story?ids=" + ",".join(str(n) for n in range(1500))  # 6,300 chars
LONG_ALIAS = LONG + "&from=feed"


@pytest.fixture
def store(migrated_database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_database_url)
    upgrade_database(engine)
    with make_sessionmaker(engine).begin() as session:
        session.add(Source(name="Wire", url="http://wire.test/feed"))
    engine.dispose()
    article_store = ArticleStore(migrated_database_url)
    yield article_store
    article_store.close()


def item(url: str, body: str = "The harbour reopened on Monday.", **extra: object) -> ArticleItem:
    return ArticleItem(source_id=1, url=url, title="Harbour", body=body, **extra)  # type: ignore[arg-type]


def test_an_article_with_a_very_long_url_is_stored_once_and_found_again(
    store: ArticleStore,
) -> None:
    assert len(LONG) > 5000
    assert store.save_article(item(LONG, aliases=[LONG_ALIAS])) is True
    assert store.save_article(item(LONG)) is False  # known: not stored twice
    assert set(store.stored_change_dates([LONG, LONG_ALIAS, "https://news.test/other"])) == {
        LONG, LONG_ALIAS}
    assert store.revise_article(item(LONG_ALIAS, body="The harbour reopened on Tuesday."))
    with store.sessions() as session:
        article = session.scalars(select(Article)).one()
        assert (article.url, article.version) == (LONG, 2)
        assert session.scalars(select(ArticleAlias.url)).all() == [LONG_ALIAS]


def test_urls_stay_unique_whoever_inserts_them(store: ArticleStore) -> None:
    """The digest is set for ORM objects and Core inserts alike, so the database itself
    refuses a second row with the same URL."""
    store.save_article(item(LONG))
    with store.sessions() as session, pytest.raises(IntegrityError):
        session.execute(insert(Article), [{
            "source_id": 1, "url": LONG, "title": "", "body": "", "authors": [],
            "content_hash": "h", "from_feed": False, "version": 1,
            "first_seen_at": datetime.now(UTC),
        }])
        session.commit()
    with store.sessions() as session:
        stored = session.scalars(select(Article)).one()
        assert stored.url_hash == hashlib.sha256(LONG.encode()).hexdigest()


def test_upgrade_gives_stored_urls_their_digest_and_keeps_search(database_url: str) -> None:
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        upgrade_database(engine, "0006")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO sources (id, name, url, kind, error_count, created_at) "
                     "VALUES (1, 's', 'http://x.test/feed', 'feed', 0, :now)"), {"now": now})
            connection.execute(
                text("INSERT INTO articles (source_id, url, title, body, authors, "
                     "content_hash, from_feed, version, first_seen_at) VALUES (1, "
                     "'http://x.test/1', 'Harbour', 'reopened', '[]', 'h', false, 1, :now)"),
                {"now": now})
            connection.execute(text("INSERT INTO article_aliases (url, article_id) "
                                    "SELECT 'http://x.test/1?ref=feed', id FROM articles"))
        upgrade_database(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT url_hash FROM articles")).scalar_one() == (
                hashlib.sha256(b"http://x.test/1").hexdigest())
            assert connection.execute(text("SELECT url_hash FROM article_aliases")
                                      ).scalar_one() == (
                hashlib.sha256(b"http://x.test/1?ref=feed").hexdigest())
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            session.add(Article(source_id=1, url=LONG, title="Ferries", body="ferries sail",
                                content_hash="f"))
        if engine.dialect.name == "sqlite":  # the search index still follows new articles
            with engine.connect() as connection:
                found = connection.execute(text(
                    "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'ferries'")).all()
                assert len(found) == 1
    finally:
        engine.dispose()


def test_a_crawled_page_with_a_very_long_canonical_url_is_stored_and_alerts(
    tmp_path: Path, database_url: str, webhook: WebhookReceiver
) -> None:
    """The real crawl: the page declares a canonical URL of 6,000+ characters."""
    root = tmp_path / "gazette"
    write_outlet(root, [Copy("gazette", "putin-arrives", "Putin visits Pyongyang",
                             SEED_ARTICLE["body_paragraphs"])])
    page = root / "news" / "putin-arrives" / "index.html"
    short = f'href="{SEED_HOST}/news/putin-arrives/"'
    assert short in page.read_text(encoding="utf-8")
    query = "?ids=" + "-".join(str(n) for n in range(1500))
    page.write_text(page.read_text(encoding="utf-8").replace(
        short, f'href="{SEED_HOST}/news/putin-arrives/{query}"'), encoding="utf-8")
    with SiteServer(root) as site:
        hook_url = "json://" + webhook.url.removeprefix("http://") + "/hook"
        config = config_for(tmp_path, database_url, {"Gazette": f"{site.base_url}/feed/"},
                            hook_url)
        result = newswatch(config, "run", "--once")
        assert result.returncode == 0, result.stderr
        again = newswatch(config, "run", "--once")
        assert again.returncode == 0, again.stderr
    [url] = stored_articles(database_url)
    assert url == f"{site.base_url}/news/putin-arrives/{query}"
    assert len(webhook.requests) == 1
