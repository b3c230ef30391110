"""Durations as people write them in config: "90s", "10m", "1h30m", "3d", "2w".

A tiny grammar of our own rather than a general time parser: it accepts exactly the
forms the README documents, so a typo is an error instead of a surprising guess.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_LONGEST = timedelta(days=36_525)  # so that now minus any duration is still a date


def parse_duration(text: str | int | float) -> timedelta:
    """Parse "1h30m"-style text; raise ValueError otherwise.

    A bare number is refused, with the fix in words: `max_article_age = 3` read as three
    seconds silently skipped every article, and `interval = 10` polled every 10 seconds."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as \"10m\", not a boolean")
    if isinstance(text, int | float) or re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", str(text)):
        number = str(text).strip()
        raise ValueError(
            f"a duration needs a unit: write \"{number}s\", \"{number}m\", \"{number}h\" or "
            f"\"{number}d\" (as a quoted string), not {number}"
        )
    compact = text.strip().lower().replace(" ", "")
    if not _WHOLE.fullmatch(compact):
        raise ValueError(
            f"expected a duration such as \"90s\", \"10m\", \"1h30m\" or \"3d\", got {text!r}"
        )
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(compact))
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > _LONGEST.total_seconds():
        raise ValueError(f"a duration can be at most 100 years, got {text!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest "1h30m"-style spelling of `delta` (whole seconds)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
