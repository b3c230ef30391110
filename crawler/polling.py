"""When to poll a source next: adaptive intervals, exponential backoff, health.

Pure functions of the source's persisted state, the outcome of one poll and the clock,
so the schedule can be tested with a simulated clock.

* Publishing rate: the typical gap between the newest entries the listing shows (or the
  time since the newest, when longer: a feed that stopped publishing looks quiet) sets
  the interval to half that gap: about two polls per new article. Without dates,
  a poll that found new articles halves the interval, and one that found nothing (a 304
  included) stretches it by half. The interval always stays within
  [min_interval, max_interval]: a busy wire is polled at the minimum, an hourly feed
  every half hour, a weekly one at the maximum.
* Failures: the next poll is put off by the interval times 2, 4, 8... (capped at
  max_backoff, and never sooner than a Retry-After asked), and after `unhealthy_after`
  consecutive failures the source is marked unhealthy. It is still polled at the capped
  backoff, and its first success makes it healthy again with the interval it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only its attributes are used: no models (nor numpy) to import
    from crawler.models import Source

RATE_WINDOW = 10  # newest entries whose gaps estimate the publishing rate
POLLS_PER_GAP = 2
QUIET_STRETCH = 1.5


@dataclass(frozen=True)
class PollBounds:
    min_interval: timedelta
    max_interval: timedelta
    max_backoff: timedelta
    unhealthy_after: int = 5

    def clamp(self, interval: timedelta) -> timedelta:
        return max(self.min_interval, min(self.max_interval, interval))


@dataclass(frozen=True)
class PollState:
    """What is persisted on the source between polls."""

    interval: timedelta | None = None
    error_count: int = 0
    unhealthy_since: datetime | None = None


@dataclass(frozen=True)
class PollOutcome:
    ok: bool
    new_articles: int = 0
    entry_dates: Sequence[datetime] = ()
    retry_after: timedelta | None = None


@dataclass(frozen=True)
class PollPlan:
    interval: timedelta  # the interval in force, persisted
    next_poll_at: datetime
    error_count: int
    unhealthy_since: datetime | None


def publishing_gap(dates: Sequence[datetime], now: datetime) -> timedelta | None:
    """The typical time between articles, or None with fewer than two dates: the median
    gap between the newest ones, or the time since the newest when that is longer (a
    source that has gone quiet)."""
    newest = sorted({d for d in dates if d <= now}, reverse=True)[:RATE_WINDOW]
    if len(newest) < 2:
        return None
    typical = median(later - earlier for later, earlier in pairwise(newest))
    return max(typical, now - newest[0])


def plan_next_poll(
    state: PollState, outcome: PollOutcome, bounds: PollBounds, now: datetime
) -> PollPlan:
    current = bounds.clamp(state.interval or bounds.min_interval)
    if not outcome.ok:
        errors = state.error_count + 1
        # Capped exponent: a source dead for weeks must not overflow timedelta.
        delay = max(current, min(current * 2 ** min(errors, 30), bounds.max_backoff))
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        unhealthy = state.unhealthy_since
        if unhealthy is None and errors >= bounds.unhealthy_after:
            unhealthy = now
        return PollPlan(current, now + delay, errors, unhealthy)
    gap = publishing_gap(outcome.entry_dates, now)
    if gap is not None:
        target = gap / POLLS_PER_GAP
    elif outcome.new_articles:
        target = current / 2
    else:
        target = current * QUIET_STRETCH
    interval = bounds.clamp(target)
    return PollPlan(interval, now + interval, 0, None)


# --- a source row's polling state -------------------------------------------------


def poll_state(source: Source) -> PollState:
    return PollState(
        interval=timedelta(seconds=source.poll_interval_seconds)
        if source.poll_interval_seconds else None,
        error_count=source.error_count or 0,
        unhealthy_since=source.unhealthy_since,
    )


def apply_poll(source: Source, outcome: PollOutcome, bounds: PollBounds, now: datetime,
               state: PollState | None = None) -> None:
    """Set the source's error count, health, interval and next poll from one poll
    (from `state`, or the state the row holds)."""
    plan = plan_next_poll(state or poll_state(source), outcome, bounds, now)
    source.error_count = plan.error_count
    source.unhealthy_since = plan.unhealthy_since
    source.poll_interval_seconds = round(plan.interval.total_seconds())
    source.next_poll_at = plan.next_poll_at
    if outcome.new_articles:
        source.last_new_article_at = now
