"""PostgreSQL bytes per stored article, for the capacity arithmetic in the README.

Run from the project root:  .venv/bin/python bench/pgsize.py [--articles 5000]

Fills a fresh PostgreSQL database on 127.0.0.1 (user postgres) through the crawler's own
write path (`crawler.store.ArticleStore.save_article`: article row, MinHash signature,
story and story bands, URL alias) with the 80 real news bodies of the Fundus evaluation
set (../shared/data/fundus-eval), each stored under many URLs with a varied headline,
and the matcher run over them with one rule; then prints the database's size per
article (`pg_database_size` after VACUUM, less the size of the empty migrated schema)
and what that makes per million articles. Alerts add their own rows (match, alert,
message, attempt: a few hundred bytes each) per alert, not per article.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.items import ArticleItem
from crawler.store import ArticleStore
from scheduler.app import App
from scheduler.config import load_config

FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus-eval"
ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"


def database_size(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM")
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=5000)
    args = parser.parse_args()
    truth = json.loads((FUNDUS / "ground_truth.json").read_text(encoding="utf-8"))
    bodies = ["\n".join(page["body"]) for page in truth.values()]
    name = f"newswatch_size_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    libpq = f"host=127.0.0.1 user=postgres dbname={name}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    folder = Path(f"/tmp/{name}")
    folder.mkdir()
    try:
        config = folder / "config.toml"
        config.write_text(f"""
[storage]
url = "{url}"

[[sources]]
name = "Wire"
url = "http://127.0.0.1:9/wire"

[channels.desk]
urls = ["log://"]

[[rules]]
name = "putin"
query = "Putin Pyongyang"
channels = ["desk"]
""", encoding="utf-8")
        app = App(load_config(config, {}))
        app.open()
        empty = database_size(libpq)
        store = ArticleStore(url)
        for number in range(args.articles):
            body = bodies[number % len(bodies)]
            item = ArticleItem(source_id=1, url=f"https://wire.example.org/news/{number}",
                               title=f"Report {number}: " + body[:60],
                               body=f"Report {number}. " + body,
                               published_at=datetime.now(UTC), language="en")
            store.save_article(item)
        app.match()
        app.close()
        full = database_size(libpq)
        mean_body = sum(len(b.encode()) for b in bodies) / len(bodies)
        per_article = (full - empty) / args.articles
        print(f"{args.articles} articles (mean body {mean_body / 1024:.1f} KiB of text): "
              f"{(full - empty) / 2**20:.1f} MiB, {per_article / 1024:.1f} KiB per article, "
              f"{per_article * 1e6 / 2**30:.1f} GiB per million articles")
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
