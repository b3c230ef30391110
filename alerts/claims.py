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
(`CLAIM_LEASE`, far longer than one URL may take), this host frees it at once.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from alerts.models import AlertMessage

CLAIM_LEASE = timedelta(minutes=5)


def new_owner() -> str:
    """A sender's name for its claims: host, process id and a token of its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def claim(session: Session, message_id: int, owner: str, now: datetime) -> bool:
    """Claim a pending message for `owner` until `now` + CLAIM_LEASE; whether it was taken."""
    free = or_(AlertMessage.claimed_until.is_(None), AlertMessage.claimed_until <= now)
    holder = session.scalar(select(AlertMessage.claimed_by).where(AlertMessage.id == message_id))
    if holder is not None and _gone_from_this_host(holder):
        free = or_(free, AlertMessage.claimed_by == holder)
    result = session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.status == "pending", free)
        .values(claimed_by=owner, claimed_until=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def renew(session: Session, message_id: int, owner: str, now: datetime) -> bool:
    """Extend `owner`'s claim from `now`; False if the claim was lost (it expired and
    another sender took the message)."""
    result = session.execute(
        update(AlertMessage)
        .where(AlertMessage.id == message_id, AlertMessage.claimed_by == owner)
        .values(claimed_until=now + CLAIM_LEASE)
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
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        return False
    return False
