"""The nodes of a cluster: one `nodes` row per `newswatch run --role ...` process.

Each node registers when it starts, writes a heartbeat every `daemon.heartbeat_interval`
(15 s, at most) with its state
(a scheduler: active or standby; a worker: running) and what it is doing (a small JSON
object: the config version it runs, what it has matched and sent), and marks its row
stopped when it stops cleanly. `newswatch status` lists them; a node silent for more
than `GONE_AFTER` is shown as gone (killed, crashed, or cut off from the database).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, or_, select, update

from crawler.tables import utcnow
from scheduler.lock import this_host
from scheduler.tables import nodes

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

GONE_AFTER = timedelta(minutes=1)
# Stopped or gone nodes stay listed this long, so an operator sees what went away.
SHOWN_FOR = timedelta(hours=1)


def register(sessions: sessionmaker, role: str, state: str) -> int:
    now = utcnow()
    with sessions.begin() as session:
        return session.execute(
            insert(nodes).values(role=role, host=this_host(), pid=os.getpid(),
                                 started_at=now, heartbeat_at=now, state=state, doing={})
        ).inserted_primary_key[0]


def beat(sessions: sessionmaker, node_id: int, state: str, doing: dict[str, Any]) -> None:
    with sessions.begin() as session:
        session.execute(update(nodes).where(nodes.c.id == node_id)
                        .values(heartbeat_at=utcnow(), state=state, doing=doing))


def stopped(sessions: sessionmaker, node_id: int) -> None:
    with sessions.begin() as session:
        session.execute(update(nodes).where(nodes.c.id == node_id).values(stopped_at=utcnow()))


@dataclass(frozen=True)
class NodeStatus:
    role: str
    host: str
    pid: int
    state: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    doing: dict[str, Any]

    def condition(self, now: datetime) -> str:
        """What the node is: its state (active, standby, running), or stopped, or gone."""
        if self.stopped_at is not None:
            return "stopped"
        if now - self.heartbeat_at > GONE_AFTER:
            return "gone"
        return self.state


def list_nodes(session: Session | Connection, now: datetime) -> list[NodeStatus]:
    """Running nodes, and those stopped or silent within `SHOWN_FOR`."""
    rows = session.execute(
        select(nodes)
        .where(or_(nodes.c.stopped_at.is_(None), nodes.c.stopped_at > now - SHOWN_FOR),
               nodes.c.heartbeat_at > now - SHOWN_FOR)
        .order_by(nodes.c.role, nodes.c.host, nodes.c.id)
    )
    return [NodeStatus(n.role, n.host, n.pid, n.state, n.started_at, n.heartbeat_at,
                       n.stopped_at, dict(n.doing or {})) for n in rows]
