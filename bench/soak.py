"""Soak test: does the daemon's memory level off over hundreds of cycles?

Runs the real daemon (`newswatch run`, JSON logs) against a local site that keeps
publishing (a new article every couple of seconds on each of two feeds, a third of them
matching a rule, alerts to a local webhook), counts finished crawl cycles in the log, and
prints the daemon's resident memory (VmRSS, the daemon process only: crawl children come
and go) every 50 cycles. Passes when the growth over the last 150 cycles is under 10%.

Cycles are made fast with the test-only NEWSWATCH_TEST_MIN_INTERVAL (1 s intervals);
each crawl is still a real child process, so a cycle takes a few seconds.

    .venv/bin/python bench/soak.py            # 300 cycles
    .venv/bin/python bench/soak.py --cycles 60 --every 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import SiteServer, WebhookReceiver  # noqa: E402

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
WORDS = [
    "harbour", "bridge", "council", "budget", "railway", "school", "river", "festival",
    "market", "storm", "election", "hospital", "museum", "airport", "factory", "harvest",
    "tunnel", "library", "stadium", "port", "ministry", "village", "forest", "coast",
    "energy", "water", "court", "police", "mayor", "workers",
]
FEEDS = ("a", "b")
FEED_ITEMS = 15  # the feeds show the newest articles only, like real ones


class Publisher:
    """Publishes a new article on alternating feeds until stopped."""

    def __init__(self, site: SiteServer, every: float) -> None:
        self.site = site
        self.every = every
        self.items: dict[str, list[str]] = {feed: [] for feed in FEEDS}
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        for feed in FEEDS:
            self._write_feed(feed)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.publish()

    def publish(self) -> None:
        self.count += 1
        number = self.count
        feed = FEEDS[number % len(FEEDS)]
        rng = random.Random(number)
        topic = " ".join(rng.sample(WORDS, 3))
        title = f"Story {number}: {topic}" + (" as Putin visits Pyongyang" if number % 3 == 0
                                              else "")
        paragraphs = [" ".join(rng.choices(WORDS, k=40)).capitalize() + "." for _ in range(4)]
        path = f"/news/{number}/"
        now = datetime.now(UTC)
        self.site.add_file(path, (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f'<meta property="article:published_time" content="{now.isoformat()}"></head>'
            f"<body><main><article><h1>{title}</h1>"
            + "".join(f"<p>{p}</p>" for p in paragraphs)
            + "</article></main></body></html>"
        ))
        item = (f"<item><title>{title}</title><link>{self.site.base_url}{path}</link>"
                f"<pubDate>{format_datetime(now)}</pubDate><guid>{path}</guid></item>")
        self.items[feed] = [item, *self.items[feed]][:FEED_ITEMS]
        self._write_feed(feed)

    def _write_feed(self, feed: str) -> None:
        self.site.add_file(f"/feed-{feed}/index.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Soak {feed}</title><link>{self.site.base_url}/</link>"
            + "".join(self.items[feed]) + "</channel></rss>"
        ))


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def write_config(folder: Path, site: SiteServer, hook: WebhookReceiver) -> Path:
    sources = "\n".join(
        f'[[sources]]\nname = "Soak {feed}"\nurl = "{site.base_url}/feed-{feed}/"\n'
        for feed in FEEDS
    )
    config = folder / "config.toml"
    config.write_text(f"""
[storage]
url = "sqlite:///{folder / 'soak.db'}"

[crawler]
obey_robots_txt = false
download_delay = "0s"
download_timeout = "10s"
max_poll_interval = "1s"
crawl_time_limit = "60s"

[defaults]
interval = "1s"

[daemon]
deliver_interval = "1s"
max_concurrent_crawls = 2

{sources}
[channels.desk]
urls = ["json://{hook.url.removeprefix('http://')}/hook"]

[[rules]]
name = "Pyongyang"
query = "Putin visits Pyongyang"
channels = ["desk"]
""", encoding="utf-8")
    return config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--every", type=int, default=50, help="print memory every N cycles")
    parser.add_argument("--publish-every", type=float, default=2.0, metavar="SECONDS")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, SiteServer(tmp, rewrite_from=None) as site, \
            WebhookReceiver() as hook:
        folder = Path(tmp)
        publisher = Publisher(site, args.publish_every)
        config = write_config(folder, site, hook)
        env = {**os.environ, "NEWSWATCH_TEST_MIN_INTERVAL": "1s"}
        daemon = subprocess.Popen(
            [NEWSWATCH, "--config", str(config), "--log-format", "json", "run"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        cycles = 0
        failures = 0
        samples: dict[int, float] = {}
        started = time.monotonic()
        publisher.start()
        print(f"daemon pid {daemon.pid}; {args.cycles} cycles, memory every {args.every}",
              flush=True)
        assert daemon.stderr is not None
        try:
            for line in daemon.stderr:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                message = record.get("message", "")
                if message.startswith("crawl finished") or message.startswith("crawl of "):
                    cycles += 1
                    failures += message.startswith("crawl of ")
                    if cycles % args.every == 0 or cycles == 1:
                        samples[cycles] = resident_mb(daemon.pid)
                        print(f"cycle {cycles:>4}  daemon RSS {samples[cycles]:6.1f} MB  "
                              f"articles published {publisher.count:>4}  alerts "
                              f"{len(hook.requests):>3}  elapsed "
                              f"{time.monotonic() - started:6.0f}s", flush=True)
                    if cycles >= args.cycles:
                        break
        finally:
            publisher.stop.set()
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
    wall = time.monotonic() - started
    middle = samples.get(args.cycles // 2) or samples[min(samples, key=lambda c: abs(
        c - args.cycles // 2))]
    final = samples[max(samples)]
    growth = (final - middle) / middle * 100
    print(f"{cycles} cycles ({failures} failed crawls) in {wall:.0f}s; daemon exit code "
          f"{code}; RSS growth over the last half: {middle:.1f} -> {final:.1f} MB "
          f"({growth:+.1f}%)")
    ok = growth < 10 and code == 0
    print("PASS: memory levels off" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
