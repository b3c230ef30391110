"""Every source kind, read from local sites: feeds in each format, sitemaps (index, plain,
gzipped, Google News), feed autodiscovery; then a second run that costs only 304s."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile import CrawlHarness, CrawlResult, HostileSite, ago, article_html, rss, source_toml
from sqlalchemy import select

from crawler.models import Source

FRESH = ago(hours=2)
OLD = ago(days=30)


def feed_formats(base: str) -> dict[str, tuple[str, str, str]]:
    """name -> (path, content type, document): one feed per format, one article each."""
    def link(name: str) -> str:
        return f"{base}/news/{name}/"

    iso = FRESH.isoformat()
    return {
        "rss20": ("/feeds/rss20.xml", "application/rss+xml", rss(
            [("RSS two article", link("rss20"), FRESH),
             ("An old RSS article", link("rss20-old"), OLD)])),
        "rss091": ("/feeds/rss091.xml", "text/xml", f"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
 "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>RSS 0.91</title><link>{base}/</link>
<description>old school</description><language>en-us</language>
<item><title>RSS zero nine one article</title><link>{link("rss091")}</link>
<description>An undated item.</description></item></channel></rss>"""),
        "rss10": ("/feeds/rss10.rdf", "application/rdf+xml", f"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{base}/"><title>RSS 1.0</title><link>{base}/</link>
<description>rdf</description><items><rdf:Seq><rdf:li resource="{link("rss10")}"/>
</rdf:Seq></items></channel>
<item rdf:about="{link("rss10")}"><title>RSS one article</title><link>{link("rss10")}</link>
<dc:date>{iso}</dc:date></item></rdf:RDF>"""),
        "atom10": ("/feeds/atom10.xml", "text/plain", f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom 1.0</title><id>urn:x</id>
<updated>{iso}</updated><entry><title>Atom one article</title>
<link href="{link("atom10")}"/><id>urn:x:1</id><published>{iso}</published>
<updated>{iso}</updated><summary>An Atom summary.</summary></entry></feed>"""),
        "atom03": ("/feeds/atom03.xml", "application/atom+xml", f"""<?xml version="1.0"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Atom 0.3</title>
<modified>{iso}</modified><entry><title>Atom zero three article</title>
<link rel="alternate" type="text/html" href="{link("atom03")}"/><id>urn:y:1</id>
<issued>{iso}</issued><modified>{iso}</modified></entry></feed>"""),
        "json11": ("/feeds/feed.json", "application/feed+json", json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": "JSON Feed",
            "items": [
                {"id": "1", "url": link("json11"), "title": "JSON feed article",
                 "content_text": "Plain text.", "date_published": iso,
                 "authors": [{"name": "Ada Writer"}]},
                {"id": "2", "url": link("json-old"), "title": "Old JSON article",
                 "date_published": OLD.isoformat()},
            ]})),
        "malformed": ("/feeds/broken.xml", "application/rss+xml", f"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Broken & proud</title>
<item><title>Malformed feed article</title><link>{link("malformed")}</link>
<pubDate>{FRESH.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>
<description>An unescaped & ampersand <b>and an unclosed tag</description></item>
</channel>"""),
    }


def sitemap_files(base: str, other: str) -> dict[str, bytes]:
    now, old = FRESH.isoformat(), OLD.isoformat()
    plain = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/plain-fresh/</loc><lastmod>{now}</lastmod></url>
<url><loc>{base}/news/plain-old/</loc><lastmod>{old}</lastmod></url>
<url><loc>{base}/news/plain-undated/</loc></url>
<url><loc>{other}/news/plain-elsewhere/</loc><lastmod>{now}</lastmod></url>
</urlset>"""
    news = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>{base}/news/google-fresh/</loc><news:news><news:publication>
<news:name>Example</news:name><news:language>en</news:language></news:publication>
<news:publication_date>{now}</news:publication_date>
<news:title>Google News sitemap article</news:title></news:news></url>
<url><loc>{base}/news/google-paywalled/</loc><news:news><news:publication>
<news:name>Example</news:name><news:language>en</news:language></news:publication>
<news:publication_date>{now}</news:publication_date>
<news:title>Paywalled story known only by its sitemap title</news:title></news:news></url>
<url><loc>{base}/news/google-old/</loc><lastmod>{now}</lastmod><news:news>
<news:publication_date>{old}</news:publication_date><news:title>Old</news:title>
</news:news></url>
</urlset>"""
    index = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{base}/sitemaps/news.xml</loc><lastmod>{now}</lastmod></sitemap>
<sitemap><loc>{base}/sitemaps/plain.xml.gz</loc><lastmod>{now}</lastmod></sitemap>
<sitemap><loc>{base}/sitemaps/archive-2019.xml</loc><lastmod>{old}</lastmod></sitemap>
</sitemapindex>"""
    return {
        "/sitemap_index.xml": index.encode(),
        "/sitemaps/news.xml": news.encode(),
        "/sitemaps/plain.xml.gz": gzip.compress(plain.encode()),
        "/sitemaps/archive-2019.xml": plain.encode(),
    }


HOMEPAGE = """<!DOCTYPE html><html><head><title>Example Home</title>
<link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/comments/feed/">
<link rel="alternate" type="application/rss+xml" title="Example Feed" href="/home/feed.xml">
</head><body><h1>Example</h1></body></html>"""


@dataclass
class Sites:
    feeds: HostileSite
    sitemaps: HostileSite
    harness: CrawlHarness
    first: CrawlResult
    first_paths: dict[str, list[str]]
    first_sources: dict[str, Source]
    second: CrawlResult | None = None
    second_requests: dict[str, list[tuple[str, int]]] | None = None


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    with HostileSite("127.0.0.2") as feeds, HostileSite("127.0.0.3") as sitemaps:
        sources = []
        for name, (path, kind, document) in feed_formats(feeds.base_url).items():
            feeds.set_route(path, body=document, content_type=kind)
            sources.append(source_toml(name, feeds.base_url + path))
        for name in ("rss20", "rss091", "rss10", "atom10", "atom03", "json11", "malformed"):
            feeds.add_file(f"/news/{name}/", article_html(f"The {name} story in full"))
        feeds.add_file("/home/", HOMEPAGE)
        feeds.add_file("/home/feed.xml", rss([("Discovered feed article",
                                               f"{feeds.base_url}/news/discovered/", FRESH)]))
        feeds.add_file("/news/discovered/", article_html("The discovered story in full"))
        sources.append(source_toml("homepage", feeds.base_url + "/home/"))

        for path, data in sitemap_files(sitemaps.base_url, feeds.base_url).items():
            if path.endswith(".gz"):
                sitemaps.set_route(path, body=data, content_type="application/x-gzip")
            else:
                sitemaps.add_file(path, data)
        for name in ("plain-fresh", "google-fresh"):
            sitemaps.add_file(f"/news/{name}/", article_html(f"The {name} story in full"))
        sitemaps.set_route("/news/google-paywalled/", status=403, body="subscribers only")
        sources.append(source_toml("sitemap index", sitemaps.base_url + "/sitemap_index.xml"))

        harness = CrawlHarness(tmp_path_factory.mktemp("kinds"), "\n".join(sources))
        first = harness.crawl()
        paths = {"feeds": feeds.paths(), "sitemaps": sitemaps.paths()}
        after_first = {source.name: source for source in harness.query(select(Source))}
        result = Sites(feeds, sitemaps, harness, first, paths, after_first)
        feeds.clear_log()
        sitemaps.clear_log()
        result.second = harness.crawl()
        result.second_requests = {
            "feeds": [(r.path, r.status) for r in feeds.requests],
            "sitemaps": [(r.path, r.status) for r in sitemaps.requests],
        }
        yield result


def test_first_run_reports_no_failed_source(sites: Sites) -> None:
    assert sites.first.outcome.ok, sites.first.outcome.error
    assert sites.first.problems == []


@pytest.mark.parametrize("name", ["rss20", "rss091", "rss10", "atom10", "atom03", "json11"])
def test_each_feed_format_is_detected_and_its_article_stored(sites: Sites, name: str) -> None:
    source = sites.first_sources[name]
    assert (source.kind, source.last_status, source.last_error) == ("feed", "ok", None)
    article = sites.harness.articles()[f"{sites.feeds.base_url}/news/{name}/"]
    assert article.title == f"The {name} story in full"
    assert not article.from_feed
    assert article.source_id == source.id


def test_json_feed_authors_and_dates_are_read(sites: Sites) -> None:
    article = sites.harness.articles()[f"{sites.feeds.base_url}/news/json11/"]
    assert article.entry_updated_at is not None
    assert abs((article.entry_updated_at - FRESH).total_seconds()) < 1


def test_entries_older_than_max_article_age_are_not_fetched(sites: Sites) -> None:
    fetched = sites.first_paths["feeds"] + sites.first_paths["sitemaps"]
    for old in ("/news/rss20-old/", "/news/json-old/", "/news/plain-old/", "/news/google-old/"):
        assert old not in fetched


def test_malformed_but_readable_feed_is_read_with_a_warning(sites: Sites) -> None:
    source = sites.first_sources["malformed"]
    assert source.last_status == "warning"
    assert source.last_error.startswith("warning: malformed feed, read anyway")
    assert f"{sites.feeds.base_url}/news/malformed/" in sites.harness.articles()
    assert source.error_count == 0


def test_homepage_autodiscovery_uses_the_announced_feed(sites: Sites) -> None:
    source = sites.first_sources["homepage"]
    assert source.kind == "feed"
    assert source.resolved_url == f"{sites.feeds.base_url}/home/feed.xml"
    assert f"{sites.feeds.base_url}/news/discovered/" in sites.harness.articles()
    assert "/comments/feed/" not in sites.first_paths["feeds"]


def test_sitemap_index_is_read_recursively_skipping_stale_children(sites: Sites) -> None:
    source = sites.first_sources["sitemap index"]
    assert source.kind == "sitemap"
    assert source.last_status == "ok"
    paths = sites.first_paths["sitemaps"]
    assert "/sitemaps/news.xml" in paths
    assert "/sitemaps/plain.xml.gz" in paths
    assert "/sitemaps/archive-2019.xml" not in paths  # its lastmod is older than max age
    articles = sites.harness.articles()
    assert f"{sites.sitemaps.base_url}/news/plain-fresh/" in articles
    assert "/news/plain-undated/" not in paths


def test_sitemap_links_to_other_sites_are_not_followed(sites: Sites) -> None:
    assert "/news/plain-elsewhere/" not in sites.first_paths["feeds"]


def test_google_news_title_stands_in_for_a_paywalled_page(sites: Sites) -> None:
    articles = sites.harness.articles()
    fresh = articles[f"{sites.sitemaps.base_url}/news/google-fresh/"]
    assert fresh.title == "The google-fresh story in full" and not fresh.from_feed
    paywalled = articles[f"{sites.sitemaps.base_url}/news/google-paywalled/"]
    assert paywalled.title == "Paywalled story known only by its sitemap title"
    assert paywalled.from_feed
    assert paywalled.published_at is not None


def test_second_run_is_all_304_and_downloads_no_article(sites: Sites) -> None:
    assert sites.second is not None and sites.second_requests is not None
    assert sites.second.outcome.ok
    assert sites.second.outcome.summary["articles_stored"] == 0
    requested = sites.second_requests["feeds"] + sites.second_requests["sitemaps"]
    assert [path for path, _ in requested if path.startswith("/news/")] == []
    assert "/home/" not in [path for path, _ in requested]  # the resolved feed is polled
    validated = [(path, status) for path, status in requested if path != "/robots.txt"]
    routed = {"/feeds/rss20.xml", "/feeds/rss091.xml", "/feeds/rss10.rdf", "/feeds/atom10.xml",
              "/feeds/atom03.xml", "/feeds/feed.json", "/feeds/broken.xml"}
    # set_route answers carry no validators; every file the server versions is a 304,
    # but for a sitemap index, read again with its children: they may change while it
    # does not, and a crawl cut short before they were read must read them again.
    assert {path for path, status in validated if status == 304} == {"/home/feed.xml"}
    refetched = {path for path, status in validated if status != 304} - routed
    assert "/sitemap_index.xml" in refetched
    assert all(path.startswith("/sitemap") for path in refetched), refetched


def test_second_run_keeps_sources_healthy_and_scheduled(sites: Sites) -> None:
    for name in ("rss20", "homepage", "sitemap index"):
        source = sites.harness.source(name)
        assert source.error_count == 0
        assert source.unhealthy_since is None
        assert source.next_poll_at is not None and source.next_poll_at > source.last_polled_at
        assert source.poll_interval_seconds >= 600


def test_articles_are_fetched_once_per_run_even_when_listed_twice(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        link = f"{site.base_url}/news/shared/"
        site.add_file("/a.xml", rss([("Shared", link + "?utm_source=a", FRESH)]))
        site.add_file("/b.xml", rss([("Shared", link + "?utm_medium=b", FRESH)]))
        site.add_file("/news/shared/", article_html("The shared story in full"))
        harness = CrawlHarness(tmp_path, source_toml("a", site.base_url + "/a.xml")
                               + source_toml("b", site.base_url + "/b.xml"))
        harness.crawl()
        assert site.count("/news/shared/") == 1
        assert list(harness.articles()) == [link]
