"""Adaptive polling and backoff, driven by a simulated clock: no crawl, no sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from crawler.polling import (
    PollBounds,
    PollOutcome,
    PollPlan,
    PollState,
    plan_next_poll,
    publishing_gap,
)

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
BOUNDS = PollBounds(
    min_interval=timedelta(minutes=10),
    max_interval=timedelta(hours=2),
    max_backoff=timedelta(hours=6),
    unhealthy_after=5,
)


def publishing_every(gap: timedelta, since: datetime = START - timedelta(days=2)):
    """The publish times of a source that publishes every `gap`."""
    def published_until(now: datetime) -> list[datetime]:
        count = int((now - since) / gap)
        return [since + gap * i for i in range(count + 1)][-20:]
    return published_until


def simulate(published_until: Callable[[datetime], list[datetime]], hours: float,
             failing: Callable[[datetime], bool] = lambda now: False,
             ) -> list[tuple[datetime, PollPlan]]:
    """Poll a source as the daemon would, each poll at the time the previous one planned."""
    now, state, seen, polls = START, PollState(), set(published_until(START)), []
    while now < START + timedelta(hours=hours):
        if failing(now):
            outcome = PollOutcome(ok=False)
        else:
            dates = published_until(now)
            outcome = PollOutcome(ok=True, new_articles=len(set(dates) - seen),
                                  entry_dates=dates)
            seen |= set(dates)
        plan = plan_next_poll(state, outcome, BOUNDS, now)
        polls.append((now, plan))
        state = PollState(plan.interval, plan.error_count, plan.unhealthy_since)
        now = plan.next_poll_at
    return polls


def intervals(polls: list[tuple[datetime, PollPlan]]) -> list[timedelta]:
    return [plan.next_poll_at - now for now, plan in polls]


def test_a_busy_wire_is_polled_at_the_minimum() -> None:
    polls = simulate(publishing_every(timedelta(minutes=2)), hours=3)
    assert set(intervals(polls)) == {BOUNDS.min_interval}
    assert len(polls) == 18


def test_an_hourly_feed_is_polled_about_twice_an_hour_not_every_minute() -> None:
    polls = simulate(publishing_every(timedelta(hours=1)), hours=12)
    assert all(timedelta(minutes=20) <= gap <= timedelta(minutes=40) for gap in intervals(polls))
    assert 18 <= len(polls) <= 36


def test_a_quiet_feed_stretches_to_the_maximum() -> None:
    polls = simulate(publishing_every(timedelta(days=1)), hours=24)
    assert set(intervals(polls)) == {BOUNDS.max_interval}
    assert len(polls) == 12


def test_a_feed_that_stops_publishing_stretches_step_by_step() -> None:
    stopped = START
    polls = simulate(lambda now: publishing_every(timedelta(minutes=5))(stopped), hours=12)
    gaps = intervals(polls)
    assert gaps[0] == BOUNDS.min_interval
    assert gaps == sorted(gaps)  # never shrinks while nothing new comes
    assert gaps[-1] == BOUNDS.max_interval


def test_without_dates_new_articles_halve_and_silence_stretches_the_interval() -> None:
    state = PollState(interval=timedelta(hours=1))
    busy = plan_next_poll(state, PollOutcome(ok=True, new_articles=3), BOUNDS, START)
    assert busy.interval == timedelta(minutes=30)
    quiet = plan_next_poll(state, PollOutcome(ok=True), BOUNDS, START)  # a 304, say
    assert quiet.interval == timedelta(minutes=90)


def test_failures_back_off_exponentially_then_mark_unhealthy_and_recover() -> None:
    outage = (START + timedelta(hours=1), START + timedelta(hours=26))
    polls = simulate(publishing_every(timedelta(hours=1)),
                     hours=36, failing=lambda now: outage[0] <= now < outage[1])
    failed = [(now, plan) for now, plan in polls if plan.error_count]
    gaps = intervals(failed)
    assert gaps[:4] == [timedelta(minutes=60), timedelta(minutes=120), timedelta(minutes=240),
                        BOUNDS.max_backoff]
    assert set(gaps[3:]) == {BOUNDS.max_backoff}
    assert [plan.unhealthy_since is not None for _, plan in failed[:6]] == [
        False, False, False, False, True, True]
    assert failed[4][1].unhealthy_since == failed[4][0]  # marked when the 5th failure came
    assert failed[-1][1].unhealthy_since == failed[4][0]  # and stays from then on
    recovered = next((now, plan) for now, plan in polls if now >= outage[1])
    assert recovered[1].error_count == 0 and recovered[1].unhealthy_since is None
    assert timedelta(minutes=20) <= recovered[1].interval <= timedelta(minutes=40)


def test_retry_after_postpones_the_next_poll() -> None:
    plan = plan_next_poll(PollState(interval=timedelta(minutes=10)),
                          PollOutcome(ok=False, retry_after=timedelta(hours=3)), BOUNDS, START)
    assert plan.next_poll_at == START + timedelta(hours=3)
    assert plan.interval == timedelta(minutes=10)


def test_intervals_respect_changed_bounds_and_future_dates() -> None:
    state = PollState(interval=timedelta(hours=5))  # from an older, looser config
    plan = plan_next_poll(state, PollOutcome(ok=True), BOUNDS, START)
    assert plan.interval == BOUNDS.max_interval
    future = [START + timedelta(days=400), START - timedelta(hours=3), START - timedelta(hours=1)]
    assert publishing_gap(future, START) == timedelta(hours=2)
    assert publishing_gap([START], START) is None


def test_a_source_dead_for_weeks_keeps_backing_off_at_the_maximum() -> None:
    state = PollState(interval=timedelta(minutes=10))
    now = START
    gaps = []
    for _ in range(200):  # far past the point where 2**errors overflowed a timedelta
        plan = plan_next_poll(state, PollOutcome(ok=False), BOUNDS, now)
        state = PollState(interval=plan.interval, error_count=plan.error_count,
                          unhealthy_since=plan.unhealthy_since)
        gaps.append(plan.next_poll_at - now)
        now = plan.next_poll_at
    assert state.error_count == 200
    assert set(gaps[-100:]) == {BOUNDS.max_backoff}
