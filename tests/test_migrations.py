"""Migrations: the schema they build is the models' schema, and old data is carried over."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

import alerts.tables  # noqa: F401  (registers the alert tables)
import scheduler.tables  # noqa: F401  (registers the daemon tables)
from crawler.database import make_engine
from crawler.tables import metadata
from scheduler.migrate import current_revision, head_revision, is_modelled, upgrade_database


def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"include_name": is_modelled}),
                metadata,
            )
        assert differences == []
        upgrade_database(engine)  # a second start is a no-op
    finally:
        engine.dispose()


def test_upgrade_gives_existing_articles_and_alerts_their_own_story(database_url: str) -> None:
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        upgrade_database(engine, "0001")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO sources (id, name, url, kind, error_count, created_at) "
                     "VALUES (1, 's', 'http://x.test/feed', 'feed', 0, :now)"),
                {"now": now},
            )
            for article_id in (1, 2):
                connection.execute(
                    text("INSERT INTO articles (id, source_id, url, title, body, authors, "
                         "content_hash, from_feed, first_seen_at) VALUES (:id, 1, :url, :t, "
                         "'b', '[]', 'h', false, :now)"),
                    {"id": article_id, "url": f"http://x.test/{article_id}", "t": f"T{article_id}",
                     "now": now},
                )
            connection.execute(
                text("INSERT INTO matches (id, rule, article_id, hits, created_at) "
                     "VALUES (1, 'r', 2, '[]', :now)"), {"now": now},
            )
            connection.execute(
                text("INSERT INTO notifications (match_id, rule, article_id, channel, status, "
                     "attempts, url_results, created_at) VALUES (1, 'r', 2, 'c', 'sent', 1, "
                     "'{}', :now)"), {"now": now},
            )
        upgrade_database(engine)
        with engine.connect() as connection:
            stories = connection.execute(
                text("SELECT a.id, a.story_id, s.headline FROM articles a "
                     "JOIN stories s ON s.id = a.story_id ORDER BY a.id")
            ).all()
            assert [(row[0], row[2]) for row in stories] == [(1, "T1"), (2, "T2")]
            assert len({row[1] for row in stories}) == 2
            notification_story = connection.execute(
                text("SELECT story_id FROM notifications")
            ).scalar_one()
            assert notification_story == stories[1][1]
            # New stories get fresh ids after the backfill (PostgreSQL's sequence moved on).
            connection.execute(
                text("INSERT INTO stories (headline, first_seen_at, last_seen_at) "
                     "VALUES ('new', :now, :now)"), {"now": now},
            )
    finally:
        engine.dispose()


def test_the_heads_read_from_the_scripts_are_alembics() -> None:
    """upgrade_database skips Alembic when the database is at these heads: a wrong answer
    would leave a database unmigrated, or import Alembic on every command."""
    from scheduler.migrate import written_heads

    assert ",".join(sorted(written_heads())) == head_revision()
