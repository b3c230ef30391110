"""Crawl jobs handed to Scrapyd nodes: which node, which sources, what became of them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crawler.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scrapyd_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=255), nullable=False),
        sa.Column("source_ids", sa.Text(), nullable=False),
        sa.Column("config_version", sa.String(length=64), nullable=False),
        sa.Column("started_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("completed_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_scrapyd_jobs_state", "scrapyd_jobs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_scrapyd_jobs_state", table_name="scrapyd_jobs")
    op.drop_table("scrapyd_jobs")
