"""Digest schedules: when batched alerts go out ("15m", "1h", "daily 08:00").

An interval digest goes out at fixed times of the channel's day, counted from local
midnight: "15m" at :00, :15, :30 and :45, "1h" on the hour, "90m" at 00:00, 01:30, ...
A daily digest goes out once a day at the given local time. A match waits for the first
digest time after it was found, so no digest ever holds a story for longer than one
period (or a day).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

from alerts.durations import parse_duration

MIN_INTERVAL = timedelta(minutes=1)
_DAILY = re.compile(r"daily\s+(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class DigestSchedule:
    text: str  # as configured, e.g. "daily 08:00"
    every: timedelta | None = None
    daily_at: time | None = None

    @classmethod
    def parse(cls, text: str) -> DigestSchedule:
        """Parse "15m", "1h", "1h30m" or "daily HH:MM"; raise ValueError otherwise."""
        spec = text.strip().lower()
        daily = _DAILY.fullmatch(spec)
        if daily:
            hour, minute = int(daily.group(1)), int(daily.group(2))
            if hour > 23 or minute > 59:
                raise ValueError(f"expected a time of day such as \"daily 08:00\", got {text!r}")
            return cls(text=text, daily_at=time(hour, minute))
        try:
            every = parse_duration(spec)
        except ValueError:
            raise ValueError(
                f"expected a digest period such as \"15m\", \"1h\" or \"daily 08:00\", "
                f"got {text!r}"
            ) from None
        if every < MIN_INTERVAL:
            raise ValueError(f"a digest period must be at least 1m, got {text!r}")
        return cls(text=text, every=every)

    def next_time(self, after: datetime, zone: tzinfo) -> datetime:
        """The first digest time strictly after `after` (aware), in UTC."""
        local = after.astimezone(zone)
        midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
        if self.daily_at is not None:
            candidate = datetime.combine(local.date(), self.daily_at, tzinfo=zone)
            if candidate <= after:
                candidate = datetime.combine(
                    local.date() + timedelta(days=1), self.daily_at, tzinfo=zone
                )
            return _utc(candidate)
        assert self.every is not None
        periods = (after - midnight) // self.every
        candidate = midnight + self.every * (periods + 1)
        while candidate <= after:  # wall-clock arithmetic across a DST change
            candidate += self.every
        return _utc(candidate)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
