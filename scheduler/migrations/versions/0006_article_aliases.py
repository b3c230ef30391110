"""Article aliases: other URLs that led to a stored article (redirects, kept query
parameters), so the "already stored" check finds them. Also merges the two heads
0004 (alert outbox) and 0005 (daemon state).

Revision ID: 0006
Revises: 0004, 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = ("0004", "0005")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "article_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"],
            name="fk_article_aliases_article_id", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url", name="uq_article_aliases_url"),
    )
    with op.batch_alter_table("article_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_aliases_article_id"), ["article_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("article_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_aliases_article_id"))
    op.drop_table("article_aliases")
