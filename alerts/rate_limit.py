"""Per-channel rate limits: at most N messages in any sliding window ("10/10m").

A message counts from the moment it is first sent (its creation in the outbox);
retries of the same message do not count again. Alerts beyond the limit are not
dropped: they wait and go out together as one digest when the window has room.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.durations import parse_duration

_SPEC = re.compile(r"(\d+)\s*/\s*(\S+)")


@dataclass(frozen=True)
class RateLimit:
    count: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse "10/10m" (ten messages per ten minutes); raise ValueError otherwise."""
        spec = _SPEC.fullmatch(text.strip())
        problem = f"expected \"MESSAGES/PERIOD\" such as \"10/10m\", got {text!r}"
        if not spec:
            raise ValueError(problem)
        try:
            window = parse_duration(spec.group(2))
        except ValueError:
            raise ValueError(problem) from None
        count = int(spec.group(1))
        if count < 1 or window <= timedelta(0):
            raise ValueError(f"a rate limit needs at least 1 message per period, got {text!r}")
        return cls(count, window)

    def in_window(self, sent: Iterable[datetime], now: datetime) -> list[datetime]:
        """The send times that still count at `now`, oldest first."""
        return sorted(moment for moment in sent if moment > now - self.window)

    def free_at(self, sent: Iterable[datetime], now: datetime) -> datetime | None:
        """None when a message may go at `now`; otherwise when the next one may."""
        counted = self.in_window(sent, now)
        if len(counted) < self.count:
            return None
        # Once the oldest messages beyond count-1 have left the window, one more fits.
        return counted[len(counted) - self.count] + self.window
