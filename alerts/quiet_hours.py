"""Quiet hours: a daily period ("22:00-07:00", channel time) when a channel gets nothing.

Alerts found during quiet hours wait; when the period ends they go out together as one
digest (a single alert when there is only one). A period may cross midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

_SPEC = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Parse "HH:MM-HH:MM"; raise ValueError otherwise."""
        spec = _SPEC.fullmatch(text.strip())
        problem = f"expected quiet hours such as \"22:00-07:00\", got {text!r}"
        if not spec:
            raise ValueError(problem)
        hours = [int(part) for part in spec.groups()]
        if hours[0] > 23 or hours[2] > 23 or hours[1] > 59 or hours[3] > 59:
            raise ValueError(problem)
        start, end = time(hours[0], hours[1]), time(hours[2], hours[3])
        if start == end:
            raise ValueError(f"quiet hours must not start and end at the same time: {text!r}")
        return cls(start, end)

    def contains(self, moment: datetime, zone: tzinfo) -> bool:
        clock = moment.astimezone(zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def end_after(self, moment: datetime, zone: tzinfo) -> datetime:
        """When the quiet period that `moment` falls in ends (the next end time), in UTC."""
        local = moment.astimezone(zone)
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(UTC)
