"""A big database stays fast: every query a daemon cycle and `status` run is an index
lookup on the tables that grow, never a scan of the whole table.

The queries are the real ones: they are recorded while the real matcher, delivery round
and status run on a migrated database, then each is explained by the database itself
(SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans priced out, so a
sequential scan in the plan means that no index can serve the query).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import WebhookReceiver
from sqlalchemy import Engine, event, select
from test_alerts_outbox import BODY, app_opener, hook_url, publish, write_alert_config

from crawler.models import Article, Source, Story
from scheduler.app import App
from scheduler.status import gather_status

# The tables that grow with every article; the small ones (sources, daemon runs, admin
# events) may be read whole.
GROWING = ("articles", "article_aliases", "article_versions", "stories", "story_bands",
           "matches", "notifications", "alert_messages", "alert_attempts")


@contextmanager
def recorded_queries(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """The reading and updating statements run on `engine` meanwhile, with parameters."""
    statements: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if not executemany and statement.lstrip().upper().startswith(
            ("SELECT", "UPDATE", "DELETE")
        ):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def full_scans(engine: Engine, statement: str, parameters: object) -> list[str]:
    """The growing tables that the database would read whole to run `statement`."""
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = [row[3] for row in cursor.fetchall()]
            scanned = [re.match(r"SCAN (\w+)", line) for line in plan]
            tables = [found.group(1) for found in scanned if found]
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = cursor.fetchone()[0][0]["Plan"]
            tables = list(_scanned_relations(plan, _leading_columns(cursor)))
        cursor.close()
        connection.rollback()
    return [table for table in tables if table in GROWING]


def _leading_columns(cursor) -> dict[str, str]:
    """Each PostgreSQL index's first column, by index name."""
    cursor.execute(
        "SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    )
    return dict(cursor.fetchall())


def _scanned_relations(node: dict, leading: dict[str, str]) -> Iterator[str]:
    """Relations a PostgreSQL plan reads whole: a sequential scan, or an index read from
    end to end (no condition on its first column: PostgreSQL does use a condition on a
    later column of an index, by reading all of it)."""
    kind = node["Node Type"]
    if kind == "Seq Scan":
        yield node["Relation Name"]
    elif kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
        first = leading.get(node["Index Name"], "")
        if not re.search(rf"\b{first}\b", node.get("Index Cond", "")):
            yield node.get("Relation Name") or node["Index Name"]
    for child in node.get("Plans", ()):
        yield from _scanned_relations(child, leading)


def assert_index_lookups(engine: Engine, statements: list[tuple[str, object]]) -> None:
    assert statements, "no query was recorded"
    scans = {}
    for statement, parameters in statements:
        tables = full_scans(engine, statement, parameters)
        if tables:
            scans[" ".join(statement.split())] = tables
    assert scans == {}


def seeded_app(tmp_path: Path, database_url: str, webhook: WebhookReceiver, opener) -> App:
    """An app whose database already holds alerted stories, an article in a story with a
    copy from another outlet, and an edited article (matched again)."""
    config = write_alert_config(
        tmp_path, database_url,
        f'[channels.desk]\nurls = ["{hook_url(webhook)}"]\nrate_limit = "10/10m"',
    )
    app = opener(config)
    first = publish(app, "Putin to visit Pyongyang")
    publish(app, "Putin lands in Pyongyang", source="BBC")
    app.match()
    app.deliver()
    with app.sessions.begin() as session:
        article = session.get(Article, first)
        assert article is not None
        article.version, article.matched_at = 2, None
        article.body = BODY + " The visit starts on Tuesday."
        source = session.scalars(select(Source).where(Source.name == "BBC")).one()
        session.add(Article(
            source=source, url="https://bbc.example.org/news/copy", title=article.title,
            body=BODY, authors=[], language="en", content_hash="copy", story=article.story,
        ))
        session.add(Article(
            source=source, url="https://bbc.example.org/news/new", title="Putin in Pyongyang",
            body=BODY, authors=[], language="en", content_hash="new",
            story=Story(headline="Putin in Pyongyang"),
        ))
    return app


def test_matching_and_delivery_read_growing_tables_by_index(
    tmp_path: Path, database_url: str, webhook: WebhookReceiver
) -> None:
    with app_opener() as opener:
        app = seeded_app(tmp_path, database_url, webhook, opener)
        with recorded_queries(app.engine) as statements:
            matched = app.match()
            delivered = app.deliver()
        assert matched.articles == 3 and matched.notifications == 1
        assert delivered.sent == 1
        assert any("FROM matches" in statement for statement, _ in statements)
        assert_index_lookups(app.engine, statements)


def test_status_reads_growing_tables_by_index(
    tmp_path: Path, database_url: str, webhook: WebhookReceiver
) -> None:
    with app_opener() as opener:
        app = seeded_app(tmp_path, database_url, webhook, opener)
        with recorded_queries(app.engine) as statements, app.sessions() as session:
            status = gather_status(session, {"Wire", "BBC"})
        assert status.articles_24h == 4 and status.alerts_sent_24h == 2
        assert_index_lookups(app.engine, statements)
