"""Daemon state: one row per daemon run (liveness, clean stop, reloads), operator alerts sent.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crawler.models

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daemon_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("config_path", sa.Text(), nullable=False),
        sa.Column("started_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_cleanly", sa.Boolean(), nullable=True),
        sa.Column("reloaded_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reload_ok", sa.Boolean(), nullable=True),
        sa.Column("reload_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "admin_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("sent_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("admin_events")
    op.drop_table("daemon_runs")
