"""How fast the web app answers over a stored history: the live rule preview (what the
rule editor asks on every pause in typing), the dashboard and the status API.

Run from the project root:
    .venv/bin/python bench/web.py [--stored N] [--rounds N] [--data DIR]

Stores N articles (recombined real bodies from the shared fundus set, first seen over the
last 120 days, as bench/matching.py does) in a temporary SQLite database, then times each
request through the real ASGI app (Starlette's TestClient, a bearer token or a logged-in
session), median and slowest of --rounds. Times move with whatever else the machine
runs: compare them within one run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from matching import DEFAULT_DATA, load_paragraphs, store_articles

QUERIES = ["government", "election NOT football", '"prime minister"', "econom* growth"]
CONFIG = """\
[storage]
url = "sqlite:///bench.db"

[[sources]]
name = "bench"
url = "http://bench.test/feed"

[channels.desk]
urls = ["log://"]

[[rules]]
name = "Government"
query = "government"
channels = ["desk"]
"""


def timed(call, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = call()
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text[:200]}")
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from scheduler.app import App
    from scheduler.config import load_config
    from scheduler.web import security
    from scheduler.web.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG, encoding="utf-8")
        app = App(load_config(config))
        app.open()
        started = time.perf_counter()
        store_articles(app.sessions, args.stored, load_paragraphs(args.data), random.Random(16))
        print(f"stored {args.stored:,} articles in {time.perf_counter() - started:.0f} s")
        security.set_password(app.sessions, "bench password")
        token = security.create_token(app.sessions, "bench")
        api = TestClient(create_app(app, config), headers={"Authorization": f"Bearer {token}"})
        browser = TestClient(create_app(app, config))
        page = browser.get("/login").text
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        browser.post("/login", data={"password": "bench password", "csrf_token": csrf})

        rows = [("GET /api/v1/status", lambda: api.get("/api/v1/status")),
                ("GET / (dashboard page)", lambda: browser.get("/"))]
        for query in QUERIES:
            rows.append((f"live preview {query!r} (30d, 50 stories)",
                         lambda q=query: browser.get("/rules/preview",
                                                     params={"query": q, "since": "30d"})))
            rows.append((f"API preview {query!r} (365d)",
                         lambda q=query: api.get("/api/v1/rules/preview",
                                                 params={"query": q, "since": "365d"})))
        for label, call in rows:
            median, slowest = timed(call, args.rounds)
            print(f"{label:55} median {median * 1000:7.0f} ms   slowest {slowest * 1000:7.0f} ms")
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
