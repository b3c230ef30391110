"""Running a query over stored articles: `rules test` and `search`.

The database's full-text index (SQLite FTS5, PostgreSQL tsvector; see migration 0003)
narrows the articles to those with words starting like the query's positive words, in
the query's own AND/OR structure (`a b` needs both); the rule matcher then decides
exactly, so the answer is the one the daemon would have given. The index is not
stemmed; each query word is looked up by a prefix of its Snowball stem (the matcher's
stemmer), one letter shorter, so that every inflection the matcher folds together
("visit", "visits", "visiting"; "happy", "happiness") is among the candidates.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import snowballstemmer
from sqlalchemy import Connection, Row, Select, select, text

from alerts.documents import article_document
from alerts.matcher import Hit, RuleSet
from alerts.query import And, Near, Or, Phrase, Prefix, Query, Scope, Word
from alerts.rarity import rarity
from alerts.text import get_stemmer
from crawler import tables
from crawler.urls import site_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BATCH_SIZE = 500
# Articles matched together: a batch's words are learnt at once, yet a caller wanting
# the newest few matches does not wait for a whole page's.
MATCH_BATCH = 50


@dataclass(frozen=True)
class Found:
    article: Row  # an `articles` row with its source's name as `source_name`
    hits: tuple[Hit, ...]


# What an article must contain, as a tree of word prefixes: ("prefix", p), ("and", parts)
# or ("or", parts). None: nothing (the node narrows nothing, e.g. NOT or lang:).
Condition = tuple


def search_condition(query: Query,
                     languages: frozenset[str | None] | None = None) -> Condition | None:
    """A full-text condition every article the query matches satisfies: the ANDs of the
    query stay ANDs, so `a b c` needs all three prefixes, not any one of them.

    `languages`: those of the articles searched (their stemmers give the prefixes);
    None for every language Snowball has.
    """
    if isinstance(query, Word | Phrase):
        return _all([_prefix_condition(_stem_prefix(word, languages))
                     for word in _words(query.text)], languages)
    if isinstance(query, Prefix):
        return _prefix_condition(_words(query.text)[0]) if _words(query.text) else None
    if isinstance(query, And):
        return _all([search_condition(operand, languages) for operand in query.operands],
                    languages)
    if isinstance(query, Near):
        return _all([search_condition(query.left, languages),
                     search_condition(query.right, languages)], languages)
    if isinstance(query, Or):
        parts = [search_condition(operand, languages) for operand in query.operands]
        if any(part is None for part in parts):
            return None  # `lang:de OR Putin`: one branch needs no word
        return ("or", tuple(parts))
    if isinstance(query, Scope) and query.field in ("title", "body"):
        return search_condition(query.operand, languages)
    return None  # Not, Lang, and fields the full-text index does not hold


def _prefix_condition(prefix: str) -> Condition | None:
    return ("prefix", prefix) if prefix else None


def _all(parts: list[Condition | None],
         languages: frozenset[str | None] | None = None) -> Condition | None:
    """All the parts; but a prefix as common as "the*" next to a rarer part is left to
    the matcher: the full-text index merges the postings of every word it starts, which
    costs far more than the few articles it would rule out."""
    known = tuple(dict.fromkeys(part for part in parts if part is not None))
    if len(known) > 1:
        rarer = tuple(part for part in known if not _is_common(part, languages))
        known = rarer or known
    if not known:
        return None
    return known[0] if len(known) == 1 else ("and", known)


# Share of running words (in some language searched) from which a prefix is common:
# "sai*" (said, saint, ...) and "the*" are; "presid*" (3.6e-4) and "putin*" are not.
COMMON_PREFIX = 1e-3


def _is_common(condition: Condition, languages: frozenset[str | None] | None) -> bool:
    if condition[0] != "prefix":
        return False
    return any(rarity(language).prefix(condition[1]) > COMMON_PREFIX
               for language in (languages or (None,)))


def search_prefixes(query: Query) -> list[str]:
    """The prefixes of the query's full-text condition (empty: nothing is narrowed)."""
    found: list[str] = []

    def visit(condition: Condition) -> None:
        if condition[0] == "prefix":
            found.append(condition[1])
        else:
            for part in condition[1]:
                visit(part)

    condition = search_condition(query)
    if condition is not None:
        visit(condition)
    return sorted(set(found))


def _render(condition: Condition, prefix: str, and_: str, or_: str) -> str:
    kind, value = condition
    if kind == "prefix":
        return prefix.format(value)
    joiner = and_ if kind == "and" else or_
    return "(" + joiner.join(_render(part, prefix, and_, or_) for part in value) + ")"


def _words(text_: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text_.casefold())
    return re.findall(r"\w+", "".join(c for c in folded if not unicodedata.combining(c)))


def _stem_prefix(word: str, languages: frozenset[str | None] | None = None) -> str:
    """The common prefix of the word's stems in every language the matcher may stem it
    in, one letter shorter: any inflection the matcher folds together starts with it."""
    if languages is None:
        stems = [stemmer.stemWord(word) for stemmer in _stemmers()]
    else:
        stems = [get_stemmer(language)(word) for language in languages] or [word]
    common = os.path.commonprefix(stems)  # noqa: RUF071 (characters are what we want)
    return common[: max(3, len(common) - 1)]


@lru_cache(maxsize=1)
def _stemmers() -> list[snowballstemmer.stemmer]:
    return [snowballstemmer.stemmer(name) for name in snowballstemmer.algorithms()]


def find_matching(
    session: Session | Connection, query: Query, since: datetime | None = None,
    limit: int | None = None, story_ids: Sequence[int] | None = None,
) -> Iterator[Found]:
    """Stored articles that `query` matches, newest first (only those of `story_ids`,
    if given)."""
    found = 0
    # The daemon's matcher, its index built once; the full-text index has narrowed the
    # articles, so it needs no word frequencies to pick what to look for first.
    ruleset = RuleSet({"query": query}, by_rarity=False)
    for page in _candidate_batches(session, query, since, story_ids):
        for start in range(0, len(page), MATCH_BATCH):
            batch = page[start : start + MATCH_BATCH]
            answers = ruleset.match_many(map(article_document, batch))
            for article, matches in zip(batch, answers, strict=True):
                if not matches:
                    continue
                yield Found(article, matches[0].hits)
                found += 1
                if limit is not None and found >= limit:
                    return


@dataclass(frozen=True)
class StoryFound:
    """A story a query would have alerted on: its matching articles, newest first."""

    articles: tuple[Found, ...]

    @property
    def first(self) -> Found:
        """The earliest matching article: the one the alert would have been about."""
        return self.articles[-1]

    @property
    def outlets(self) -> list[str]:
        return sorted({site_of(found.article.url) for found in self.articles})


def backtest_stories(session: Session | Connection, query: Query, since: datetime | None,
                     limit: int, sources: frozenset[str] | None = None,
                     languages: frozenset[str] | None = None) -> list[StoryFound]:
    """The stories (at most `limit`, newest first) that `query` would have alerted on
    among the articles stored since `since`: what `rules test` and the web preview show.
    `sources` and `languages`: a rule's filters (None: any)."""
    def wanted(found: Found) -> bool:
        return ((sources is None or found.article.source_name in sources)
                and (languages is None or found.article.language in languages))

    stories: dict[int, list[Found]] = {}
    for found in filter(wanted, find_matching(session, query, since=since)):
        key = found.article.story_id or -found.article.id
        if key not in stories and len(stories) >= limit:
            # Older copies of the stories kept may lie past here: read those stories
            # whole, so each shows its first article and every outlet.
            ids = [key for key in stories if key > 0]
            whole: dict[int, list[Found]] = {}
            for copy in filter(wanted, find_matching(session, query, since, story_ids=ids)):
                whole.setdefault(copy.article.story_id or 0, []).append(copy)
            stories.update(whole)
            break
        stories.setdefault(key, []).append(found)
    return [StoryFound(tuple(articles)) for articles in stories.values()]


def _candidate_batches(
    session: Session | Connection, query: Query, since: datetime | None,
    story_ids: Sequence[int] | None = None,
) -> Iterator[list[Row]]:
    base = (select(tables.articles, tables.sources.c.name.label("source_name"))
            .join(tables.sources, tables.sources.c.id == tables.articles.c.source_id))
    if since is not None:
        base = base.where(tables.articles.c.first_seen_at >= since)
    if story_ids is not None:
        base = base.where(tables.articles.c.story_id.in_(story_ids))
    base = _restrict_by_full_text(session, base, query, since)
    last_id: int | None = None
    while True:
        page = base.order_by(tables.articles.c.id.desc()).limit(BATCH_SIZE)
        if last_id is not None:
            page = page.where(tables.articles.c.id < last_id)
        batch = session.execute(page).all()
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def _languages(session: Session | Connection,
               since: datetime | None) -> frozenset[str | None]:
    """The languages of the articles searched: only their stemmers shape the prefixes."""
    statement = select(tables.articles.c.language).distinct()
    if since is not None:
        statement = statement.where(tables.articles.c.first_seen_at >= since)
    return frozenset(session.scalars(statement))


def _restrict_by_full_text(session: Session | Connection, statement: Select, query: Query,
                           since: datetime | None) -> Select:
    condition = search_condition(query, _languages(session, since))
    if condition is None:
        return statement
    bind = session if isinstance(session, Connection) else session.get_bind()
    dialect = bind.dialect.name
    if dialect == "sqlite":
        fts_query = _render(condition, '"{}"*', " AND ", " OR ")
        return statement.where(
            tables.articles.c.id.in_(
                text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q").bindparams(
                    q=fts_query
                )
            )
        )
    if dialect == "postgresql":
        return statement.where(
            text(
                "to_tsvector('simple', coalesce(articles.title, '') || ' ' || "
                "coalesce(articles.body, '')) @@ to_tsquery('simple', :q)"
            ).bindparams(q=_render(condition, "{}:*", " & ", " | "))
        )
    return statement
