"""Delivery across workers: alerts a second, one `newswatch run --role worker` against two.

Run from the project root:  .venv/bin/python bench/delivery.py [--alerts 2000] [--delay 0.2]

For each worker count (1, then 2), in the same run: a fresh PostgreSQL database on
127.0.0.1 (user postgres; --admin-url to change), migrated, the config published as an
active scheduler publishes it, then `--alerts` matching articles stored (each a story
of its own) and that many real worker processes started. They match, route, plan and
deliver every alert to a webhook on 127.0.0.1 that takes `--delay` seconds per request
(a slow chat service). The rate is taken from the first alert's arrival to the last, so
the workers' start-up (about 3 s) is left out; every alert must arrive exactly once.
The figure that matters is the ratio of the two rates, measured in one run on a shared
machine (goal: two workers at least 1.8 times one).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.models import Article, Story, utcnow
from scheduler.app import App
from scheduler.cluster import publish_config
from scheduler.config import load_config

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
BODY = ("Russian President Vladimir Putin will visit Pyongyang this week, the Kremlin said, "
        "in a rare trip abroad that underlines the deepening ties with North Korea. ") * 4


class SlowReceiver:
    """A webhook on 127.0.0.1 that takes `delay` seconds to answer each request and
    notes when each alert (by title) arrived."""

    def __init__(self, delay: float) -> None:
        self.arrivals: list[tuple[float, str]] = []
        lock = threading.Lock()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                with lock:
                    arrivals.append((time.monotonic(), json.loads(body)["title"]))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = f"newswatch_bench_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    try:
        yield (f"postgresql+psycopg://{info.get('user', 'postgres')}@"
               f"{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{name}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))


def write_configs(folder: Path, database_url: str) -> tuple[Path, Path]:
    """The cluster's config (channel from $DESK_URL) and a worker's own file."""
    config = folder / "config.toml"
    config.write_text(f"""
[storage]
url = {json.dumps(database_url)}

[daemon]
deliver_interval = "1s"

[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/wire"

[channels.desk]
urls = ["${{DESK_URL}}"]

[[rules]]
name = "putin"
query = "Putin Pyongyang"
channels = ["desk"]
""", encoding="utf-8")
    node = folder / "node.toml"
    node.write_text(f"[storage]\nurl = {json.dumps(database_url)}\n", encoding="utf-8")
    return config, node


def store_articles(app: App, count: int) -> None:
    from sqlalchemy import select

    from crawler.models import Source

    now = utcnow()
    with app.sessions.begin() as session:
        source = session.scalars(select(Source).where(Source.name == "Wire")).one()
        for n in range(count):
            title = f"Putin lands in Pyongyang, report {n}"
            session.add(Article(
                source=source, url=f"https://wire.example.org/news/{n}", title=title,
                body=BODY, authors=[], published_at=now, language="en",
                content_hash=hashlib.sha256(title.encode()).hexdigest(),
                story=Story(headline=title),
            ))


def measure(workers: int, alerts: int, delay: float, admin_url: str) -> float:
    """Alerts a second delivered by `workers` worker processes."""
    receiver = SlowReceiver(delay)
    try:
        with fresh_database(admin_url) as database_url, \
                tempfile.TemporaryDirectory() as folder:
            config, node = write_configs(Path(folder), database_url)
            environment = {**os.environ, "DESK_URL": receiver.url}
            app = App(load_config(config, environment))
            try:
                app.open()
                publish_config(app.sessions, config.read_text(encoding="utf-8"))
                store_articles(app, alerts)
            finally:
                app.close()
            processes = [subprocess.Popen([NEWSWATCH, "--config", str(node), "run", "--role",
                                           "worker"], env=environment,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                         for _ in range(workers)]
            try:
                # Generous: on a busy shared machine a message costs far more than `delay`.
                deadline = time.monotonic() + alerts * max(delay, 0.05) * 10 + 300
                while len(receiver.arrivals) < alerts and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(2)  # anything sent twice would show now
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                for process in processes:
                    process.wait(60)
    finally:
        receiver.close()
    counts = Counter(title for _, title in receiver.arrivals)
    twice = sum(1 for n in counts.values() if n > 1)
    if len(counts) != alerts or twice:
        raise SystemExit(f"{workers} worker(s): {len(counts)} of {alerts} alerts arrived, "
                         f"{twice} more than once")
    times = sorted(moment for moment, _ in receiver.arrivals)
    return (alerts - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000, help="alerts to deliver")
    parser.add_argument("--delay", type=float, default=0.2,
                        help="seconds the receiver takes per request")
    parser.add_argument("--admin-url", default="host=127.0.0.1 user=postgres dbname=postgres",
                        help="libpq connection string of a role that may create databases")
    args = parser.parse_args()
    rates = {}
    for workers in (1, 2):
        rates[workers] = measure(workers, args.alerts, args.delay, args.admin_url)
        print(f"{workers} worker(s): {args.alerts} alerts, each exactly once, "
              f"{rates[workers]:.2f} alerts/s", flush=True)
    print(f"two workers / one: {rates[2] / rates[1]:.2f}x (goal >= 1.8x; receiver "
          f"{args.delay * 1000:.0f} ms per request)")


if __name__ == "__main__":
    main()
