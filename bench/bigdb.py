"""A big database: does a cycle still deliver within seconds while a crawl writes?

Run from the project root:

    .venv/bin/python bench/bigdb.py                       # SQLite, 1M articles, 300k matches
    .venv/bin/python bench/bigdb.py --quick               # 50k articles, 15k matches
    .venv/bin/python bench/bigdb.py --database-url postgresql+psycopg://.../empty_db
    .venv/bin/python bench/bigdb.py --cache /tmp/bigdb-seed.db   # seed SQLite once, reuse

It seeds a database at schema 0006 (the rows are written for it) with a year
of history: ARTICLES articles from 1,000 sources in stories (a fifth are copies joining a
story), the last 14 days' story bands, MATCHES matches and as many sent alerts (outbox
notification, message and attempt each). Bulk inserts: executemany on SQLite, COPY on
PostgreSQL.

Then it upgrades to 0008 (every later migration but the hot-lookup indexes) and measures
the same run twice, before and after `newswatch db upgrade` adds the indexes of 0009 (the
upgrades' times are printed too):

* a crawl-like writer, in a process of its own as the crawl child is, stores new
  articles one by one through `crawler.store.ArticleStore.save_article` (story
  assignment included), half of them matching a rule; a write that fails (SQLite's
  "database is locked" after the 30 s busy timeout) is counted and the article is lost,
  as in the crawl today;
* meanwhile the daemon's path runs cycle after cycle in this process: the real matcher
  (`alerts.matching.match_new_articles` via `App.match`) then the real delivery round
  (`App.deliver`) posting each alert to a `json://` webhook receiver on 127.0.0.1.

Printed per run: store→deliver latency per alert (p50, p95, max: from the writer's
commit to the receiver having the POST), alerts not delivered within the time limit,
failed writes, the writer's time per article, cycle times (match, deliver) and
`newswatch status`'s query time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

import alerts.models  # noqa: E402, F401  (registers the alert tables)
from bench.alerts import Receiver  # noqa: E402
from crawler.database import make_engine  # noqa: E402
from crawler.items import ArticleItem  # noqa: E402
from crawler.store import ArticleStore  # noqa: E402
from scheduler.app import App  # noqa: E402
from scheduler.config import load_config  # noqa: E402
from scheduler.migrate import current_revision, upgrade_database  # noqa: E402
from scheduler.status import gather_status  # noqa: E402

SEEDED = "0006"  # the schema the rows are written for
BEFORE_INDEXES = "0008"  # every migration but the hot-lookup indexes of 0009
SOURCES = 1000
RULE = "Putin in Pyongyang"
OTHER_RULES = [f"Topic {n}" for n in range(19)]
WORDS = [
    "harbour", "bridge", "council", "budget", "railway", "school", "river", "festival",
    "market", "storm", "election", "hospital", "museum", "airport", "factory", "harvest",
    "tunnel", "library", "stadium", "port", "ministry", "village", "forest", "coast",
    "energy", "water", "court", "police", "mayor", "workers",
]
HISTORY = timedelta(days=365)
BAND_WINDOW = timedelta(days=14)  # crawler.stories.WINDOW: older bands are forgotten
BODY_DAYS = timedelta(days=30)  # older bodies emptied by housekeeping
BANDS_PER_ARTICLE = 32
CHUNK = 20_000


# --- seeding -------------------------------------------------------------------------

@dataclass(frozen=True)
class Size:
    articles: int
    matches: int


def spread(count: int, now: datetime) -> list[datetime]:
    """`count` times over the last year, oldest first, the newest two hours ago."""
    start = now - HISTORY
    step = (HISTORY - timedelta(hours=2)) / max(count, 1)
    return [start + step * n for n in range(count)]


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))


def seed_rows(size: Size, now: datetime) -> dict[str, Callable[[], Iterator[tuple]]]:
    """Row generators per table, in insertion order (each re-runnable, deterministic)."""
    times = spread(size.articles, now)
    story_of: list[int] = []
    rng = random.Random(1)
    for number in range(size.articles):  # a fifth of the articles join a recent story
        if number and rng.random() < 0.2:
            story_of.append(story_of[max(0, number - rng.randint(1, 50))])
        else:
            story_of.append(number + 1)
    matched = sorted(random.Random(2).sample(range(size.articles), size.matches))
    rules = [RULE if row % 2 else OTHER_RULES[row % len(OTHER_RULES)]
             for row in range(1, len(matched) + 1)]
    # One alert per (rule, story): (match row, article number, rule) of each first match.
    alerted: list[tuple[int, int, str]] = []
    seen: set[tuple[str, int]] = set()
    for row, (number, rule) in enumerate(zip(matched, rules, strict=True), 1):
        if (rule, story_of[number]) not in seen:
            seen.add((rule, story_of[number]))
            alerted.append((row, number, rule))

    def sources() -> Iterator[tuple]:
        for n in range(1, SOURCES + 1):
            yield (n, f"Source {n}", f"https://outlet{n}.example.org/feed", "feed", 0, times[0])

    def stories() -> Iterator[tuple]:
        for number, story in enumerate(story_of):
            if story == number + 1:
                yield (story, f"Headline {number}", times[number], times[number])

    def articles() -> Iterator[tuple]:
        text_rng = random.Random(3)
        for number, seen in enumerate(times):
            body = words(text_rng, 60) if now - seen < BODY_DAYS else ""
            yield (number + 1, number % SOURCES + 1,
                   f"https://outlet{number % SOURCES + 1}.example.org/news/{number}",
                   f"Headline {number}: {words(text_rng, 6)}", body, "[]", seen, "en",
                   f"{number:064x}", False, seen, seen, story_of[number], 1)

    def story_bands() -> Iterator[tuple]:
        band_rng = random.Random(4)
        first = next((n for n, seen in enumerate(times) if now - seen < BAND_WINDOW),
                     size.articles)
        row = 0
        for number in range(first, size.articles):
            for _ in range(BANDS_PER_ARTICLE):
                row += 1
                yield (row, band_rng.getrandbits(63), number + 1, times[number])

    def matches() -> Iterator[tuple]:
        for row, (number, rule) in enumerate(zip(matched, rules, strict=True), 1):
            yield (row, rule, number + 1, "[]", times[number])

    def alert_messages() -> Iterator[tuple]:
        for row, (_, number, _) in enumerate(alerted, 1):
            sent = times[number] + timedelta(seconds=5)
            yield (row, "desk", "alert", f"Headline {number}", "Body of the alert", "text",
                   "sent", 1, None, '{"k": "sent"}', times[number], None, None, sent)

    def alert_attempts() -> Iterator[tuple]:
        for row, (_, number, _) in enumerate(alerted, 1):
            yield (row, row, "k", "json://127.0.0.1/***", True, None,
                   times[number] + timedelta(seconds=5))

    def notifications() -> Iterator[tuple]:
        for row, (match, number, rule) in enumerate(alerted, 1):
            sent = times[number] + timedelta(seconds=5)
            yield (row, match, rule, number + 1, story_of[number], "desk", "sent", 1, None,
                   '{"k": "sent"}', times[number], None, sent, row, None, times[number])

    return {"sources": sources, "stories": stories, "articles": articles,
            "story_bands": story_bands, "matches": matches, "alert_messages": alert_messages,
            "alert_attempts": alert_attempts, "notifications": notifications}


COLUMNS = {
    "sources": "id, name, url, kind, error_count, created_at",
    "stories": "id, headline, first_seen_at, last_seen_at",
    "articles": "id, source_id, url, title, body, authors, published_at, language, "
                "content_hash, from_feed, first_seen_at, matched_at, story_id, version",
    "story_bands": "id, band, article_id, created_at",
    "matches": "id, rule, article_id, hits, created_at",
    "alert_messages": "id, channel, kind, title, body, body_format, status, attempts, "
                      "last_error, url_results, created_at, next_attempt_at, give_up_at, "
                      "sent_at",
    "alert_attempts": "id, message_id, url_key, url, ok, error, attempted_at",
    "notifications": "id, match_id, rule, article_id, story_id, channel, status, attempts, "
                     "last_error, url_results, created_at, next_attempt_at, sent_at, "
                     "message_id, held, routed_at",
}


def chunks(rows: Iterator[tuple], size: int = CHUNK) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_value(value: Any) -> Any:
    # The text form SQLAlchemy's SQLite DateTime writes (UTC, no offset).
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def seed_sqlite(path: Path, tables: dict[str, Callable[[], Iterator[tuple]]]) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    # A throwaway bulk load: no journal, no syncs, and a cache that holds the indexes.
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-2000000")
    connection.execute("BEGIN")
    for table, rows in tables.items():
        columns = COLUMNS[table]
        marks = ", ".join("?" * len(columns.split(",")))
        for chunk in chunks(rows()):
            connection.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                [tuple(_sqlite_value(value) for value in row) for row in chunk],
            )
    connection.execute("COMMIT")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()


def seed_postgres(url: str, tables: dict[str, Callable[[], Iterator[tuple]]]) -> None:
    import psycopg

    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        for table, rows in tables.items():
            with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        for table in tables:  # sequences after the explicit ids
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        cursor.execute("ANALYZE")


def seed(database_url: str, size: Size, cache: Path | None) -> float:
    """Build the database at schema SEEDED and fill it; the seconds it took."""
    started = time.perf_counter()
    sqlite_path = _sqlite_path(database_url)
    if sqlite_path is not None and cache is not None and cache.exists():
        shutil.copyfile(cache, sqlite_path)
        print(f"seed: copied from {cache}")
        return time.perf_counter() - started
    engine = make_engine(database_url)
    upgrade_database(engine, SEEDED)
    engine.dispose()
    tables = seed_rows(size, datetime.now(UTC))
    if sqlite_path is not None:
        seed_sqlite(sqlite_path, tables)
        if cache is not None:
            shutil.copyfile(sqlite_path, cache)
    else:
        seed_postgres(database_url, tables)
    return time.perf_counter() - started


def _sqlite_path(database_url: str) -> Path | None:
    parsed = make_url(database_url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" else None


# --- the run ---------------------------------------------------------------------------

def write_articles(database_url: str, label: str, count: int, every: float,
                   results: multiprocessing.Queue) -> None:
    """The crawl child's part: store `count` new articles, one every `every` seconds.
    Reports (headline, commit time) per stored article matching the rule, then totals."""
    store = ArticleStore(database_url)
    rng = random.Random(label)
    failed: list[str] = []
    durations: list[float] = []
    for number in range(count):
        matching = number % 2 == 0
        headline = f"{label} {number}: " + ("Putin arrives in Pyongyang" if matching
                                            else words(rng, 5))
        body = words(rng, 120) + (" Putin met officials in Pyongyang." if matching else "")
        item = ArticleItem(source_id=number % SOURCES + 1,
                           url=f"https://wire.example.org/{label}/{number}", title=headline,
                           body=body, published_at=datetime.now(UTC), language="en")
        started = time.monotonic()
        try:
            store.save_article(item)
        except OperationalError as error:
            failed.append(str(error.orig))
        else:
            if matching:
                results.put(("stored", headline, time.monotonic()))
        durations.append(time.monotonic() - started)
        time.sleep(every)
    store.close()
    results.put(("done", failed, durations))


@dataclass
class RunFigures:
    latencies: list[float] = field(default_factory=list)
    undelivered: int = 0
    failed_writes: list[str] = field(default_factory=list)
    write_times: list[float] = field(default_factory=list)
    match_times: list[float] = field(default_factory=list)
    deliver_times: list[float] = field(default_factory=list)
    status_seconds: float = 0.0


def open_app(folder: Path, database_url: str, hook: str) -> App:
    rules = "".join(
        f'[[rules]]\nname = "{name}"\nquery = "{query}"\nchannels = ["desk"]\n'
        for name, query in [(RULE, "Putin Pyongyang"),
                            *((name, f"zzunmatched{n}") for n, name in enumerate(OTHER_RULES))]
    )
    config = folder / "config.toml"
    config.write_text(f"""
[storage]
url = {json.dumps(database_url)}
[[sources]]
name = "Source 1"
url = "https://outlet1.example.org/feed"
[channels.desk]
urls = [{json.dumps(hook)}]
{rules}""", encoding="utf-8")
    app = App(load_config(config, {}))
    app.sync_sources()  # no migration here: the runs choose the schema
    return app


def start_writer(database_url: str, label: str, count: int, every: float,
                 ) -> tuple[multiprocessing.Process, multiprocessing.Queue]:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()
    writer = context.Process(target=write_articles,
                             args=(database_url, label, count, every, results))
    writer.start()
    return writer, results


def writer_results(writer: multiprocessing.Process, results: multiprocessing.Queue,
                   ) -> tuple[dict[str, float], list[str], list[float]]:
    """Wait for the writer: its stored alert titles (with commit times), failed writes
    and time per write."""
    stored: dict[str, float] = {}
    while True:
        kind, *rest = results.get()
        if kind == "stored":
            stored[f"[{RULE}] {rest[0]}"] = rest[1]
        else:
            writer.join()
            return stored, rest[0], rest[1]


def measure_batch(app: App, receiver: Receiver, database_url: str, label: str,
                  batch: int, every: float) -> RunFigures:
    """The issue's case: a crawl has stored `batch` articles; one cycle matches and
    delivers them while another crawl writes. Latency counts from the cycle's start."""
    stored, *_ = writer_results(*start_writer(database_url, f"{label}-crawl", batch, 0.0))
    other = start_writer(database_url, f"{label}-other", max(20, batch // 2), every)
    time.sleep(1.0)  # the other crawl is writing
    began = time.monotonic()
    app.match()
    matched = time.monotonic()
    app.deliver()
    figures = RunFigures(match_times=[matched - began],
                         deliver_times=[time.monotonic() - matched])
    _, figures.failed_writes, figures.write_times = writer_results(*other)
    with receiver.lock:
        arrivals = dict(receiver.arrivals)
    figures.latencies = [arrivals[t] - began for t in stored if t in arrivals]
    figures.undelivered = sum(1 for t in stored if t not in arrivals)
    app.match()  # the other crawl's articles, so the next run starts from none pending
    app.deliver()
    return figures


def measure(app: App, receiver: Receiver, database_url: str, label: str, count: int,
            every: float, limit: float) -> RunFigures:
    figures = RunFigures()
    started = time.monotonic()
    with app.sessions() as session:
        gather_status(session, {"Source 1"})
    figures.status_seconds = time.monotonic() - started
    writer, results = start_writer(database_url, label, count, every)
    stored: dict[str, float] = {}
    writer_done = False
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        began = time.monotonic()
        report = app.match()
        matched = time.monotonic()
        app.deliver()
        figures.match_times.append(matched - began)
        figures.deliver_times.append(time.monotonic() - matched)
        while not results.empty():
            kind, *rest = results.get()
            if kind == "stored":
                stored[f"[{RULE}] {rest[0]}"] = rest[1]
            else:
                figures.failed_writes, figures.write_times = rest
                writer_done = True
        with receiver.lock:
            delivered = all(title in receiver.arrivals for title in stored)
        if writer_done and delivered:
            break
        if not report.articles:
            time.sleep(0.05)
    writer.join(timeout=max(0.0, deadline - time.monotonic()) + 60)
    with receiver.lock:
        arrivals = dict(receiver.arrivals)
    figures.latencies = [arrivals[t] - at for t, at in stored.items() if t in arrivals]
    figures.undelivered = sum(1 for t in stored if t not in arrivals)
    return figures


def percentile(values: list[float], fraction: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def print_figures(name: str, figures: RunFigures, backend: str, since: str = "store") -> None:
    lat = figures.latencies
    print(f"{name} ({backend}):")
    print(f"  {since}->deliver over {len(lat)} alerts: p50 {percentile(lat, .5):.2f} s, "
          f"p95 {percentile(lat, .95):.2f} s, max {max(lat, default=float('nan')):.2f} s; "
          f"not delivered in time: {figures.undelivered}")
    locked = sum("locked" in error for error in figures.failed_writes)
    print(f"  failed crawl writes: {len(figures.failed_writes)} ({locked} 'database is "
          f"locked'); write per article p50 {percentile(figures.write_times, .5):.3f} s, "
          f"max {max(figures.write_times, default=float('nan')):.2f} s")
    print(f"  cycles: {len(figures.match_times)}; match p50 "
          f"{percentile(figures.match_times, .5):.2f} s, max {max(figures.match_times):.2f} s;"
          f" deliver p50 {percentile(figures.deliver_times, .5):.2f} s, "
          f"max {max(figures.deliver_times):.2f} s")
    if figures.status_seconds:
        print(f"  status queries: {figures.status_seconds:.2f} s")


def run_both(app: App, receiver: Receiver, database_url: str, args: argparse.Namespace,
             name: str) -> None:
    backend = app.engine.dialect.name
    label = name.split()[0]
    figures = measure(app, receiver, database_url, label, args.writes, args.every, args.limit)
    print_figures(f"{name}: cycles while a crawl writes", figures, backend)
    figures = measure_batch(app, receiver, database_url, label, args.batch, args.every)
    print_figures(f"{name}: one cycle over a crawl's {args.batch} articles while another "
                  "writes", figures, backend, since="cycle start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: SQLite, temp)")
    parser.add_argument("--quick", action="store_true", help="50k articles, 15k matches")
    parser.add_argument("--articles", type=int, help="articles to seed (default 1,000,000)")
    parser.add_argument("--matches", type=int, help="matches to seed (default 300,000)")
    parser.add_argument("--cache", type=Path,
                        help="SQLite only: a seeded file to copy (made on the first run)")
    parser.add_argument("--writes", type=int, default=200,
                        help="articles the writer stores per run (default 200)")
    parser.add_argument("--every", type=float, default=0.1,
                        help="seconds between the writer's articles (default 0.1)")
    parser.add_argument("--batch", type=int, default=200,
                        help="articles a crawl stores before the one-cycle run (default 200)")
    parser.add_argument("--limit", type=float, default=240.0,
                        help="seconds a run may take before undelivered alerts count")
    parser.add_argument("--after-only", action="store_true",
                        help="skip the run before the indexes")
    args = parser.parse_args()
    size = Size(args.articles or (50_000 if args.quick else 1_000_000),
                args.matches or (15_000 if args.quick else 300_000))
    if args.quick:
        args.writes, args.batch = min(args.writes, 60), min(args.batch, 60)
    # The writer process stamps its commits on time.monotonic: the receiver must too.
    receiver_clock = time.monotonic
    with tempfile.TemporaryDirectory(dir="/tmp") as folder, \
            Receiver(clock=receiver_clock) as receiver:
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'bigdb.db'}"
        seconds = seed(database_url, size, args.cache)
        print(f"seeded {size.articles:,} articles and {size.matches:,} matches and alerts "
              f"in {seconds:.0f} s")
        app = open_app(Path(folder), database_url, receiver.url)
        try:
            if current_revision(app.engine) == SEEDED and not args.after_only:
                started = time.perf_counter()
                upgrade_database(app.engine, BEFORE_INDEXES)
                print(f"db upgrade to {BEFORE_INDEXES} (all but the indexes): "
                      f"{time.perf_counter() - started:.1f} s")
                run_both(app, receiver, database_url, args,
                         f"before the indexes ({BEFORE_INDEXES})")
            started = time.perf_counter()
            upgrade_database(app.engine)
            print(f"db upgrade to {current_revision(app.engine)} (indexes built): "
                  f"{time.perf_counter() - started:.1f} s")
            run_both(app, receiver, database_url, args, "after (head)")
        finally:
            app.close()


if __name__ == "__main__":
    main()
