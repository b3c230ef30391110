"""The crawl ledger: a crawl cut short, a page failing for a while, a page refused for good,
a page too old to store. Real crawls of loopback sites through the real crawl child."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hostile import (
    Answer,
    CrawlHarness,
    HostileSite,
    ago,
    article_html,
    article_requests,
    rss,
    source_toml,
)
from sqlalchemy import select, update
from test_end_to_end import newswatch

from crawler.database import make_engine, make_sessionmaker
from crawler.models import CrawlEntry

PUBLISHED = ago(hours=2)
FULL_TEXT = ("The harbour authority confirmed that the new ferry line to the islands will "
             "start running in the spring, with six crossings a day. ") * 3


def ledger(harness: CrawlHarness) -> dict[str, CrawlEntry]:
    return {row.url: row for row in harness.query(select(CrawlEntry))}


def make_due(database_url: str) -> None:
    """Move the clock past every waiting retry: the ledger's rows fall due now."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            session.execute(update(CrawlEntry).values(
                next_try_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        engine.dispose()


def html_answer(text: str) -> Answer:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, lambda: [text.encode()]


class Flaky:
    """Answers a path prefix with `failures` error answers (status `status`), then the
    page `page(path)`; counts the requests per path."""

    def __init__(self, page: Callable[[str], str], status: int = 503,
                 failures: int = 2) -> None:
        self.page, self.status, self.failures = page, status, failures
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, path: str) -> Answer:
        with self.lock:
            self.seen[path] = self.seen.get(path, 0) + 1
            failing = self.seen[path] <= self.failures
        if failing:
            return self.status, {"Content-Type": "text/html"}, lambda: [b"try again later"]
        return html_answer(self.page(path))


def feed_of(site: HostileSite, slugs: Iterable[str]) -> str:
    return rss([(f"Ferry news {slug}", f"{site.base_url}/news/{slug}/", PUBLISHED)
                for slug in slugs])


def test_a_crawl_killed_midway_loses_no_article(tmp_path: Path) -> None:
    slugs = [f"story-{n}" for n in range(6)]
    hang = threading.Event()

    def answer(path: str) -> Answer:
        slug = path.strip("/").split("/")[-1]
        if slug in slugs[2:] and not hang.is_set():
            # The server hangs on these pages until the crawl's time limit kills it.
            def chunks() -> Iterable[bytes]:
                hang.wait(90)
                return [b""]
            return 200, {"Content-Type": "text/html"}, chunks
        return html_answer(article_html(f"Ferry {slug}", PUBLISHED, FULL_TEXT + slug))

    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, slugs))
        site.prefix_route("/news/", answer)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"),
                               crawl_time_limit="25s", download_timeout="60s",
                               concurrent_requests_per_domain=8)
        first = harness.crawl()
        assert not first.outcome.ok and "time limit" in (first.outcome.error or "")
        stored = set(harness.articles())
        assert {f"{site.base_url}/news/{slug}/" for slug in slugs[:2]} <= stored
        assert len(stored) < len(slugs)

        hang.set()
        site.clear_log()
        harness.crawl()
        # The feed is unchanged and says so (304), yet every article is there now.
        feed_answers = [r.status for r in site.requests if r.path == "/feed.xml"]
        assert feed_answers == [304]
        assert set(harness.articles()) == {f"{site.base_url}/news/{slug}/" for slug in slugs}
        assert ledger(harness) == {}

        site.clear_log()
        harness.crawl()
        assert article_requests(site) == []


def test_a_page_failing_for_a_while_is_retried_not_replaced_by_the_feed_text(
    tmp_path: Path,
) -> None:
    flaky = Flaky(lambda path: article_html("Ferry line opens", PUBLISHED, FULL_TEXT),
                  status=503, failures=2)
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, ["ferry"]))
        site.prefix_route("/news/", flaky)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"),
                               page_retry_delay="0s")
        url = f"{site.base_url}/news/ferry/"
        harness.crawl()
        # Scrapy's own retry asked twice; both 503: no stand-in from the feed's summary.
        assert flaky.seen["/news/ferry/"] == 2
        assert harness.articles() == {}
        row = ledger(harness)[url]
        assert (row.state, row.attempts, row.last_error) == ("retry", 1, "HTTP 503")

        harness.crawl()
        article = harness.articles()[url]
        assert not article.from_feed and "six crossings a day" in article.body
        assert ledger(harness) == {}


def test_a_page_that_keeps_failing_is_given_up_with_the_feed_text_and_a_reason(
    tmp_path: Path,
) -> None:
    flaky = Flaky(lambda path: "", status=500, failures=1000)
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, ["ferry"]))
        site.prefix_route("/news/", flaky)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"),
                               page_retry_delay="0s", page_retries=3)
        url = f"{site.base_url}/news/ferry/"
        for _ in range(2):
            harness.crawl()
            assert harness.articles() == {}
        harness.crawl()
        article = harness.articles()[url]
        assert article.from_feed and article.body == "Summary of Ferry news ferry."
        row = ledger(harness)[url]
        assert (row.state, row.last_error) == ("failed", "HTTP 500 after 3 tries")
        site.clear_log()
        harness.crawl()
        assert article_requests(site) == []


def test_a_missing_page_is_retried_then_recorded_as_gone_without_an_alert(
    tmp_path: Path,
) -> None:
    flaky = Flaky(lambda path: "", status=404, failures=1000)
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, ["ferry"]))
        site.prefix_route("/news/", flaky)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"),
                               page_retry_delay="0s", page_retries=2)
        url = f"{site.base_url}/news/ferry/"
        harness.crawl()
        assert harness.articles() == {}  # not alerted from its feed text straight away
        assert ledger(harness)[url].state == "retry"
        harness.crawl()
        assert harness.articles() == {}
        assert ledger(harness)[url].state == "gone"
        site.clear_log()
        harness.crawl()
        assert article_requests(site) == []


def test_a_page_that_becomes_live_after_a_404_is_stored_in_full(tmp_path: Path) -> None:
    flaky = Flaky(lambda path: article_html("Ferry line opens", PUBLISHED, FULL_TEXT),
                  status=404, failures=1)
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, ["ferry"]))
        site.prefix_route("/news/", flaky)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"),
                               page_retry_delay="0s")
        harness.crawl()
        assert harness.articles() == {}
        harness.crawl()
        [article] = harness.articles().values()
        assert not article.from_feed and "six crossings" in article.body


def test_a_blocked_page_stands_in_with_the_feed_text_then_upgrades_to_the_full_article(
    tmp_path: Path,
) -> None:
    flaky = Flaky(lambda path: article_html("Ferry line opens", PUBLISHED, FULL_TEXT),
                  status=403, failures=2)
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, ["ferry"]))
        site.prefix_route("/news/", flaky)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"))
        url = f"{site.base_url}/news/ferry/"
        harness.crawl()
        first = harness.articles()[url]
        assert first.from_feed and first.body == "Summary of Ferry news ferry."
        assert ledger(harness)[url].state == "blocked"

        # Not retried at once: a refused page is tried again at most hourly.
        site.clear_log()
        harness.crawl()
        assert article_requests(site) == []

        make_due(harness.database_url)
        harness.crawl()  # still 403 (the second refusal): the stand-in stays
        assert harness.articles()[url].from_feed
        make_due(harness.database_url)
        harness.crawl()
        upgraded = harness.articles()[url]
        assert not upgraded.from_feed and "six crossings a day" in upgraded.body
        assert (upgraded.id, upgraded.story_id) == (first.id, first.story_id)
        assert upgraded.version == 2 and upgraded.matched_at is None
        assert ledger(harness) == {}


def test_pages_older_than_the_age_limit_are_fetched_once_and_counted(tmp_path: Path) -> None:
    old = ago(days=10)
    with HostileSite("127.0.0.2") as site:
        slug = "old-ferry-story-{}-the-harbour-closes-for-winter"
        links = "".join(f'<li><a href="/news/{slug.format(n)}/">The old ferry story number {n} '
                        "of the week as the harbour closes</a></li>" for n in range(3))
        site.add_file("/world/", f"<html><body><h1>World</h1><ul>{links}</ul></body></html>")
        for n in range(3):
            site.add_file(f"/news/{slug.format(n)}/",
                          article_html(f"Old ferry {n}", old, FULL_TEXT))
        harness = CrawlHarness(tmp_path, source_toml("world", site.base_url + "/world/",
                                                     kind="page"))
        harness.crawl()
        assert site.count("/news/") == 3
        assert harness.articles() == {}
        assert {row.state for row in ledger(harness).values()} == {"skipped"}

        site.clear_log()
        harness.crawl()
        assert site.count("/news/") == 0

        listed = newswatch(harness.config, "sources")
        assert "pages:      3 entries older than 3d skipped" in listed.stdout
        status = newswatch(harness.config, "status")
        assert "world: 3 entries older than 3d skipped" in status.stdout
        report = json.loads(newswatch(harness.config, "status", "--json").stdout)
        assert report["sources"][0]["entries"] == {"skipped": 3}


def test_sources_tells_which_pages_wait_for_a_retry_and_why(tmp_path: Path) -> None:
    flaky = Flaky(lambda path: "", status=502, failures=1000)
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", feed_of(site, ["ferry", "harbour"]))
        site.prefix_route("/news/", flaky)
        harness = CrawlHarness(tmp_path, source_toml("ferries", site.base_url + "/feed.xml"))
        harness.crawl()
        listed = newswatch(harness.config, "sources").stdout
        assert "pages:      2 pages to retry" in listed
        assert f"{site.base_url}/news/ferry/: HTTP 502" in listed
        # The source is polled again when its first page is due (here: at its shortest
        # interval), not at the longer interval adaptive polling would choose.
        source = harness.source("ferries")
        assert source.next_poll_at - source.last_polled_at < timedelta(minutes=11)


def test_a_sitemap_index_that_does_not_change_still_has_its_children_read(
    tmp_path: Path,
) -> None:
    def urlset(slugs: Iterable[str]) -> str:
        urls = "".join(f"<url><loc>{site.base_url}/news/{slug}/</loc>"
                       f"<lastmod>{PUBLISHED.isoformat()}</lastmod></url>" for slug in slugs)
        return ('<?xml version="1.0" encoding="UTF-8"?><urlset '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')

    with HostileSite("127.0.0.2") as site:
        site.add_file("/sitemap_index.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{site.base_url}/sitemap-news.xml</loc></sitemap></sitemapindex>"))
        site.add_file("/sitemap-news.xml", urlset(["ferry"]))
        for slug in ("ferry", "harbour"):
            site.add_file(f"/news/{slug}/", article_html(f"Ferry {slug}", PUBLISHED,
                                                         FULL_TEXT + slug))
        harness = CrawlHarness(tmp_path, source_toml("sitemap",
                                                     site.base_url + "/sitemap_index.xml"))
        harness.crawl()
        assert set(harness.articles()) == {f"{site.base_url}/news/ferry/"}
        # The child sitemap gains an article; the index stays exactly as it was.
        site.add_file("/sitemap-news.xml", urlset(["ferry", "harbour"]))
        harness.crawl()
        assert set(harness.articles()) == {f"{site.base_url}/news/{slug}/"
                                           for slug in ("ferry", "harbour")}
