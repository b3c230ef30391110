"""Turn a downloaded page into an article: clean body text and reliable metadata.

Pure function, no I/O: `extract_article(html, url)` never raises; when the page holds
no article the result says why in `error`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from crawler.extract.body import extract_body
from crawler.extract.dates import extract_dates, precision
from crawler.extract.language import declared_language, identify_language
from crawler.extract.markup import (
    MAX_ELEMENTS,
    MAX_HTML_CHARS,
    decode_html,
    element_count,
    looks_like_html,
    parse_html,
)
from crawler.extract.metadata import (
    extract_authors,
    extract_canonical,
    extract_description,
    extract_image,
    extract_site_name,
    extract_title,
    headline_element,
    meta_tags,
    publisher_names,
)
from crawler.extract.structured import jsonld_nodes, structured_article, website_name

logger = logging.getLogger(__name__)

NO_ARTICLE = "no article text found"
# Fewer words than this is a caption, a teaser or a login wall, not a story; and a
# story has at least one sentence-long line (lists of links and labels do not).
MIN_ARTICLE_WORDS = 15
MIN_SENTENCE_WORDS = 8
# Scripts written without spaces (Chinese, Japanese, Thai, ...) are measured in
# characters: about this many stand for one word of a spaced language.
CHARS_PER_WORD = 2
_UNSPACED = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


@dataclass
class ExtractedArticle:
    """What a page says about its article; `error` is None when an article was found."""

    url: str
    title: str | None = None
    body: str = ""
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    # "day" when the page states only a date (`published` then holds midnight UTC, as
    # the store keeps datetimes), "time" when it states a time of day.
    published_precision: str | None = None
    modified: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    image: str | None = None
    description: str | None = None
    error: str | None = None


def extract_article(html: str | bytes, url: str) -> ExtractedArticle:
    """Extract the article on a page; never raises (failures are reported in `error`)."""
    try:
        return _extract(html, url)
    except Exception as exc:  # last line of defence: a crawl must survive any page
        logger.exception("extraction failed for %s", url)
        return ExtractedArticle(url=url, error=f"extraction failed: {type(exc).__name__}")


def _extract(html: str | bytes, url: str) -> ExtractedArticle:
    if not html:
        return ExtractedArticle(url=url, error="no article: empty page")
    if len(html) > MAX_HTML_CHARS:
        return ExtractedArticle(url=url, error="no article: page too large")
    text = decode_html(html)
    tree = parse_html(text) if looks_like_html(text) else None
    if tree is None:
        return ExtractedArticle(url=url, error="no article: not an HTML page")
    if element_count(tree) > MAX_ELEMENTS:
        return ExtractedArticle(url=url, error="no article: page too large")

    nodes = jsonld_nodes(tree)
    data = structured_article(nodes)
    tags = meta_tags(tree)
    site_name = extract_site_name(tags, data, website_name(nodes))
    declared = declared_language(tree, data.language)
    publishers = publisher_names(url, site_name, data.publisher, website_name(nodes))
    title = extract_title(tree, tags, data, site_name, publishers)
    dates = extract_dates(tree, tags, data, url, headline_element(tree, title), declared)
    description = extract_description(tags, data)
    authors = extract_authors(tree, tags, data, publishers, declared)
    canonical = extract_canonical(tree, tags, url)
    image = extract_image(tree, tags, data, url)
    # The body is extracted last: it prunes the tree in place (no copy of the page).
    body = extract_body(tree, url, title, authors, description, data.body, data.headline)
    article = ExtractedArticle(
        url=url,
        title=title,
        body=body,
        authors=authors,
        published=dates.published,
        published_precision=precision(dates.published),
        modified=dates.modified,
        language=identify_language(body, declared),
        canonical_url=canonical,
        site_name=site_name,
        image=image,
        description=description,
    )
    if not looks_like_article(body):
        article.body, article.error = "", NO_ARTICLE
    return article


def text_length(line: str) -> int:
    """Length of a line in words, counting unspaced-script characters by CHARS_PER_WORD."""
    unspaced = len(_UNSPACED.findall(line))
    if not unspaced:
        return len(line.split())
    return len(_UNSPACED.sub(" ", line).split()) + unspaced // CHARS_PER_WORD


def looks_like_article(body: str) -> bool:
    lengths = [text_length(line) for line in body.splitlines()]
    return sum(lengths) >= MIN_ARTICLE_WORDS and any(n >= MIN_SENTENCE_WORDS for n in lengths)

