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
  with an indexed `WHERE band IN (...)` query (one for a whole batch of new articles,
  `StoryAssigner`) restricted to bands written in the last `WINDOW` (14 days:
  syndicated copies appear within hours or days, and the window keeps the work per
  article bounded however many articles are stored; `forget_bands_before` can delete
  older rows to bound the table as well);
* at most `MAX_CANDIDATES` of them, those sharing the most bands, are loaded and
  verified on their full text; the article joins the story of the best one that
  passes.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
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
_STORIES_OF_TEXTS = (
    select(Article.content_hash, Article.story_id)
    .join(Story, Article.story_id == Story.id)
    .where(Article.content_hash.in_(bindparam("hashes", expanding=True)),
           Story.last_seen_at >= bindparam("since"))
    .order_by(Article.id)
)
_ARTICLES_OF_BANDS = select(StoryBand.band, StoryBand.article_id).where(
    StoryBand.band.in_(bindparam("bands", expanding=True)),
    StoryBand.created_at >= bindparam("since"))
_CANDIDATES = select(Article.id, Article.story_id, Article.title, Article.body,
                     Article.from_feed).where(
    Article.id.in_(bindparam("ids", expanding=True)), Article.story_id.is_not(None))
# Values per IN list: well under SQLite's and PostgreSQL's limits on parameters.
_CHUNK = 2000

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
    body's fingerprint when it was computed already (in an extraction worker). One
    article; a batch of them goes through one `StoryAssigner`."""
    return StoryAssigner(session, [(values, mine)]).assign(values, mine)


class StoryAssigner:
    """Story assignment for the new articles of one batch (one transaction).

    What the database knows of the batch's articles is asked once for the whole batch,
    when it starts: the recent stories holding their exact texts, the stored articles
    sharing a band with them, and the texts of those that could be their best
    candidates. The batch's own articles are remembered as they are stored, so a later
    article of the batch finds an earlier one just as it would find it in the database.

    Called before commit, once per new article: prebuilt Core statements, not the ORM's
    unit of work (whose bookkeeping cost more than the queries). The row is inserted
    here, so a URL stored concurrently by another process raises the IntegrityError
    here rather than at commit.
    """

    def __init__(self, session: Session,
                 articles: Sequence[tuple[dict[str, Any], Fingerprint | None]]) -> None:
        self.session = session
        self.now = utcnow()
        self.since = self.now - WINDOW
        # By URL (one new article per URL): computed here once, used again by `assign`.
        self.fingerprints = {
            values["url"]: _fingerprint_of(values.get("body") or "",
                                           bool(values.get("from_feed")), mine)
            for values, mine in articles
        }
        self.story_of_text = _stories_of_texts(
            session, [values["content_hash"] for values, _ in articles
                      if _exact_text_counts(values)], self.since)
        self.band_articles = _articles_of_bands(
            session, {band for mine in self.fingerprints.values() for band in mine.bands},
            self.since)
        self.candidates = _load_candidates(session, sorted({
            article_id for mine in self.fingerprints.values()
            for article_id in _ranked(self._shared_bands(mine.bands))
        }))
        self.verified: dict[int, Fingerprint] = {}

    def assign(self, values: dict[str, Any], mine: Fingerprint | None = None) -> int:
        """Store this article (one of those the assigner was made for) in its story;
        returns the article's id."""
        now = self.now
        mine = self.fingerprints.get(values["url"]) or _fingerprint_of(
            values.get("body") or "", bool(values.get("from_feed")), mine)
        story_id = (self.story_of_text.get(values["content_hash"])
                    if _exact_text_counts(values) else None)
        if story_id is None:
            story_id = self._story_of_near_copy(values.get("title") or "", mine)
        if story_id is None:
            story_id = self.session.execute(_INSERT_STORY, {
                "headline": values.get("title") or "", "first_seen_at": now,
                "last_seen_at": now,
            }).inserted_primary_key[0]
        else:
            self.session.execute(_TOUCH_STORY, {"story": story_id, "seen": now})
        signature = signature_to_bytes(mine.signature) if mine.signature is not None else None
        article_id = _insert_article(self.session, {**values, "story_id": story_id,
                                                    "signature": signature})
        bands = mine.bands
        _index_bands(self.session, article_id, bands, now)
        # Stored: later articles of the batch find it as they would in the database.
        self.story_of_text.setdefault(values["content_hash"], story_id)
        for band in bands:
            self.band_articles.setdefault(band, []).append(article_id)
        self.candidates[article_id] = Candidate(
            article_id, story_id, values.get("title") or "", values.get("body") or "",
            bool(values.get("from_feed")))
        self.verified[article_id] = mine
        return article_id

    def reindex(self, article: Article, mine: Fingerprint | None = None) -> None:
        """`reindex_article` for an article of this batch whose text changed: later
        articles of the batch find it by its new text, as they would in the database."""
        mine = _fingerprint_of(article.body or "", bool(article.from_feed), mine)
        reindex_article(self.session, article, mine)
        if _exact_text_counts({"body": article.body, "from_feed": article.from_feed}):
            self.story_of_text.setdefault(article.content_hash, article.story_id)
        for holders in self.band_articles.values():
            if article.id in holders:
                holders.remove(article.id)
        for band in mine.bands:
            self.band_articles.setdefault(band, []).append(article.id)
        self.candidates[article.id] = Candidate(
            article.id, article.story_id, article.title or "", article.body or "",
            bool(article.from_feed))
        self.verified[article.id] = mine

    def _shared_bands(self, bands: list[int]) -> Counter[int]:
        shared: Counter[int] = Counter()
        for band in set(bands):
            shared.update(self.band_articles.get(band, ()))
        return shared

    def _story_of_near_copy(self, title: str, mine: Fingerprint) -> int | None:
        if not mine.bands:
            return None
        best_story, best_score = None, -1.0
        for article_id in _ranked(self._shared_bands(mine.bands)):
            candidate = self.candidates.get(article_id)
            if candidate is None or candidate.story_id == best_story:
                continue
            theirs = self.verified.get(article_id)
            if theirs is None:
                theirs = self.verified[article_id] = fingerprint(
                    candidate.body, summary=candidate.from_feed)
            score = story_score(mine, theirs, title, candidate.title)
            if score is not None and score > best_score:
                best_story, best_score = candidate.story_id, score
                if score >= CERTAIN:
                    break
        return best_story


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


def _exact_text_counts(values: dict[str, Any]) -> bool:
    """Whether an article may join a story by its exact text. Short texts (teasers,
    "Read more at ..." stand-ins, empty bodies hashed by their headline) are left to the
    near-duplicate check, which asks more of them: identical boilerplate is not one
    story."""
    return (not values.get("from_feed")
            and len((values.get("body") or "").split()) >= MIN_EXACT_WORDS)


def _stories_of_texts(session: Session, hashes: list[str], since: datetime) -> dict[str, int]:
    """For each of these content hashes that a recent story holds: a story holding it."""
    found: dict[str, int] = {}
    wanted = sorted(set(hashes))
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(_STORIES_OF_TEXTS, {
            "hashes": wanted[start:start + _CHUNK], "since": since})
        for row in rows:
            found.setdefault(row.content_hash, row.story_id)
    return found


def _articles_of_bands(session: Session, bands: set[int],
                       since: datetime) -> dict[int, list[int]]:
    """The recent articles holding each of these bands."""
    found: dict[int, list[int]] = {}
    wanted = sorted(bands)
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(_ARTICLES_OF_BANDS, {
            "bands": wanted[start:start + _CHUNK], "since": since})
        for row in rows:
            found.setdefault(row.band, []).append(row.article_id)
    return found


def _ranked(shared: Counter[int]) -> list[int]:
    """The `MAX_CANDIDATES` articles sharing the most bands, the newest first among equals."""
    return heapq.nsmallest(MAX_CANDIDATES, shared, key=lambda article_id: (
        -shared[article_id], -article_id))


def _load_candidates(session: Session, article_ids: list[int]) -> dict[int, Candidate]:
    found: dict[int, Candidate] = {}
    for start in range(0, len(article_ids), _CHUNK):
        rows = session.execute(_CANDIDATES, {"ids": article_ids[start:start + _CHUNK]})
        found.update((row.id, Candidate(row.id, row.story_id, row.title or "", row.body or "",
                                        bool(row.from_feed))) for row in rows)
    return found


def _insert_article(session: Session, values: dict[str, Any]) -> int:
    return session.execute(_INSERT_ARTICLE, values).inserted_primary_key[0]


def _index_bands(session: Session, article_id: int, bands: list[int], now: datetime) -> None:
    """Store the article's bands."""
    if bands:
        session.execute(_INSERT_BANDS, [
            {"band": band, "article_id": article_id, "created_at": now} for band in bands
        ])
