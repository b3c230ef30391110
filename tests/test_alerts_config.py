"""Channel settings in config.toml: valid ones load, wrong ones get one located line each."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from alerts.channels import channel_from_settings, rule_options
from scheduler.config import ConfigError, load_config

CONFIG = """\
[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/feed"

[channels.desk]
urls = ["json://127.0.0.1:9/hook"]
{channel}

[[rules]]
name = "Putin in Pyongyang"
query = "Putin visit Pyongyang"
channels = ["desk"]
{rule}
"""


def load(tmp_path: Path, channel: str = "", rule: str = ""):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(channel=channel, rule=rule), encoding="utf-8")
    return load_config(path, {})


def problems(tmp_path: Path, channel: str = "", rule: str = "") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, channel, rule)
    prefix = f"{tmp_path / 'config.toml'}:"
    assert all(problem.startswith(prefix) for problem in caught.value.problems)
    assert all("\n" not in problem for problem in caught.value.problems)
    return [problem.removeprefix(prefix) for problem in caught.value.problems]


def test_every_channel_setting_loads(tmp_path: Path) -> None:
    loaded = load(tmp_path, channel="""
format = "markdown"
timezone = "Europe/Paris"
title = "{{ headline }}"
body = "**{{ headline }}** {{ link|url }}"
digest_title = "{{ count }} stories"
digest_body = "{% for s in stories %}{{ s.headline }}{% endfor %}"
digest = "daily 08:00"
rate_limit = "10/10m"
quiet_hours = "22:00-07:00"
retry_for = "6h"
tags = ["russia"]
sources = ["Wire"]
""", rule='digest = "15m"')
    channel = channel_from_settings("desk", loaded.config.channels["desk"])
    assert channel.format == "markdown" and str(channel.zone) == "Europe/Paris"
    assert channel.template("title") == "{{ headline }}"
    assert channel.digest is not None and channel.digest.daily_at == time(8, 0)
    assert channel.rate_limit is not None
    assert (channel.rate_limit.count, channel.rate_limit.window) == (10, timedelta(minutes=10))
    assert channel.quiet_hours is not None and channel.quiet_hours.start == time(22, 0)
    assert channel.retry_period == timedelta(hours=6)
    assert channel.routed_to({"russia"}, "Other") and channel.routed_to(set(), "Wire")
    assert not channel.routed_to({"sport"}, "Other")
    options = rule_options(loaded.config.rules[0])
    assert options.digest is not None and options.digest.every == timedelta(minutes=15)


def test_defaults_are_plain_text_utc_and_a_day_of_retries(tmp_path: Path) -> None:
    channel = channel_from_settings("desk", load(tmp_path).config.channels["desk"])
    assert (channel.format, channel.timezone, channel.retry_period) == (
        "text", "UTC", timedelta(days=1))
    assert channel.digest is None and channel.rate_limit is None and channel.quiet_hours is None
    assert channel.template("body").startswith("{{ headline }}")


@pytest.mark.parametrize(("setting", "expected"), [
    ('format = "rtf"',
     "7: channels.desk.format: expected 'text', 'markdown' or 'html'"),
    ('rate_limit = "10 per minute"',
     "7: channels.desk.rate_limit: expected \"MESSAGES/PERIOD\" such as \"10/10m\", "
     "got '10 per minute'"),
    ('rate_limit = "0/10m"',
     "7: channels.desk.rate_limit: a rate limit needs at least 1 message per period, "
     "got '0/10m'"),
    ('digest = "weekly"',
     "7: channels.desk.digest: expected a digest period such as \"15m\", \"1h\" or "
     "\"daily 08:00\", got 'weekly'"),
    ('digest = "30s"', "7: channels.desk.digest: a digest period must be at least 1m, got '30s'"),
    ('quiet_hours = "22-7"',
     "7: channels.desk.quiet_hours: expected quiet hours such as \"22:00-07:00\", got '22-7'"),
    ('timezone = "Mars/Olympus"',
     "7: channels.desk.timezone: unknown timezone 'Mars/Olympus' "
     "(expected a name such as \"Europe/Paris\")"),
    ('body = "{{ headlin }}"', "7: channels.desk.body: template error: 'headlin' is undefined"),
    ('title = "{% if %}"',
     "7: channels.desk.title: template error: line 1: Expected an expression, got 'end of "
     "statement block'"),
    ('digest_body = "{{ stories.__class__ }}"',
     "7: channels.desk.digest_body: template error: access to attribute '__class__' of "
     "'list' object is unsafe."),
    ('formatt = "html"', "7: channels.desk.formatt: unknown key 'formatt'; did you mean 'format'?"),
    ('retry_for = "forever"',
     "7: channels.desk.retry_for: expected a duration such as \"90s\", \"10m\", \"1h30m\" or "
     "\"3d\", got 'forever'"),
])
def test_bad_channel_settings_are_one_located_line(
    tmp_path: Path, setting: str, expected: str
) -> None:
    assert problems(tmp_path, channel=setting) == [expected]


def test_bad_rule_digest_is_located(tmp_path: Path) -> None:
    assert problems(tmp_path, rule='digest = "daily 25:00"') == [
        "13: rules[0].digest: expected a time of day such as \"daily 08:00\", "
        "got 'daily 25:00'"
    ]
