"""The outbox against real receivers: retries, per-URL results, giving up, requeuing.

Articles are stored directly and matched by the real matcher; delivery rounds are run
with an explicit `now`, so backoff and retry periods are crossed without waiting.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from servers import SMTPServer, WebhookReceiver
from sqlalchemy import select

from alerts.delivery import retry_delay
from alerts.models import AlertMessage, Notification
from crawler.models import Article, Source, Story, utcnow
from scheduler.app import App
from scheduler.commands.alerts import alerts
from scheduler.commands.common import Context
from scheduler.config import load_config

RULE = "Putin in Pyongyang"
BODY = ("Russian President Vladimir Putin will visit Pyongyang this week, the Kremlin said, "
        "in a rare trip abroad that underlines the deepening ties with North Korea.")


def hook_url(receiver: WebhookReceiver, path: str = "/hook") -> str:
    return "json://" + receiver.url.removeprefix("http://") + path


def mail_url(server: SMTPServer) -> str:
    return (f"mailto://{server.host}:{server.port}"
            "?from=newswatch@example.org&to=desk@example.org")


def write_alert_config(tmp_path: Path, database_url: str, channels: str,
                       rules: str | None = None) -> Path:
    """A config with two sources ("Wire", "BBC") and, by default, one rule to "desk"."""
    if rules is None:
        rules = f'[[rules]]\nname = "{RULE}"\nquery = "Putin Pyongyang"\nchannels = ["desk"]\n'
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
url = {json.dumps(database_url)}

[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/wire"

[[sources]]
name = "BBC"
url = "http://127.0.0.1:9/bbc"

{channels}

{rules}
""",
        encoding="utf-8",
    )
    return path


@contextmanager
def app_opener() -> Iterator[Callable[[Path], App]]:
    """Opens Apps on configs (migrated, sources synced) and closes them all at the end."""
    apps: list[App] = []

    def opener(config: Path) -> App:
        app = App(load_config(config, {}))
        app.open()
        apps.append(app)
        return app

    try:
        yield opener
    finally:
        for app in apps:
            app.close()


@pytest.fixture
def open_app() -> Iterator[Callable[[Path], App]]:
    with app_opener() as opener:
        yield opener


def publish(app: App, title: str, body: str = BODY, source: str = "Wire",
            published: datetime | None = None, authors: tuple[str, ...] = ("Jane Doe",)) -> int:
    """Store an article (a story of its own) as the crawler would; return its id."""
    with app.sessions.begin() as session:
        row = session.scalars(select(Source).where(Source.name == source)).one()
        slug = hashlib.sha1(title.encode()).hexdigest()[:12]
        article = Article(
            source=row, url=f"https://{source.lower()}.example.org/news/{slug}", title=title,
            body=body, authors=list(authors), published_at=published or utcnow(),
            language="en", content_hash=hashlib.sha256((title + body).encode()).hexdigest(),
            story=Story(headline=title),
        )
        session.add(article)
        session.flush()
        return article.id


def cli(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(alerts, list(args), obj=Context(config))
    return result


def notifications(app: App) -> list[Notification]:
    with app.sessions() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_receiver_failing_three_times_gets_exactly_one_delivery(
    tmp_path: Path, database_url: str, open_app, webhook: WebhookReceiver
) -> None:
    webhook.set_statuses([500, 500, 500])
    config = write_alert_config(
        tmp_path, database_url, f'[channels.desk]\nurls = ["{hook_url(webhook)}"]'
    )
    app = open_app(config)
    publish(app, "Putin to visit Pyongyang")
    app.match()
    start = utcnow()
    reports = [app.deliver(now=start + timedelta(minutes=10 * step)) for step in range(6)]

    assert [r.sent for r in reports] == [0, 0, 0, 1, 0, 0]
    assert [r.retrying for r in reports] == [1, 1, 1, 0, 0, 0]
    assert [request.status for request in webhook.requests] == [500, 500, 500, 200]
    assert "Putin to visit Pyongyang" in webhook.requests[-1].json["title"]
    [alert] = notifications(app)
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 4, None)

    listed = cli(config, "list")
    assert listed.exit_code == 0, listed.output
    header, *lines = listed.output.splitlines()
    assert header.split() == ["ID", "STATUS", "CHANNEL", "CREATED", "(UTC)", "ATTEMPTS",
                              "[RULE]", "HEADLINE"]
    assert f"{alert.id}  sent" in lines[0] and "4 attempts" in lines[0]
    assert sum("error  json://" in line and "error=500" in line for line in lines) == 3
    assert sum(" ok " in line for line in lines) == 1
    as_json = json.loads(cli(config, "list", "--json").output)
    assert [attempt["ok"] for attempt in as_json["url_attempts"]] == [False] * 3 + [True]


def test_only_the_failed_url_is_retried(
    tmp_path: Path, database_url: str, open_app, webhook: WebhookReceiver
) -> None:
    with WebhookReceiver(statuses=[503]) as flaky:
        urls = json.dumps([hook_url(webhook), hook_url(flaky)])
        config = write_alert_config(tmp_path, database_url, f"[channels.desk]\nurls = {urls}")
        app = open_app(config)
        publish(app, "Putin lands in Pyongyang")
        app.match()
        start = utcnow()
        first = app.deliver(now=start)
        second = app.deliver(now=start + timedelta(minutes=5))
        app.deliver(now=start + timedelta(minutes=30))
        assert (first.retrying, second.sent) == (1, 1)
        assert [r.status for r in webhook.requests] == [200]
        assert [r.status for r in flaky.requests] == [503, 200]


def test_smtp_down_during_the_first_round_mail_arrives_once(
    tmp_path: Path, database_url: str, open_app, smtp_server: SMTPServer
) -> None:
    config = write_alert_config(
        tmp_path, database_url, f'[channels.desk]\nurls = ["{mail_url(smtp_server)}"]'
    )
    app = open_app(config)
    publish(app, "Putin arrives in Pyongyang for talks with Kim")
    app.match()
    smtp_server.stop()
    start = utcnow()
    down = app.deliver(now=start)
    assert (down.sent, down.retrying) == (0, 1)
    [alert] = notifications(app)
    assert "Connection error" in (alert.last_error or "")

    smtp_server.start()
    up = app.deliver(now=start + timedelta(minutes=5))
    again = app.deliver(now=start + timedelta(hours=1))
    assert (up.sent, again.sent) == (1, 0)
    assert smtp_server.wait_for(1)
    [mail] = smtp_server.messages
    assert mail["Subject"] == f"[{RULE}] Putin arrives in Pyongyang for talks with Kim"
    assert mail["From"].addresses[0].addr_spec == "newswatch@example.org"
    assert mail["To"].addresses[0].addr_spec == "desk@example.org"
    assert mail["X-Application"] == "Apprise"
    text = mail.get_body(("plain",)).get_content()
    assert "https://wire.example.org/news/" in text
    assert "«Putin» will visit «Pyongyang»" in text
    assert f"Rule: {RULE}" in text


def test_alert_failing_for_its_retry_period_is_failed_logged_and_can_be_requeued(
    tmp_path: Path, database_url: str, open_app, caplog: pytest.LogCaptureFixture
) -> None:
    with WebhookReceiver(default_status=500) as receiver:
        config = write_alert_config(
            tmp_path, database_url,
            f'[channels.desk]\nurls = ["{hook_url(receiver)}"]\nretry_for = "1h"',
        )
        app = open_app(config)
        publish(app, "Putin and Kim sign pact in Pyongyang")
        app.match()
        start = utcnow()
        with caplog.at_level(logging.ERROR, logger="alerts.delivery"):
            retrying = app.deliver(now=start)
            given_up = app.deliver(now=start + timedelta(minutes=61))
        assert (retrying.retrying, given_up.failed) == (1, 1)
        assert "failed for good after 2 attempts" in caplog.text
        [alert] = notifications(app)
        assert alert.status == "failed"
        assert app.deliver(now=start + timedelta(hours=3)).sent == 0
        assert len(receiver.requests) == 2

        failed = cli(config, "list", "--status", "failed")
        assert f"{alert.id}  failed" in failed.output
        no_sent = cli(config, "list", "--status", "sent").output.strip()
        assert no_sent == "no alerts with status sent"

        receiver.default_status = 200
        retried = cli(config, "retry", "--failed")
        assert retried.exit_code == 0 and f"requeued 1 alert: {alert.id}" in retried.output
        later = utcnow() + timedelta(hours=4)
        assert app.deliver(now=later).sent == 1
        assert [r.status for r in receiver.requests] == [500, 500, 200]
        assert notifications(app)[0].status == "sent"
        not_failed = cli(config, "retry", str(alert.id))
        assert not_failed.exit_code == 1
        assert "is sent, not failed" in not_failed.output


def test_alerts_to_an_unconfigured_channel_fail_with_a_reason(
    tmp_path: Path, open_app, webhook: WebhookReceiver
) -> None:
    database_url = f"sqlite:///{tmp_path / 'n.db'}"
    config = write_alert_config(tmp_path, database_url,
                                f'[channels.desk]\nurls = ["{hook_url(webhook)}"]')
    app = open_app(config)
    publish(app, "Putin in Pyongyang")
    app.match()
    removed = write_alert_config(tmp_path, database_url,
                                 f'[channels.other]\nurls = ["{hook_url(webhook)}"]',
                                 rules="")
    report = open_app(removed).deliver()
    assert report.failed == 1
    [alert] = notifications(app)
    assert alert.status == "failed"
    assert alert.last_error == "channel 'desk' is not configured"


def test_pending_alerts_survive_a_restart_and_delivered_ones_are_not_resent(
    tmp_path: Path, open_app, webhook: WebhookReceiver
) -> None:
    database_url = f"sqlite:///{tmp_path / 'n.db'}"
    config = write_alert_config(tmp_path, database_url,
                                f'[channels.desk]\nurls = ["{hook_url(webhook)}"]')
    first = open_app(config)
    publish(first, "Putin to visit Pyongyang")
    publish(first, "Pyongyang readies for Putin")
    first.match()
    first.close()
    second = open_app(config)
    assert second.deliver().sent == 2
    third = open_app(config)
    assert third.deliver().sent == 0
    assert len(webhook.requests) == 2
    with second.sessions() as session:
        assert session.scalars(select(AlertMessage.status)).all() == ["sent", "sent"]


def test_backoff_doubles_up_to_an_hour_with_jitter() -> None:
    for attempts in range(1, 12):
        base = min(30 * 2 ** (attempts - 1), 3600)
        delay = retry_delay(attempts).total_seconds()
        assert 0.8 * base <= delay <= 1.2 * base
    assert len({retry_delay(3) for _ in range(20)}) > 1
