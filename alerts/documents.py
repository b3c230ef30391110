"""An article as the matcher reads it: the fields rules look at, from a stored article."""

from __future__ import annotations

from typing import Any

from alerts.matcher import Document


def article_document(article: Any) -> Document:
    """The document of `article`: a Core row of `articles` with the source's name as
    `source_name` (what the read-only commands select), or a crawler.models.Article."""
    return Document(
        title=article.title or "",
        body=article.body or "",
        authors=tuple(article.authors or ()),
        source=article.source_name or "",
        url=article.url,
        language=article.language,
    )
