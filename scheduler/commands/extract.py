"""`newswatch extract`: show what newswatch extracts from pages, as JSON Lines."""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from crawler.extract import ExtractedArticle

LISTING = ("no article: this page is mostly links (a homepage or section page); give the "
           "address of one article, or watch the page with `newswatch sources add URL`")
FETCH_TIMEOUT = 20.0
USER_AGENT = "newswatch/0.1 (+extract command)"
# Refuse to read more than this from a file or URL: no single article page is larger.
MAX_BYTES = 20_000_000


@dataclass
class Page:
    """The raw page behind one input, or why it could not be read."""

    input: str
    url: str
    html: bytes | None = None
    error: str | None = None


def _is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def fetch(url: str) -> Page:
    import urllib.request  # the HTTP client's imports cost 0.1 s: only when fetching

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            return Page(url, response.geturl(), response.read(MAX_BYTES))
    except (OSError, ValueError) as error:
        return Page(url, url, error=f"cannot fetch: {error}")


def read_file(path_text: str, url: str | None) -> Page:
    path = Path(path_text)
    address = url or path.resolve().as_uri()
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        reason = getattr(error, "strerror", None) or str(error)
        return Page(path_text, address, error=f"cannot read file: {reason}")
    return Page(path_text, address, raw[:MAX_BYTES])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_record(page: Page, article: ExtractedArticle | None) -> dict[str, Any]:
    """The JSON object printed for one input; a page that could not be read has only an error."""
    from crawler.extract import ExtractedArticle

    article = article or ExtractedArticle(url=page.url, error=page.error)
    return {
        "input": page.input,
        "url": article.url,
        "title": article.title,
        "body": article.body,
        "authors": article.authors,
        # A page that gives only the day says so: no invented midnight.
        "published": (article.published.date().isoformat()
                      if article.published and article.published_precision == "day"
                      else _iso(article.published)),
        "modified": _iso(article.modified),
        "language": article.language,
        "canonical_url": article.canonical_url,
        "site_name": article.site_name,
        "image": article.image,
        "description": article.description,
        "error": article.error,
    }


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE_OR_URL...")
@click.option("--url", "page_url", default=None, metavar="URL",
              help="The page address of a single file input (resolves its relative links "
                   "and dates in its path).")
def extract(inputs: tuple[str, ...], page_url: str | None) -> None:
    """Print what newswatch extracts from each page, one JSON object per line.

    Each FILE_OR_URL is an .html or .html.gz file, or an http(s) address to fetch.
    Lines come in input order with the keys input, url, title, body, authors,
    published, modified, language, canonical_url, site_name, image, description and
    error (null, or why there is no article). Exits 1 if any input could not be read.

    Examples:

    \b
        newswatch extract saved/story.html.gz --url https://example.com/2024/06/18/story/
        newswatch extract https://example.com/news/story.html other.html | jq .title
    """
    from crawler.extract import extract_article
    from crawler.extract.listing import mostly_links

    if page_url and len(inputs) > 1:
        raise click.UsageError("--url names the address of one file; give a single input.")
    unreadable = False
    for value in inputs:
        page = fetch(value) if _is_url(value) else read_file(value, page_url)
        article = extract_article(page.html, page.url) if page.html is not None else None
        if article is not None and article.error is None and page.html is not None \
                and mostly_links(page.html, article.body):
            article = replace(article, body="", error=LISTING)
            click.echo(f"newswatch: {value}: {LISTING}", err=True)
        unreadable |= page.html is None
        click.echo(json.dumps(as_record(page, article), ensure_ascii=False))
    sys.exit(1 if unreadable else 0)
