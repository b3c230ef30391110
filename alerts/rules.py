"""Rules as the alert side uses them: a parsed query, filters and where to send matches."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.query import Query


@dataclass(frozen=True)
class Rule:
    name: str
    query: Query
    channels: tuple[str, ...]
    # Only articles from these sources / in these languages (None: any).
    sources: frozenset[str] | None = None
    languages: frozenset[str] | None = None
    # Alert only once the story is carried by at least this many outlets (sites).
    min_outlets: int = 1

    def accepts(self, source: str, language: str | None) -> bool:
        """Whether the rule's source and language filters let an article through."""
        if self.sources is not None and source not in self.sources:
            return False
        return self.languages is None or (language or "").lower() in self.languages
