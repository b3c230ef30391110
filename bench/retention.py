"""Bytes per row of every growing table, measured, and the size of a year of a deployment.

Seeds a SQLite database the way a crawl and the matcher fill it (real article bodies from
the shared fundus set, MinHash signatures and band rows from crawler/dedup.py, aliases,
versions, matches, alerts with rendered messages and delivery attempts), VACUUMs it and
reads each table's size, indexes included, from SQLite's `dbstat`. It measures twice: as
stored, and after housekeeping emptied the bodies. Then it projects the database of a
deployment under the stated assumptions and the retention rules of
scheduler/housekeeping.py.

    .venv/bin/python bench/retention.py [--articles 4000] [--sources 1000]
        [--per-source-day 10] [--matches-day 200] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, update  # noqa: E402

from alerts.models import AlertMessage, DeliveryAttempt, Notification, RuleMatch  # noqa: E402
from crawler.database import make_engine, make_sessionmaker  # noqa: E402
from crawler.dedup import fingerprint, signature_to_bytes  # noqa: E402
from crawler.models import (  # noqa: E402
    Article,
    ArticleAlias,
    ArticleVersion,
    Source,
    Story,
    StoryBand,
    utcnow,
)
from crawler.store import content_hash  # noqa: E402
from scheduler.config import RetentionConfig  # noqa: E402
from scheduler.migrate import upgrade_database  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fundus-eval"
# Shares of articles, from the test outlets and real feeds: how many carry an alias (a
# feed link the canonical URL drops), an earlier version, or join a story already there.
ALIAS_SHARE = 0.3
VERSION_SHARE = 0.05
COPY_SHARE = 0.2
UNDATED_SHARE = 0.02
CHANNELS_PER_MATCH = 1.5
TABLES = ("articles", "article_aliases", "article_versions", "stories", "story_bands",
          "matches", "notifications", "alert_messages", "alert_attempts")


def bodies(data: Path) -> list[tuple[str, str, str]]:
    """(url, title, body) of the real articles of the fundus set."""
    truth = json.loads((data / "ground_truth.json").read_text())
    rows = []
    for entry in truth.values():
        paragraphs = [p.strip() for p in entry["body"] if p.strip()]
        rows.append((entry["url"], paragraphs[0][:90], "\n\n".join(paragraphs)))
    return rows


def seed(url: str, count: int, data: Path) -> None:
    engine = make_engine(url)
    upgrade_database(engine)
    sessions = make_sessionmaker(engine)
    texts = bodies(data)
    now = utcnow()
    with sessions.begin() as session:
        source = Source(name="bench", url="https://www.example-news.com/feed/")
        session.add(source)
        session.flush()
        story = None
        for i in range(count):
            page_url, title, body = texts[i % len(texts)]
            body = f"{body}\n\n(edition {i})"
            mine = fingerprint(body)
            if story is None or i % round(1 / COPY_SHARE) != 0:
                story = Story(headline=title, first_seen_at=now, last_seen_at=now)
            article = Article(
                source_id=source.id, url=f"{page_url.rstrip('/')}-{i}", title=title, body=body,
                authors=["A. Reporter"], published_at=now, language="en",
                content_hash=content_hash(body), story=story,
                signature=signature_to_bytes(mine.signature) if mine.signature is not None
                else None,
                entry_updated_at=now, first_seen_at=now, matched_at=now,
            )
            session.add(article)
            session.flush()
            session.execute(insert(StoryBand), [
                {"band": band, "article_id": article.id, "created_at": now}
                for band in mine.bands])
            if i % round(1 / ALIAS_SHARE) == 0:
                session.add(ArticleAlias(url=f"{article.url}?utm_source=rss&id={i}",
                                         article_id=article.id))
            if i % round(1 / VERSION_SHARE) == 0:
                session.add(ArticleVersion(article_id=article.id, version=1, title=title,
                                           body=body[: len(body) * 9 // 10],
                                           content_hash=content_hash(body[:-5])))
            match = RuleMatch(rule=f"rule {i % 40}", article_id=article.id,
                              hits=[{"term": "putin", "field": "title", "count": 2},
                                    {"term": "pyongyang", "field": "body", "count": 5}])
            text = (f"**{title}**\n\n{body[:280]}…\n\n{article.url}\n"
                    f"Rule: rule {i % 40} · 2 outlets")
            message = AlertMessage(channel="desk", title=title, body=text,
                                   body_format="markdown", status="sent", attempts=1,
                                   url_results={"a1b2c3d4e5f6a7b8": "sent"}, sent_at=now)
            message.url_attempts.append(DeliveryAttempt(
                url_key="a1b2c3d4e5f6a7b8", url="json://hooks.example.com/***", ok=True))
            session.add(Notification(rule=match.rule, match=match, article_id=article.id,
                                     story=story, channel="desk", status="sent",
                                     attempts=1, url_results={"a1b2c3d4e5f6a7b8": "sent"},
                                     sent_at=now, message=message, routed_at=now))
    engine.dispose()


def empty_bodies(url: str) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        session.execute(update(Article).values(body=""))
        session.execute(update(ArticleVersion).values(body=""))
    engine.dispose()


def bytes_per_row(path: Path) -> dict[str, float]:
    """Each table's pages (its indexes included) per row, after VACUUM; and, under
    "bands per article", how many band rows an article has."""
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master"))
    size: dict[str, int] = {}
    for name, pages in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        table = owner.get(name, name)
        size[table] = size.get(table, 0) + pages
    result = {table: size.get(table, 0) / max(1, db.execute(
        f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in TABLES}
    bands, articles = db.execute("SELECT (SELECT COUNT(*) FROM story_bands), "
                                 "(SELECT COUNT(*) FROM articles)").fetchone()
    result["bands per article"] = bands / max(1, articles)
    db.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--per-source-day", type=float, default=10)
    parser.add_argument("--matches-day", type=float, default=200)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
        seed(url, args.articles, args.data)
        full = bytes_per_row(path)
        empty_bodies(url)
        pruned = bytes_per_row(path)

    print(f"bytes per row (SQLite, indexes included, {args.articles} articles):")
    for table in TABLES:
        note = f"  ({pruned[table]:8.0f} with bodies emptied)" if table.startswith(
            "article") and table != "article_aliases" else ""
        print(f"  {table:18} {full[table]:8.0f}{note}")
    print(f"  ({full['bands per article']:.1f} band rows per article)")

    retention = RetentionConfig()
    day = timedelta(days=1)
    per_day = args.sources * args.per_source_day
    bodies_days = retention.article_bodies / day
    history_days = retention.alert_history / day
    articles_days = retention.articles / day
    band_days = 14
    alerts_day = args.matches_day * CHANNELS_PER_MATCH

    def year(days_kept: float) -> float:
        return min(365.0, days_kept)

    bands_per_article = full["bands per article"]
    sizes = {
        "articles (body kept)": per_day * year(bodies_days) * full["articles"],
        "articles (body emptied)": per_day * (year(articles_days) - year(bodies_days))
        * pruned["articles"],
        "article_aliases": per_day * 365 * ALIAS_SHARE * full["article_aliases"],
        "article_versions": per_day * year(history_days) * VERSION_SHARE
        * (full["article_versions"] * min(bodies_days, history_days)
           + pruned["article_versions"] * max(0.0, history_days - bodies_days))
        / history_days,
        "stories": per_day * 365 * (1 - COPY_SHARE) * full["stories"],
        "story_bands": per_day * band_days * bands_per_article * full["story_bands"],
        "matches": args.matches_day * year(history_days) * full["matches"],
        "notifications": alerts_day * year(history_days) * full["notifications"],
        "alert_messages": alerts_day * year(history_days) * full["alert_messages"],
        "alert_attempts": alerts_day * year(history_days) * full["alert_attempts"],
    }
    total = sum(sizes.values())
    print(f"\na year of {args.sources} sources x {args.per_source_day:g} articles/day "
          f"({per_day * 365 / 1e6:.2f}M articles), {args.matches_day:g} matches/day, "
          f"{CHANNELS_PER_MATCH:g} channels per match, bodies {bodies_days:g}d, "
          f"alert history {history_days:g}d, articles {articles_days:g}d:")
    for name, size in sizes.items():
        print(f"  {name:24} {size / 1e9:7.2f} GB")
    print(f"  {'total':24} {total / 1e9:7.2f} GB")
    undated_growth = per_day * 365 * UNDATED_SHARE * (pruned["articles"]
                                                      + ALIAS_SHARE * full["article_aliases"])
    print(f"each later year adds only undated articles' URL rows ({UNDATED_SHARE:.0%} "
          f"assumed): {undated_growth / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
