"""Alert delivery: latency from an article's storage to its arrival, and throughput.

Run from the project root:  .venv/bin/python bench/alerts.py [--database-url URL]

Everything is real except the crawl: articles are stored as the crawler stores them,
the real matcher matches them, and the real delivery round (routing, planning,
rendering, Apprise) posts each alert to a `json://` webhook receiver on 127.0.0.1.

* latency: 200 alerts one after another; for each, the time from the commit of the
  article to the receiver having the POST, doing what a daemon cycle does after its
  crawl (match, then deliver). A daemon adds the wait for its next cycle on top.
* throughput: 1, 10 and 100 alerts pending at once, delivered by one round.

SQLite in a temporary folder by default; --database-url points at PostgreSQL (an empty
database) instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from crawler.models import Article, Source, Story, utcnow
from scheduler.app import App
from scheduler.config import load_config

LATENCY_ALERTS = 200
THROUGHPUT_SIZES = (1, 10, 100)
BODY = ("Russian President Vladimir Putin will visit Pyongyang this week, the Kremlin said, "
        "in a rare trip abroad that underlines the deepening ties with North Korea. ") * 4


class Receiver:
    """A webhook on 127.0.0.1 that notes when each alert arrived, by its title, on
    `clock` (one that other processes share, like `time.monotonic`, when they time the
    other end)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = clock()
                title = json.loads(body)["title"]
                with receiver.lock:
                    receiver.arrivals[title] = arrived
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/alerts"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def open_app(folder: Path, database_url: str, hook: str) -> App:
    config = folder / "config.toml"
    config.write_text(
        f"""
[storage]
url = {json.dumps(database_url)}
[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/feed"
[channels.desk]
urls = [{json.dumps(hook)}]
[[rules]]
name = "Putin in Pyongyang"
query = "Putin Pyongyang"
channels = ["desk"]
""",
        encoding="utf-8",
    )
    app = App(load_config(config, {}))
    app.open()
    return app


def store(app: App, headlines: list[str]) -> float:
    """Store one article per headline, each its own story; return when committed."""
    with app.sessions.begin() as session:
        source = session.scalars(select(Source).where(Source.name == "Wire")).one()
        for headline in headlines:
            digest = hashlib.sha256(headline.encode()).hexdigest()
            session.add(Article(
                source=source, url=f"https://wire.example.org/{digest[:16]}", title=headline,
                body=BODY, authors=["Jane Doe"], published_at=utcnow(), language="en",
                content_hash=digest, story=Story(headline=headline),
            ))
    return time.perf_counter()


def measure_latency(app: App, receiver: Receiver) -> list[float]:
    latencies = []
    for number in range(LATENCY_ALERTS):
        headline = f"Putin in Pyongyang, latency {number}"
        stored = store(app, [headline])
        app.match()
        app.deliver()
        latencies.append(receiver.arrivals[f"[Putin in Pyongyang] {headline}"] - stored)
    return latencies


def measure_throughput(app: App, receiver: Receiver, size: int) -> float:
    headlines = [f"Putin in Pyongyang, batch {size} #{n}" for n in range(size)]
    store(app, headlines)
    app.match()
    started = time.perf_counter()
    report = app.deliver()
    elapsed = time.perf_counter() - started
    assert report.sent == size, report
    assert all(f"[Putin in Pyongyang] {h}" in receiver.arrivals for h in headlines)
    return size / elapsed


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Receiver() as receiver:
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        app = open_app(Path(folder), database_url, receiver.url)
        try:
            backend = app.engine.dialect.name
            latencies = measure_latency(app, receiver)
            print(f"storage-to-delivery latency over {LATENCY_ALERTS} alerts ({backend}): "
                  f"p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
                  f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, "
                  f"max {max(latencies) * 1000:.1f} ms")
            for size in THROUGHPUT_SIZES:
                rate = measure_throughput(app, receiver, size)
                print(f"throughput with {size:>3} pending alert{'s' if size > 1 else ' '}: "
                      f"{rate:7.1f} alerts/s ({size / rate * 1000:.0f} ms for the round)")
        finally:
            app.close()


if __name__ == "__main__":
    main()
