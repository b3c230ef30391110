"""The daemon's parts on their own: crawl supervision, the lock, retention, operator
alerts, status, config sections, logs and `newswatch crawl`."""

from __future__ import annotations

import json
import logging
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import SiteServer, WebhookReceiver
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from test_daemon_lifecycle import FAST_ENV, daemon_config, hook_url, wait_until
from test_end_to_end import NEWSWATCH

from alerts.delivery import DeliveryReport, deliver_pending
from alerts.models import AlertMessage, Notification, RuleMatch
from crawler.database import make_engine, make_sessionmaker
from crawler.job import CrawlJob, CrawlSettings, SourceSpec
from crawler.models import Article, Source, Story, StoryBand, utcnow
from scheduler.admin import queue_admin_alerts
from scheduler.app import App
from scheduler.config import ConfigError, RetentionConfig, load_config
from scheduler.crawls import CrawlRunner, LogRelay
from scheduler.daemon import Daemon
from scheduler.deliverer import DeliveryWorker
from scheduler.housekeeping import housekeeping
from scheduler.lock import daemon_lock
from scheduler.logs import JsonFormatter
from scheduler.migrate import upgrade_database
from scheduler.models import DaemonRun
from scheduler.reload import reload_app
from scheduler.status import PollingBounds, format_status, gather_status


@pytest.fixture
def db(migrated_sessions: sessionmaker) -> sessionmaker:
    return migrated_sessions


@pytest.fixture
def sqlite_db(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'nw.db'}")
    upgrade_database(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def add_sources(sessions, *names: str) -> list[int]:
    with sessions.begin() as session:
        rows = [Source(name=name, url=f"http://127.0.0.1:9/{name}") for name in names]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def job_for(ids: list[int]) -> CrawlJob:
    return CrawlJob("sqlite://", CrawlSettings(user_agent="t"),
                    [SourceSpec(i, f"s{i}", "http://127.0.0.1:9/") for i in ids])


def fake_child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


# -- crawl supervision ---------------------------------------------------------------


def test_a_crash_a_hang_and_a_memory_blow_up_are_killed_and_recorded(sqlite_db) -> None:
    ids = add_sources(sqlite_db, "reported", "silent")
    cases = {
        "import sys; sys.exit(3)": (30, "exited with code 3"),
        "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)": (30, "killed by SIGSEGV"),
        "import time; time.sleep(600)": (1.5, "killed after 2s time limit"),
        "import time; x = bytearray(400 * 2**20); x[::4096] = b'x' * len(x[::4096]); "
        "time.sleep(600)": (30, "over the 100 MB limit"),
    }
    for code, (limit, expected) in cases.items():
        runner = CrawlRunner(sqlite_db, memory_limit_mb=100, command=fake_child(code))
        started = time.monotonic()
        outcome = runner(job_for(ids), limit)
        assert not outcome.ok
        assert expected in (outcome.error or ""), outcome.error
        assert time.monotonic() - started < 20
        assert runner.running == 0
    with sqlite_db() as session:
        silent = session.get(Source, ids[1])
        assert silent.last_status == "crawl failed"
        assert "over the 100 MB limit" in silent.last_error
        assert silent.error_count == len(cases)


def test_memory_a_crawl_shares_with_its_forked_workers_counts_once(sqlite_db) -> None:
    # 80 MB touched, then two forked children that keep it shared: the three processes'
    # resident sizes add up to 240 MB, their proportional shares to about 80 MB.
    code = ("import os, time; x = bytearray(80 * 2**20); x[::4096] = b'x' * len(x[::4096]); "
            "[os.fork() or time.sleep(600) for _ in range(2)]; time.sleep(600)")
    runner = CrawlRunner(sqlite_db, memory_limit_mb=150, command=fake_child(code))
    outcome = runner(job_for(add_sources(sqlite_db, "one")), 3)
    assert "time limit" in (outcome.error or ""), outcome.error


def test_crawls_that_may_run_at_once_share_the_cores_between_their_extraction(
    sqlite_db,
) -> None:
    cores = len(os.sched_getaffinity(0))
    ids = add_sources(sqlite_db, "one")
    echo = fake_child("import json, sys; job = json.load(sys.stdin); "
                      "print(json.dumps({'workers': job['settings']['extraction_workers']}))")

    def workers(concurrent_crawls: int) -> object:
        runner = CrawlRunner(sqlite_db, command=echo, concurrent_crawls=concurrent_crawls)
        return runner(job_for(ids), 30).summary["workers"]

    assert workers(1) == cores
    if cores >= 4:
        assert workers(2) == cores // 2
    # A share of one core or less still gets a worker: extracting on the crawl's own
    # thread would let a page that crashes the parser take the whole crawl down.
    assert workers(cores) == 1
    assert workers(cores * 2) == 1


def test_a_source_the_child_reported_on_keeps_its_own_result(sqlite_db) -> None:
    ids = add_sources(sqlite_db, "reported", "silent")
    with sqlite_db.begin() as session:
        session.get(Source, ids[0]).etag = '"v1"'
    child = fake_child(
        "import sys, time, sqlite3, datetime; sys.stdin.read(); "
        f"c = sqlite3.connect({str(sqlite_db.kw['bind'].url.database)!r}); "
        "c.execute(\"UPDATE sources SET last_polled_at=?, last_status='ok' WHERE id=?\", "
        f"(datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M:%S.%f'), "
        f"{ids[0]})); c.commit(); "
        "time.sleep(600)"
    )
    outcome = CrawlRunner(sqlite_db, command=child)(job_for(ids), 3)
    assert not outcome.ok
    with sqlite_db() as session:
        reported, silent = session.get(Source, ids[0]), session.get(Source, ids[1])
        assert (reported.last_status, reported.last_error) == ("ok", None)
        assert reported.etag is None  # its articles may not have been fetched: refetch
        assert "time limit" in silent.last_error


def test_kill_all_stops_running_crawls_without_blaming_their_sources(sqlite_db) -> None:
    ids = add_sources(sqlite_db, "one")
    runner = CrawlRunner(sqlite_db, command=fake_child("import time; time.sleep(600)"))
    result = {}
    thread = threading.Thread(target=lambda: result.update(o=runner(job_for(ids), 600)))
    thread.start()
    assert _wait(lambda: runner.running == 1, 10)
    runner.kill_all("daemon stopping")
    thread.join(10)
    assert result["o"].error == "daemon stopping"
    with sqlite_db() as session:
        assert session.get(Source, ids[0]).last_error is None


def test_child_log_lines_are_relayed_with_their_logger_and_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    relay = LogRelay()
    with caplog.at_level(logging.DEBUG):
        for line in [
            "2026-01-01 10:00:00 [crawler.pipelines] INFO: stored http://x.test/1\n",
            "2026-01-01 10:00:01 [scrapy.core.engine] INFO: Spider opened\n",
            "2026-01-01 10:00:02 [crawler.spiders.news] ERROR: boom\n",
            "Traceback (most recent call last):\n",
            "  ValueError: x\n",
        ]:
            relay.feed(line)
        relay.flush()
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        ("crawl.crawler.pipelines", logging.INFO, "stored http://x.test/1"),
        ("crawl.scrapy.core.engine", logging.DEBUG, "Spider opened"),
        ("crawl.crawler.spiders.news", logging.ERROR,
         "boom\nTraceback (most recent call last):\n  ValueError: x"),
    ]


# -- the lock ------------------------------------------------------------------------


HOLD_LOCK = """
import sys, time
from crawler.database import make_engine
from scheduler.lock import daemon_lock
lock = daemon_lock(make_engine(sys.argv[1]))
assert lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_is_exclusive_and_dies_with_its_holder(database_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, database_url],
                              stdout=subprocess.PIPE, text=True)
    engine = make_engine(database_url)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = daemon_lock(engine)
        assert not lock.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert _wait(lock.acquire, 10)
        assert lock.check()
        assert not daemon_lock(engine).acquire()  # a second lock in the same process too
        lock.release()
        again = daemon_lock(engine)
        assert again.acquire()
        again.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        engine.dispose()


# -- retention -----------------------------------------------------------------------


def test_retention_empties_old_bodies_and_keeps_what_dedup_needs(db) -> None:
    now = utcnow()
    (source_id,) = add_sources(db, "s")
    with db.begin() as session:
        story = Story(headline="h", first_seen_at=now, last_seen_at=now)
        for age, url in ((100, "http://x.test/old"), (10, "http://x.test/new")):
            article = Article(source_id=source_id, url=url, title=f"T {age}", body="text " * 50,
                              content_hash=f"hash{age}", signature=b"\x01\x02",
                              first_seen_at=now - timedelta(days=age), story=story)
            session.add(article)
            session.flush()
            session.add(StoryBand(band=age, article_id=article.id))
    report = housekeeping(db, RetentionConfig(article_bodies="90d"), now)
    assert report.bodies_pruned == 1
    with db() as session:
        articles = {a.url: a for a in session.scalars(select(Article))}
        old, new = articles["http://x.test/old"], articles["http://x.test/new"]
        assert old.body == "" and old.title == "T 100"
        assert (old.content_hash, old.signature, old.story_id) == ("hash100", b"\x01\x02",
                                                                   new.story_id)
        assert new.body.startswith("text")
        assert len(session.scalars(select(StoryBand)).all()) == 2
    assert housekeeping(db, RetentionConfig(article_bodies="90d"), now).bodies_pruned == 0


# -- operator alerts -----------------------------------------------------------------


def admin_deliver(sessions, urls: list[str], now: datetime | None = None):
    return deliver_pending(sessions, {"ops": urls}, now=now)


def test_admin_alerts_are_queued_once_each_and_sent_through_the_outbox(
    sqlite_db, webhook: WebhookReceiver
) -> None:
    now = utcnow()
    ids = add_sources(sqlite_db, "sick", "fine")
    with sqlite_db.begin() as session:
        sick = session.get(Source, ids[0])
        sick.last_error, sick.error_count = "HTTP 500", 30
        sick.last_success_at = now - timedelta(days=2)
        session.get(Source, ids[1]).last_success_at = now
        story = Story(headline="h")
        article = Article(source_id=ids[1], url="http://x.test/a", title="A", body="b",
                          content_hash="h", story=story)
        match = RuleMatch(rule="r", article=article, hits=[])
        session.add(Notification(match=match, rule="r", article=article, story=story,
                                 channel="desk", status="failed", last_error="HTTP 404"))
        session.add(DaemonRun(pid=4242, host="box", started_at=now - timedelta(hours=1),
                              heartbeat_at=now - timedelta(minutes=5),
                              stopped_at=now - timedelta(minutes=5), stopped_cleanly=False))
    urls = [hook_url(webhook, "/ops")]
    assert queue_admin_alerts(sqlite_db, "ops", ["sick", "fine"], timedelta(days=1),
                              timedelta(days=1)) == 3
    assert queue_admin_alerts(sqlite_db, "ops", ["sick", "fine"], timedelta(days=1),
                              timedelta(days=1)) == 0
    assert admin_deliver(sqlite_db, urls).sent == 3
    sent = sorted(r.json["title"] for r in webhook.requests)
    assert any("source 'sick' has been failing for 2.0 days" in t for t in sent)
    assert any("1 alert(s) failed for good" in t for t in sent)
    assert any("unclean stop" in t for t in sent)
    assert "pid 4242 on host box" in next(r.json["message"] for r in webhook.requests
                                          if "unclean" in r.json["title"])
    assert admin_deliver(sqlite_db, urls).sent == 0
    assert len(webhook.requests) == 3
    with sqlite_db() as session:  # no rule notification was created for them
        assert len(session.scalars(select(Notification)).all()) == 1
        assert set(session.scalars(select(AlertMessage.kind))) == {"admin"}


def test_an_admin_alert_is_retried_after_a_channel_failure(
    sqlite_db, webhook: WebhookReceiver
) -> None:
    now = utcnow()
    with sqlite_db.begin() as session:
        session.add(DaemonRun(pid=1, host="box", started_at=now, heartbeat_at=now,
                              stopped_at=now, stopped_cleanly=False))
    assert queue_admin_alerts(sqlite_db, "ops", [], timedelta(days=1), timedelta(hours=1)) == 1
    with WebhookReceiver(statuses=[503, 500]) as flaky:
        urls = [hook_url(webhook, "/ops"), hook_url(flaky, "/ops")]
        rounds = [admin_deliver(sqlite_db, urls, now + timedelta(minutes=m)) for m in (0, 5, 15)]
        assert [(r.sent, r.retrying) for r in rounds] == [(0, 1), (0, 1), (1, 0)]
        assert [r.status for r in flaky.requests] == [503, 500, 200]
    # the URL that had accepted it at once is not sent it again
    assert [r.status for r in webhook.requests] == [200]
    assert all("unclean stop" in r.json["title"] for r in webhook.requests)


def test_an_admin_alert_nobody_can_receive_fails_for_good_without_a_loop(sqlite_db) -> None:
    now = utcnow()
    with sqlite_db.begin() as session:
        session.add(DaemonRun(pid=1, host="box", started_at=now, heartbeat_at=now,
                              stopped_at=now, stopped_cleanly=False))
    urls = ["json://127.0.0.1:9/unreachable"]
    assert queue_admin_alerts(sqlite_db, "ops", [], timedelta(days=1), timedelta(hours=1)) == 1
    assert admin_deliver(sqlite_db, urls, now).retrying == 1
    assert admin_deliver(sqlite_db, urls, now + timedelta(hours=2)).failed == 1
    # an operator alert that failed is not itself announced as a failed alert
    assert queue_admin_alerts(sqlite_db, "ops", [], timedelta(days=1), timedelta(hours=1),
                              now + timedelta(hours=2)) == 0


# -- status --------------------------------------------------------------------------


def test_status_reports_daemon_sources_and_alerts(sqlite_db) -> None:
    now = utcnow()
    ids = add_sources(sqlite_db, "Wire", "Broken", "Gone", "Flaky")
    with sqlite_db.begin() as session:
        wire = session.get(Source, ids[0])
        wire.last_polled_at, wire.last_status = now - timedelta(minutes=3), "ok"
        wire.next_poll_at = now + timedelta(minutes=7)
        wire.poll_interval_seconds = 5400
        for hours in (1, 4, 7, 10):
            session.add(Article(source_id=wire.id, url=f"https://wire.example/{hours}",
                                title="t", body="b", content_hash=str(hours),
                                published_at=now - timedelta(hours=hours)))
        broken = session.get(Source, ids[1])
        broken.last_polled_at, broken.last_status = now, "HTTP 500"
        broken.last_error, broken.error_count = "server error", 5
        flaky = session.get(Source, ids[3])
        flaky.last_polled_at, flaky.last_status = now, "HTTP 503"
        flaky.last_error, flaky.error_count = "unavailable", 1
        session.add(DaemonRun(pid=77, host="box", started_at=now - timedelta(hours=2),
                              heartbeat_at=now - timedelta(seconds=5)))
    bounds = {"Wire": PollingBounds(timedelta(minutes=10), timedelta(hours=2))}
    with sqlite_db() as session:
        status = gather_status(session, {"Wire", "Broken", "Flaky"}, now,
                               unhealthy_after=5, bounds=bounds)
    text = format_status(status)
    assert "daemon: running since" in text and "pid 77 on box" in text
    assert "Wire" in text and "3m ago" in text and "in 7m" in text
    # one failure is not unhealthy: the threshold is crawler.unhealthy_after_failures
    assert "unhealthy sources: 1" in text and "Broken: failing since" in text
    assert "Flaky is failing (1 failed poll in a row; unhealthy after 5)" in text
    assert "Wire: publishes about every 3h; polling every 1h30 (min 10m, max 2h)" in text
    assert "no longer in the config (kept, not polled): Gone" in text
    assert "alerts: 0 pending, 0 failed" in text


# -- config and logs -----------------------------------------------------------------


@pytest.mark.parametrize(("section", "expected"), [
    ('[daemon]\nmax_concurrent_crawls = 0', "daemon.max_concurrent_crawls: Input should be"),
    ('[daemon]\nshutdown_grace = "soon"', 'daemon.shutdown_grace: expected a duration'),
    ('[daemon]\ndeliver_interval = "0s"', "daemon.deliver_interval: expected an interval of"),
    ('[retention]\narticle_bodies = "2h"', "retention.article_bodies: expected a retention"),
    ('[retention]\nbodies = "90d"', "retention.bodies: unknown key 'bodies'"),
    ('[admin]\nchannel = "pager"', "admin.channel: unknown channel 'pager' (channels: desk)"),
])
def test_daemon_config_sections_report_located_errors(
    tmp_path: Path, section: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[channels.desk]\nurls = ["log://"]\n\n{section}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:5: "), problem
    assert expected in problem


def test_short_intervals_need_the_test_only_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\ninterval = "2s"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="at least 10s"):
        load_config(path, {})
    monkeypatch.setenv("NEWSWATCH_TEST_MIN_INTERVAL", "1s")
    assert load_config(path, {}).config.defaults.interval == timedelta(seconds=2)


def test_json_log_lines_are_one_object_each() -> None:
    record = logging.LogRecord("x.y", logging.WARNING, __file__, 1, "two\nlines %d", (2,), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert (parsed["level"], parsed["logger"], parsed["message"]) == ("WARNING", "x.y",
                                                                      "two\nlines 2")
    assert datetime.fromisoformat(parsed["time"]).tzinfo == UTC


# -- newswatch crawl -----------------------------------------------------------------


def test_crawl_by_hand_prints_lines_or_a_progress_bar(
    tmp_path: Path, seed_site: SiteServer
) -> None:
    config = daemon_config(tmp_path, f"sqlite:///{tmp_path / 'nw.db'}",
                           [("The Daily Example", f"{seed_site.base_url}/feed/")], ["log://"])
    plain = subprocess.run([NEWSWATCH, "--config", str(config), "crawl"], capture_output=True,
                           text=True, timeout=120, env={**os.environ, **FAST_ENV})
    assert plain.returncode == 0, plain.stderr
    assert "[1/1] The Daily Example: ok" in plain.stdout
    assert "crawl finished in" in plain.stdout and "2 new articles" in plain.stdout

    unknown = subprocess.run([NEWSWATCH, "--config", str(config), "crawl", "Nope"],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, **FAST_ENV})
    assert unknown.returncode == 1
    assert "unknown source: 'Nope' (configured: 'The Daily Example')" in unknown.stderr

    # On a terminal: a rich progress bar on stderr.
    controller, terminal = pty.openpty()
    shown = subprocess.run([NEWSWATCH, "--config", str(config), "crawl"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=terminal, timeout=120,
                           env={**os.environ, **FAST_ENV, "TERM": "xterm", "COLUMNS": "120"})
    os.close(terminal)
    screen = _read_all(controller)
    assert shown.returncode == 0
    assert "crawling" in screen and "1/1" in screen and "sources" in screen
    assert "The Daily Example: not modified" in screen or "The Daily Example: ok" in screen


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# -- scheduling ----------------------------------------------------------------------


def test_jobs_follow_the_config_through_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSWATCH_TEST_MIN_INTERVAL", "1s")
    database_url = f"sqlite:///{tmp_path / 'nw.db'}"
    feeds = [("A", "http://127.0.0.1:9/a"), ("B", "http://127.0.0.1:9/b")]
    config = daemon_config(tmp_path, database_url, feeds, ["log://"], interval="10m")
    app = App(load_config(config))
    app.open()
    daemon = Daemon(app)
    daemon.scheduler.start(paused=True)
    try:
        daemon._sync_jobs()
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert set(jobs) == {"source:A", "source:B", "match", "deliver", "housekeeping",
                             "admin", "heartbeat"}
        poll = jobs["source:A"]
        assert (poll.max_instances, poll.coalesce, poll.misfire_grace_time) == (1, True, None)
        assert poll.trigger.interval == timedelta(minutes=10) and poll.trigger.jitter == 60
        assert poll.next_run_time <= utcnow() + timedelta(seconds=4)  # never polled: now

        daemon_config(tmp_path, database_url,
                      [("B", "http://127.0.0.1:9/b"), ("C", "http://127.0.0.1:9/c")],
                      ["log://"], interval="10m",
                      extra='[[sources]]\nname = "D"\nurl = "http://127.0.0.1:9/d"\n'
                            'interval = "1h"\nmax_interval = "2h"\n')
        change = reload_app(app)
        assert change.describe().startswith("sources +C +D -A")
        daemon._sync_jobs()
        jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
        assert {"source:B", "source:C", "source:D"} <= set(jobs) and "source:A" not in jobs
        assert jobs["source:D"].trigger.interval == timedelta(hours=1)
    finally:
        daemon.scheduler.shutdown(wait=False)
        daemon.crawl_threads.shutdown()
        app.close()


def test_a_failing_source_counts_from_its_last_success_not_from_unhealthy() -> None:
    from scheduler.admin import failing_since

    worked = datetime(2026, 1, 1, tzinfo=UTC)
    source = Source(name="s", url="http://s.test/", created_at=worked - timedelta(days=9),
                    last_success_at=worked, last_error="HTTP 500",
                    unhealthy_since=worked + timedelta(hours=5))
    assert failing_since(source) == worked
    source.last_error = source.unhealthy_since = None
    assert failing_since(source) is None


# -- the delivery worker -------------------------------------------------------------


def test_the_delivery_worker_survives_a_failed_round_and_reports_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping = threading.Event()
    rounds: list[str] = []
    failed_reported = threading.Event()
    second_round = threading.Event()

    def deliver(stop) -> DeliveryReport:
        rounds.append("round")
        if len(rounds) == 1:
            raise RuntimeError("database went away")
        second_round.set()
        assert not stop()
        return DeliveryReport(failed=1)

    worker = DeliveryWorker(deliver, stopping, failed_reported.set)
    worker.start()
    with caplog.at_level(logging.ERROR, logger="scheduler.deliverer"):
        worker.wake()
        assert wait_until(lambda: len(rounds) == 1, 10)
        worker.wake()
        assert second_round.wait(10) and failed_reported.wait(10)
    assert "delivery failed; the daemon goes on" in caplog.text
    stopping.set()
    worker.join(5)
    assert not worker.is_alive()
