"""Articles by first-seen time with their language: `rules test` and `search` ask which
languages the articles of their window are in (their stemmers shape the full-text
prefixes), which this index answers without reading the articles' rows.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_seen_language", "articles", ["first_seen_at", "language"])


def downgrade() -> None:
    op.drop_index("ix_articles_seen_language", table_name="articles")
