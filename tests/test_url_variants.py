"""One article reached three ways (feed link with utm_, sitemap, AMP URL) is stored once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from outlets import Copy, write_outlet
from servers import SEED_HOST, SiteServer
from sqlalchemy import select
from test_end_to_end import SEED_ARTICLE, newswatch

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article

SLUG = "putin-pyongyang"


def write_sitemap(path: Path, url: str) -> None:
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{url}</loc><lastmod>{datetime.now(UTC).isoformat(timespec='seconds')}"
        "</lastmod></url></urlset>",
        encoding="utf-8",
    )


def test_feed_sitemap_and_amp_links_store_one_article(tmp_path: Path) -> None:
    root = tmp_path / "site"
    write_outlet(root, [Copy("gazette", SLUG, "Putin visits Pyongyang",
                             SEED_ARTICLE["body_paragraphs"])])
    page = (root / "news" / SLUG / "index.html").read_text(encoding="utf-8")
    amp = root / "news" / SLUG / "amp" / "index.html"
    amp.parent.mkdir()
    amp.write_text(page.replace("<html", "<html amp", 1), encoding="utf-8")
    write_sitemap(root / "sitemap.xml", f"{SEED_HOST}/news/{SLUG}/")
    write_sitemap(root / "amp-sitemap.xml", f"{SEED_HOST}/news/{SLUG}/amp/")

    with SiteServer(root) as site:
        database_url = f"sqlite:///{tmp_path / 'v.db'}"
        sources = {"feed": "/feed/", "sitemap": "/sitemap.xml", "amp": "/amp-sitemap.xml"}
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\nurl = {json.dumps(database_url)}\n[crawler]\ndownload_delay = "0s"\n'
            + "".join(
                f"[[sources]]\nname = {json.dumps(name)}\nurl = {json.dumps(site.base_url + p)}\n"
                for name, p in sources.items()
            )
            + '[channels.desk]\nurls = ["log://"]\n',
            encoding="utf-8",
        )
        result = newswatch(config, "run", "--once")
        assert result.returncode == 0, result.stderr
        requested = site.paths()

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            urls = session.scalars(select(Article.url)).all()
    finally:
        engine.dispose()
    assert urls == [f"{site.base_url}/news/{SLUG}/"]
    assert sum(path.startswith(f"/news/{SLUG}/") for path in requested) == 1
