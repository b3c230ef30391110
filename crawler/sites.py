"""Which hosts belong to a source's own site, for following links from pages and sitemaps.

A site is a registrable domain: www.example.co.uk and news.example.co.uk are both
example.co.uk. This module is newswatch's one notion of a site: source scopes, the
canonical-URL trust check (crawler/urls.py) and the outlets of a story (min_outlets) all
use `site_of_host`. It reads the Public Suffix List snapshot bundled with tldextract
(never fetched at run time) *including its private section*, so a blog on a shared host
(alice.github.io, bob.blogspot.com) is a site of its own, not one site with every other
blog there; `SHARED_HOSTS` adds blog hosts the list lacks. An IP address or a name without
a public suffix (localhost, an intranet host) is a site of its own. Ports do not matter.
A source may allow more hosts: each also allows its subdomains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import ip_address
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.job import SourceSpec

if TYPE_CHECKING:
    from tldextract import TLDExtract

# Hosts where every subdomain is someone's own publication but that the Public Suffix
# List does not (yet) name.
SHARED_HOSTS = ("substack.com",)


@lru_cache(maxsize=1)
def _suffixes() -> TLDExtract:
    """The Public Suffix List, loaded on first use (tldextract is a tenth of a second of
    imports that the commands never asking for a site should not pay)."""
    import tldextract

    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True,
        extra_suffixes=SHARED_HOSTS,
    )


@lru_cache(maxsize=4096)
def site_of_host(host: str) -> str:
    """The registrable domain of `host`, or the host itself when it has none."""
    host = host.lower().strip("[]").rstrip(".")
    if _is_ip(host):
        return host
    return _suffixes()(host).top_domain_under_public_suffix or host


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


@dataclass(frozen=True)
class SiteScope:
    sites: frozenset[str]
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def of(cls, urls: Iterable[str | None], allowed_hosts: Iterable[str] = ()) -> SiteScope:
        """The scope of a source configured with these URLs (and extra allowed hosts)."""
        hosts = (host_of(url) for url in urls if url)
        return cls(
            frozenset(site_of_host(host) for host in hosts if host),
            frozenset(host.lower().strip(".") for host in allowed_hosts if host),
        )

    def contains(self, url: str) -> bool:
        host = host_of(url)
        if not host:
            return False
        if site_of_host(host) in self.sites:
            return True
        return any(host == allowed or host.endswith("." + allowed)
                   for allowed in self.allowed_hosts)


class SourceDirectory:
    """The sources of a crawl by site: whose site a URL is on, and each source's scope.

    Requests Scrapy makes by itself (robots.txt) carry no source; they are attributed to
    the source whose site they are on.
    """

    def __init__(self, sources: Iterable[SourceSpec]) -> None:
        self._sources = list(sources)
        self._scopes = {
            source.id: SiteScope.of([source.url, source.resolved_url], source.allowed_hosts)
            for source in self._sources
        }

    def scope(self, source: SourceSpec) -> SiteScope:
        scope = self._scopes.get(source.id)
        if scope is None:
            scope = SiteScope.of([source.url, source.resolved_url], source.allowed_hosts)
            self._scopes[source.id] = scope
        return scope

    def owner_of(self, url: str) -> SourceSpec | None:
        for source in self._sources:
            if self.scope(source).contains(url):
                return source
        return None
