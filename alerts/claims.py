"""Claims on alert messages: a sender takes a message before sending it, so no two
senders (two threads, two processes or machines sharing one PostgreSQL database) ever
send it.

A claim is a lease: `claimed_by` names the sender (host, process, a token per round) and
`claimed_until` says how long the claim holds. It is taken with a conditional UPDATE,
where the message is pending and its claim free, expired, or held by a process of this
host that no longer runs, and it is taken only if that UPDATE changed the row. That
works alike on SQLite, where writers are serialised, and on PostgreSQL, where a second
UPDATE of the row waits for the first to commit and then checks its WHERE again.

The sender renews the claim after each URL has answered and releases it with the
outcome. A sender that crashed leaves its claim behind: another host waits it out
(the lease, `daemon.claim_lease`, default `CLAIM_LEASE`, far longer than one URL may
take), this host frees it at once (a host: a host name and a PID namespace, so
containers sharing a host name never free each other's).

Several workers (`newswatch run --role worker`) on PostgreSQL take the next due message
with `claim_next_message`: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING id`, so two workers never wait for each other's row nor pick the same one.
Matching claims the unmatched articles it works on the same way (`claim_articles`,
a lease in `articles.match_claimed_until`), and routing and matching serialise the
writes of one story (`lock_stories`), so two workers queue each (rule, story, channel)
alert once. On SQLite (one writer at a time) the same statements run without SKIP LOCKED.

What "exactly once" means when a worker is killed during an HTTP send: the URL may have
accepted the message before the worker died and before the commit that records it;
when the lease expires (at once for a worker of this host that is gone) another worker
sends it again to that one URL. Every other URL, and every other message, is sent once.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from alerts.models import AlertMessage
from crawler.models import Article

CLAIM_LEASE = timedelta(minutes=5)
# The first of the two 32-bit keys of the PostgreSQL advisory locks on one story.
STORY_LOCKS = 0x6E77_7374  # "nwst"


def new_owner() -> str:
    """A sender's name for its claims: host, process id and a token of its own."""
    return f"{this_host()}:{os.getpid()}:{secrets.token_hex(4)}"


def this_host() -> str:
    """The host part of this process's claims: its host name and, on Linux, its PID
    namespace. Two containers sharing the host's name (host networking) are different
    hosts here: each sees the other's process ids as gone, and would take over the
    claims of a sender still running."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux
        return socket.gethostname()
    return f"{socket.gethostname()}/{''.join(c for c in namespace if c.isdigit())}"


def claim(session: Session, message_id: int, owner: str, now: datetime,
          lease: timedelta = CLAIM_LEASE) -> bool:
    """Claim a pending message for `owner` until `now` + `lease`; whether it was taken."""
    free = or_(AlertMessage.claimed_until.is_(None), AlertMessage.claimed_until <= now)
    holder = session.scalar(select(AlertMessage.claimed_by).where(AlertMessage.id == message_id))
    if holder is not None and _gone_from_this_host(holder):
        free = or_(free, AlertMessage.claimed_by == holder)
    result = session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.status == "pending", free)
        .values(claimed_by=owner, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim_next_message(session: Session, owner: str, now: datetime,
                       lease: timedelta = CLAIM_LEASE) -> int | None:
    """Claim the oldest due pending message no one holds, skipping rows another worker
    is claiming at this instant; its id, or None when there is none."""
    free = or_(AlertMessage.claimed_until.is_(None), AlertMessage.claimed_until <= now)
    gone = [holder for holder in session.scalars(
        select(AlertMessage.claimed_by).distinct()
        .where(AlertMessage.status == "pending", AlertMessage.claimed_until > now)
    ) if holder is not None and _gone_from_this_host(holder)]
    if gone:
        free = or_(free, AlertMessage.claimed_by.in_(gone))
    candidate = (
        select(AlertMessage.id)
        .where(AlertMessage.status == "pending", free,
               or_(AlertMessage.next_attempt_at.is_(None), AlertMessage.next_attempt_at <= now))
        .order_by(AlertMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return session.scalar(
        update(AlertMessage)
        .where(AlertMessage.id == candidate)
        .values(claimed_by=owner, claimed_until=now + lease)
        .returning(AlertMessage.id)
        .execution_options(synchronize_session=False)
    )


def claim_articles(session: Session, after_id: int, limit: int, now: datetime,
                   lease: timedelta = CLAIM_LEASE) -> list[int]:
    """Claim up to `limit` unmatched articles after `after_id` that no other matcher
    holds, until `now` + `lease`; their ids in order."""
    candidates = (
        select(Article.id)
        .where(Article.matched_at.is_(None), Article.id > after_id,
               or_(Article.match_claimed_until.is_(None), Article.match_claimed_until <= now))
        .order_by(Article.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.scalars(
        update(Article)
        .where(Article.id.in_(candidates.scalar_subquery()))
        .values(match_claimed_until=now + lease)
        .returning(Article.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


def release_articles(session: Session, ids: Iterable[int]) -> None:
    """Free the claims on these articles (those left unmatched are matched next time)."""
    session.execute(
        update(Article)
        .where(Article.id.in_(list(ids)), Article.match_claimed_until.is_not(None))
        .values(match_claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def lock_stories(session: Session, story_ids: Iterable[int | None]) -> None:
    """Until `session` commits, be the only transaction writing alerts of these stories
    (PostgreSQL advisory locks, taken in order so two workers cannot deadlock; SQLite
    serialises every writer anyway)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for story_id in sorted({s for s in story_ids if s is not None}):
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :story)"),
                        {"space": STORY_LOCKS, "story": story_id})


def renew(session: Session, message_id: int, owner: str, now: datetime,
          lease: timedelta = CLAIM_LEASE) -> bool:
    """Extend `owner`'s claim from `now`; False if the claim was lost (it expired and
    another sender took the message)."""
    result = session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.claimed_by == owner)
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(session: Session, message_id: int, owner: str) -> None:
    """Give up `owner`'s claim without an outcome (the message stays as it is)."""
    session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.claimed_by == owner)
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def _gone_from_this_host(owner: str) -> bool:
    """Whether `owner` was a process of this host that has ended (killed, crashed)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != this_host() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        return False
    return False
