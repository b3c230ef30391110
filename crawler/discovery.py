"""What a source URL turned out to be: a feed, a sitemap or an HTML page, and the feeds a
page announces with <link rel="alternate">.

Detection reads the document, not the URL or the Content-Type alone: servers label
feeds text/html and sitemaps text/plain often enough.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from lxml import etree, html

from crawler.safexml import strip_doctype

FEED = "feed"
SITEMAP = "sitemap"
PAGE = "page"

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
        "application/json",  # JSON Feed 1.0's type; only taken when it says "feed"
    }
)
_FEED_ROOTS = frozenset({"rss", "rdf", "feed"})
_SITEMAP_ROOTS = frozenset({"urlset", "sitemapindex"})
_ROOT_ELEMENT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_PROLOG_NOISE = re.compile(rb"<\?.*?\?>|<!--.*?-->", re.S)
_COMMENTS_FEED = re.compile(r"/comments?/|comments?[-_ ]?feed", re.IGNORECASE)


def sniff_kind(body: bytes, content_type: str = "") -> str | None:
    """FEED, SITEMAP or PAGE judging by the document itself; None when it is none of them."""
    if body.startswith(b"\x1f\x8b"):
        return SITEMAP  # a gzipped file (not Content-Encoding): sitemap.xml.gz
    head = strip_doctype(body).lstrip(b"\xef\xbb\xbf \t\r\n")[:65536]
    if head.startswith(b"{"):
        return FEED if b"jsonfeed.org/version" in head[:4096] else None
    root = root_element_name(head)
    if root in _FEED_ROOTS:
        return FEED
    if root in _SITEMAP_ROOTS:
        return SITEMAP
    if root == "html" or "html" in content_type.lower():
        return PAGE
    return None


def root_element_name(head: bytes) -> str | None:
    """The local name of the first element, skipping the XML prolog (DOCTYPE already
    removed), lower-cased."""
    match = _ROOT_ELEMENT.search(_PROLOG_NOISE.sub(b"", head[:8192]))
    return match.group(2).decode("ascii").lower() if match else None


def feed_links(markup: str, page_url: str) -> list[str]:
    """Feeds announced by the page (<link rel="alternate" type="application/rss+xml" ...>),
    in document order, comment feeds last."""
    try:
        tree = html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", markup, count=1))
    except (etree.ParserError, ValueError):
        return []
    base = page_url
    for element in tree.iter("base"):
        if element.get("href"):
            base = urljoin(page_url, element.get("href", "").strip())
            break
    found: list[tuple[bool, str]] = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        if kind == "application/json" and "feed" not in (href + (link.get("title") or "")).lower():
            continue  # WordPress announces its REST API this way on every page
        url = urljoin(base, href)
        if not url.startswith(("http://", "https://")) or any(url == u for _, u in found):
            continue
        is_comments = bool(_COMMENTS_FEED.search(url) or _COMMENTS_FEED.search(
            link.get("title") or ""))
        found.append((is_comments, url))
    return [url for _, url in sorted(found, key=lambda pair: pair[0])]
