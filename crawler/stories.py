"""Grouping articles into stories: one story, many outlets.

Levels of identity, cheapest first: the canonical URL (unique in the table), the exact
body (content hash), then near-duplicate text (syndicated, trimmed or lightly edited
copies; see crawler/dedup.py when present). An article that matches none starts a story.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.models import Article, Story, utcnow


def story_for(session: Session, article: Article) -> Story:
    """The story `article` belongs to: an existing one, or a new one it starts."""
    story = _story_with_same_text(session, article)
    if story is None:
        story = Story(headline=article.title, first_seen_at=utcnow())
        session.add(story)
    story.last_seen_at = utcnow()
    return story


def _story_with_same_text(session: Session, article: Article) -> Story | None:
    return session.scalars(
        select(Story)
        .join(Article, Article.story_id == Story.id)
        .where(Article.content_hash == article.content_hash)
        .limit(1)
    ).first()
