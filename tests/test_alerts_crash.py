"""A newswatch process killed with SIGKILL mid-delivery: after a restart nothing is lost,
and at most the one message in flight is sent twice.

The real CLI crawls the seed site; NEWSWATCH_TEST_CRASH_AT makes it kill itself with
SIGKILL right before the first send (after match, alerts in the outbox) or right after a
URL accepted a message (before that is committed).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from servers import SiteServer, SMTPServer, WebhookReceiver
from sqlalchemy import select
from test_alerts_outbox import hook_url, mail_url
from test_end_to_end import NEWSWATCH, SEED_ARTICLE, write_config

from alerts.delivery import DeliveryReport
from alerts.faults import CRASH_ENV
from alerts.models import AlertMessage, Notification
from crawler.database import make_engine, make_sessionmaker
from scheduler.app import App
from scheduler.config import load_config


def run_once(config: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run([NEWSWATCH, "--config", str(config), "run", "--once"],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


def deliver_again(config: Path) -> DeliveryReport:
    """Another delivery round, as a later cycle would run it."""
    app = App(load_config(config, {}))
    try:
        app.open()
        return app.deliver()
    finally:
        app.close()


def outbox(database_url: str) -> tuple[list[str], list[str]]:
    """Statuses of the notifications and of the messages."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return (list(session.scalars(select(Notification.status))),
                    list(session.scalars(select(AlertMessage.status))))
    finally:
        engine.dispose()


def test_killed_between_match_and_send_sends_everything_after_restart(
    tmp_path: Path, postgres_url: str, seed_site: SiteServer, smtp_server: SMTPServer,
    webhook: WebhookReceiver,
) -> None:
    database_url = postgres_url
    config = write_config(tmp_path, database_url, f"{seed_site.base_url}/feed/",
                          [mail_url(smtp_server), hook_url(webhook)])
    killed = run_once(config, crash_at="before_send")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (smtp_server.messages, webhook.requests) == ([], [])
    assert outbox(database_url) == (["pending"], ["pending"])

    restarted = run_once(config)
    assert restarted.returncode == 0, restarted.stderr
    assert "alerts: 1 sent" in restarted.stderr
    assert smtp_server.wait_for(1)
    assert len(smtp_server.messages) == 1 and len(webhook.requests) == 1
    assert SEED_ARTICLE["title"] in webhook.requests[0].json["title"]
    assert outbox(database_url) == (["sent"], ["sent"])
    assert deliver_again(config).sent == 0
    assert len(smtp_server.messages) == 1 and len(webhook.requests) == 1


def test_killed_between_send_and_commit_repeats_only_the_message_in_flight(
    tmp_path: Path, seed_site: SiteServer, smtp_server: SMTPServer, webhook: WebhookReceiver
) -> None:
    database_url = f"sqlite:///{tmp_path / 'n.db'}"
    config = write_config(tmp_path, database_url, f"{seed_site.base_url}/feed/",
                          [mail_url(smtp_server), hook_url(webhook)])
    killed = run_once(config, crash_at="after_send")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert smtp_server.wait_for(1)  # the mail server accepted it; the commit never happened
    assert webhook.requests == []

    restarted = run_once(config)
    assert restarted.returncode == 0, restarted.stderr
    assert smtp_server.wait_for(2)
    assert len(webhook.requests) == 1
    subjects = [mail["Subject"] for mail in smtp_server.messages]
    assert subjects[0] == subjects[1]  # the one repeat: the same message, to the same URL
    assert outbox(database_url) == (["sent"], ["sent"])
    assert deliver_again(config).sent == 0
    assert (len(smtp_server.messages), len(webhook.requests)) == (2, 1)
