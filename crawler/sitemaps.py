"""Reading sitemaps: indexes, plain URL sets and Google News sitemaps.

Scrapy's own sitemap reader keeps only `loc`/`lastmod`-level fields and drops the nested
`news:news` block, whose `publication_date` and `title` are what make a news sitemap
useful, so this module reads the XML itself (through crawler/safexml.py: no entities,
no DTD, no network). Elements are matched by local name, because real sitemaps get
their namespaces wrong often enough.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

from lxml import etree

from crawler.entries import Entry
from crawler.safexml import parse_xml
from crawler.urls import canonical_url

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class ChildSitemap:
    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True)
class ParsedSitemap:
    kind: str = ""  # "index" or "urlset"
    sitemaps: list[ChildSitemap] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    error: str | None = None


class SitemapTooLarge(ValueError):
    pass


def parse_sitemap(body: bytes, url: str, max_size: int) -> ParsedSitemap:
    """Read a sitemap or sitemap index (gzipped or not) fetched from `url`."""
    if body.startswith(GZIP_MAGIC):
        try:
            body = gunzip_bounded(body, max_size)
        except SitemapTooLarge:
            return ParsedSitemap(error=f"sitemap larger than {max_size} bytes once unzipped")
        except (OSError, EOFError, zlib.error):
            return ParsedSitemap(error="sitemap is not valid gzip")
    root = parse_xml(body)
    if root is None or not isinstance(root.tag, str):
        return ParsedSitemap(error="not a readable sitemap: no XML document")
    kind = etree.QName(root).localname
    if kind == "sitemapindex":
        return ParsedSitemap(kind="index", sitemaps=list(_child_sitemaps(root, url)))
    if kind == "urlset":
        return ParsedSitemap(kind="urlset", entries=list(_url_entries(root, url)))
    return ParsedSitemap(error=f"not a sitemap: root element <{kind}>")


def gunzip_bounded(data: bytes, max_size: int) -> bytes:
    """Unzip `data`, refusing to produce more than `max_size` bytes (gzip bombs)."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        out = stream.read(max_size + 1)
    if len(out) > max_size:
        raise SitemapTooLarge
    return out


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [
        child for child in element
        if isinstance(child.tag, str) and etree.QName(child).localname == name
    ]


def _child_text(element: etree._Element, name: str) -> str:
    for child in _children(element, name):
        return (child.text or "").strip()
    return ""


def _child_sitemaps(root: etree._Element, base_url: str) -> Iterator[ChildSitemap]:
    for sitemap in _children(root, "sitemap"):
        loc = _absolute(_child_text(sitemap, "loc"), base_url)
        if loc:
            yield ChildSitemap(loc, parse_w3c_date(_child_text(sitemap, "lastmod")))


def _url_entries(root: etree._Element, base_url: str) -> Iterator[Entry]:
    for element in _children(root, "url"):
        loc = _absolute(_child_text(element, "loc"), base_url)
        if not loc:
            continue
        news = next(iter(_children(element, "news")), None)
        title = " ".join(_child_text(news, "title").split()) if news is not None else ""
        published = (
            parse_w3c_date(_child_text(news, "publication_date")) if news is not None else None
        )
        yield Entry(
            url=canonical_url(loc),
            title=title,
            published=published,
            updated=parse_w3c_date(_child_text(element, "lastmod")),
            can_stand_in=bool(title),
        )


def _absolute(loc: str, base_url: str) -> str | None:
    if not loc:
        return None
    absolute = urljoin(base_url, loc)
    return absolute if absolute.startswith(("http://", "https://")) else None


def parse_w3c_date(text: str) -> datetime | None:
    """A W3C datetime ("2024-06-18", "2024-06-18T09:41:00+02:00", "2024-06") in UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for pattern in ("%Y-%m", "%Y"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
