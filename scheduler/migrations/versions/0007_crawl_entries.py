"""Crawl entries: per-URL crawl state (pending, to retry, blocked, skipped, gone, failed),
so an interrupted crawl or a failing page never loses an article.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crawler.models

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crawl_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_key", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column("created_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"],
                                name="fk_crawl_entries_source_id", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_key"),
    )
    with op.batch_alter_table("crawl_entries") as batch:
        batch.create_index("ix_crawl_entries_source_id", ["source_id"])
        batch.create_index("ix_crawl_entries_next_try_at", ["next_try_at"])
        batch.create_index("ix_crawl_entries_expires_at", ["expires_at"])


def downgrade() -> None:
    op.drop_table("crawl_entries")
