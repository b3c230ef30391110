"""Canonical article URLs, so that one article is stored once whatever link led to it.

courlan (already used by trafilatura) does the general normalisation: lower-case scheme
and host, default ports dropped, query parameters sorted, tracking parameters (utm_*,
fbclid, gclid, ...) removed. On top of it we drop the fragment (it never names another
article) and map AMP variants back to the article: an `amp` query flag, a trailing
`/amp` or `.amp` path segment and an `amp.` host prefix. Mobile hosts (`m.`, `mobile.`)
can't be mapped blindly (is the article on `www.` or the bare domain?), so they are
resolved by the page's own canonical link, which is trusted within the same site (a
site as crawler/sites.py defines it: alice.github.io cannot claim bob.github.io's URLs).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urldefrag, urlencode, urlsplit, urlunsplit

from crawler.sites import host_of, site_of_host

_AMP_QUERY_KEYS = {"amp", "outputtype", "amp_js_v", "usqp"}
_AMP_PATH_SUFFIX = re.compile(r"(?:/amp/?|\.amp(?=/?$)|/amp\.html?)$", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """The canonical form of an absolute http(s) URL."""
    from courlan import normalize_url  # here: listings that only read URLs skip its import

    try:
        normalized = normalize_url(url.strip())
    except (ValueError, TypeError):
        normalized = url.strip()
    return _without_amp(urldefrag(normalized).url)


def _without_amp(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc
    if host.startswith("amp.") and host.count(".") >= 2:
        host = host[len("amp."):]
    path = _AMP_PATH_SUFFIX.sub("/", parts.path) if parts.path not in ("", "/") else parts.path
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
         if k.lower() not in _AMP_QUERY_KEYS]
    )
    return urlunsplit((parts.scheme, host, path, query, ""))


def site_of(url: str) -> str:
    """The site of a URL ("bbc.co.uk" for m.bbc.co.uk, "alice.github.io"), or its host
    for IPs and names without a public suffix."""
    host = host_of(url)
    return site_of_host(host) if host else ""


def same_site(first: str, second: str) -> bool:
    return site_of(first) == site_of(second)


def preferred_url(fetched: str, declared: str | None) -> str:
    """The URL to store an article under: the page's own canonical URL when it declares one
    on the same site, else the address it was fetched from.

    A canonical link to another site (a syndicated copy pointing at the original) is not
    followed here: that is one story with two articles, not one article.
    """
    if declared and declared.startswith(("http://", "https://")) and same_site(fetched, declared):
        return canonical_url(declared)
    return canonical_url(fetched)
