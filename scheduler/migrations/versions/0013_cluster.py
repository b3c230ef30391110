"""Cluster mode: the nodes of a cluster, the config the scheduler publishes for them, and
a lease on the articles a matcher is working on.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crawler.models

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    moment = crawler.models.UTCDateTime(timezone=True)
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", moment, nullable=False),
        sa.Column("heartbeat_at", moment, nullable=False),
        sa.Column("stopped_at", moment, nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("doing", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
    )
    op.create_table(
        "published_configs",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published_at", moment, nullable=False),
        sa.Column("published_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_published_configs")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("match_claimed_until", moment, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("match_claimed_until")
    op.drop_table("published_configs")
    op.drop_table("nodes")
