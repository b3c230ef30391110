"""Full-text search over articles: SQLite FTS5 table kept by triggers, PostgreSQL GIN.

`newswatch search` and `rules test` use it to find candidate articles quickly; the rule
matcher then decides exactly.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UPGRADE = [
    # No stemming in the index: queries use prefixes of the matcher's own stems, so the
    # index never disagrees with the matcher about inflections.
    "CREATE VIRTUAL TABLE articles_fts USING fts5(title, body, content='articles', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO articles_fts (rowid, title, body) SELECT id, title, body FROM articles",
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body); END",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts (articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); END",
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN "
    "INSERT INTO articles_fts (articles_fts, rowid, title, body) "
    "VALUES ('delete', old.id, old.title, old.body); "
    "INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body); END",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS articles_fts_update",
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TABLE IF EXISTS articles_fts",
]
POSTGRES_UPGRADE = [
    "CREATE INDEX ix_articles_fulltext ON articles USING gin "
    "(to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(body, '')))",
]
POSTGRES_DOWNGRADE = ["DROP INDEX IF EXISTS ix_articles_fulltext"]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRES_UPGRADE}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRES_DOWNGRADE}.get(dialect, [])
    for statement in statements:
        op.execute(statement)
