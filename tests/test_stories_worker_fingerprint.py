"""Story assignment with the fingerprint computed in the extraction worker: a real crawl
through worker processes groups the articles into the same stories, with the same
signatures and band rows, as storing the same articles with the fingerprint computed by
the writer (as it was before, and still is for feed summaries)."""

from __future__ import annotations

import gzip
import html
from pathlib import Path
from typing import Any

from hostile import HostileSite, ago, rss
from sqlalchemy import Row, select
from test_crawl_extraction_pool import FUNDUS, PAGES, harness, serve_real_pages
from test_dedup import BACKGROUND, FERRY, ORCHARD
from test_stories import save

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, Source, StoryBand
from scheduler.migrate import upgrade_database


def page(title: str, paragraphs: list[str]) -> bytes:
    body = "\n".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    return (f"<html lang='en'><head><title>{html.escape(title)}</title></head><body>"
            f"<article><h1>{html.escape(title)}</h1>{body}</article></body></html>").encode()


# Copies as outlets run them: an added intro and credit, a cut, an unrelated story that
# shares one background paragraph.
STORIES = {
    "ferry": ("Ferry timetable cut after failed inspection", FERRY),
    "ferry-copy": ("Island braces for ferry chaos",
                   ["Islanders face weeks of disruption.", *FERRY[:4],
                    "Reporting by Maren Solberg; Editing by Tom Achebe"]),
    "ferry-cut": ("Ferry service reduced", FERRY[:3]),
    "orchard": ("Frost ruins apple harvest", [*ORCHARD[:3], BACKGROUND, *ORCHARD[3:]]),
    "ferry-background": ("Ferry operator under review", [*FERRY[5:], BACKGROUND]),
}


def read(database_url: str, *columns: Any) -> tuple[list[Row[Any]], set[tuple[str, int]]]:
    """The articles (url, story, signature and `columns`) in storing order, and the
    (url, band) rows of their bands."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            articles = session.execute(select(Article.url, Article.story_id, Article.signature,
                                              *columns).order_by(Article.id)).all()
            bands = session.execute(select(Article.url, StoryBand.band)
                                    .join(Article, Article.id == StoryBand.article_id))
            return list(articles), {(url, band) for url, band in bands}
    finally:
        engine.dispose()


def grouping(rows: list[tuple[str, int]]) -> list[list[str]]:
    """Articles grouped by story, as lists of URL paths (story ids differ between
    databases, the grouping must not)."""
    stories: dict[int, list[str]] = {}
    for url, story_id in rows:
        stories.setdefault(story_id, []).append(url.split("/", 3)[-1])
    return sorted(sorted(paths) for paths in stories.values())


def test_worker_fingerprints_give_the_stories_the_writer_gives(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        links = serve_real_pages(site)
        # A real page served twice (an exact copy), and the invented copies above.
        real = site.base_url + "/news/0/story/"
        site.add_file("/mirror/0/story/", gzip.decompress(
            (FUNDUS / "html" / PAGES[0]).read_bytes()))
        links.append(site.base_url + "/mirror/0/story/")
        for slug, (title, paragraphs) in STORIES.items():
            site.add_file(f"/invented/{slug}/", page(title, paragraphs))
            links.append(f"{site.base_url}/invented/{slug}/")
        site.add_file("/feed.xml", rss([(f"Story {n}", link, ago(hours=len(links) - n))
                                        for n, link in enumerate(links)]))
        crawl = harness(tmp_path / "pooled", site, extraction_workers=2)
        assert crawl.crawl().outcome.ok
    pooled, pooled_bands = read(crawl.database_url, Article.title, Article.body)
    assert len(pooled) == len(links) and real in {row.url for row in pooled}

    # The same articles, in the same order, through the writer alone.
    writer_db = f"sqlite:///{tmp_path / 'writer.db'}"
    engine = make_engine(writer_db)
    upgrade_database(engine)
    with make_sessionmaker(engine).begin() as session:
        session.add(Source(id=1, name="real", url=f"{site.base_url}/feed.xml"))
    for row in pooled:
        save(writer_db, row.url, row.title, row.body)
    engine.dispose()
    written, written_bands = read(writer_db)

    by_story = grouping([(row.url, row.story_id) for row in pooled])
    assert by_story == grouping([(row.url, row.story_id) for row in written])
    # The copies found their stories (this is what the fingerprint is for).
    assert ["invented/ferry-copy/", "invented/ferry-cut/", "invented/ferry/"] in by_story
    assert ["mirror/0/story/", "news/0/story/"] in by_story
    assert ["invented/ferry-background/"] in by_story and ["invented/orchard/"] in by_story
    assert [(row.url, row.signature) for row in pooled] \
        == [(row.url, row.signature) for row in written]
    assert pooled_bands == written_bands
