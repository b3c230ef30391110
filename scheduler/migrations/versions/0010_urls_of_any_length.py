"""URLs of any length: `articles.url` and `article_aliases.url` become TEXT, unique by a
SHA-256 digest column (`url_hash`) instead of by the URL itself, and looked up through a
hash index on PostgreSQL. A canonical URL over 2,000 characters was refused by
PostgreSQL (and a btree index can't hold one over about 2,700 bytes).

On SQLite the tables are rebuilt, which drops the full-text search triggers of 0003 on
`articles`: they are created again.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"articles": "uq_articles_url", "article_aliases": "uq_article_aliases_url"}

# As created by 0003; a rebuilt SQLite table has lost them.
SQLITE_SEARCH_TRIGGERS = [
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_update",
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


def upgrade() -> None:
    bind = op.get_bind()
    for table, old_unique in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("url_hash", sa.String(length=64), nullable=True))
        _fill_url_hashes(bind, table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("url_hash", existing_type=sa.String(length=64),
                                  nullable=False)
            batch_op.drop_constraint(old_unique, type_="unique")
            batch_op.alter_column("url", existing_type=sa.String(length=2000),
                                  type_=sa.Text(), existing_nullable=False)
            batch_op.create_unique_constraint(f"{old_unique}_hash", ["url_hash"])
            batch_op.create_index(f"ix_{table}_url", ["url"], unique=False,
                                  postgresql_using="hash")
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH_TRIGGERS:
            op.execute(statement)


def _fill_url_hashes(bind: sa.Connection, table: str) -> None:
    if bind.dialect.name == "postgresql":
        op.execute(f"UPDATE {table} SET url_hash = "
                   "encode(sha256(convert_to(url, 'UTF8')), 'hex')")
        return
    # SQLite has no SHA-256 of its own: lend it Python's for this statement.
    bind.connection.driver_connection.create_function(
        "newswatch_sha256", 1, _sha256_hex, deterministic=True
    )
    op.execute(f"UPDATE {table} SET url_hash = newswatch_sha256(url)")


def _sha256_hex(url: str) -> str:
    """As crawler.models.url_digest (kept here: a migration must not change with the code)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def downgrade() -> None:
    bind = op.get_bind()
    for table, old_unique in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_url")
            batch_op.drop_constraint(f"{old_unique}_hash", type_="unique")
            batch_op.alter_column("url", existing_type=sa.Text(),
                                  type_=sa.String(length=2000), existing_nullable=False)
            batch_op.create_unique_constraint(old_unique, ["url"])
            batch_op.drop_column("url_hash")
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_SEARCH_TRIGGERS:
            op.execute(statement)
