"""Claimed sending: no two senders send one message, a crashed sender's claim is taken
over, and each attempt is timed when it answers. Real receivers, SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from servers import WebhookReceiver
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from test_alerts_outbox import app_opener, hook_url, publish, write_alert_config
from test_daemon_lifecycle import SlowReceiver

from alerts.claims import CLAIM_LEASE, this_host
from alerts.delivery import DeliveryReport, deliver_pending
from alerts.models import AlertMessage, DeliveryAttempt
from crawler.models import utcnow


@pytest.fixture
def db(migrated_sessions: sessionmaker) -> sessionmaker:
    return migrated_sessions


def queue_messages(sessions: sessionmaker, count: int, now: datetime | None = None,
                   **columns: object) -> list[int]:
    """`count` pending messages to channel "desk", titled "alert 0", "alert 1", ..."""
    now = now or utcnow()
    with sessions.begin() as session:
        rows = [AlertMessage(channel="desk", title=f"alert {n}", body="b", status="pending",
                             url_results={}, created_at=now, give_up_at=now + timedelta(days=1),
                             **columns)
                for n in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def messages(sessions: sessionmaker) -> list[AlertMessage]:
    with sessions() as session:
        return list(session.scalars(select(AlertMessage).order_by(AlertMessage.id)))


def titles(receiver: WebhookReceiver) -> list[str]:
    return sorted(request.json["title"] for request in receiver.requests)


def test_two_senders_racing_over_the_outbox_send_each_message_exactly_once(db) -> None:
    queue_messages(db, 12)
    reports: list[DeliveryReport] = []
    with SlowReceiver(delay=0.2) as receiver:
        channels = {"desk": [hook_url(receiver)]}
        start = threading.Barrier(2)

        def sender() -> None:
            start.wait()
            reports.append(deliver_pending(db, channels))

        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert titles(receiver) == sorted(f"alert {n}" for n in range(12))
    assert sum(report.sent for report in reports) == 12
    assert {(m.status, m.attempts, m.claimed_by) for m in messages(db)} == {("sent", 1, None)}


def test_a_claim_left_by_a_sender_on_another_host_is_taken_once_it_expires(
    db, webhook: WebhookReceiver
) -> None:
    now = utcnow()
    queue_messages(db, 1, now, claimed_by="elsewhere:4242:crashed",
                   claimed_until=now + CLAIM_LEASE)
    channels = {"desk": [hook_url(webhook)]}
    assert deliver_pending(db, channels, now=now).sent == 0
    assert deliver_pending(db, channels, now=now + CLAIM_LEASE / 2).sent == 0
    assert webhook.requests == []
    [held] = messages(db)
    assert (held.status, held.claimed_by) == ("pending", "elsewhere:4242:crashed")

    assert deliver_pending(db, channels, now=now + CLAIM_LEASE + timedelta(seconds=1)).sent == 1
    assert deliver_pending(db, channels, now=now + 2 * CLAIM_LEASE).sent == 0
    assert titles(webhook) == ["alert 0"]
    [sent] = messages(db)
    assert (sent.status, sent.claimed_by, sent.claimed_until) == ("sent", None, None)


def test_a_claim_left_by_a_killed_process_of_this_host_is_taken_at_once(
    db, webhook: WebhookReceiver
) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = f"{this_host()}:{ended.stdout.strip()}:crashed"
    now = utcnow()
    queue_messages(db, 1, now, claimed_by=dead, claimed_until=now + CLAIM_LEASE)
    assert deliver_pending(db, {"desk": [hook_url(webhook)]}, now=now).sent == 1
    assert titles(webhook) == ["alert 0"]


def test_a_claim_of_a_live_sender_of_this_host_is_respected(
    db, webhook: WebhookReceiver
) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            now = utcnow()
            queue_messages(db, 1, now, claimed_by=f"{this_host()}:{alive.pid}:x",
                           claimed_until=now + CLAIM_LEASE)
            assert deliver_pending(db, {"desk": [hook_url(webhook)]}, now=now).sent == 0
            assert webhook.requests == []
        finally:
            alive.kill()


def test_each_attempt_is_timed_when_it_answers_not_when_the_round_began(db) -> None:
    start = utcnow() + timedelta(hours=1)
    queue_messages(db, 3, utcnow())
    with SlowReceiver(delay=1.0) as slow, WebhookReceiver(default_status=500) as down:
        # Each message goes to a slow URL that accepts it and a URL that refuses it.
        channels = {"desk": [hook_url(slow), hook_url(down)]}
        report = deliver_pending(db, channels, now=start)
    assert report.retrying == 3
    with db() as session:
        attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
    times = [attempt.attempted_at for attempt in attempts]
    assert times == sorted(times)
    accepted = [a.attempted_at for a in attempts if a.ok]
    # each slow answer takes a second: the three are a second apart, not all at `start`
    assert all(later - earlier >= timedelta(seconds=1)
               for earlier, later in pairwise(accepted))
    for message, refused in zip(messages(db), [a for a in attempts if not a.ok], strict=True):
        assert message.next_attempt_at is not None
        assert message.next_attempt_at >= refused.attempted_at + timedelta(seconds=24)
    assert messages(db)[-1].next_attempt_at >= start + timedelta(seconds=2 + 24)


def test_two_rounds_racing_from_notifications_send_each_alert_exactly_once(
    tmp_path: Path, database_url: str
) -> None:
    with SlowReceiver(delay=0.2) as receiver, app_opener() as open_app:
        config = write_alert_config(tmp_path, database_url,
                                    f'[channels.desk]\nurls = ["{hook_url(receiver)}"]')
        app = open_app(config)
        for n in range(8):
            publish(app, f"Putin to visit Pyongyang, report {n}")
        assert app.match().notifications == 8
        start = threading.Barrier(2)
        errors: list[Exception] = []

        def round_() -> None:
            start.wait()
            try:
                app.deliver()
            except Exception as error:
                errors.append(error)

        threads = [threading.Thread(target=round_) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(receiver.requests) == 8
        with app.sessions() as session:
            assert len(session.scalars(select(AlertMessage.id)).all()) == 8


def test_a_sender_whose_claim_was_taken_over_leaves_the_outcome_to_the_new_holder(
    db, webhook: WebhookReceiver,
) -> None:
    """A sender slow enough to lose its claim (the lease ran out and another sender took
    the message) must not mark the message sent nor clear the new holder's claim."""
    from alerts.channels import as_channels
    from alerts.claims import claim
    from alerts.delivery import _send_claimed

    [message_id] = queue_messages(db, 1)
    now = utcnow()
    with db.begin() as session:
        assert claim(session, message_id, "other-host:1:old", now - CLAIM_LEASE * 2)
        assert claim(session, message_id, "other-host:2:new", now)  # the lease had expired
    channels = as_channels({"desk": [hook_url(webhook)]})
    assert _send_claimed(db, message_id, channels, utcnow, "other-host:1:old") is None
    [message] = messages(db)
    assert (message.status, message.claimed_by) == ("pending", "other-host:2:new")


HOLDER = """
import sys, time
from alerts.claims import claim, new_owner
from crawler.database import make_engine, make_sessionmaker
from crawler.models import utcnow
sessions = make_sessionmaker(make_engine(sys.argv[1]))
with sessions.begin() as session:
    assert claim(session, int(sys.argv[2]), new_owner(), utcnow())
print("claimed", flush=True)
time.sleep(60)
"""


def _pid_free_here() -> int:
    """A process id no process of this PID namespace has (nor its neighbour)."""
    for pid in range(29_000, 32_000, 7):
        if not Path(f"/proc/{pid}").exists() and not Path(f"/proc/{pid + 1}").exists():
            return pid
    pytest.skip("no free process id to give the other namespace's sender")


def test_a_live_sender_in_another_pid_namespace_of_the_same_hostname_keeps_its_claim(
    db, webhook: WebhookReceiver
) -> None:
    """Two containers sharing the host's name (host networking) see each other's
    process ids as gone: a claim of the other one's live sender must still hold."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to start a process in its own PID namespace")
    [message] = queue_messages(db, 1)
    url = db.kw["bind"].url.render_as_string(hide_password=False)
    pid = _pid_free_here()
    script = (f"echo {pid} > /proc/sys/kernel/ns_last_pid; "
              f"{shlex.quote(sys.executable)} -c {shlex.quote(HOLDER)} "
              f"{shlex.quote(url)} {message}; :")
    with subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "bash", "-c", script],
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "claimed"
            [held] = messages(db)
            assert held.claimed_by.split(":")[1] == str(pid + 1)  # gone, seen from here
            assert deliver_pending(db, {"desk": [hook_url(webhook)]}).sent == 0
            assert webhook.requests == []
            assert messages(db)[0].claimed_by == held.claimed_by
        finally:
            holder.kill()
