"""Running a query over stored articles: `rules test` and `search`.

The database's full-text index (SQLite FTS5, PostgreSQL tsvector; see migration 0003)
narrows the articles to those containing a word that starts like one of the query's
positive words; the rule matcher then decides exactly, so the answer is the one the
daemon would have given. The index is not stemmed; each query word is looked up by a
prefix of its Snowball stem (the matcher's stemmer), one letter shorter, so that every
inflection the matcher folds together ("visit", "visits", "visiting"; "happy",
"happiness") is among the candidates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import snowballstemmer
from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, joinedload

from alerts.matcher import Hit, matches_reference
from alerts.matching import article_document
from alerts.query import And, Near, Or, Phrase, Prefix, Query, Scope, Word
from crawler.models import Article

BATCH_SIZE = 500
_english = snowballstemmer.stemmer("english")


@dataclass(frozen=True)
class Found:
    article: Article
    hits: tuple[Hit, ...]


def search_prefixes(query: Query) -> list[str]:
    """Prefixes that every article the query matches contains a word starting with (one
    of them at least); empty when the query gives none."""
    prefixes: list[str] = []

    def visit(node: Query) -> None:
        if isinstance(node, Word | Phrase):
            prefixes.extend(_stem_prefix(word) for word in _words(node.text))
        elif isinstance(node, Prefix):
            prefixes.extend(_words(node.text)[:1])
        elif isinstance(node, And | Or):
            for operand in node.operands:
                visit(operand)
        elif isinstance(node, Near):
            visit(node.left)
            visit(node.right)
        elif isinstance(node, Scope):
            if node.field not in ("title", "body"):
                # Other fields are not in the full-text index; don't narrow at all.
                raise _NotIndexable
            visit(node.operand)
        # Not and Lang contribute nothing an article must contain.

    try:
        visit(query)
    except _NotIndexable:
        return []
    return sorted(set(filter(None, prefixes)))


class _NotIndexable(Exception):
    pass


def _words(text_: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text_.casefold())
    return re.findall(r"\w+", "".join(c for c in folded if not unicodedata.combining(c)))


def _stem_prefix(word: str) -> str:
    stem = _english.stemWord(word)
    return stem[: max(3, len(stem) - 1)]


def find_matching(
    session: Session, query: Query, since: datetime | None = None, limit: int | None = None
) -> Iterator[Found]:
    """Stored articles that `query` matches, newest first."""
    found = 0
    for batch in _candidate_batches(session, query, since):
        for article in batch:
            match = matches_reference(query, article_document(article))
            if match is None:
                continue
            yield Found(article, match.hits)
            found += 1
            if limit is not None and found >= limit:
                return


def _candidate_batches(
    session: Session, query: Query, since: datetime | None
) -> Iterator[list[Article]]:
    base = select(Article).options(joinedload(Article.source))
    if since is not None:
        base = base.where(Article.first_seen_at >= since)
    base = _restrict_by_full_text(session, base, query)
    last_id: int | None = None
    while True:
        page = base.order_by(Article.id.desc()).limit(BATCH_SIZE)
        if last_id is not None:
            page = page.where(Article.id < last_id)
        batch = list(session.scalars(page).unique())
        if not batch:
            return
        yield batch
        last_id = batch[-1].id


def _restrict_by_full_text(session: Session, statement: Select, query: Query) -> Select:
    prefixes = search_prefixes(query)
    if not prefixes:
        return statement
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        fts_query = " OR ".join(f'"{prefix}"*' for prefix in prefixes)
        return statement.where(
            Article.id.in_(
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
            ).bindparams(q=" | ".join(f"{prefix}:*" for prefix in prefixes))
        )
    return statement
