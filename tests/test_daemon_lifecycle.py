"""The real daemon as a subprocess on a fast schedule: reload, stop, hangs, the lock.

Intervals of a couple of seconds need NEWSWATCH_TEST_MIN_INTERVAL (config refuses less
than 10s otherwise); `max_poll_interval` is pinned to the interval so adaptive polling
does not stretch a quiet test feed to hours.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from servers import SiteServer, WebhookReceiver
from sqlalchemy import select
from test_end_to_end import NEWSWATCH, SEED_ARTICLE, toml_string

from alerts.models import AlertMessage, DeliveryAttempt, Notification
from crawler.database import make_engine, make_sessionmaker
from crawler.models import Source

FAST_ENV = {"NEWSWATCH_TEST_MIN_INTERVAL": "1s"}
SEED_RULE = ("Putin in Pyongyang", "Putin visit Pyongyang")


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def hook_url(receiver: WebhookReceiver, path: str = "/hook") -> str:
    return "json://" + receiver.url.removeprefix("http://") + path


def daemon_config(
    tmp_path: Path,
    database_url: str,
    sources: list[tuple[str, str]],
    channel_urls: list[str],
    rules: list[tuple[str, str]] = [SEED_RULE],  # noqa: B006  (never mutated)
    *,
    interval: str = "2s",
    time_limit: str = "60s",
    download_timeout: str = "10s",
    shutdown_grace: str = "5s",
    admin_urls: list[str] | None = None,
    name: str = "config.toml",
    extra: str = "",
) -> Path:
    """A config for a fast daemon: polls every `interval`, delivers every second."""
    source_tables = "\n".join(
        f"[[sources]]\nname = {toml_string(n)}\nurl = {toml_string(u)}\n" for n, u in sources
    )
    rule_tables = "\n".join(
        f"[[rules]]\nname = {toml_string(n)}\nquery = {toml_string(q)}\nchannels = [\"desk\"]\n"
        for n, q in rules
    )
    admin = ""
    if admin_urls:
        urls = ", ".join(toml_string(u) for u in admin_urls)
        admin = f'[channels.ops]\nurls = [{urls}]\n\n[admin]\nchannel = "ops"\n'
    path = tmp_path / name
    path.write_text(
        f"""
[storage]
url = {toml_string(database_url)}

[crawler]
download_delay = "0s"
download_timeout = "{download_timeout}"
crawl_time_limit = "{time_limit}"
max_poll_interval = "{interval}"

[defaults]
interval = "{interval}"

[daemon]
deliver_interval = "1s"
shutdown_grace = "{shutdown_grace}"

{source_tables}
[channels.desk]
urls = [{", ".join(toml_string(u) for u in channel_urls)}]

{admin}
{rule_tables}
{extra}
""",
        encoding="utf-8",
    )
    return path


def publish_article(site: SiteServer, slug: str, title: str, paragraphs: list[str]) -> str:
    """Publish a new article page on the site and put it at the top of its feed; its URL."""
    path = f"/2024/06/18/{slug}/"
    body = "\n".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    site.add_file(path, f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="http://news.example.test{path}">
<meta property="article:published_time" content="2024-06-18T00:00:01+00:00">
</head><body><main><article><h1>{title}</h1>
<p class="byline">By Ann Reporter</p>
{body}
</article></main><footer>Copyright The Daily Example</footer></body></html>
""")
    item = f"""<item>
   <title>{title}</title>
   <link>http://news.example.test{path}</link>
   <pubDate>Tue, 18 Jun 2024 00:00:01 +0000</pubDate>
   <guid isPermaLink="false">http://news.example.test/?p={slug}</guid>
   <description>{paragraphs[0]}</description>
  </item>
  """
    feed = site.read_text("feed/index.xml")
    first = feed.index("<item>")
    site.add_file("feed/index.xml", feed[:first] + item + feed[first:])
    return site.base_url + path


RAILWAY = [
    "Engineers finished the new railway bridge across the Tumen river on Thursday, "
    "officials said, after two years of work on the crossing between the border towns.",
    "The bridge carries a single track and a road lane, and freight trains are expected "
    "to use it from next month, according to the transport ministry.",
    "Local traders welcomed the opening, saying the old ferry had limited the goods they "
    "could move in winter, when ice closes the river for weeks at a time.",
]
HARVEST = [
    "Farmers in the eastern provinces brought in an early barley harvest this week as "
    "dry weather let combines into the fields a fortnight ahead of the usual calendar.",
    "Agronomists said yields looked close to the ten-year average despite a cold spring, "
    "and that storage depots were being cleared for the grain.",
    "Cooperative leaders asked for more diesel to keep the machines running through the "
    "weekend, when rain is forecast to return to the lowlands.",
]
SUMMIT = [
    "Vladimir Putin will visit Pyongyang again in the autumn, the Kremlin said on "
    "Friday, announcing a second summit with Kim Jong Un within a year.",
    "Officials in Moscow said the two leaders would sign agreements on energy, fishing "
    "and scientific exchanges during the two-day stay in the North Korean capital.",
    "Diplomats in Seoul said they would follow the preparations closely and urged both "
    "governments to respect sanctions adopted by the Security Council.",
]


class DaemonProcess:
    """`newswatch run` in a subprocess, its stderr in a file (a pipe could fill up)."""

    def __init__(self, config: Path, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        self._log_file = log_path.open("w")
        self.proc = subprocess.Popen(
            [NEWSWATCH, "--config", str(config), *args, "run"],
            stdout=subprocess.DEVNULL, stderr=self._log_file, env={**os.environ, **FAST_ENV},
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float) -> bool:
        return wait_until(lambda: text in self.log(), timeout)

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; the exit code and how long it took to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


def newswatch(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWSWATCH, "--config", str(config), *args], capture_output=True, text=True,
        timeout=timeout, check=False, env={**os.environ, **FAST_ENV},
    )


def titles(receiver: WebhookReceiver) -> list[str]:
    return [request.json["title"] for request in receiver.requests if request.json]


@contextmanager
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a crawl hangs on it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def source_rows(database_url: str) -> dict[str, Source]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return {s.name: s for s in session.scalars(select(Source))}
    finally:
        engine.dispose()


def test_reload_applies_a_new_rule_refuses_a_bad_config_and_stops_cleanly(
    tmp_path: Path, seed_site: SiteServer, webhook: WebhookReceiver
) -> None:
    database_url = f"sqlite:///{tmp_path / 'nw.db'}"
    feed = [("The Daily Example", f"{seed_site.base_url}/feed/")]
    config = daemon_config(tmp_path, database_url, feed, [hook_url(webhook)])
    with DaemonProcess(config, tmp_path / "daemon.log") as daemon:
        assert wait_until(lambda: len(webhook.requests) >= 1, 40), daemon.log()
        assert SEED_ARTICLE["title"] in titles(webhook)[0]

        running = newswatch(config, "status")
        assert running.returncode == 0, running.stderr
        assert "daemon: running since" in running.stdout
        assert f"pid {daemon.pid}" in running.stdout
        assert "The Daily Example" in running.stdout

        # SIGHUP with a new rule: it applies to the articles that arrive after it.
        daemon_config(tmp_path, database_url, feed, [hook_url(webhook)],
                      [SEED_RULE, ("Railway", "railway bridge")])
        os.kill(daemon.pid, signal.SIGHUP)
        assert daemon.wait_log("config reloaded", 20), daemon.log()
        assert "rules +Railway" in daemon.log()
        publish_article(seed_site, "railway-bridge-tumen", "Railway bridge opens on the Tumen",
                        RAILWAY)
        assert wait_until(lambda: any("[Railway]" in t for t in titles(webhook)), 40), (
            daemon.log()
        )

        # A config with errors is refused, located, and the running one stays.
        good = config.read_text()
        config.write_text(good.replace('interval = "2s"\n\n[daemon]',
                                       'intervall = "2s"\n\n[daemon]'))
        refused = newswatch(config, "reload")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "config.toml:12: defaults.intervall: unknown key 'intervall'" in refused.stderr
        assert "keeps the config it has" in refused.stderr
        os.kill(daemon.pid, signal.SIGHUP)  # the daemon checks for itself too
        assert daemon.wait_log("the new config was refused", 20), daemon.log()
        assert "config reload refused: " in daemon.log()
        assert "defaults.intervall: unknown key 'intervall'" in daemon.log()
        assert daemon.proc.poll() is None
        publish_article(seed_site, "putin-second-summit", "Putin to visit Pyongyang again",
                        SUMMIT)
        assert wait_until(
            lambda: any("Putin to visit Pyongyang again" in t for t in titles(webhook)), 40
        ), daemon.log()

        config.write_text(good)
        accepted = newswatch(config, "reload")
        assert accepted.returncode == 0, accepted.stderr
        assert "reloaded its config" in accepted.stdout

        code, took = daemon.terminate(timeout=20)
        log = daemon.log()
    assert code == 0, log
    assert took < 5 + 3
    assert "newswatch daemon stopped" in log
    assert "Traceback" not in log
    stopped = newswatch(config, "status")
    assert "not running; last stopped" in stopped.stdout and "cleanly" in stopped.stdout


class SlowReceiver(WebhookReceiver):
    """A webhook that takes `delay` seconds to answer; `arrived` counts requests begun."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.arrived = 0

    def _handle(self, request: Any) -> None:
        self.arrived += 1
        time.sleep(self.delay)
        super()._handle(request)


def test_sigterm_lets_the_delivery_in_progress_finish_and_loses_nothing(
    tmp_path: Path, seed_site: SiteServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'nw.db'}"
    feed = [("The Daily Example", f"{seed_site.base_url}/feed/")]
    with SlowReceiver(delay=2.0) as slow:
        config = daemon_config(tmp_path, database_url, feed, [hook_url(slow)],
                               shutdown_grace="8s")
        with DaemonProcess(config, tmp_path / "daemon.log") as daemon:
            assert wait_until(lambda: slow.arrived >= 1, 40), daemon.log()
            code, took = daemon.terminate(timeout=20)
            log = daemon.log()
        assert code == 0, log
        assert took < 8 + 2, log
        assert len(slow.requests) == 1  # the delivery in progress was let finish...
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            statuses = list(session.scalars(select(Notification.status)))
    finally:
        engine.dispose()
    assert statuses == ["sent"]  # ...and recorded before the daemon exited
    assert "Traceback" not in log


def test_a_hanging_crawl_is_killed_at_the_time_limit_and_the_next_cycle_runs(
    tmp_path: Path, seed_site: SiteServer, webhook: WebhookReceiver
) -> None:
    database_url = f"sqlite:///{tmp_path / 'nw.db'}"
    with silent_server() as silent:
        sources = [("The Daily Example", f"{seed_site.base_url}/feed/"),
                   ("Silent", f"{silent}/feed/")]
        config = daemon_config(tmp_path, database_url, sources, [hook_url(webhook)],
                               time_limit="12s", download_timeout="10m")
        with DaemonProcess(config, tmp_path / "daemon.log") as daemon:
            assert daemon.wait_log("crawl killed after 12s time limit", 40), daemon.log()
            assert "time limit" in (source_rows(database_url)["Silent"].last_error or "")
            assert wait_until(lambda: len(webhook.requests) >= 1, 30), daemon.log()
            publish_article(seed_site, "putin-second-summit", "Putin to visit Pyongyang again",
                            SUMMIT)
            assert wait_until(lambda: len(webhook.requests) >= 2, 45), daemon.log()
            assert "Putin to visit Pyongyang again" in titles(webhook)[1]
            code, _ = daemon.terminate(timeout=20)
            log = daemon.log()
    assert code == 0, log
    rows = source_rows(database_url)
    assert rows["Silent"].last_error is not None
    assert rows["The Daily Example"].last_error is None
    status = newswatch(config, "status").stdout
    assert "Silent" in status.split("unhealthy sources:")[1]


def test_a_second_daemon_is_refused_and_a_killed_one_restarts(
    tmp_path: Path, database_url: str, seed_site: SiteServer, webhook: WebhookReceiver
) -> None:
    feed = [("The Daily Example", f"{seed_site.base_url}/feed/")]
    config = daemon_config(tmp_path, database_url, feed, [hook_url(webhook)],
                           admin_urls=[hook_url(webhook, "/ops")], interval="1h")
    with DaemonProcess(config, tmp_path / "first.log") as first:
        assert first.wait_log("newswatch daemon started", 30), first.log()
        second = newswatch(config, "run", timeout=60)
        assert second.returncode != 0
        assert "another newswatch daemon is already running" in second.stderr
        assert f"pid {first.pid} on host {socket.gethostname()}" in second.stderr
        assert "Traceback" not in second.stderr
        first.proc.kill()
        first.proc.wait()

    with DaemonProcess(config, tmp_path / "restarted.log") as restarted:
        assert restarted.wait_log("newswatch daemon started", 30), restarted.log()
        assert f"previous daemon (pid {first.pid}" in restarted.log()
        assert wait_until(
            lambda: any(r.path == "/ops" and "unclean stop" in r.json["title"]
                        for r in webhook.requests if r.json), 20
        ), restarted.log()
        code, _ = restarted.terminate(timeout=20)
        assert code == 0, restarted.log()
    assert sum(r.path == "/ops" for r in webhook.requests) == 1


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, f"sqlite:///{tmp_path / 'nw.db'}", [], ["log://"])
    with DaemonProcess(config, tmp_path / "daemon.log", "--log-format", "json") as daemon:
        assert daemon.wait_log("newswatch daemon started", 30), daemon.log()
        code, _ = daemon.terminate(timeout=20)
        log = daemon.log()
    records = [json.loads(line) for line in log.splitlines()]
    assert code == 0
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["message"].startswith("newswatch daemon started") for r in records)


def test_a_webhook_that_hangs_never_delays_crawling_or_matching(
    tmp_path: Path, seed_site: SiteServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'nw.db'}"
    feed = [("The Daily Example", f"{seed_site.base_url}/feed/")]
    # 25 rules alert on the seed story: 25 messages, each hanging for Apprise's timeout
    rules = [(f"Putin {n}", SEED_RULE[1]) for n in range(25)] + [("Railway", "railway bridge")]
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)

    def alerts_for(rule: str) -> list[Notification]:
        with sessions() as session:
            return list(session.scalars(select(Notification).where(Notification.rule == rule)))

    def attempts() -> int:
        with sessions() as session:
            return len(session.scalars(select(DeliveryAttempt.id)).all())

    try:
        with silent_server() as silent:
            hanging = "json://" + silent.removeprefix("http://") + "/hook"
            config = daemon_config(tmp_path, database_url, feed, [hanging], rules,
                                   shutdown_grace="10s")
            with DaemonProcess(config, tmp_path / "daemon.log") as daemon:
                assert daemon.wait_log("newswatch daemon started", 30), daemon.log()
                assert wait_until(lambda: len(alerts_for("Putin 24")) == 1, 40), daemon.log()
                publish_article(seed_site, "railway-bridge-tumen",
                                "Railway bridge opens on the Tumen", RAILWAY)
                assert wait_until(lambda: len(alerts_for("Railway")) == 1, 45), daemon.log()
                # crawled and matched while delivery was still stuck on the first alerts
                assert attempts() < 25
                code, took = daemon.terminate(timeout=20)
                log = daemon.log()
        assert code == 0, log
        assert took < 10 + 3, log
        assert "Traceback" not in log
        # the delivery worker stopped after the message it was sending, within the grace
        assert "still being sent after" not in log
        with sessions() as session:
            statuses = session.scalars(select(Notification.status)).all()
            messages = session.scalars(select(AlertMessage)).all()
        assert len(statuses) == 26 and set(statuses) == {"pending"}  # nothing lost
        assert {m.status for m in messages} == {"pending"}
    finally:
        engine.dispose()
