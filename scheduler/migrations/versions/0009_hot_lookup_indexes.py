"""Indexes for the lookups that run on every cycle, so a big database stays fast:
matches by article (matching), articles by first-seen time (status, crawl progress,
backtests, housekeeping) and alerts by status then sent time (the outbox, status).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_matches_article_id", "matches", ["article_id"])
    op.create_index("ix_articles_first_seen_at", "articles", ["first_seen_at"])
    # The pair serves every lookup by status alone too, so it replaces the status index.
    op.create_index("ix_notifications_status_sent_at", "notifications", ["status", "sent_at"])
    op.drop_index("ix_notifications_status", table_name="notifications")
    # Retention deletes old matches and articles, and their alerts with them.
    op.create_index("ix_notifications_match_id", "notifications", ["match_id"])
    op.create_index("ix_notifications_article_id", "notifications", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_article_id", table_name="notifications")
    op.drop_index("ix_notifications_match_id", table_name="notifications")
    op.create_index("ix_notifications_status", "notifications", ["status"])
    op.drop_index("ix_notifications_status_sent_at", table_name="notifications")
    op.drop_index("ix_articles_first_seen_at", table_name="articles")
    op.drop_index("ix_matches_article_id", table_name="matches")
