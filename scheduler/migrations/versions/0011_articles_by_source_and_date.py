"""An index of articles by source and publish date: `status` and `sources` read each
source's newest publish dates to say why it polls at its interval ("publishes about
every 3h; polling every 1h30"), one small lookup per source.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_articles_source_published", "articles", ["source_id", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_articles_source_published", table_name="articles")
