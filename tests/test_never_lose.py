"""Never lose, never double, as a user sees it: the real `run --once` and daemon as
subprocesses against loopback sites, interrupted, failing for a while, or racing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hostile import Answer, HostileSite, ago, article_html, rss
from servers import WebhookReceiver
from sqlalchemy import inspect, select
from test_crawl_ledger import make_due
from test_daemon import wait_until
from test_end_to_end import NEWSWATCH
from test_first_hour_errors import ctrl_c_as_in_a_terminal

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article

PUBLISHED = ago(hours=1)


VOCABULARY = [f"{a}{b}{c}{d}" for a in "bdfgklmnprstv" for b in "aeiou" for c in "lmnrst"
              for d in "aeiou"]


def story_text(n: int) -> str:
    """A story of its own (no two share a story), mentioning the old pier."""
    words = random.Random(n).choices(VOCABULARY, k=150)
    return " ".join(words[:70]) + " near the old pier " + " ".join(words[70:]) + "."


def config(tmp_path: Path, feeds: dict[str, str], hook: WebhookReceiver, rule: str,
           crawler: str = "", daemon: str = "", more_rules: str = "") -> Path:
    sources = "".join(f'[[sources]]\nname = "{name}"\nurl = "{url}"\n\n'
                      for name, url in feeds.items())
    hook_url = "json://" + hook.url.removeprefix("http://") + "/hook"
    path = tmp_path / "config.toml"
    path.write_text(f"""
[storage]
url = "sqlite:///{tmp_path / 'newswatch.db'}"

[crawler]
download_delay = "0s"
download_timeout = "20s"
{crawler}

[daemon]
{daemon}

{sources}
[channels.desk]
urls = ["{hook_url}"]

[[rules]]
name = "ferries"
query = {json.dumps(rule)}
channels = ["desk"]
{more_rules}
""", encoding="utf-8")
    return path


def stored_urls(tmp_path: Path) -> set[str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'newswatch.db'}")
    try:
        if not inspect(engine).has_table("articles"):
            return set()  # the daemon has not set up the database yet
        with make_sessionmaker(engine)() as session:
            return set(session.scalars(select(Article.url)))
    finally:
        engine.dispose()


def run_once(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWSWATCH, "--config", str(path), "run", "--once"],
                          capture_output=True, text=True, timeout=180, check=False)


@contextmanager
def running_daemon(path: Path) -> Iterator[subprocess.Popen[str]]:
    """The real daemon on this config, stopped with SIGTERM (killed if it hangs)."""
    daemon = subprocess.Popen([NEWSWATCH, "--config", str(path), "run"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield daemon
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()


def alerted_titles(hook: WebhookReceiver) -> list[str]:
    return sorted(request.json["title"].removeprefix("[ferries] ") for request in hook.requests)


def test_ctrl_c_on_run_once_midway_then_two_runs_store_everything_and_alert_once(
    tmp_path: Path, webhook: WebhookReceiver,
) -> None:
    stories = 8
    slow = threading.Event()
    slow.set()

    def page(path: str) -> Answer:
        n = int(path.strip("/").split("-")[-1])

        def chunks() -> list[bytes]:
            if slow.is_set():
                time.sleep(1.5)  # slow enough for Ctrl-C to land midway
            return [article_html(f"Ferry line {n}", PUBLISHED, story_text(n)).encode()]
        return 200, {"Content-Type": "text/html; charset=utf-8"}, chunks

    with HostileSite("127.0.0.2") as site:
        links = [(f"Ferry line {n}", f"{site.base_url}/news/line-{n}", PUBLISHED)
                 for n in range(stories)]
        site.add_file("/feed.xml", rss(links))
        site.prefix_route("/news/", page)
        path = config(tmp_path, {"ferries": f"{site.base_url}/feed.xml"}, webhook, "ferry",
                      crawler="concurrent_requests_per_domain = 1")
        # Ctrl-C in a terminal signals the whole process group: newswatch and its crawl.
        process = subprocess.Popen([NEWSWATCH, "--config", str(path), "run", "--once"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True, preexec_fn=ctrl_c_as_in_a_terminal)
        try:
            assert wait_until(lambda: site.count("/news/") >= 3, 60), "no page was fetched"
            os.killpg(process.pid, signal.SIGINT)
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        first = stored_urls(tmp_path)
        assert 0 < len(first) < stories

        slow.clear()
        for _ in range(2):
            result = run_once(path)
            assert result.returncode == 0, result.stderr
        assert stored_urls(tmp_path) == {url for _, url, _ in links}
        assert alerted_titles(webhook) == sorted(f"Ferry line {n}" for n in range(stories))


def test_pages_answering_503_for_a_while_alert_on_their_body_once_under_the_daemon(
    tmp_path: Path, webhook: WebhookReceiver,
) -> None:
    failures: dict[str, int] = {}
    lock = threading.Lock()

    def page(path: str) -> Answer:
        with lock:
            failures[path] = failures.get(path, 0) + 1
            failing = failures[path] <= 2
        if failing:
            return 503, {"Content-Type": "text/html"}, lambda: [b"busy"]
        n = int(path.strip("/").split("-")[-1])
        body = article_html(f"Ferry line {n}", PUBLISHED, story_text(n)).encode()
        return 200, {"Content-Type": "text/html; charset=utf-8"}, lambda: [body]

    with HostileSite("127.0.0.2") as site:
        links = [(f"Ferry line {n}", f"{site.base_url}/news/line-{n}", PUBLISHED)
                 for n in range(3)]
        site.add_file("/feed.xml", rss(links))
        site.prefix_route("/news/", page)
        # "pier" is in the pages' text only, not in the feed's titles or summaries.
        path = config(tmp_path, {"ferries": f"{site.base_url}/feed.xml"}, webhook, "pier",
                      crawler='page_retry_delay = "1s"\nmax_poll_interval = "10s"')
        text = path.read_text().replace("[crawler]", '[defaults]\ninterval = "10s"\n\n[crawler]')
        path.write_text(text)
        with running_daemon(path):
            assert wait_until(lambda: len(webhook.requests) >= 3, 90), "body alerts missing"
            time.sleep(12)  # another poll or so: nothing more may come
    assert alerted_titles(webhook) == [f"Ferry line {n}" for n in range(3)]


def test_two_outlets_carrying_the_same_stories_alert_once_per_story_under_the_daemon(
    tmp_path: Path, webhook: WebhookReceiver,
) -> None:
    stories = 6
    with HostileSite("127.0.0.2") as first, HostileSite("127.0.0.3") as second:
        feeds = {}
        for name, site in (("gazette", first), ("courier", second)):
            links = []
            for n in range(stories):
                link = f"{site.base_url}/news/{name}-{n}"
                site.add_file(f"/news/{name}-{n}",
                              article_html(f"Ferry line {n} ({name})", PUBLISHED, story_text(n)))
                links.append((f"Ferry line {n} ({name})", link, PUBLISHED))
            site.add_file("/feed.xml", rss(links))
            feeds[name] = f"{site.base_url}/feed.xml"
        path = config(tmp_path, feeds, webhook, "ferry")
        with running_daemon(path):
            assert wait_until(lambda: len(stored_urls(tmp_path)) == 2 * stories, 90)
            assert wait_until(lambda: len(webhook.requests) >= stories, 60)
            time.sleep(5)  # a doubled alert would come in this time
    titles = alerted_titles(webhook)
    assert len(titles) == stories
    assert sorted(title.split(" (")[0] for title in titles) == sorted(
        f"Ferry line {n}" for n in range(stories))


def test_a_stand_in_upgraded_to_the_full_article_alerts_new_rules_only(
    tmp_path: Path, webhook: WebhookReceiver,
) -> None:
    blocked = threading.Event()
    blocked.set()

    def page(path: str) -> Answer:
        if blocked.is_set():
            return 403, {"Content-Type": "text/html"}, lambda: [b"subscribers only"]
        body = article_html("Ferry line 1", PUBLISHED, story_text(1)).encode()
        return 200, {"Content-Type": "text/html; charset=utf-8"}, lambda: [body]

    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", rss([("Ferry line 1", f"{site.base_url}/news/line-1",
                                         PUBLISHED)]))
        site.prefix_route("/news/", page)
        path = config(tmp_path, {"ferries": f"{site.base_url}/feed.xml"}, webhook, "ferry",
                      more_rules='[[rules]]\nname = "pier"\nquery = "pier"\n'
                                 'channels = ["desk"]\n')
        assert run_once(path).returncode == 0
        # The feed's title stands in: the title rule alerts, the body rule can't yet.
        assert [r.json["title"] for r in webhook.requests] == ["[ferries] Ferry line 1"]

        blocked.clear()
        make_due(f"sqlite:///{tmp_path / 'newswatch.db'}")
        assert run_once(path).returncode == 0
        assert run_once(path).returncode == 0
    titles = sorted(r.json["title"] for r in webhook.requests)
    assert titles == ["[ferries] Ferry line 1", "[pier] Ferry line 1"]
