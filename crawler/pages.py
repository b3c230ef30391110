"""Finding the article links on a homepage or section page, without per-site rules.

A news site's front and section pages link to three kinds of places: articles, other
listings (sections, tags, authors, topics) and service pages (subscribe, sign in,
privacy, social networks). Only the first are wanted. Each link is scored on what its URL
and its anchor look like, and kept when the score reaches `ARTICLE_SCORE`:

* It must be on the source's own site (same registrable domain, e.g. www.example.com and
  news.example.com, or a host the source allows) and look like a page: http(s), not the
  listing itself, not a file such as .jpg/.pdf, not the site root.
* Paths under listing or service segments (/tag/, /topics/, /author/, /staff/, /video/,
  /subscribe, /privacy, ...) are never articles.
* +2 when the path carries a date: /2024/06/18/, /2024/jun/18/, -2024-03-04, 20240304.
* +1 when a segment holds a long slug: five or more words joined by hyphens or underscores
  (e.g. /putin-hails-north-korea-support/), the way CMSs name articles.
* +1 when a segment carries a content id: 6+ digits, or a 10+ character hex hash
  (e.g. -b2506015.html, -9417bc235bbcd13d8).
* +1 when the anchor reads like a headline: six words or more, or the link sits in a
  heading (h1-h4) or an <article> element.

So a dated URL is enough on its own, while an undated slug needs a second sign (an id or
a headline anchor); a bare section such as /world/ or /select/best-credit-cards/ is left
out. Links are returned in page order, deduplicated by canonical URL, at most `limit`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin, urlsplit

from lxml import etree, html

from crawler.entries import Entry
from crawler.sites import SiteScope
from crawler.urls import canonical_url

ARTICLE_SCORE = 2

_MONTH = r"(?:0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DATE_PARTS = re.compile(  # /2024/06/18/, /2024/jun/18/, -2024-03-04-, _20240304.
    rf"/(?P<y1>(?:19|20)\d\d)/(?P<m1>{_MONTH})/(?P<d1>0?[1-9]|[12]\d|3[01])(?:/|$)"
    r"|(?:^|[/_-])(?P<y2>(?:19|20)\d\d)-(?P<m2>0[1-9]|1[0-2])-(?P<d2>0[1-9]|[12]\d|3[01])"
    r"(?:[/_.-]|$)"
    r"|(?:^|[/_-])(?P<y3>(?:19|20)\d\d)(?P<m3>0[1-9]|1[0-2])(?P<d3>0[1-9]|[12]\d|3[01])"
    r"(?:[/_.-]|$)",
    re.IGNORECASE,
)
_CONTENT_ID = re.compile(r"(?:^|[/_.-])[a-z]{0,2}\d{6,}(?:[/_.-]|$)|[0-9a-f]{10,}", re.I)
_SLUG_WORD = re.compile(r"[a-z]+|\d+", re.IGNORECASE)
_NOT_PAGES = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|pdf|zip|gz|mp3|mp4|m4a|mov|avi|css|js|json|xml|rss|"
    r"atom|txt|csv|docx?|xlsx?|pptx?)$",
    re.IGNORECASE,
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Path segments under which nothing is an article.
_LISTING_SEGMENTS = frozenset(
    [
        "tag", "tags", "topic", "topics", "hub", "hubs", "category", "categories", "section",
        "sections", "author", "authors", "staff", "people", "profile", "profiles", "contributor",
        "contributors", "writers", "columnist", "columnists", "search", "login", "signin",
        "sign-in", "signup", "sign-up", "register", "account", "accounts", "subscribe",
        "subscription", "subscriptions", "newsletter", "newsletters", "about", "about-us",
        "contact", "contact-us", "help", "faq", "faqs", "privacy", "privacy-policy", "terms",
        "terms-of-service", "terms-of-use", "cookies", "cookie-policy", "legal", "policies",
        "policy", "info", "service", "services", "advertise", "advertising", "careers", "jobs",
        "feeds", "feed", "rss", "video", "videos", "live-tv", "podcast", "podcasts", "image",
        "images", "photo", "photos", "gallery", "galleries", "multimedia", "puzzles", "games",
        "crossword", "crosswords", "shop", "store", "weather", "archive", "archives", "index",
        "sitemap", "cdn-cgi", "wp-admin", "wp-login.php", "wp-json"
    ]
)


@dataclass(frozen=True)
class _Link:
    url: str
    text: str
    in_headline: bool


def article_links(markup: str, page_url: str, scope: SiteScope, limit: int) -> list[Entry]:
    """The links on a listing page that look like articles of its site, in page order."""
    tree = _parse(markup)
    if tree is None:
        return []
    page = canonical_url(page_url)
    base = _base_url(tree, page_url)
    found: dict[str, Entry] = {}
    for link in _links(tree, base):
        url = canonical_url(link.url)
        if url in found or url == page or not scope.contains(url):
            continue
        if article_score(url, link.text, link.in_headline) >= ARTICLE_SCORE:
            found[url] = Entry(url=url, title=link.text)
            if len(found) >= limit:
                break
    return list(found.values())


def article_score(url: str, anchor_text: str = "", in_headline: bool = False) -> int:
    """How much `url` (and the anchor leading to it) looks like an article; -1 if it can't be."""
    parts = urlsplit(url)
    path = parts.path
    segments = [s for s in path.lower().split("/") if s]
    if (
        parts.scheme not in ("http", "https")
        or not segments
        or _NOT_PAGES.search(path)
        or any(segment in _LISTING_SEGMENTS for segment in segments)
    ):
        return -1
    score = 0
    if _DATE_PARTS.search(path):
        score += 2
    if any(len(_SLUG_WORD.findall(segment)) >= 5 and _is_slug(segment) for segment in segments):
        score += 1
    if any(_CONTENT_ID.search(segment) for segment in segments):
        score += 1
    if in_headline or len(anchor_text.split()) >= 6:
        score += 1
    return score


def path_date(url: str) -> date | None:
    """The date an article URL carries in its path (/2024/06/18/, -2024-03-04...), if any."""
    match = _DATE_PARTS.search(urlsplit(url).path)
    if match is None:
        return None
    parts = {name[0]: value for name, value in match.groupdict().items() if value}
    year, month, day = parts["y"], parts["m"], parts["d"]
    month_number = int(month) if month.isdigit() else _MONTHS.index(month.lower()[:3]) + 1
    try:
        return date(int(year), month_number, int(day))
    except ValueError:
        return None


def _is_slug(segment: str) -> bool:
    return "-" in segment or "_" in segment


def _links(tree: html.HtmlElement, base: str) -> list[_Link]:
    links = []
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
            continue
        text = " ".join(anchor.text_content().split())
        links.append(_Link(urljoin(base, href), text, _in_headline(anchor)))
    return links


def _in_headline(anchor: html.HtmlElement) -> bool:
    for depth, ancestor in enumerate(anchor.iterancestors()):
        if ancestor.tag in ("h1", "h2", "h3", "h4", "article"):
            return True
        if depth >= 4:
            return False
    return False


def _parse(markup: str) -> html.HtmlElement | None:
    markup = _XML_DECLARATION.sub("", markup, count=1)
    try:
        return html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return None


def _base_url(tree: html.HtmlElement, page_url: str) -> str:
    for base in tree.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            return urljoin(page_url, href)
    return page_url
