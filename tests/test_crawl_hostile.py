"""Hostile and broken sites, all in one crawl beside a healthy source: the crawl ends in
seconds with bounded memory, each bad source gets its own readable error, and the healthy
one is crawled as usual.

127.0.0.2 and 127.0.0.3 are declared public (NEWSWATCH_TREAT_AS_PUBLIC, test only), so
their links to 127.0.0.1, localhost, ::1 and 169.254.169.254 must be refused, while a
source configured on 127.0.0.1 itself is an intranet source and may reach it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hostile import (
    CrawlHarness,
    CrawlResult,
    HostileSite,
    ago,
    article_html,
    drip,
    endless,
    rss,
    source_toml,
)
from sqlalchemy import select

from crawler.models import CrawlEntry

FRESH = ago(hours=1)
MB = 1024 * 1024


def billion_laughs(link: str) -> str:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">'
        for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
        f"<title>&lol9;</title><item><title>Laughing &lol9;</title><link>{link}</link>"
        f"<pubDate>{FRESH.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        "<description>&lol9;</description></item></channel></rss>"
    )


def quadratic_blowup(link: str) -> str:
    """One 100 kB entity used 3,000 times: 300 MB if expanded (feedparser's loose parser
    does expand it, 40 s and 1 GB without the DOCTYPE stripping)."""
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "x" * 100_000 + '">\n]>\n'
        '<rss version="2.0"><channel><title>Blowup</title><item><title>Quadratic</title>'
        f"<link>{link}</link><description>{'&a;' * 3000}</description></item>"
        "</channel></rss>"
    )


def zeros_gzip(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * MB
    return b"".join(compressor.compress(chunk) for _ in range(size // MB)) + compressor.flush()


CYRILLIC_TITLE = "Новости Москвы: открыт новый мост через реку"
CYRILLIC_TEXT = ("Сегодня в Москве торжественно открыли новый мост через реку. "
                 "Движение по мосту начнётся завтра утром, сообщили в мэрии города. ") * 3


@dataclass
class Hostile:
    public: HostileSite
    other: HostileSite
    private: HostileSite
    harness: CrawlHarness
    result: CrawlResult
    paths: dict[str, list[str]]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NEWSWATCH_TREAT_AS_PUBLIC", "127.0.0.2,127.0.0.3")
    with (
        HostileSite("127.0.0.2") as public,
        HostileSite("127.0.0.3") as other,
        HostileSite("127.0.0.1") as private,
    ):
        base, p = public.base_url, private.port
        sources: list[str] = []

        def feed(name: str, items: list[tuple[str, str]], **options: object) -> None:
            public.add_file(f"/{name}.xml", rss([(title, link, FRESH) for title, link in items]))
            sources.append(source_toml(name, f"{base}/{name}.xml", **options))

        # A healthy source, crawled whatever its neighbours do.
        public.add_file("/news/healthy/", article_html("The healthy story in full"))
        feed("healthy", [("Healthy", f"{base}/news/healthy/")])

        # XML bombs.
        public.add_file("/news/laughs/", article_html("The laughing story in full"))
        public.set_route("/laughs.xml", body=billion_laughs(f"{base}/news/laughs/"),
                         content_type="application/rss+xml")
        sources.append(source_toml("billion laughs", f"{base}/laughs.xml"))
        public.add_file("/news/quadratic/", article_html("The quadratic story in full"))
        public.set_route("/quadratic.xml", body=quadratic_blowup(f"{base}/news/quadratic/"),
                         content_type="application/rss+xml")
        sources.append(source_toml("quadratic blowup", f"{base}/quadratic.xml"))

        # Size: a 200 MB page streamed without Content-Length, and gzip bombs.
        public.stream_route("/news/huge/", endless(b"<p>" + b"a" * 65_530 + b"</p>", 200 * MB))
        feed("huge page", [("Huge page", f"{base}/news/huge/")])
        public.stream_route("/huge-listing/", endless(b"<p>" + b"a" * 65_530 + b"</p>",
                                                      200 * MB))
        sources.append(source_toml("huge listing", f"{base}/huge-listing/", kind="page"))
        bomb = zeros_gzip(100 * MB)
        public.set_route("/news/bomb/", body=bomb, headers={"Content-Encoding": "gzip"})
        feed("gzip bomb", [("Gzip bomb", f"{base}/news/bomb/")])
        public.set_route("/bomb.xml.gz", body=bomb, content_type="application/x-gzip")
        sources.append(source_toml("sitemap bomb", f"{base}/bomb.xml.gz"))

        # Time: an endless redirect chain and a server sending one byte per second.
        public.prefix_route("/loop/", lambda path: (
            302, {"Location": f"/loop/{int(path.rsplit('/', 1)[-1]) + 1}"}, lambda: []))
        sources.append(source_toml("redirect loop", f"{base}/loop/0"))
        public.stream_route("/news/slow/", drip(article_html("Slow").encode()))
        feed("slow article", [("Slow article", f"{base}/news/slow/")])
        public.stream_route("/slow.xml", drip(rss([]).encode()),
                            headers={"Content-Type": "application/rss+xml"})
        sources.append(source_toml("slow feed", f"{base}/slow.xml"))

        # Encodings: Windows-1251 without any charset declaration, broken UTF-8.
        public.set_route("/news/cp1251/", content_type="text/html",
                         body=article_html(CYRILLIC_TITLE, FRESH, CYRILLIC_TEXT,
                                           charset=None).encode("cp1251"))
        broken = article_html("Broken bytes story", FRESH).encode().replace(
            b"correspondents", b"corr\xff\xfeespondents\xc3")
        public.set_route("/news/broken-utf8/", body=broken)
        feed("encodings", [("Cyrillic", f"{base}/news/cp1251/"),
                           ("Broken", f"{base}/news/broken-utf8/")])

        # Pages that can't be read: not HTML, forbidden, behind robots.txt.
        public.set_route("/news/photo.jpg", body=b"\xff\xd8\xff" + b"\0" * 1000,
                         content_type="image/jpeg")
        public.set_route("/news/paywalled/", status=403, body="subscribers only")
        public.set_route("/robots.txt", body="User-agent: *\nDisallow: /private/\n",
                         content_type="text/plain")
        feed("unreadable", [("A photo", f"{base}/news/photo.jpg"),
                            ("Paywalled story", f"{base}/news/paywalled/"),
                            ("Robots story", f"{base}/private/robots-story/")])

        # SSRF: a public feed pointing inward, directly and through a redirect.
        private.add_file("/news/internal/", article_html("Internal memo"))
        other.set_route("/go", status=302,
                        headers={"Location": f"http://127.0.0.1:{p}/news/internal/?via=go"})
        other.add_file("/news/outside/", article_html("The outside story in full"))
        feed("ssrf", [
            ("Loopback", f"http://127.0.0.1:{p}/news/internal/"),
            ("Localhost", f"http://localhost:{p}/news/internal/?via=name"),
            ("IPv6 loopback", f"http://[::1]:{p}/news/internal/?via=ipv6"),
            ("Metadata", "http://169.254.169.254/latest/meta-data/iam/"),
            ("Redirected inward", f"{other.base_url}/go"),
            ("Outside, public", f"{other.base_url}/news/outside/"),
        ])
        # An intranet source may read its own network, but never the metadata service.
        private.add_file("/news/intranet/", article_html("The intranet story in full"))
        private.add_file("/intranet.xml", rss([
            ("Intranet", f"{private.base_url}/news/intranet/", FRESH),
            ("Metadata", "http://169.254.169.254/latest/meta-data/", FRESH)]))
        sources.append(source_toml("intranet", f"{private.base_url}/intranet.xml"))

        # Failures of every kind.
        public.set_route("/error.xml", status=500, body="oops")
        sources.append(source_toml("server error", f"{base}/error.xml"))
        sources.append(source_toml("dns failure", "http://no-such-host.invalid/feed.xml"))
        sources.append(source_toml("connection refused", "http://127.0.0.2:9/feed.xml"))
        public.set_route("/not-a-feed", body=b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
                         content_type="image/png")
        sources.append(source_toml("not a feed", f"{base}/not-a-feed"))

        # Retry-After: a short wait is honoured within the crawl, a long one postpones.
        attempts: list[float] = []

        def busy_then_fine(path: str):
            attempts.append(time.monotonic())
            if len(attempts) == 1:
                return 429, {"Retry-After": "2"}, lambda: [b"slow down"]
            return 200, {"Content-Type": "application/rss+xml"}, lambda: [
                rss([("Patient", f"{base}/news/healthy/", FRESH)]).encode()]

        public.prefix_route("/busy.xml", busy_then_fine)
        sources.append(source_toml("busy", f"{base}/busy.xml"))
        public.set_route("/maintenance.xml", status=503, body="back in an hour",
                         headers={"Retry-After": "3600"})
        sources.append(source_toml("maintenance", f"{base}/maintenance.xml"))

        harness = CrawlHarness(tmp_path_factory.mktemp("hostile"), "\n".join(sources),
                               download_timeout="3s")
        result = harness.crawl()
        result.outcome.summary["retry_attempts"] = attempts
        paths = {"public": public.paths(), "other": other.paths(), "private": private.paths()}
        yield Hostile(public, other, private, harness, result, paths)
    monkeypatch.undo()


def test_the_crawl_ends_in_seconds_with_bounded_memory(hostile: Hostile) -> None:
    assert hostile.result.outcome.ok, hostile.result.outcome.error
    assert hostile.result.seconds < 45  # the 1-byte/s page alone would take minutes
    assert hostile.result.outcome.summary["peak_memory_bytes"] < 400 * MB  # ~260 MB seen


def test_the_healthy_source_is_crawled_among_them(hostile: Hostile) -> None:
    source = hostile.harness.source("healthy")
    assert source.last_status == "ok"
    article = hostile.harness.articles()[f"{hostile.public.base_url}/news/healthy/"]
    assert article.title == "The healthy story in full"


@pytest.mark.parametrize("name", ["billion laughs", "quadratic blowup"])
def test_xml_entity_bombs_are_not_expanded(hostile: Hostile, name: str) -> None:
    source = hostile.harness.source(name)
    assert source.last_status in ("ok", "warning")
    slug, title = ("laughs", "laughing") if name == "billion laughs" else ("quadratic",) * 2
    article = hostile.harness.articles()[f"{hostile.public.base_url}/news/{slug}/"]
    assert article.title == f"The {title} story in full"


def test_oversized_pages_are_refused_while_streaming(hostile: Hostile) -> None:
    articles = hostile.harness.articles()
    huge = articles[f"{hostile.public.base_url}/news/huge/"]
    assert huge.from_feed and huge.title == "Huge page"  # the feed stands in
    source = hostile.harness.source("huge listing")
    assert source.last_status == "too large"
    assert "size limit" in source.last_error


def test_gzip_bombs_are_refused(hostile: Hostile) -> None:
    bomb = hostile.harness.articles()[f"{hostile.public.base_url}/news/bomb/"]
    assert bomb.from_feed and len(bomb.body) < 1000
    sitemap = hostile.harness.source("sitemap bomb")
    assert sitemap.last_status == "parse error"
    assert "larger than" in sitemap.last_error


def test_endless_redirects_stop_at_the_cap(hostile: Hostile) -> None:
    source = hostile.harness.source("redirect loop")
    assert source.last_error.startswith("too many redirects")
    assert hostile.public.count("/loop/") == 6  # the request and 5 redirects


def test_a_one_byte_per_second_server_times_out(hostile: Hostile) -> None:
    slow_feed = hostile.harness.source("slow feed")
    assert (slow_feed.last_status, slow_feed.last_error) == ("timeout", "timed out")
    # A timeout may pass: the page is tried again at later crawls, not replaced by the
    # feed's summary.
    slow = f"{hostile.public.base_url}/news/slow/"
    assert slow not in hostile.harness.articles()
    [entry] = hostile.harness.query(select(CrawlEntry).where(CrawlEntry.url == slow))
    assert (entry.state, entry.last_error) == ("retry", "timed out")


def test_windows_1251_without_declaration_is_decoded(hostile: Hostile) -> None:
    article = hostile.harness.articles()[f"{hostile.public.base_url}/news/cp1251/"]
    assert article.title == CYRILLIC_TITLE
    assert "открыли новый мост" in article.body
    assert not article.from_feed


def test_invalid_utf8_is_tolerated(hostile: Hostile) -> None:
    article = hostile.harness.articles()[f"{hostile.public.base_url}/news/broken-utf8/"]
    assert article.title == "Broken bytes story"
    assert "Officials said more details" in article.body


def test_unreadable_pages_are_replaced_by_the_feed_entry(hostile: Hostile) -> None:
    articles = hostile.harness.articles()
    base = hostile.public.base_url
    for path, title in (("/news/photo.jpg", "A photo"), ("/news/paywalled/", "Paywalled story"),
                        ("/private/robots-story/", "Robots story")):
        article = articles[base + path]
        assert article.from_feed and article.title == title
        assert article.body == f"Summary of {title}."
    assert "/private/robots-story/" not in hostile.paths["public"]


def test_links_into_private_networks_are_refused(hostile: Hostile) -> None:
    internal = [path for path in hostile.paths["private"] if path.startswith("/news/internal/")]
    assert internal == []
    articles = hostile.harness.articles()
    assert not [url for url in articles if "internal" in url or "169.254" in url]
    assert f"{hostile.other.base_url}/news/outside/" in articles
    assert "/go" in hostile.paths["other"]  # fetched, but its redirect inward was refused
    assert hostile.result.outcome.summary["refused_requests"] >= 6
    assert hostile.harness.source("ssrf").last_status == "ok"


def test_an_intranet_source_reads_its_network_but_not_metadata(hostile: Hostile) -> None:
    articles = hostile.harness.articles()
    assert f"{hostile.private.base_url}/news/intranet/" in articles
    assert "http://169.254.169.254/latest/meta-data/" not in articles


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("server error", "http error", "HTTP 500"),
        ("dns failure", "dns error", "DNS lookup failed"),
        ("connection refused", "connection refused", "connection refused"),
        ("not a feed", "parse error", "the URL is not a feed, sitemap or HTML page (image/png)"),
        ("maintenance", "http error", "HTTP 503"),
    ],
)
def test_each_failure_is_recorded_on_its_source(
    hostile: Hostile, name: str, status: str, error: str
) -> None:
    source = hostile.harness.source(name)
    assert source.last_status == status
    assert source.last_error.startswith(error)
    assert source.error_count == 1
    assert source.next_poll_at > source.last_polled_at
    problems = {problem.name: problem.error for problem in hostile.result.problems}
    assert problems[name] == source.last_error


def test_retry_after_is_honoured_without_blocking(hostile: Hostile) -> None:
    attempts = hostile.result.outcome.summary["retry_attempts"]
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 1.9
    assert hostile.harness.source("busy").last_status == "ok"
    maintenance = hostile.harness.source("maintenance")
    assert maintenance.next_poll_at - maintenance.last_polled_at >= timedelta(hours=1)
    assert hostile.public.count("/maintenance.xml") == 1  # not retried at once either
