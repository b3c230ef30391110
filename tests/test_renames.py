"""Stable ids: a rule or channel renamed (same `id`) keeps its alert history, on SQLite
and PostgreSQL alike, and a story already alerted is not alerted again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from alerts.models import AlertMessage, Notification, RuleMatch
from crawler.models import Article, Source, Story
from scheduler.config import Config
from scheduler.renames import follow_renames


def config(rule: str, channel: str, rule_id: str | None = "r1") -> Config:
    return Config.model_validate({
        "channels": {channel: {"urls": ["log://"], "id": "c1"}},
        "rules": [{"name": rule, "id": rule_id, "query": "Putin", "channels": [channel]}],
    })


def seed(sessions: sessionmaker) -> None:
    with sessions.begin() as session:
        source = Source(name="s", url="http://s.test/feed")
        for n in range(2):
            article = Article(source=source, url=f"http://s.test/{n}", title="Putin",
                              content_hash=str(n), story=Story(headline="Putin"))
            match = RuleMatch(rule="Old", article=article)
            message = AlertMessage(channel="desk", status="sent")
            session.add(Notification(match=match, rule="Old", article=article,
                                     story=article.story, channel="desk", status="sent",
                                     message=message))
        # A removed rule's alert for story 1 under the new name: it must not collide.
        session.flush()
        first = session.scalars(select(Article).order_by(Article.id)).first()
        session.add(Notification(match=RuleMatch(rule="New", article=first), rule="New",
                                 article=first, story=first.story, channel="desk",
                                 status="sent"))


def test_a_renamed_rule_and_channel_keep_their_history(migrated_sessions: sessionmaker) -> None:
    seed(migrated_sessions)
    assert follow_renames(migrated_sessions, config("Old", "desk")) == []  # first sight
    renames = follow_renames(migrated_sessions, config("New", "newsroom"))
    assert [(r.kind, r.old, r.new) for r in renames] == [("rule", "Old", "New"),
                                                         ("channel", "desk", "newsroom")]
    with migrated_sessions() as session:
        alerts = session.execute(select(Notification.rule, Notification.channel)).all()
        assert sorted(alerts) == [("New", "newsroom"), ("New", "newsroom"),
                                  ("Old", "newsroom")]  # the colliding one stays
        assert set(session.scalars(select(AlertMessage.channel))) == {"newsroom"}
        assert sorted(session.scalars(select(RuleMatch.rule))) == ["New", "New", "Old"]
    assert follow_renames(migrated_sessions, config("New", "newsroom")) == []


def test_without_an_id_a_new_name_is_a_new_rule(migrated_sessions: sessionmaker) -> None:
    seed(migrated_sessions)
    follow_renames(migrated_sessions, config("Old", "desk", rule_id=None))
    follow_renames(migrated_sessions, config("Renamed", "desk", rule_id=None))
    with migrated_sessions() as session:
        assert "Renamed" not in set(session.scalars(select(Notification.rule)))
