"""Stories, near-duplicate bands, article versions, crawl state of sources.

Existing articles each become a story of their own; existing notifications follow them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crawler.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("first_seen_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stories_first_seen_at"), ["first_seen_at"], unique=False
        )

    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "version", name="uq_article_versions"),
    )
    op.create_table(
        "story_bands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("band", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("created_at", crawler.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("story_bands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_story_bands_article_id"), ["article_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_story_bands_band"), ["band"], unique=False)
        batch_op.create_index(batch_op.f("ix_story_bands_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("entry_updated_at", crawler.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index(batch_op.f("ix_articles_story_id"), ["story_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_articles_story_id", "stories", ["story_id"], ["id"], ondelete="SET NULL"
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("poll_interval_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "last_new_article_at", crawler.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("unhealthy_since", crawler.models.UTCDateTime(timezone=True), nullable=True)
        )

    # Every existing article becomes a story of its own (ids shared for simplicity).
    op.execute(
        "INSERT INTO stories (id, headline, first_seen_at, last_seen_at) "
        "SELECT id, title, first_seen_at, first_seen_at FROM articles"
    )
    op.execute("UPDATE articles SET story_id = id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('stories', 'id'), "
            "COALESCE((SELECT MAX(id) FROM stories), 0) + 1, false)"
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE notifications SET story_id = "
        "(SELECT story_id FROM articles WHERE articles.id = notifications.article_id)"
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("story_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("uq_notifications_once", type_="unique")
        batch_op.create_unique_constraint("uq_notifications_once", ["rule", "story_id", "channel"])
        batch_op.create_foreign_key(
            "fk_notifications_story_id", "stories", ["story_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("unhealthy_since")
        batch_op.drop_column("last_new_article_at")
        batch_op.drop_column("poll_interval_seconds")
        batch_op.drop_column("resolved_url")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("fk_notifications_story_id", type_="foreignkey")
        batch_op.drop_constraint("uq_notifications_once", type_="unique")
        batch_op.create_unique_constraint(
            "uq_notifications_once", ["rule", "article_id", "channel"]
        )
        batch_op.drop_column("story_id")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint("fk_articles_story_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_articles_story_id"))
        batch_op.drop_column("version")
        batch_op.drop_column("entry_updated_at")
        batch_op.drop_column("signature")
        batch_op.drop_column("story_id")

    with op.batch_alter_table("story_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_story_bands_created_at"))
        batch_op.drop_index(batch_op.f("ix_story_bands_band"))
        batch_op.drop_index(batch_op.f("ix_story_bands_article_id"))

    op.drop_table("story_bands")
    op.drop_table("article_versions")
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_first_seen_at"))

    op.drop_table("stories")
