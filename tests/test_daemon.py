"""The daemon as a user runs it: a long-lived process that polls, alerts and stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from servers import SiteServer, WebhookReceiver
from test_daemon_lifecycle import SUMMIT
from test_end_to_end import NEWSWATCH, SEED_ARTICLE, write_config

NEW_PATH = "/2024/06/19/putin-visits-pyongyang-kim-promises-support/"
NEW_TITLE = "Putin Visits Pyongyang As Kim Promises Full Support"


def publish_follow_up(site: SiteServer) -> None:
    """Put a second Pyongyang story on the site and at the top of its feed (its own text:
    a near copy of the seed article would join the seed's story and not alert again)."""
    page = site.read_text(SEED_ARTICLE["path"])
    page = page.replace(SEED_ARTICLE["path"], NEW_PATH).replace(SEED_ARTICLE["title"], NEW_TITLE)
    start, end = page.index("<article"), page.index("</article>") + len("</article>")
    paragraphs = "".join(f"<p>{paragraph}</p>" for paragraph in SUMMIT)
    page = page[:start] + f"<article><h1>{NEW_TITLE}</h1>{paragraphs}</article>" + page[end:]
    site.add_file(NEW_PATH, page)
    published = format_datetime(datetime.now(UTC) - timedelta(minutes=1))
    item = f"""<item>
   <title>{NEW_TITLE}</title>
   <link>http://news.example.test{NEW_PATH}?utm_source=rss&amp;utm_medium=rss</link>
   <pubDate>{published}</pubDate>
   <guid isPermaLink="false">http://news.example.test/?p=48300</guid>
   <description>Putin arrived in Pyongyang.</description>
  </item>
  """
    feed = site.read_text("feed/index.xml")
    first_item = feed.index("<item>")
    site.add_file("feed/index.xml", feed[:first_item] + item + feed[first_item:])


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_daemon_alerts_on_new_articles_and_stops_on_sigterm(
    tmp_path: Path, seed_site: SiteServer, webhook: WebhookReceiver
) -> None:
    hook_url = "json://" + webhook.url.removeprefix("http://") + "/hook"
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'd.db'}", f"{seed_site.base_url}/feed/", [hook_url]
    )
    config.write_text(
        config.read_text()
        .replace('[[sources]]', '[defaults]\ninterval = "10s"\n\n[[sources]]')
        # adaptive polling would stretch the quiet test feed's interval to hours
        .replace('[crawler]', '[crawler]\nmax_poll_interval = "10s"'),
    )
    daemon = subprocess.Popen(
        [NEWSWATCH, "--config", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert wait_until(lambda: len(webhook.requests) == 1, 30), "first poll sent no alert"
        assert SEED_ARTICLE["title"] in webhook.requests[0].json["title"]

        publish_follow_up(seed_site)
        assert wait_until(lambda: len(webhook.requests) == 2, 40), "new article not alerted"
        assert NEW_TITLE in webhook.requests[1].json["title"]
        assert seed_site.base_url + NEW_PATH in webhook.requests[1].json["message"]

        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    stderr = daemon.stderr.read() if daemon.stderr else ""
    assert daemon.returncode == 0, stderr
    assert "newswatch daemon stopped" in stderr
    assert "Traceback" not in stderr
    assert len(webhook.requests) == 2
