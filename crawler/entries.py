"""What a listing (feed, sitemap or section page) says about one article it links to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    url: str  # canonical
    title: str = ""
    summary: str = ""
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    # When the listing says the article last changed (feed `updated`, sitemap `lastmod`).
    updated: datetime | None = None
    # Whether title and summary may stand in for the page when it can't be fetched
    # (true for feeds and Google News sitemaps; a bare link text is not an article).
    can_stand_in: bool = False

    @property
    def dated(self) -> datetime | None:
        """The article's age as the listing tells it: published, else updated."""
        return self.published or self.updated

    @property
    def changed_at(self) -> datetime | None:
        """The newest date the listing gives: what `articles.entry_updated_at` records."""
        dates = [d for d in (self.published, self.updated) if d is not None]
        return max(dates) if dates else None
