"""Reading feeds: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 through feedparser, JSON Feed 1.x by hand.

Pure functions over the response body. A feed that is malformed but readable (feedparser's
"bozo" documents that still yield entries) is read, and the problem is returned as a
warning for the source; a document with nothing readable is an error.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree, html

from crawler.entries import Entry
from crawler.safexml import strip_doctype
from crawler.urls import canonical_url

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"
_MARKUP = re.compile(r"<[A-Za-z!/]")


@dataclass(frozen=True)
class ParsedFeed:
    title: str = ""
    format: str = ""  # feedparser's version ("rss20", "atom10", ...) or "json1.1"
    entries: list[Entry] = field(default_factory=list)
    warning: str | None = None  # malformed but readable
    error: str | None = None  # nothing readable


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Read any supported feed format from `body`, fetched from `url`."""
    if looks_like_json(body):
        return parse_json_feed(body, url)
    return parse_xml_feed(body, url, content_type)


def looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_xml_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(strip_doctype(body), response_headers=headers)
    problem = _bozo_problem(parsed)
    if not parsed.entries and (problem or not parsed.get("version")):
        return ParsedFeed(error=f"not a readable feed: {problem or 'unknown format'}")
    entries = [e for e in (_xml_entry(item, url) for item in parsed.entries) if e is not None]
    return ParsedFeed(
        title=html_to_text(parsed.feed.get("title", "")),
        format=parsed.get("version") or "",
        entries=entries,
        warning=f"malformed feed, read anyway: {problem}" if problem else None,
    )


def _bozo_problem(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    exception = parsed.get("bozo_exception")
    # A charset declaration corrected by feedparser is not worth bothering a user with.
    if isinstance(exception, feedparser.ThingsNobodyCaresAboutButMe):
        return None
    return str(exception) or type(exception).__name__


def _xml_entry(item: Any, base_url: str) -> Entry | None:
    link = _absolute_link(item.get("link"), base_url)
    if link is None:
        return None
    content = item.get("content") or []
    body = content[0].get("value", "") if content else ""
    summary = html_to_text(body) or html_to_text(item.get("summary", ""))
    return Entry(
        url=canonical_url(link),
        title=html_to_text(item.get("title", "")),
        summary=summary,
        authors=[a["name"] for a in item.get("authors", []) if a.get("name")],
        published=_struct_time(item.get("published_parsed") or item.get("created_parsed")),
        updated=_struct_time(item.get("updated_parsed")),
        can_stand_in=True,
    )


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://www.jsonfeed.org/version/1.1/)."""
    try:
        data = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as error:
        return ParsedFeed(error=f"not a readable feed: invalid JSON ({error})")
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        JSON_FEED_VERSION_PREFIX
    ):
        return ParsedFeed(error="not a readable feed: JSON without a JSON Feed version")
    items = data.get("items")
    if not isinstance(items, list):
        return ParsedFeed(error="not a readable feed: JSON Feed without items")
    entries = [e for e in (_json_entry(item, url) for item in items) if e is not None]
    skipped = len(items) - len(entries)
    return ParsedFeed(
        title=html_to_text(str(data.get("title") or "")),
        format="json" + str(data["version"]).removeprefix(JSON_FEED_VERSION_PREFIX),
        entries=entries,
        warning=f"malformed feed, read anyway: {skipped} items without a usable URL"
        if skipped else None,
    )


def _json_entry(item: Any, base_url: str) -> Entry | None:
    if not isinstance(item, dict):
        return None
    link = _absolute_link(item.get("url") or item.get("external_url"), base_url)
    if link is None:
        return None
    summary = (
        _string(item.get("content_text"))
        or html_to_text(_string(item.get("content_html")))
        or _string(item.get("summary"))
    )
    people = item.get("authors") or ([item["author"]] if item.get("author") else [])
    return Entry(
        url=canonical_url(link),
        title=html_to_text(_string(item.get("title"))),
        summary=" ".join(summary.split()),
        authors=[p["name"] for p in people if isinstance(p, dict) and _string(p.get("name"))],
        published=_rfc3339(item.get("date_published")),
        updated=_rfc3339(item.get("date_modified")),
        can_stand_in=True,
    )


def html_to_text(markup: str) -> str:
    """Readable text of an HTML fragment (feed summaries and contents)."""
    if not _MARKUP.search(markup):
        return " ".join(markup.split())
    try:
        fragment = html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    return " ".join(" ".join(fragment.itertext()).split())


def _absolute_link(link: object, base_url: str) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = urljoin(base_url, link.strip())
    return absolute if absolute.startswith(("http://", "https://")) else None


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _rfc3339(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""
