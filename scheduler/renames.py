"""Stable ids for rules and channels: renaming one keeps its history.

Alerts and matches are stored under the rule's and the channel's name. A rule or channel
with an `id` key is remembered by id (table `config_ids`); when the config gives a known
id a new name, everything stored under the old name is moved to the new one, in one
transaction, before the renamed entry is used. So the alert history follows the rename,
and the once-per-(rule, story, channel) rule keeps old stories from alerting again.
It runs where the config comes into force: at start and at every reload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from alerts.models import AlertMessage, Notification, RuleMatch
from scheduler.config import Config
from scheduler.models import ConfigId

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rename:
    kind: str  # "rule" or "channel"
    old: str
    new: str


def stable_ids(config: Config) -> dict[tuple[str, str], str]:
    """(kind, id) -> name for every rule and channel that has an id."""
    ids = {("rule", rule.id): rule.name for rule in config.rules if rule.id}
    ids.update({("channel", channel.id): name
                for name, channel in config.channels.items() if channel.id})
    return ids


def remember_name(session: Session, kind: str, stable_id: str, name: str) -> None:
    """Note that `stable_id` is called `name` now (before an editor gives it a new one)."""
    if session.get(ConfigId, (kind, stable_id)) is None:
        session.add(ConfigId(kind=kind, id=stable_id, name=name))


def follow_renames(sessions: sessionmaker, config: Config) -> list[Rename]:
    """Move the history of every renamed rule and channel to its new name."""
    renames = []
    with sessions.begin() as session:
        for (kind, stable_id), name in stable_ids(config).items():
            row = session.get(ConfigId, (kind, stable_id))
            if row is None:
                session.add(ConfigId(kind=kind, id=stable_id, name=name))
                continue
            if row.name == name:
                continue
            _move_history(session, kind, row.name, name)
            renames.append(Rename(kind, row.name, name))
            row.name = name
    for rename in renames:
        logger.info("%s %r renamed to %r (same id): its history moved with it",
                    rename.kind, rename.old, rename.new)
    return renames


def _move_history(session: Session, kind: str, old: str, new: str) -> None:
    """Rows that would collide with a row already under the new name (a rule renamed to
    the name of a removed one) stay under the old name."""
    if kind == "rule":
        other = aliased(RuleMatch)
        session.execute(update(RuleMatch).where(
            RuleMatch.rule == old,
            ~exists(select(other.id).where(and_(other.rule == new,
                                                other.article_id == RuleMatch.article_id)))
        ).values(rule=new).execution_options(synchronize_session=False))
        taken = aliased(Notification)
        session.execute(update(Notification).where(
            Notification.rule == old,
            ~exists(select(taken.id).where(and_(taken.rule == new,
                                                taken.story_id == Notification.story_id,
                                                taken.channel == Notification.channel)))
        ).values(rule=new).execution_options(synchronize_session=False))
    else:
        taken = aliased(Notification)
        session.execute(update(Notification).where(
            Notification.channel == old,
            ~exists(select(taken.id).where(and_(taken.channel == new,
                                                taken.story_id == Notification.story_id,
                                                taken.rule == Notification.rule)))
        ).values(channel=new).execution_options(synchronize_session=False))
        session.execute(update(AlertMessage).where(AlertMessage.channel == old)
                        .values(channel=new).execution_options(synchronize_session=False))
