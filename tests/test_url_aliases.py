"""A stored article is never downloaded again, even when the feed's link is not the URL
it is stored under: a redirecting link (FeedBurner style), or a link with query
parameters that the page's canonical URL drops (NPR's `?ft=nprml&f=1004`)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from outlets import Copy, write_outlet
from servers import SiteServer
from sqlalchemy import select
from test_end_to_end import SEED_ARTICLE, newswatch

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, ArticleAlias

FIRST, SECOND = "putin-pyongyang", "harbour-reopens"


def feed(items: list[tuple[str, str]]) -> str:
    """An RSS feed of (title, link) items, published within the last hour."""
    now = datetime.now(UTC)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        + "".join(
            f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>"
            f"<pubDate>{format_datetime(now - timedelta(minutes=10 + n))}</pubDate></item>"
            for n, (title, link) in enumerate(items)
        )
        + "</channel></rss>"
    )


def build_site(root: Path) -> None:
    write_outlet(root, [
        Copy("gazette", FIRST, "Putin visits Pyongyang", SEED_ARTICLE["body_paragraphs"]),
        Copy("gazette", SECOND, "The harbour reopens after the storm",
             ["The harbour reopened on Monday after a week of repairs to the sea wall, "
              "the port authority said, and the first ferries left on schedule.",
              "Fishermen had been unable to land their catch since the storm broke the "
              "outer wall; engineers worked in shifts to close the breach."]),
    ])


def write_config(tmp_path: Path, site: SiteServer) -> tuple[Path, str]:
    database_url = f"sqlite:///{tmp_path / 'aliases.db'}"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = {json.dumps(database_url)}\n[crawler]\ndownload_delay = "0s"\n'
        f'[[sources]]\nname = "feed"\nurl = {json.dumps(site.base_url + "/feed/")}\n'
        '[channels.desk]\nurls = ["log://"]\n',
        encoding="utf-8",
    )
    return config, database_url


def stored(database_url: str) -> tuple[list[str], dict[str, str]]:
    """The stored article URLs, and each alias with the URL of its article."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            urls = list(session.scalars(select(Article.url).order_by(Article.id)))
            aliases = {alias: url for alias, url in session.execute(
                select(ArticleAlias.url, Article.url)
                .join(Article, Article.id == ArticleAlias.article_id)
            )}
    finally:
        engine.dispose()
    return urls, aliases


def run_twice(tmp_path: Path, site: SiteServer, link: str) -> tuple[list[str], list[str]]:
    """Run once with a feed linking to the first article by `link` (a path), then again
    with a new item added; the site's request paths of each run."""
    site.add_file("/feed/index.xml", feed([("Putin visits Pyongyang", site.base_url + link)]))
    config, database_url = write_config(tmp_path, site)
    result = newswatch(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    first = site.paths()
    assert stored(database_url)[0] == [f"{site.base_url}/news/{FIRST}/"]

    site.clear_log()
    site.add_file("/feed/index.xml", feed([
        ("The harbour reopens after the storm", f"{site.base_url}/news/{SECOND}/"),
        ("Putin visits Pyongyang", site.base_url + link),
    ]))
    result = newswatch(config, "run", "--once")
    assert result.returncode == 0, result.stderr
    second = site.paths()
    urls, aliases = stored(database_url)
    assert urls == [f"{site.base_url}/news/{FIRST}/", f"{site.base_url}/news/{SECOND}/"]
    assert set(aliases.values()) == {f"{site.base_url}/news/{FIRST}/"}
    return first, second


def test_redirecting_feed_link_is_not_fetched_again(tmp_path: Path) -> None:
    root = tmp_path / "site"
    build_site(root)
    with SiteServer(root) as site:
        site.set_route("/go/1234", status=301,
                       headers={"Location": f"{site.base_url}/news/{FIRST}/"})
        first, second = run_twice(tmp_path, site, "/go/1234")
    assert first.count("/go/1234") == 1
    assert first.count(f"/news/{FIRST}/") == 1
    assert "/feed/" in second and f"/news/{SECOND}/" in second  # the feed changed: read
    assert "/go/1234" not in second
    assert f"/news/{FIRST}/" not in second


def test_feed_link_with_kept_query_is_not_fetched_again(tmp_path: Path) -> None:
    root = tmp_path / "site"
    build_site(root)
    link = f"/news/{FIRST}/?ft=nprml&f=1004"
    with SiteServer(root) as site:
        first, second = run_twice(tmp_path, site, link)
    assert sum(path.startswith(f"/news/{FIRST}/") for path in first) == 1
    assert f"/news/{SECOND}/" in second
    assert not any(path.startswith(f"/news/{FIRST}/") for path in second)
