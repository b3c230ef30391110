"""Rules as the alert side uses them: a name, a parsed query and where to send matches."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.query import Query


@dataclass(frozen=True)
class Rule:
    name: str
    query: Query
    channels: tuple[str, ...]
