"""Canonical article URLs, so that one article is stored once whatever link led to it.

courlan (already used by trafilatura) does the normalisation: lower-case scheme and host,
default ports dropped, query parameters sorted, tracking parameters (utm_*, fbclid, gclid,
...) removed. We also drop the fragment, which never names a different article.
"""

from __future__ import annotations

from urllib.parse import urldefrag, urlsplit

from courlan import normalize_url


def canonical_url(url: str) -> str:
    """The canonical form of an absolute http(s) URL."""
    try:
        normalized = normalize_url(url.strip())
    except (ValueError, TypeError):
        normalized = url.strip()
    return urldefrag(normalized).url


def same_host(first: str, second: str) -> bool:
    return urlsplit(first).hostname == urlsplit(second).hostname


def preferred_url(fetched: str, declared: str | None) -> str:
    """The URL to store an article under: the page's own canonical URL when it declares one
    on the same host, else the address it was fetched from.

    A canonical link to another host (a syndicated copy pointing at the original) is not
    followed here: that is one story with two articles, not one article.
    """
    if declared and declared.startswith(("http://", "https://")) and same_host(fetched, declared):
        return canonical_url(declared)
    return canonical_url(fetched)
