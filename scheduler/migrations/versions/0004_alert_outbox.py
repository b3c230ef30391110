"""Alert outbox: messages (single alerts and digests), per-URL attempts, holds, routing.

Existing notifications keep their rows; pending ones are put into messages by the next
delivery round (URLs that already accepted them are not sent them again). Existing
notifications count as routed, so a channel that starts routing by tag or source gets
only new alerts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crawler.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_format", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("url_results", sa.JSON(), nullable=False),
        sa.Column("created_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("give_up_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", crawler.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_messages_channel_created_at", ["channel", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_messages_status"), ["status"], unique=False)

    op.create_table(
        "alert_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("url_key", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempted_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["alert_messages.id"],
            name="fk_alert_attempts_message_id", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_attempts_message_id"), ["message_id"], unique=False
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("held", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("routed_at", crawler.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notifications_routed_at"), ["routed_at"], unique=False)
        batch_op.create_foreign_key(
            "fk_notifications_message_id", "alert_messages", ["message_id"], ["id"],
            ondelete="SET NULL",
        )

    op.execute("UPDATE notifications SET routed_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notifications_message_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_notifications_routed_at"))
        batch_op.drop_index(batch_op.f("ix_notifications_message_id"))
        batch_op.drop_column("routed_at")
        batch_op.drop_column("held")
        batch_op.drop_column("message_id")

    with op.batch_alter_table("alert_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_attempts_message_id"))
    op.drop_table("alert_attempts")

    with op.batch_alter_table("alert_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_messages_status"))
        batch_op.drop_index("ix_alert_messages_channel_created_at")
    op.drop_table("alert_messages")
