"""Digest times, rate-limit windows and quiet hours, in the channel's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.digests import DigestSchedule
from alerts.quiet_hours import QuietHours
from alerts.rate_limit import RateLimit

PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_interval_digests_fall_on_the_local_clock() -> None:
    quarter = DigestSchedule.parse("15m")
    assert quarter.next_time(utc(2030, 1, 1, 10, 7), UTC) == utc(2030, 1, 1, 10, 15)
    assert quarter.next_time(utc(2030, 1, 1, 10, 15), UTC) == utc(2030, 1, 1, 10, 30)
    hourly = DigestSchedule.parse("1h")
    kolkata = ZoneInfo("Asia/Kolkata")
    assert hourly.next_time(utc(2030, 1, 1, 10, 5), kolkata) == utc(2030, 1, 1, 10, 30)
    assert hourly.next_time(utc(2030, 1, 1, 23, 59), UTC) == utc(2030, 1, 2, 0, 0)


def test_daily_digest_follows_summer_time() -> None:
    daily = DigestSchedule.parse("daily 08:00")
    assert daily.next_time(utc(2030, 1, 15, 12), PARIS) == utc(2030, 1, 16, 7)  # CET
    assert daily.next_time(utc(2030, 7, 15, 5), PARIS) == utc(2030, 7, 15, 6)  # CEST
    assert daily.next_time(utc(2030, 3, 30, 12), PARIS) == utc(2030, 3, 31, 6)  # DST starts


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from(["1m", "15m", "1h", "90m", "daily 08:00", "daily 23:59"]),
       st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]))
def test_next_digest_is_after_and_within_a_period(moment: datetime, spec: str,
                                                  zone: str) -> None:
    schedule = DigestSchedule.parse(spec)
    following = schedule.next_time(moment, ZoneInfo(zone))
    longest = schedule.every or timedelta(days=1)
    assert moment < following <= moment + longest + timedelta(hours=1)  # DST may add one


def test_rate_limit_frees_a_slot_when_the_oldest_message_leaves_the_window() -> None:
    limit = RateLimit.parse("3/10m")
    start = utc(2030, 1, 1)
    sent = [start, start + timedelta(minutes=1), start + timedelta(minutes=2)]
    assert limit.free_at(sent[:2], start + timedelta(minutes=2)) is None
    assert limit.free_at(sent, start + timedelta(minutes=3)) == start + timedelta(minutes=10)
    assert limit.free_at(sent, start + timedelta(minutes=10)) is None


@pytest.mark.parametrize("text", ["10", "10/", "/10m", "ten/10m", "10/soon"])
def test_rate_limit_rejects_malformed_specs(text: str) -> None:
    with pytest.raises(ValueError, match="MESSAGES/PERIOD"):
        RateLimit.parse(text)


def test_quiet_hours_across_midnight_in_the_channel_timezone() -> None:
    quiet = QuietHours.parse("22:00-07:00")
    assert quiet.contains(utc(2030, 1, 1, 21, 30), PARIS)  # 22:30 in Paris
    assert quiet.contains(utc(2030, 1, 2, 5, 59), PARIS)  # 06:59
    assert not quiet.contains(utc(2030, 1, 2, 6, 0), PARIS)  # 07:00
    assert quiet.end_after(utc(2030, 1, 1, 21, 30), PARIS) == utc(2030, 1, 2, 6, 0)
    daytime = QuietHours.parse("12:00-13:30")
    assert daytime.contains(utc(2030, 1, 1, 12, 45), UTC)
    assert not daytime.contains(utc(2030, 1, 1, 13, 30), UTC)
    with pytest.raises(ValueError):
        QuietHours.parse("07:00-07:00")
