"""Grouping articles into stories: one story, many outlets.

Levels of identity, cheapest first: the canonical URL (unique in the table, checked
by the caller), the exact body (`content_hash`, indexed), then near-duplicate text:
syndicated, trimmed or lightly edited copies (crawler/dedup.py has the method and the
reasons for its parameters). An article that matches none starts a story, whose
`headline` is that first article's title: later copies often rewrite the headline,
and the first one seen is usually the originating outlet's.

The near-duplicate index lives in the database, so it survives restarts and grows
one article at a time, never by re-clustering:

* each article's MinHash signature is kept in `articles.signature`, and its band
  hashes in `story_bands` (one row per band, indexed on `band`);
* a new article's candidates are the stored articles sharing a band with it, found
  with one indexed `WHERE band IN (...)` query restricted to bands written in the
  last `WINDOW` (14 days: syndicated copies appear within hours or days, and the
  window keeps the work per article bounded however many articles are stored;
  `forget_bands_before` can delete older rows to bound the table as well);
* at most `MAX_CANDIDATES` of them, those sharing the most bands, are loaded and
  verified on their full text; the article joins the story of the best one that
  passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, desc, func, insert, select, update
from sqlalchemy.orm import Session

from crawler.database import serialize_transaction
from crawler.dedup import Fingerprint, fingerprint, signature_to_bytes, story_score
from crawler.models import Article, Story, StoryBand, utcnow

# Statements on the tables, not the mapped classes: plain Core, no unit of work.
_INSERT_ARTICLE = insert(Article.__table__)
_INSERT_STORY = insert(Story.__table__)
_TOUCH_STORY = (update(Story.__table__).where(Story.__table__.c.id == bindparam("story"))
                .values(last_seen_at=bindparam("seen")))
_INSERT_BANDS = insert(StoryBand.__table__)

# Any constant will do: PostgreSQL's advisory locks are named by a 64-bit number.
STORY_LOCK_KEY = 0x6E657773  # "news"
WINDOW = timedelta(days=14)
MIN_EXACT_WORDS = 40
# A true copy shares many bands with the article it copies and comes first in the
# ranking; more candidates only cost body loads on chance collisions.
MAX_CANDIDATES = 8
# Verification stops at a candidate this sure (nearly all of the shorter text is shared).
CERTAIN = 0.9


@dataclass(frozen=True)
class Candidate:
    article_id: int
    story_id: int
    title: str
    body: str
    from_feed: bool


def lock_story_assignment(session: Session) -> None:
    """Serialise story assignment until the session commits: two crawls storing copies of
    one story at the same moment would otherwise both find no candidate and start two
    stories."""
    serialize_transaction(session, STORY_LOCK_KEY)


def story_for(session: Session, values: dict[str, Any], mine: Fingerprint | None = None) -> int:
    """Store a new article in the story it belongs to, an existing one or a new one it
    starts; returns the article's id. `values`: its `articles` columns; `mine`: its
    body's fingerprint when it was computed already (in an extraction worker).

    Called before commit, once per new article of a batch: prebuilt Core statements, not
    the ORM's unit of work (whose bookkeeping cost more than the queries). The row is
    inserted here, so a URL stored concurrently by another process raises the
    IntegrityError here rather than at commit.
    """
    now = utcnow()
    since = now - WINDOW
    mine = _fingerprint_of(values.get("body") or "", bool(values.get("from_feed")), mine)
    story_id = _story_with_same_text(session, values, since)
    if story_id is None:
        story_id = _story_of_near_copy(session, values.get("title") or "", mine, mine.bands,
                                       since)
    if story_id is None:
        story_id = session.execute(_INSERT_STORY, {
            "headline": values.get("title") or "", "first_seen_at": now, "last_seen_at": now,
        }).inserted_primary_key[0]
    else:
        session.execute(_TOUCH_STORY, {"story": story_id, "seen": now})
    signature = signature_to_bytes(mine.signature) if mine.signature is not None else None
    article_id = _insert_article(session, {**values, "story_id": story_id,
                                           "signature": signature})
    _index_bands(session, article_id, mine.bands, now)
    return article_id


def reindex_article(session: Session, article: Article,
                    mine: Fingerprint | None = None) -> None:
    """Replace a stored article's signature and bands after its text changed (a new
    version of the page, or the full text replacing a feed summary): it keeps its
    story, and later copies find it by its new text. `mine` as for `story_for`."""
    mine = _fingerprint_of(article.body or "", bool(article.from_feed), mine)
    article.signature = signature_to_bytes(mine.signature) if mine.signature is not None else None
    session.flush()
    session.execute(delete(StoryBand).where(StoryBand.article_id == article.id))
    _index_bands(session, article.id, mine.bands, utcnow())


def _fingerprint_of(body: str, summary: bool, given: Fingerprint | None) -> Fingerprint:
    """The fingerprint of an article's body: `given`, when it is of this kind of text
    (a page's, or a feed summary's), else computed now."""
    if given is not None and given.summary == summary:
        return given
    return fingerprint(body, summary=summary)


def forget_bands_before(session: Session, cutoff: datetime) -> int:
    """Delete band rows written before `cutoff` (older than the window, they are never
    read again); returns how many. Articles and stories are kept."""
    result = session.execute(delete(StoryBand).where(StoryBand.created_at < cutoff))
    return result.rowcount or 0


def _story_with_same_text(session: Session, values: dict[str, Any],
                          since: datetime) -> int | None:
    """The recent story holding this exact text. Short texts (teasers, "Read more at ..."
    stand-ins, empty bodies hashed by their headline) are left to the near-duplicate
    check, which asks more of them: identical boilerplate is not one story."""
    if values.get("from_feed") or len((values.get("body") or "").split()) < MIN_EXACT_WORDS:
        return None
    return session.scalars(
        select(Story.id)
        .join(Article, Article.story_id == Story.id)
        .where(Article.content_hash == values["content_hash"], Story.last_seen_at >= since)
        .limit(1)
    ).first()


def _story_of_near_copy(session: Session, title: str, mine: Fingerprint,
                        bands: list[int], since: datetime) -> int | None:
    if not bands:
        return None
    candidates = _load_candidates(session, _candidate_ids(session, bands, since))
    best_story, best_score = None, -1.0
    for candidate in candidates:
        if candidate.story_id == best_story:
            continue
        theirs = fingerprint(candidate.body, summary=candidate.from_feed)
        score = story_score(mine, theirs, title, candidate.title)
        if score is not None and score > best_score:
            best_story, best_score = candidate.story_id, score
            if score >= CERTAIN:
                break
    return best_story


def _candidate_ids(session: Session, bands: list[int], since: datetime) -> list[int]:
    """Stored articles sharing a band with these, those sharing the most first."""
    shared = func.count().label("shared")
    rows = session.execute(
        select(StoryBand.article_id, shared)
        .where(StoryBand.band.in_(bands), StoryBand.created_at >= since)
        .group_by(StoryBand.article_id)
        .order_by(desc(shared), desc(StoryBand.article_id))
        .limit(MAX_CANDIDATES)
    )
    return [row.article_id for row in rows]


def _load_candidates(session: Session, article_ids: list[int]) -> list[Candidate]:
    if not article_ids:
        return []
    rows = session.execute(
        select(Article.id, Article.story_id, Article.title, Article.body, Article.from_feed)
        .where(Article.id.in_(article_ids), Article.story_id.is_not(None))
    )
    by_id = {row.id: Candidate(row.id, row.story_id, row.title or "", row.body or "",
                               bool(row.from_feed)) for row in rows}
    return [by_id[article_id] for article_id in article_ids if article_id in by_id]


def _insert_article(session: Session, values: dict[str, Any]) -> int:
    return session.execute(_INSERT_ARTICLE, values).inserted_primary_key[0]


def _index_bands(session: Session, article_id: int, bands: list[int], now: datetime) -> None:
    """Store the article's bands."""
    if bands:
        session.execute(_INSERT_BANDS, [
            {"band": band, "article_id": article_id, "created_at": now} for band in bands
        ])
