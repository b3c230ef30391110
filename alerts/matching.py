"""Matching what the crawl stored: new articles in, matches and outbox rows out.

Only articles the matcher has not seen (`matched_at IS NULL`) are read, so each cycle's
cost follows what the crawl just stored, not the size of the table, and a rule added later
applies to articles that arrive after it. Uniqueness of (rule, article) and of
(rule, article, channel) is guaranteed by the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from alerts.matcher import Document, RuleSet
from alerts.models import Notification, RuleMatch
from alerts.rules import Rule
from crawler.models import Article, utcnow
from crawler.urls import site_of

logger = logging.getLogger(__name__)

BATCH_SIZE = 200


@dataclass(frozen=True)
class MatchReport:
    articles: int = 0
    matches: int = 0
    notifications: int = 0


def article_document(article: Article) -> Document:
    return Document(
        title=article.title or "",
        body=article.body or "",
        authors=tuple(article.authors or ()),
        source=article.source.name if article.source else "",
        url=article.url,
        language=article.language,
    )


def match_new_articles(
    sessions: sessionmaker, rules: Sequence[Rule], max_age: timedelta,
    now: datetime | None = None,
) -> MatchReport:
    """Match every article not yet matched against `rules` and queue their notifications.

    Articles published longer than `max_age` ago are marked as seen without alerting: a
    user adding a source wants today's news, not last year's.
    """
    now = now or utcnow()
    ruleset = RuleSet({rule.name: rule.query for rule in rules})
    by_name = {rule.name: rule for rule in rules}
    totals = MatchReport()
    while True:
        with sessions.begin() as session:
            articles = session.scalars(
                select(Article)
                .options(joinedload(Article.source))
                .where(Article.matched_at.is_(None))
                .order_by(Article.id)
                .limit(BATCH_SIZE)
            ).all()
            if not articles:
                return totals
            batch = _match_batch(session, articles, ruleset, by_name, now - max_age, now)
        totals = MatchReport(
            totals.articles + batch.articles,
            totals.matches + batch.matches,
            totals.notifications + batch.notifications,
        )


def _match_batch(
    session: Session,
    articles: Sequence[Article],
    ruleset: RuleSet,
    rules: dict[str, Rule],
    oldest: datetime,
    now: datetime,
) -> MatchReport:
    matches = notifications = 0
    for article in articles:
        article.matched_at = now
        if article.published_at is not None and article.published_at < oldest:
            continue
        document = article_document(article)
        matched_before = _rules_matched(session, article) if article.version > 1 else set()
        for match in ruleset.match(document):
            rule = rules[match.rule]
            if match.rule in matched_before or not rule.accepts(document.source,
                                                                article.language):
                continue
            session.add(
                RuleMatch(rule=rule.name, article=article,
                          hits=[asdict(hit) for hit in match.hits])
            )
            matches += 1
            logger.info("rule %r matched %s", rule.name, article.url)
        session.flush()
        notifications += _queue_story_alerts(session, article, rules)
    return MatchReport(len(articles), matches, notifications)


def _rules_matched(session: Session, article: Article) -> set[str]:
    """Rules that matched an earlier version of the article: a new version (the page was
    edited) is matched again, but a rule matches an article once."""
    return set(session.scalars(select(RuleMatch.rule).where(RuleMatch.article_id == article.id)))


def _queue_story_alerts(session: Session, article: Article, rules: dict[str, Rule]) -> int:
    """Queue an alert for every rule that matched this article's story and may now alert.

    Run for each new article, including one that matched nothing itself: a copy from
    another outlet can bring a story to a rule's `min_outlets`. Each (rule, story,
    channel) is alerted once; a later copy of an alerted story only joins it.
    """
    if article.story_id is None:
        return 0
    first_matches = _first_match_per_rule(session, article.story_id)
    if not first_matches:
        return 0
    outlets = story_outlets(session, article.story_id)
    queued = 0
    for rule_name, match in first_matches.items():
        rule = rules.get(rule_name)
        if rule is None or outlets < rule.min_outlets:
            continue
        for channel in _channels_not_yet_alerted(session, rule, article.story_id):
            session.add(
                Notification(rule=rule.name, article_id=match.article_id,
                             story_id=article.story_id, channel=channel, match=match)
            )
            queued += 1
    return queued


def _first_match_per_rule(session: Session, story_id: int) -> dict[str, RuleMatch]:
    rows = session.scalars(
        select(RuleMatch)
        .join(Article, Article.id == RuleMatch.article_id)
        .where(Article.story_id == story_id)
        .order_by(RuleMatch.id)
    )
    first: dict[str, RuleMatch] = {}
    for row in rows:
        first.setdefault(row.rule, row)
    return first


def story_outlets(session: Session, story_id: int) -> int:
    """How many outlets (sites, not feeds) carry the story."""
    urls = session.scalars(select(Article.url).where(Article.story_id == story_id))
    return len({site_of(url) for url in urls})


def _channels_not_yet_alerted(session: Session, rule: Rule, story_id: int | None) -> list[str]:
    """The rule's channels that have no alert for this story yet: a later copy of a story
    (another outlet, a new URL) joins it without alerting again."""
    alerted = set(
        session.scalars(
            select(Notification.channel).where(
                Notification.rule == rule.name, Notification.story_id == story_id
            )
        )
    )
    return [channel for channel in rule.channels if channel not in alerted]
