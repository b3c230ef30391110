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

from sqlalchemy import delete, desc, func, insert, select
from sqlalchemy.orm import Session

from crawler.database import serialize_transaction
from crawler.dedup import Fingerprint, fingerprint, signature_to_bytes, story_score
from crawler.models import Article, Story, StoryBand, utcnow

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


def story_for(session: Session, article: Article, mine: Fingerprint | None = None) -> Story:
    """The story `article` belongs to: an existing one, or a new one it starts.

    Called before commit with the new article not yet in the session: adds it, sets
    its story and signature, flushes (the band rows need its id) and adds its bands.
    Because of that flush, a URL stored concurrently by another process raises the
    IntegrityError here rather than at commit. `mine`: the body's fingerprint when it
    was computed already (in an extraction worker).
    """
    now = utcnow()
    mine = _fingerprint_of(article, mine)
    bands = mine.bands
    story = _story_with_same_text(session, article, since=now - WINDOW) or _story_of_near_copy(
        session, article, mine, bands, since=now - WINDOW
    )
    if story is None:
        story = Story(headline=article.title or "", first_seen_at=now)
        session.add(story)
    story.last_seen_at = now
    article.story = story
    if mine.signature is not None:
        article.signature = signature_to_bytes(mine.signature)
    _index_bands(session, article, bands, now)
    return story


def reindex_article(session: Session, article: Article,
                    mine: Fingerprint | None = None) -> None:
    """Replace a stored article's signature and bands after its text changed (a new
    version of the page, or the full text replacing a feed summary): it keeps its
    story, and later copies find it by its new text. `mine` as for `story_for`."""
    mine = _fingerprint_of(article, mine)
    article.signature = signature_to_bytes(mine.signature) if mine.signature is not None else None
    session.execute(delete(StoryBand).where(StoryBand.article_id == article.id))
    _index_bands(session, article, mine.bands, utcnow())


def _fingerprint_of(article: Article, given: Fingerprint | None) -> Fingerprint:
    """The fingerprint of the article's body: `given`, when it is of this kind of text
    (a page's, not a feed summary's), else computed now."""
    summary = bool(article.from_feed)
    if given is not None and given.summary == summary:
        return given
    return fingerprint(article.body or "", summary=summary)


def forget_bands_before(session: Session, cutoff: datetime) -> int:
    """Delete band rows written before `cutoff` (older than the window, they are never
    read again); returns how many. Articles and stories are kept."""
    result = session.execute(delete(StoryBand).where(StoryBand.created_at < cutoff))
    return result.rowcount or 0


def _story_with_same_text(session: Session, article: Article, since: datetime) -> Story | None:
    """The recent story holding this exact text. Short texts (teasers, "Read more at ..."
    stand-ins, empty bodies hashed by their headline) are left to the near-duplicate
    check, which asks more of them: identical boilerplate is not one story."""
    if article.from_feed or len((article.body or "").split()) < MIN_EXACT_WORDS:
        return None
    return session.scalars(
        select(Story)
        .join(Article, Article.story_id == Story.id)
        .where(Article.content_hash == article.content_hash, Story.last_seen_at >= since)
        .limit(1)
    ).first()


def _story_of_near_copy(session: Session, article: Article, mine: Fingerprint,
                        bands: list[int], since: datetime) -> Story | None:
    if not bands:
        return None
    candidates = _load_candidates(session, _candidate_ids(session, bands, since))
    best_story, best_score = None, -1.0
    for candidate in candidates:
        if candidate.story_id == best_story:
            continue
        theirs = fingerprint(candidate.body, summary=candidate.from_feed)
        score = story_score(mine, theirs, article.title or "", candidate.title)
        if score is not None and score > best_score:
            best_story, best_score = candidate.story_id, score
            if score >= CERTAIN:
                break
    return session.get(Story, best_story) if best_story is not None else None


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


def _index_bands(session: Session, article: Article, bands: list[int], now: datetime) -> None:
    """Store the article's bands; the flush gives the new article its id."""
    session.add(article)
    session.flush()
    if bands:
        session.execute(insert(StoryBand), [
            {"band": band, "article_id": article.id, "created_at": now} for band in bands
        ])
