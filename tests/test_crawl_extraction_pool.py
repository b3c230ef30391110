"""Extraction in worker processes (crawler/extraction_pool.py), through real crawls: the
same articles as extraction in the crawl process, and nothing lost when a worker dies."""

from __future__ import annotations

import gzip
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hostile import CrawlHarness, HostileSite, ago, rss, source_toml
from sqlalchemy import select

from crawler.models import CrawlEntry

FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus-eval"
PAGES = ["APNews_1.html.gz", "TheGuardian_2.html.gz", "Reuters_3.html.gz",
         "TheNation_0.html.gz", "CNBC_4.html.gz", "TheIntercept_1.html.gz"]


def serve_real_pages(site: HostileSite) -> list[str]:
    """The real publisher pages under fresh paths, listed in a feed at /feed.xml."""
    links = []
    for number, name in enumerate(PAGES):
        path = f"/news/{number}/story/"
        site.add_file(path, gzip.decompress((FUNDUS / "html" / name).read_bytes()))
        links.append((f"Story {number}", site.base_url + path, ago(hours=number + 1)))
    site.add_file("/feed.xml", rss(links))
    return [link for _, link, _ in links]


def harness(folder: Path, site: HostileSite, **crawler: object) -> CrawlHarness:
    folder.mkdir()
    crawl = CrawlHarness(folder, source_toml("real", f"{site.base_url}/feed.xml"),
                         max_article_age="1000w", **crawler)
    crawl.config.write_text(crawl.config.read_text() + '\n[retention]\n'
                            'alert_history = "1000w"\narticles = "1000w"\n')
    return crawl


def stored(crawl: CrawlHarness) -> dict[str, tuple[object, ...]]:
    return {
        url.rsplit("/", 3)[-3]: (article.title, article.body, article.authors,
                                 article.published_at, article.language, article.from_feed)
        for url, article in crawl.articles().items()
    }


def test_the_pool_stores_what_in_process_extraction_stores(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        serve_real_pages(site)
        in_process = harness(tmp_path / "in-process", site, extraction_workers=0)
        pooled = harness(tmp_path / "pooled", site, extraction_workers=2)
        assert in_process.crawl().outcome.ok
        assert pooled.crawl().outcome.ok
    expected = stored(in_process)
    assert len(expected) == len(PAGES)
    assert not any(article[-1] for article in expected.values())  # full text, not the feed's
    assert stored(pooled) == expected


def in_slices(data: bytes, seconds: float, slices: int = 20) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        size = len(data) // slices + 1
        for start in range(0, len(data), size):
            time.sleep(seconds / slices)
            yield data[start:start + size]
    return chunks


def _crawl_workers() -> list[int]:
    """Extraction workers: processes forked by a crawl child of this test process."""
    workers = []
    for child in _children(os.getpid()):
        if b"crawler.run" in Path(f"/proc/{child}/cmdline").read_bytes():
            workers.extend(_children(child))
    return workers


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.extend(int(child) for child in (task / "children").read_text().split())
    except OSError:
        pass
    return found


def test_a_killed_worker_loses_no_page(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        links = serve_real_pages(site)
        # One page arrives slowly: it is extracted after the kill, by the new pool.
        slow = gzip.decompress((FUNDUS / "html" / "LATimes_0.html.gz").read_bytes())
        site.stream_route("/news/slow/story/", in_slices(slow, seconds=2),
                          headers={"Content-Type": "text/html; charset=utf-8"})
        site.add_file("/feed.xml", rss(
            [(f"Story {n}", link, ago(hours=n + 1)) for n, link in enumerate(links)]
            + [("Slow story", site.base_url + "/news/slow/story/", ago(hours=9))]))
        crawl = harness(tmp_path / "crawl", site, extraction_workers=2)
        killed: list[int] = []
        done = threading.Event()

        def kill_a_worker() -> None:
            while not done.is_set() and not killed:
                # Once the crawl is under way: the article pages are being fetched.
                workers = _crawl_workers() if site.count("/news/") else []
                if workers:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(workers[0])
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        try:
            result = crawl.crawl()
        finally:
            done.set()
            killer.join()
    assert killed, "no extraction worker was seen to kill"
    assert result.outcome.ok and not result.problems
    articles = stored(crawl)
    assert set(articles) == {str(n) for n in range(len(PAGES))} | {"slow"}
    assert not any(article[-1] for article in articles.values())
    assert not crawl.query(select(CrawlEntry))  # no page left pending


def test_when_no_pool_can_start_again_pages_are_extracted_in_the_crawl_process(
    monkeypatch
) -> None:
    """After a worker died, a fork that fails (no memory left, say) must not hang the crawl:
    every page still gets its extraction, in the crawl process."""
    from crawler.extraction_pool import ExtractionPool

    pool = ExtractionPool(1)
    try:
        def no_fork() -> None:
            raise OSError(12, "Cannot allocate memory")  # a fault we cannot cause safely

        monkeypatch.setattr(pool, "_new_executor", no_fork)
        pool._replace(pool.generation)
        assert pool.executor is None
        page = gzip.decompress((FUNDUS / "html" / PAGES[0]).read_bytes())
        extracted: list[object] = []
        pool.extract(page, "https://apnews.example/article/1").addBoth(extracted.append)
        (page,) = extracted
        assert getattr(getattr(page, "article", None), "body", None), page
    finally:
        pool.close()
