"""Turning a match into the title and body of an alert message."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.highlight import snippet
from alerts.matcher import Hit
from alerts.matching import article_document
from alerts.models import Notification


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def render_notification(notification: Notification) -> Message:
    """Plain-text alert: rule, headline, source, publish time, link and a snippet."""
    article = notification.article
    hits = [Hit(**hit) for hit in notification.match.hits]
    published = article.published_at or article.first_seen_at
    lines = [
        article.title,
        f"{article.source.name} · {published:%Y-%m-%d %H:%M} UTC",
        article.url,
        "",
        snippet(article_document(article), hits),
        "",
        f"Rule: {notification.rule}",
    ]
    return Message(title=f"[{notification.rule}] {article.title}", body="\n".join(lines))
