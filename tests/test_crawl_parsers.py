"""The crawler's pure parts: safe XML, feed and sitemap readers, kind detection, the
address policy, site scopes and Retry-After."""

from __future__ import annotations

import gzip
import json
import resource
import time
from datetime import UTC, datetime
from ipaddress import ip_address

import pytest

from crawler.addresses import AddressPolicy, treat_as_public_from
from crawler.discovery import FEED, PAGE, SITEMAP, feed_links, sniff_kind
from crawler.feeds import parse_feed
from crawler.middlewares.retry_after import retry_after_seconds
from crawler.safexml import parse_xml, strip_doctype
from crawler.sitemaps import parse_sitemap, parse_w3c_date
from crawler.sites import SiteScope

# --- XML safety ------------------------------------------------------------------------


def test_strip_doctype_removes_the_internal_subset_whatever_it_contains() -> None:
    doc = (b'<?xml version="1.0"?>\n<!-- a > comment -->\n<!DOCTYPE rss [\n'
           b'<!ENTITY a "quoted > bracket ]">\n<!-- ]> -->\n<!ENTITY b \'x\'>\n]>\n<rss/>')
    assert strip_doctype(doc) == b'<?xml version="1.0"?>\n<!-- a > comment -->\n\n<rss/>'
    assert strip_doctype(b"<rss><![CDATA[<!DOCTYPE x>]]></rss>") == (
        b"<rss><![CDATA[<!DOCTYPE x>]]></rss>")  # not in the prolog: content
    utf16 = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x [<!ENTITY a "b">]><rss/>'
    assert strip_doctype(utf16.encode("utf-16")) == (
        b'<?xml version="1.0" encoding="utf-8"?><rss/>')


def test_external_entities_are_never_read() -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
           b"<link>http://x.test/a</link></item></channel></rss>")
    feed = parse_feed(xxe, "http://x.test/feed")
    assert "root:" not in feed.entries[0].title
    tree = parse_xml(xxe)
    assert tree is not None and b"root:" not in json.dumps(tree.findtext(".//title")).encode()


def test_a_quadratic_blowup_feed_is_read_in_milliseconds() -> None:
    doc = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "x" * 100_000 + '">\n]>\n'
           '<rss version="2.0"><channel><title>t</title><item><title>Q</title>'
           f"<link>http://x.test/a</link><description>{'&a;' * 3000}</description></item>"
           "</channel></rss>").encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    feed = parse_feed(doc, "http://x.test/feed")
    assert time.perf_counter() - started < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB
    assert len(feed.entries) == 1 and len(feed.entries[0].summary) < 100_000  # not 300 MB


# --- feeds -----------------------------------------------------------------------------


def test_feed_links_are_made_absolute_canonical_and_summaries_plain() -> None:
    doc = b"""<rss version="2.0"><channel><title>T</title><item><title>A &amp; B</title>
    <link>/news/a?utm_source=rss&amp;id=3</link>
    <description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;/p&gt;</description></item>
    <item><title>No link</title></item></channel></rss>"""
    feed = parse_feed(doc, "https://example.org/feed/")
    [entry] = feed.entries
    assert entry.url == "https://example.org/news/a?id=3"
    assert (entry.title, entry.summary) == ("A & B", "Hello world")
    assert entry.published is None and entry.can_stand_in


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "invalid JSON"),
        (b'{"title": "x", "items": []}', "without a JSON Feed version"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "without items"),
        (b"<html><body>hello</body></html>", "not a readable feed"),
        (b"\x89PNG\r\n", "not a readable feed"),
    ],
)
def test_unreadable_documents_are_errors(body: bytes, error: str) -> None:
    assert error in (parse_feed(body, "https://example.org/f").error or "")


def test_json_feed_items_without_url_are_skipped_with_a_warning() -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1", "title": "J", "items": [
        {"id": "1", "title": "Kept", "external_url": "https://elsewhere.test/x",
         "content_html": "<p>Body <i>text</i></p>", "author": {"name": "Old Style"},
         "date_modified": "2026-01-02T03:04:05+02:00"},
        {"id": "2", "title": "No URL"}, "not an object"]}).encode()
    feed = parse_feed(body, "https://example.org/feed.json")
    [entry] = feed.entries
    assert (feed.format, entry.url, entry.summary) == ("json1", "https://elsewhere.test/x",
                                                       "Body text")
    assert entry.authors == ["Old Style"]
    assert entry.updated == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert "2 items without a usable URL" in feed.warning


# --- sitemaps --------------------------------------------------------------------------


def test_sitemaps_without_namespace_and_relative_locs_are_read() -> None:
    body = b"""<urlset><url><loc>/a/b/</loc><lastmod>2026-01-02</lastmod></url>
    <url><loc>javascript:alert(1)</loc></url></urlset>"""
    sitemap = parse_sitemap(body, "https://example.org/sitemap.xml", 10_000)
    [entry] = sitemap.entries
    assert entry.url == "https://example.org/a/b/"
    assert entry.updated == datetime(2026, 1, 2, tzinfo=UTC)
    assert not entry.can_stand_in


def test_gzipped_sitemaps_are_bounded() -> None:
    plain = b'<urlset><url><loc>https://e.org/a</loc><lastmod>2026-01-02</lastmod></url>'
    assert parse_sitemap(gzip.compress(plain + b" " * 20_000 + b"</urlset>"),
                         "https://e.org/s.xml.gz", 10_000).error.startswith("sitemap larger")
    assert len(parse_sitemap(gzip.compress(plain + b"</urlset>"), "https://e.org/s.xml.gz",
                             10_000).entries) == 1
    assert parse_sitemap(b"\x1f\x8bnot gzip", "https://e.org/s", 10_000).error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04+01:00", datetime(2026, 1, 2, 2, 4, tzinfo=UTC)),
        ("2026-01", datetime(2026, 1, 1, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_w3c_dates(text: str, expected: datetime | None) -> None:
    assert parse_w3c_date(text) == expected


# --- kind detection and autodiscovery ----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "kind"),
    [
        (b'<?xml version="1.0"?>\n<!-- c --><rss version="2.0"/>', "text/html", FEED),
        (b'<rdf:RDF xmlns:rdf="x"/>', "", FEED),
        (b'\xef\xbb\xbf<feed xmlns="http://www.w3.org/2005/Atom"/>', "text/plain", FEED),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "", FEED),
        (b'{"data": 1}', "application/json", None),
        (b"<urlset/>", "", SITEMAP),
        (b"<sitemapindex/>", "application/octet-stream", SITEMAP),
        (gzip.compress(b"<urlset/>"), "application/x-gzip", SITEMAP),
        (b"<!DOCTYPE html><html><head></head></html>", "", PAGE),
        (b"<div>fragment</div>", "text/html; charset=utf-8", PAGE),
        (b"\x89PNG\r\n", "image/png", None),
    ],
)
def test_kinds_are_sniffed_from_the_document(body: bytes, content_type: str,
                                             kind: str | None) -> None:
    assert sniff_kind(body, content_type) == kind


def test_feed_autodiscovery_prefers_the_main_feed() -> None:
    page = """<html><head><base href="https://example.org/news/">
    <link rel="alternate" type="application/rss+xml" title="Comments" href="comments/feed/">
    <link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts/1">
    <link rel="alternate" type="application/atom+xml" href="atom.xml">
    <link rel="alternate" type="application/feed+json" href="/feed.json">
    <link rel="stylesheet" type="text/css" href="/x.css"></head></html>"""
    assert feed_links(page, "https://example.org/") == [
        "https://example.org/news/atom.xml", "https://example.org/feed.json",
        "https://example.org/news/comments/feed/"]


# --- addresses and scopes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "source", "refused"),
    [
        ("93.184.215.14", "93.184.215.14", None),
        ("127.0.0.1", "93.184.215.14", "a loopback address"),
        ("10.1.2.3", "93.184.215.14", "a private or reserved address"),
        ("169.254.169.254", "93.184.215.14", "a cloud metadata address"),
        ("fd00:ec2::254", "93.184.215.14", "a cloud metadata address"),
        ("::ffff:127.0.0.1", "93.184.215.14", "a private or reserved address"),
        ("64:ff9b::a9fe:a9fe", "93.184.215.14", "a cloud metadata address"),
        ("2002:7f00:1::", "93.184.215.14", "a private or reserved address"),
        ("fe80::1", "93.184.215.14", "a link-local address"),
        ("100.64.0.1", "93.184.215.14", "a private or reserved address"),
        ("10.1.2.3", "10.0.0.5", None),  # an intranet source reads its network
        ("169.254.169.254", "10.0.0.5", "a cloud metadata address"),
        ("169.254.169.254", "169.254.169.254", None),  # configured there on purpose
    ],
)
def test_address_policy(address: str, source: str, refused: str | None) -> None:
    policy = AddressPolicy()
    assert policy.refusal(ip_address(address), [ip_address(source)]) == refused


def test_treat_as_public_is_a_test_switch_for_listed_addresses_only() -> None:
    policy = AddressPolicy(treat_as_public_from("127.0.0.2, bogus ,127.0.0.3"))
    assert policy.refusal(ip_address("127.0.0.3"), [ip_address("127.0.0.2")]) is None
    assert policy.refusal(ip_address("127.0.0.1"), [ip_address("127.0.0.2")])


def test_site_scope_follows_registrable_domains_and_allowed_hosts() -> None:
    scope = SiteScope.of(["https://www.example.co.uk/news/"], ["media.cdn.test"])
    assert scope.contains("https://live.example.co.uk/a")
    assert scope.contains("http://img.media.cdn.test/x")
    assert not scope.contains("https://example.com/a")
    assert not scope.contains("https://cdn.test/a")
    assert not scope.contains("mailto:x@example.co.uk")


def test_retry_after_accepts_seconds_and_dates() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Fri, 02 Jan 2026 12:02:00 GMT", now) == 120
    assert retry_after_seconds("Fri, 02 Jan 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
