"""The crawl ledger: what became of each listing entry the crawler set out to fetch.

A listing (feed, sitemap, section page) names entries; fetching their pages takes a
while and can fail or be cut short. So every entry the crawler means to fetch is written
down as *pending* in the same transaction that saves the listing's ETag/Last-Modified,
and its row is deleted only once its article is stored. Whatever the listing answers
next time (a 304 included) and however the crawl ended (Ctrl-C, the time limit, a kill),
a pending or failed entry is fetched again at the source's next crawl.

States:

- ``pending``: listed, its page not yet stored;
- ``retry``: its page failed in a way that may pass (a 5xx, 429, timeout, refused
  connection, DNS failure), or answered 404/410 (feeds often go live before the page):
  tried again at later crawls, `retry_delay` doubling each time, `retries` times;
- ``blocked``: its page is refused for good (401/402/403/451, robots.txt, not HTML, no
  text in it): the listing's title and summary stand in for it, and the page is tried
  again now and then to upgrade the stand-in to the full article;
- ``skipped``: its page is older than `max_article_age`: not fetched again;
- ``gone``: still 404/410 after every retry: nothing stored;
- ``failed``: still failing after every retry: the listing's text stands in if it can.

Rows expire (`expires_at`, `max_article_age` after they were written, at least a day:
by then the entry is too old to store anyway) and housekeeping deletes them
(scheduler/housekeeping.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from crawler.database import conflict_insert
from crawler.entries import Entry
from crawler.tables import crawl_entries, url_digest, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from crawler.models import CrawlEntry

PENDING, RETRY, BLOCKED, SKIPPED, GONE, FAILED = (
    "pending", "retry", "blocked", "skipped", "gone", "failed")
# States whose page is fetched again when due.
DUE_STATES = (PENDING, RETRY, BLOCKED)
# A stand-in is tried for an upgrade at least this far apart.
MIN_UPGRADE_DELAY = timedelta(hours=1)
MIN_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5
    retry_delay: timedelta = timedelta(minutes=2)
    # How long a row is remembered: the age past which an entry is not stored anyway.
    memory: timedelta = timedelta(days=3)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed try: retry_delay, doubling."""
        return self.retry_delay * (2 ** min(max(attempts - 1, 0), 20))


@dataclass(frozen=True)
class LedgerEntry:
    """An entry to fetch, as the ledger keeps it: the listing's view, where it was
    listed (`scope`), and whether it is a stored article's re-fetch (`revision`)."""

    source_id: int
    entry: Entry
    scope: str
    revision: bool = False
    attempts: int = 0


def entry_to_json(entry: Entry, scope: str, revision: bool) -> dict[str, Any]:
    return {
        "title": entry.title,
        "summary": entry.summary,
        "authors": list(entry.authors),
        "published": entry.published.isoformat() if entry.published else None,
        "updated": entry.updated.isoformat() if entry.updated else None,
        "can_stand_in": entry.can_stand_in,
        "scope": scope,
        "revision": revision,
    }


def entry_from_row(row: Any) -> LedgerEntry:
    """The ledger entry of a `crawl_entries` row (a Core row or a CrawlEntry)."""
    data = row.entry or {}
    entry = Entry(
        url=row.url,
        title=data.get("title") or "",
        summary=data.get("summary") or "",
        authors=list(data.get("authors") or []),
        published=_date(data.get("published")),
        updated=_date(data.get("updated")),
        can_stand_in=bool(data.get("can_stand_in")),
    )
    return LedgerEntry(row.source_id, entry, data.get("scope") or "", bool(data.get("revision")),
                       row.attempts)


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_pending(session: Session, entries: Sequence[LedgerEntry], policy: RetryPolicy,
                   now: datetime | None = None) -> None:
    """Write these entries down as pending; an entry the ledger holds already keeps its
    row (another source may have listed it, or it is waiting for a retry), unless the row
    has expired and waits for housekeeping: then it starts again."""
    if not entries:
        return
    now = now or utcnow()
    expires = now + max(policy.memory, MIN_MEMORY)
    rows = {
        url_digest(item.entry.url): {
            "url_key": url_digest(item.entry.url),
            "url": item.entry.url,
            "source_id": item.source_id,
            "state": PENDING,
            "attempts": 0,
            "next_try_at": now,
            "last_error": None,
            "entry": entry_to_json(item.entry, item.scope, item.revision),
            "created_at": now,
            "updated_at": now,
            "expires_at": expires,
        }
        for item in entries
    }
    statement = conflict_insert(session, crawl_entries)
    fresh = {column: statement.excluded[column]
             for column in ("source_id", "state", "attempts", "next_try_at", "last_error", "entry",
                            "created_at", "updated_at", "expires_at")}
    session.execute(
        statement.on_conflict_do_update(index_elements=["url_key"], set_=fresh,
                                        where=crawl_entries.c.expires_at <= now),
        list(rows.values()),
    )


def record_outcome(session: Session, item: LedgerEntry, state: str, reason: str | None,
                   policy: RetryPolicy, now: datetime | None = None) -> CrawlEntry:
    """Record what fetching the entry's page gave: `state` as decided by the crawler
    (`RETRY` is turned into `FAILED` or `GONE` by the caller once retries run out)."""
    from crawler.models import CrawlEntry  # the ORM: for the crawl's writes only

    now = now or utcnow()
    key = url_digest(item.entry.url)
    row = session.scalar(select(CrawlEntry).where(CrawlEntry.url_key == key))
    if row is None:
        row = CrawlEntry(url_key=key, url=item.entry.url, source_id=item.source_id,
                         attempts=0, created_at=now,
                         entry=entry_to_json(item.entry, item.scope, item.revision))
        session.add(row)
    row.state = state
    row.last_error = reason
    row.updated_at = now
    row.attempts = (row.attempts or 0) + 1
    row.expires_at = now + max(policy.memory, MIN_MEMORY)
    if state == RETRY:
        row.next_try_at = now + policy.delay(row.attempts)
    elif state == BLOCKED:
        row.next_try_at = now + max(policy.delay(row.attempts), MIN_UPGRADE_DELAY)
    else:
        row.next_try_at = None
    if bool(row.entry.get("revision")) != item.revision:
        # Once a stand-in is stored, fetching the page again upgrades it.
        row.entry = {**row.entry, "revision": item.revision}
    return row


def forget(session: Session, urls: Iterable[str]) -> None:
    """The entries' articles are stored: their rows go."""
    # An ORM delete: it also drops the rows record_outcome() left in the session.
    from crawler.models import CrawlEntry

    keys = [url_digest(url) for url in set(urls)]
    if keys:
        session.execute(delete(CrawlEntry).where(CrawlEntry.url_key.in_(keys)))


def known_states(session: Session, urls: Iterable[str], now: datetime | None = None,
                 chunk: int = 500) -> dict[str, str]:
    """The ledger's state for each of these URLs it holds (and has not expired)."""
    now = now or utcnow()
    wanted = {url_digest(url): url for url in set(urls)}
    keys = list(wanted)
    found: dict[str, str] = {}
    for start in range(0, len(keys), chunk):
        rows = session.execute(
            select(crawl_entries.c.url_key, crawl_entries.c.state)
            .where(crawl_entries.c.url_key.in_(keys[start:start + chunk]),
                   crawl_entries.c.expires_at > now)
        )
        found.update((wanted[row.url_key], row.state) for row in rows)
    return found


def due_entries(session: Session, source_ids: Iterable[int],
                now: datetime | None = None) -> list[LedgerEntry]:
    """Entries of these sources whose page is to be fetched now, oldest first."""
    now = now or utcnow()
    ids = list(source_ids)
    if not ids:
        return []
    rows = session.execute(
        select(crawl_entries)
        .where(crawl_entries.c.source_id.in_(ids), crawl_entries.c.state.in_(DUE_STATES),
               crawl_entries.c.next_try_at <= now, crawl_entries.c.expires_at > now)
        .order_by(crawl_entries.c.next_try_at)
    )
    return [entry_from_row(row) for row in rows]


def next_retry(session: Session, source_id: int, now: datetime | None = None) -> datetime | None:
    """When the source's earliest page to retry is due, if it has one."""
    now = now or utcnow()
    return session.scalar(
        select(func.min(crawl_entries.c.next_try_at))
        .where(crawl_entries.c.source_id == source_id, crawl_entries.c.state == RETRY,
               crawl_entries.c.expires_at > now)
    )


def counts_by_source(session: Session | Connection,
                     now: datetime | None = None) -> dict[int, Counter[str]]:
    """For each source: how many of its entries are in each state."""
    now = now or utcnow()
    rows = session.execute(
        select(crawl_entries.c.source_id, crawl_entries.c.state, func.count())
        .where(crawl_entries.c.expires_at > now)
        .group_by(crawl_entries.c.source_id, crawl_entries.c.state)
    )
    counts: dict[int, Counter[str]] = {}
    for source_id, state, count in rows:
        counts.setdefault(source_id, Counter())[state] = count
    return counts


def last_errors(session: Session | Connection, source_id: int, states: Sequence[str],
                now: datetime | None = None, limit: int = 3) -> list[tuple[str, str]]:
    """The newest (url, reason) of the source's entries in these states."""
    now = now or utcnow()
    rows = session.execute(
        select(crawl_entries.c.url, crawl_entries.c.last_error)
        .where(crawl_entries.c.source_id == source_id, crawl_entries.c.state.in_(states),
               crawl_entries.c.expires_at > now)
        .order_by(crawl_entries.c.updated_at.desc())
        .limit(limit)
    )
    return [(row.url, row.last_error or "") for row in rows]


def describe_counts(counts: Counter[str], max_age: str) -> str:
    """A line for `sources` and `status`, e.g. "3 pages to retry, 12 entries older than 3d
    skipped"; "" when there is nothing to say."""
    parts = []
    waiting = counts.get(PENDING, 0)
    if waiting:
        parts.append(f"{waiting} pages waiting to be fetched")
    if counts.get(RETRY):
        parts.append(f"{counts[RETRY]} pages to retry")
    if counts.get(BLOCKED):
        parts.append(f"{counts[BLOCKED]} pages unreadable (feed text stored)")
    if counts.get(SKIPPED):
        parts.append(f"{counts[SKIPPED]} entries older than {max_age} skipped")
    if counts.get(GONE):
        parts.append(f"{counts[GONE]} pages gone (404/410)")
    if counts.get(FAILED):
        parts.append(f"{counts[FAILED]} pages given up after retries")
    return ", ".join(parts)
