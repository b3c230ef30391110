"""Matching what the crawl stored: new articles in, matches and outbox rows out.

Only articles the matcher has not seen (`matched_at IS NULL`) are read, so each cycle's
cost follows what the crawl just stored, not the size of the table, and a rule added later
applies to articles that arrive after it. Uniqueness of (rule, article) and of
(rule, article, channel) is guaranteed by the database.

A cycle works in three steps so that the crawl's writes never wait long: a batch is read
without a write transaction, rules are evaluated with no transaction open, and the
results are written in short transactions of a few articles each. Every article is written
in a savepoint of its own: one that fails (a value the database refuses, a rule that
raises) is rolled back alone, logged against its source and marked as matched, so it
cannot stop the rest of the batch at every later cycle. An article is marked matched
only at the version that was read: if a crawl revised it meanwhile, it stays unmatched
and its new text is matched at the next cycle.

Any number of matchers (the workers of a cluster) share the work: each batch is claimed
first (`alerts.claims.claim_articles`: SKIP LOCKED on PostgreSQL, with a lease, so the
articles of a matcher killed mid-batch go to the others once the lease ends), and the
alerts of a story are written under that story's lock (`lock_stories`), so two matchers
recording two copies of one story queue its alert once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache, partial

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from alerts.claims import CLAIM_LEASE, claim_articles, lock_stories, release_articles
from alerts.documents import article_document
from alerts.matcher import Document, Match, RuleSet
from alerts.models import Notification, RuleMatch
from alerts.query import Query
from alerts.rules import Rule
from crawler.database import is_retryable, retry_transient
from crawler.models import Article, utcnow
from crawler.urls import site_of

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# Articles written per transaction: small, so that a crawl's write waits for a few
# articles' inserts at most, never for a batch.
WRITE_GROUP = 20


@dataclass(frozen=True)
class MatchReport:
    articles: int = 0
    matches: int = 0
    notifications: int = 0
    # Articles whose matching failed (logged with their source) and that were skipped.
    failed: int = 0

    def __add__(self, other: MatchReport) -> MatchReport:
        return MatchReport(self.articles + other.articles, self.matches + other.matches,
                           self.notifications + other.notifications, self.failed + other.failed)


@dataclass(frozen=True)
class Evaluation:
    """What the rules said about one article as it was read (at `version`)."""

    article_id: int
    version: int
    source: str
    url: str
    # (rule name, hits) for every rule that matched and whose filters let the article in.
    matches: list[tuple[str, list[dict]]] = field(default_factory=list)
    # Why the rules could not be evaluated, when they could not.
    error: str | None = None
    story_id: int | None = None


@lru_cache(maxsize=2)
def ruleset_of(rules: tuple[tuple[str, Query], ...]) -> RuleSet:
    """The indexed rule set of these (name, query) pairs, kept while they stay the same:
    building the index of 100,000 rules takes seconds, a match cycle should not pay it
    again (nor lose the words the index has worked out). An edited rule is a new key."""
    return RuleSet(dict(rules))


def match_new_articles(
    sessions: sessionmaker, rules: Sequence[Rule], max_age: timedelta,
    now: datetime | None = None, lease: timedelta = CLAIM_LEASE,
) -> MatchReport:
    """Match every article not yet matched against `rules` and queue their notifications.

    Articles published longer than `max_age` ago are marked as seen without alerting: a
    user adding a source wants today's news, not last year's.
    """
    now = now or utcnow()
    ruleset = ruleset_of(tuple((rule.name, rule.query) for rule in rules))
    by_name = {rule.name: rule for rule in rules}
    totals = MatchReport()
    after_id = 0
    while True:
        with sessions.begin() as session:
            ids = claim_articles(session, after_id, BATCH_SIZE, utcnow(), lease)
        if not ids:
            return totals
        # Past this batch whatever happens to it: an article left unmatched (revised
        # meanwhile) is matched at the next cycle, and a cycle always ends.
        after_id = ids[-1]
        try:
            articles = read_articles(sessions, ids)
            evaluations = evaluate(articles, ruleset, by_name, now - max_age)
            for start in range(0, len(evaluations), WRITE_GROUP):
                group = evaluations[start : start + WRITE_GROUP]
                totals += retry_transient(partial(record, sessions, group, by_name, now),
                                          "recording matches")
        finally:
            with sessions.begin() as session:
                release_articles(session, ids)


def read_articles(sessions: sessionmaker, ids: Sequence[int]) -> list[Article]:
    """These articles, in id order, detached from the session (their source loaded)."""
    with sessions() as session:
        return list(session.scalars(
            select(Article).options(joinedload(Article.source))
            .where(Article.id.in_(ids)).order_by(Article.id)
        ).all())


def evaluate(articles: Sequence[Article], ruleset: RuleSet, rules: dict[str, Rule],
             oldest: datetime) -> list[Evaluation]:
    """Run the rules on each article, as one batch (`RuleSet.match_many`); no database
    access. An article published before `oldest` matches nothing; one whose evaluation
    raises carries the error."""
    found = [Evaluation(article.id, article.version,
                        article.source.name if article.source else "", article.url,
                        story_id=article.story_id) for article in articles]
    recent = [i for i, article in enumerate(articles) if _is_recent(article, oldest)]
    try:
        documents = [article_document(articles[i]) for i in recent]
        answers = ruleset.match_many(documents)
        accepted = [_accepted(matches, document, articles[i], rules)
                    for i, document, matches in zip(recent, documents, answers, strict=True)]
    except Exception:  # one article's bad data must not stop the others: one by one
        for i in recent:
            found[i] = _evaluate_one(found[i], articles[i], ruleset, rules)
        return found
    for i, matches in zip(recent, accepted, strict=True):
        found[i] = replace(found[i], matches=matches)
    return found


def _is_recent(article: Article, oldest: datetime) -> bool:
    if article.published_at is not None and article.published_at < oldest:
        return False
    # An undated article edited long after it was first seen: as old as that, it does
    # not alert (and its alert history may have been pruned meanwhile).
    return not (article.published_at is None and article.version > 1
                and article.first_seen_at < oldest)


def _accepted(matches: list[Match], document: Document, article: Article,
              rules: dict[str, Rule]) -> list[tuple[str, list[dict]]]:
    return [(match.rule, [asdict(hit) for hit in match.hits]) for match in matches
            if rules[match.rule].accepts(document.source, article.language)]


def _evaluate_one(found: Evaluation, article: Article, ruleset: RuleSet,
                  rules: dict[str, Rule]) -> Evaluation:
    try:
        document = article_document(article)
        matches = _accepted(ruleset.match(document), document, article, rules)
    except Exception as error:
        return replace(found, error=f"rule evaluation failed: {type(error).__name__}: {error}")
    return replace(found, matches=matches)


def record(sessions: sessionmaker, evaluations: Sequence[Evaluation], rules: dict[str, Rule],
           now: datetime) -> MatchReport:
    """Write these evaluations in one short transaction, each article in a savepoint."""
    report = MatchReport()
    with sessions.begin() as session:
        lock_stories(session, (evaluation.story_id for evaluation in evaluations))
        for evaluation in evaluations:
            report += _record_one(session, evaluation, rules, now)
    return report


def _record_one(session: Session, evaluation: Evaluation, rules: dict[str, Rule],
                now: datetime) -> MatchReport:
    claimed = session.execute(
        update(Article)
        .where(Article.id == evaluation.article_id, Article.version == evaluation.version,
               Article.matched_at.is_(None))
        .values(matched_at=now)
        .returning(Article.story_id)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        # Revised by a crawl since it was read (or gone): the new version is matched next.
        return MatchReport()
    if claimed.story_id != evaluation.story_id:
        lock_stories(session, [claimed.story_id])  # joined another story since it was read
    error = evaluation.error
    if error is None:
        try:
            with session.begin_nested():
                matches, queued = _write_results(session, evaluation, claimed.story_id, rules)
            return MatchReport(1, matches, queued)
        except Exception as failure:  # the savepoint is rolled back: this article only
            if is_retryable(failure):
                raise  # a locked database or a lost race: the whole group is tried again
            error = f"{type(failure).__name__}: {_first_line(failure)}"
    logger.error("source %r: matching skipped article %s: %s",
                 evaluation.source, evaluation.url, error)
    return MatchReport(1, failed=1)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else ""


def _write_results(session: Session, evaluation: Evaluation, story_id: int | None,
                   rules: dict[str, Rule]) -> tuple[int, int]:
    matched_before = (_rules_matched(session, evaluation.article_id)
                      if evaluation.version > 1 else set())
    matches = 0
    for rule_name, hits in evaluation.matches:
        if rule_name in matched_before:
            continue
        session.add(RuleMatch(rule=rule_name, article_id=evaluation.article_id, hits=hits))
        matches += 1
        logger.info("rule %r matched %s", rule_name, evaluation.url)
    session.flush()
    return matches, _queue_story_alerts(session, story_id, rules)


def _rules_matched(session: Session, article_id: int) -> set[str]:
    """Rules that matched an earlier version of the article: a new version (the page was
    edited) is matched again, but a rule matches an article once."""
    return set(session.scalars(select(RuleMatch.rule).where(RuleMatch.article_id == article_id)))


def _queue_story_alerts(session: Session, story_id: int | None, rules: dict[str, Rule]) -> int:
    """Queue an alert for every rule that matched this story and may now alert.

    Run for each new article, including one that matched nothing itself: a copy from
    another outlet can bring a story to a rule's `min_outlets`. Each (rule, story,
    channel) is alerted once; a later copy of an alerted story only joins it.
    """
    if story_id is None:
        return 0
    first_matches = _first_match_per_rule(session, story_id)
    if not first_matches:
        return 0
    outlets = story_outlets(session, story_id)
    queued = 0
    for rule_name, match in first_matches.items():
        rule = rules.get(rule_name)
        if rule is None or outlets < rule.min_outlets:
            continue
        for channel in _channels_not_yet_alerted(session, rule, story_id):
            session.add(
                Notification(rule=rule.name, article_id=match.article_id,
                             story_id=story_id, channel=channel, match=match)
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
