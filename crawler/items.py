"""Items the spider yields and the storage pipeline writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crawler.dedup import Fingerprint
from crawler.entries import Entry
from crawler.ledger import LedgerEntry


@dataclass
class ArticleItem:
    source_id: int
    url: str  # canonical
    title: str
    body: str
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    from_feed: bool = False
    # The listing's `updated`/`lastmod` (else publish date) when the page was fetched.
    entry_updated_at: datetime | None = None
    # A stored article fetched again because its listing says it changed: `url` is the
    # stored article's (or one of its aliases), and a changed text becomes a new version.
    revision: bool = False
    # Other canonical URLs that led to this article (the listing's link, each address of
    # the redirect chain) when they differ from `url`: recorded so they are never fetched
    # as new again.
    aliases: list[str] = field(default_factory=list)
    # The listing entry this article was fetched for (its crawl ledger row goes once the
    # article is stored), when it is not `url`.
    entry_url: str | None = None
    # The body's near-duplicate fingerprint, when the extraction worker computed it
    # (crawler/extraction_pool.py); None: story assignment computes it.
    fingerprint: Fingerprint | None = None


@dataclass
class SourceStatusItem:
    """The outcome of fetching a source itself (its feed, sitemap or page)."""

    source_id: int
    ok: bool
    status: str  # "ok", "not modified", "warning", or a short error class
    error: str | None = None  # an error, or the warning of a malformed but readable feed
    etag: str | None = None
    last_modified: str | None = None
    entries: int = 0
    # What the source turned out to be, and the URL to poll from now on ("" = forget it).
    kind: str | None = None
    resolved_url: str | None = None
    # For adaptive polling: the dates the listing shows, and how long the server asked
    # us to stay away (Retry-After).
    entry_dates: list[datetime] = field(default_factory=list)
    retry_after_seconds: float | None = None


@dataclass
class PendingEntriesItem:
    """Entries whose pages this crawl will fetch, for the crawl ledger: yielded before the
    listing's status (and its validators), so a crawl cut short never loses them."""

    entries: list[LedgerEntry]


@dataclass
class EntryOutcomeItem:
    """An entry whose page gave no article this time: to retry, unreadable (its stand-in
    stored), too old, gone or given up (crawler/ledger.py has the states)."""

    item: LedgerEntry
    state: str
    reason: str


@dataclass
class PreviewItem:
    """What `newswatch sources add` shows before a source is saved."""

    kind: str
    url: str
    resolved_url: str | None = None
    title: str = ""
    entries: list[dict[str, str]] = field(default_factory=list)
    total_entries: int = 0
    warning: str | None = None


def stand_in(source_id: int, entry: Entry) -> ArticleItem | None:
    """The listing's own title and summary in place of a page that can't be read, when
    the listing gives an article's text (feeds, Google News sitemaps)."""
    if not entry.can_stand_in or not (entry.title or entry.summary):
        return None
    return ArticleItem(
        source_id=source_id,
        url=entry.url,
        title=entry.title,
        body=entry.summary,
        authors=entry.authors,
        published_at=entry.published,
        from_feed=True,
        entry_updated_at=entry.changed_at,
    )
