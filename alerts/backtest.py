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

import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import snowballstemmer
from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session, joinedload

from alerts.matcher import Hit, RuleSet
from alerts.matching import article_document
from alerts.query import And, Near, Or, Phrase, Prefix, Query, Scope, Word
from crawler.models import Article

BATCH_SIZE = 500


@dataclass(frozen=True)
class Found:
    article: Article
    hits: tuple[Hit, ...]


def search_prefixes(query: Query) -> list[str]:
    """Prefixes such that every article the query matches contains a word starting with
    one of them; empty when the query gives none (then nothing is narrowed)."""
    prefixes: list[str] = []

    def visit(node: Query) -> bool:
        """Collect the node's prefixes; whether a match of it needs one of them."""
        if isinstance(node, Word | Phrase):
            found = [_stem_prefix(word) for word in _words(node.text)]
            prefixes.extend(found)
            return bool(found)
        if isinstance(node, Prefix):
            prefixes.extend(_words(node.text)[:1])
            return True
        if isinstance(node, And):
            return any([visit(operand) for operand in node.operands])
        if isinstance(node, Or):
            if not all([visit(operand) for operand in node.operands]):
                raise _NotIndexable  # `lang:de OR Putin`: one branch needs no word
            return True
        if isinstance(node, Near):
            return visit(node.left) | visit(node.right)
        if isinstance(node, Scope):
            if node.field not in ("title", "body"):
                raise _NotIndexable  # other fields are not in the full-text index
            return visit(node.operand)
        return False  # Not and Lang: nothing an article must contain

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
    """The common prefix of the word's stems in every language the matcher may stem it
    in, one letter shorter: any inflection the matcher folds together starts with it."""
    stems = [stemmer.stemWord(word) for stemmer in _stemmers()]
    common = os.path.commonprefix(stems)  # noqa: RUF071 (characters are what we want)
    return common[: max(3, len(common) - 1)]


@lru_cache(maxsize=1)
def _stemmers() -> list[snowballstemmer.stemmer]:
    return [snowballstemmer.stemmer(name) for name in snowballstemmer.algorithms()]


def find_matching(
    session: Session, query: Query, since: datetime | None = None, limit: int | None = None
) -> Iterator[Found]:
    """Stored articles that `query` matches, newest first."""
    found = 0
    ruleset = RuleSet({"query": query})  # the daemon's matcher, its index built once
    for batch in _candidate_batches(session, query, since):
        for article in batch:
            matches = ruleset.match(article_document(article))
            if not matches:
                continue
            yield Found(article, matches[0].hits)
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
