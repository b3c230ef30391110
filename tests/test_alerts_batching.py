"""Digests, rate limits, quiet hours and routing, with a real webhook receiver.

Delivery rounds run at chosen times (`now`), as the daemon's delivery job would run
them every minute, so hours and days pass in milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import WebhookReceiver
from sqlalchemy import select
from test_alerts_outbox import (
    RULE,
    app_opener,
    cli,
    hook_url,
    notifications,
    publish,
    write_alert_config,
)

from alerts.channels import Channel
from alerts.delivery import deliver_pending
from alerts.models import Notification
from alerts.routing import route_new_alerts
from crawler.models import utcnow
from scheduler.app import App


@pytest.fixture
def open_app() -> Iterator[Callable[[Path], App]]:
    with app_opener() as opener:
        yield opener


def run_rounds(app, receiver: WebhookReceiver, start: datetime, minutes: int,
               publish_at: dict[int, str] | None = None) -> list[datetime]:
    """Run a delivery round each minute; return the (fake) time of each message received."""
    received: list[datetime] = []
    for minute in range(minutes + 1):
        if publish_at and minute in publish_at:
            publish(app, publish_at[minute])
            app.match()
        now = start + timedelta(minutes=minute)
        before = len(receiver.requests)
        app.deliver(now=now)
        received += [now] * (len(receiver.requests) - before)
    return received


def busiest_window(times: list[datetime], window: timedelta) -> int:
    return max((sum(t <= other < t + window for other in times) for t in times), default=0)


def test_burst_of_50_never_exceeds_the_rate_limit_and_folds_into_one_digest(
    tmp_path: Path, database_url: str, open_app, webhook: WebhookReceiver
) -> None:
    config = write_alert_config(
        tmp_path, database_url,
        f'[channels.desk]\nurls = ["{hook_url(webhook)}"]\nrate_limit = "10/10m"',
    )
    app = open_app(config)
    headlines = [f"Putin in Pyongyang, update {n}: talks go on" for n in range(50)]
    for headline in headlines:
        publish(app, headline)
    assert app.match().notifications == 50
    start = utcnow()
    late = "Putin leaves Pyongyang after a two-day visit"
    received = run_rounds(app, webhook, start, 40, publish_at={5: late})

    assert busiest_window(received, timedelta(minutes=10)) <= 10
    assert len(received) == 11
    assert received[:10] == [start] * 10
    assert received[10] == start + timedelta(minutes=10)  # as soon as the window allows
    singles = [request.json["title"] for request in webhook.requests[:10]]
    assert singles == [f"[{RULE}] {headline}" for headline in headlines[:10]]
    digest = webhook.requests[10].json
    assert digest["title"] == f"[{RULE}] 41 new stories"
    for headline in [*headlines[10:], late]:
        assert headline in digest["message"]
    assert {alert.status for alert in notifications(app)} == {"sent"}


def test_channel_digest_batches_on_the_hour_of_the_channel_timezone(
    tmp_path: Path, database_url: str, open_app, webhook: WebhookReceiver
) -> None:
    config = write_alert_config(
        tmp_path, database_url,
        f'[channels.desk]\nurls = ["{hook_url(webhook)}"]\ndigest = "1h"\n'
        'timezone = "Asia/Kolkata"',
    )
    app = open_app(config)
    for n in range(3):
        publish(app, f"Putin in Pyongyang: story {n}")
    app.match()
    start = datetime(2030, 1, 1, 10, 5, tzinfo=UTC)  # 15:35 in Kolkata (UTC+5:30)
    assert app.deliver(now=start).held == 3
    assert app.deliver(now=datetime(2030, 1, 1, 10, 29, tzinfo=UTC)).sent == 0
    assert webhook.requests == []
    assert app.deliver(now=datetime(2030, 1, 1, 10, 30, tzinfo=UTC)).sent == 1  # 16:00 there
    [digest] = webhook.requests
    assert digest.json["title"] == f"[{RULE}] 3 new stories"
    assert [f"{n}. Putin in Pyongyang: story {n}" in digest.json["message"] for n in (1, 2)]
    assert "1. Putin in Pyongyang: story 0" in digest.json["message"]


def test_rule_digest_daily_wins_over_the_channel_and_other_rules_alert_at_once(
    tmp_path: Path, open_app, webhook: WebhookReceiver
) -> None:
    rules = (
        f'[[rules]]\nname = "{RULE}"\nquery = "Putin Pyongyang"\nchannels = ["desk"]\n'
        'digest = "daily 08:00"\n\n'
        '[[rules]]\nname = "Kremlin"\nquery = "Kremlin"\nchannels = ["desk"]\n'
    )
    config = write_alert_config(
        tmp_path, f"sqlite:///{tmp_path / 'n.db'}",
        f'[channels.desk]\nurls = ["{hook_url(webhook)}"]\ntimezone = "Europe/Paris"', rules,
    )
    app = open_app(config)
    publish(app, "Putin heads to Pyongyang")  # the body mentions the Kremlin too
    publish(app, "Kremlin reshuffle", body="The Kremlin named a new spokesman on Monday.")
    app.match()
    start = datetime(2030, 6, 1, 7, 0, tzinfo=UTC)  # 09:00 in Paris
    first = app.deliver(now=start)
    assert (first.sent, first.held) == (2, 1)
    assert sorted(r.json["title"] for r in webhook.requests) == [
        "[Kremlin] Kremlin reshuffle", "[Kremlin] Putin heads to Pyongyang"]
    assert app.deliver(now=datetime(2030, 6, 2, 5, 59, tzinfo=UTC)).sent == 0
    assert app.deliver(now=datetime(2030, 6, 2, 6, 0, tzinfo=UTC)).sent == 1  # 08:00 Paris
    assert webhook.requests[-1].json["title"] == f"[{RULE}] Putin heads to Pyongyang"


def test_quiet_hours_hold_alerts_and_send_them_as_one_digest_when_they_end(
    tmp_path: Path, open_app, webhook: WebhookReceiver
) -> None:
    config = write_alert_config(
        tmp_path, f"sqlite:///{tmp_path / 'n.db'}",
        f'[channels.desk]\nurls = ["{hook_url(webhook)}"]\nquiet_hours = "22:00-07:00"',
    )
    app = open_app(config)
    publish(app, "Putin lands in Pyongyang at night")
    publish(app, "Kim greets Putin in Pyongyang")
    app.match()
    night = datetime(2030, 3, 1, 23, 0, tzinfo=UTC)
    assert app.deliver(now=night).held == 2
    _header, *waiting = cli(config, "list", "--status", "pending").output.splitlines()
    assert len(waiting) == 2
    assert all("pending (held: quiet_hours until 2030-03-02 07:00)" in line for line in waiting)
    assert app.deliver(now=night + timedelta(hours=7, minutes=59)).sent == 0
    assert webhook.requests == []
    assert app.deliver(now=night + timedelta(hours=8)).sent == 1
    [digest] = webhook.requests
    assert digest.json["title"] == f"[{RULE}] 2 new stories"
    assert "Kim greets Putin in Pyongyang" in digest.json["message"]
    with app.sessions() as session:
        assert session.scalars(select(Notification.held)).all() == [None, None]


def test_channel_routing_by_source_copies_alerts_once(
    tmp_path: Path, database_url: str, open_app, webhook: WebhookReceiver
) -> None:
    with WebhookReceiver() as bbc_desk:
        channels = (
            f'[channels.desk]\nurls = ["{hook_url(webhook)}"]\n\n'
            f'[channels.bbc]\nurls = ["{hook_url(bbc_desk)}"]\nsources = ["BBC"]\n'
        )
        rules = (f'[[rules]]\nname = "{RULE}"\nquery = "Putin Pyongyang"\n'
                 'channels = ["desk"]\n\n'
                 '[[rules]]\nname = "Kim"\nquery = "Kim"\nchannels = ["desk", "bbc"]\n')
        config = write_alert_config(tmp_path, database_url, channels, rules)
        app = open_app(config)
        publish(app, "Putin to visit Pyongyang", source="Wire")
        publish(app, "Putin and Kim meet in Pyongyang", source="BBC",
                body="Putin met Kim in Pyongyang on Wednesday.")
        app.match()
        app.deliver()
        app.deliver()
        assert sorted(r.json["title"] for r in bbc_desk.requests) == [
            "[Kim] Putin and Kim meet in Pyongyang",
            f"[{RULE}] Putin and Kim meet in Pyongyang",
        ]
        assert len(webhook.requests) == 3
        # The Kim rule names "bbc" and "bbc" routes BBC's stories: still one alert.
        routed = sorted((n.rule, n.channel) for n in notifications(app))
        assert routed == [("Kim", "bbc"), ("Kim", "desk"), (RULE, "bbc"), (RULE, "desk"),
                          (RULE, "desk")]


def test_channel_routing_by_rule_tag(
    tmp_path: Path, open_app, webhook: WebhookReceiver
) -> None:
    config = write_alert_config(tmp_path, f"sqlite:///{tmp_path / 'n.db'}",
                                f'[channels.desk]\nurls = ["{hook_url(webhook)}"]')
    app = open_app(config)
    publish(app, "Putin to visit Pyongyang")
    app.match()
    with WebhookReceiver() as russia_desk:
        channels = {
            "desk": Channel("desk", (hook_url(webhook),)),
            "russia": Channel("russia", (hook_url(russia_desk),), format="markdown",
                              route_tags=frozenset({"russia"})),
            "sport": Channel("sport", (hook_url(russia_desk),), route_tags=frozenset({"sport"})),
        }
        tags = {RULE: frozenset({"russia", "asia"})}
        assert route_new_alerts(app.sessions, channels, tags) == 1
        assert route_new_alerts(app.sessions, channels, tags) == 0  # each alert routed once
        report = deliver_pending(app.sessions, channels)
        assert report.sent == 2
        [routed] = russia_desk.requests
        assert routed.json["message"].startswith("**[Putin to visit Pyongyang](https://")
        assert json.loads(json.dumps(routed.json))["title"] == f"[{RULE}] Putin to visit Pyongyang"
