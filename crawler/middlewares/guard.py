"""Refusing requests the crawler must not make: off-site links and private addresses.

Runs on every request before anything else (robots.txt included), and again on every
redirect, since a redirected request goes through the middlewares anew:

* a request marked `SCOPE = SITE` (links found on pages and in sitemaps) must stay on
  its source's site, see crawler/sites.py;
* the host's addresses, all of them, must be allowed by crawler/addresses.py for the
  source. Names are resolved through the reactor's caching resolver (Scrapy's
  CachingHostnameResolver, set in crawler/settings.py), so the connection that follows
  uses the very addresses checked here: a DNS answer can't change in between.

A request sent through the source's proxy is checked the same way: the proxy resolves
names itself, so a public feed's link to localhost or an intranet host would otherwise
reach that host from the proxy. Its host is resolved here too and refused on the same
terms. A name that does not resolve here (the proxy may know names this machine doesn't)
may go through the proxy only when it is on the source's own site or allowed hosts.
A refused request fails with `RefusedRequest` and is logged at WARNING.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer

from crawler import meta
from crawler.addresses import (
    TREAT_AS_PUBLIC_ENV,
    AddressPolicy,
    IPAddress,
    parse_address,
    treat_as_public_from,
)
from crawler.job import SourceSpec
from crawler.sites import SourceDirectory, host_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class RefusedRequest(IgnoreRequest):
    """A request newswatch will not make: it would leave the site or reach a private
    address. Unlike other failures, a feed entry refused this way is not stored either."""


class AddressGuardMiddleware:
    def __init__(self, crawler: Crawler, policy: AddressPolicy, directory: SourceDirectory,
                 dns_timeout: float) -> None:
        self.crawler = crawler
        self.policy = policy
        self.directory = directory
        self.dns_timeout = dns_timeout
        self._own_addresses: dict[int, frozenset[IPAddress]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        settings = crawler.settings
        job = settings["NEWSWATCH_JOB"]
        return cls(
            crawler,
            AddressPolicy(treat_as_public_from(settings.get(TREAT_AS_PUBLIC_ENV))),
            SourceDirectory(job.sources if job else []),
            settings.getfloat("DNS_TIMEOUT"),
        )

    async def process_request(self, request: Request) -> None:
        source: SourceSpec | None = request.meta.get(meta.SOURCE)
        if source is None:
            source = self.directory.owner_of(request.url)
        if (
            request.meta.get(meta.SCOPE) == meta.SITE
            and source is not None
            and not self.directory.scope(source).contains(request.url)
        ):
            self._refuse(request, source, "it is not on the source's site")
        host = urlparse_cached(request).hostname or ""
        literal = parse_address(host)
        if literal is not None:
            addresses = [literal]
        elif request.meta.get("proxy"):
            try:
                addresses = await self._resolve(host)
            except DNSLookupError:
                # Only the proxy knows this name: trust it on the source's own site only.
                if source is not None and self.directory.scope(source).contains(request.url):
                    return
                self._refuse(request, source, f"{host} does not resolve here, and through "
                             "the proxy only the source's own site may be reached")
        else:
            addresses = await self._resolve(host)
        own = await self._source_addresses(source) if source is not None else frozenset()
        for address in addresses:
            reason = self.policy.refusal(address, own)
            if reason:
                self._refuse(request, source, f"{host} is {reason} ({address})")

    def _refuse(self, request: Request, source: SourceSpec | None, why: str) -> None:
        name = source.name if source is not None else "?"
        logger.warning("refused %s (source %r): %s", request.url, name, why)
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value("newswatch/refused_requests")
        raise RefusedRequest(f"refused: {why}")

    async def _source_addresses(self, source: SourceSpec) -> frozenset[IPAddress]:
        """The addresses of the host the user configured the source on."""
        if source.id not in self._own_addresses:
            host = host_of(source.url)
            literal = parse_address(host)
            try:
                found = [literal] if literal is not None else await self._resolve(host)
            except DNSLookupError:
                found = []
            self._own_addresses[source.id] = frozenset(found)
        return self._own_addresses[source.id]

    async def _resolve(self, host: str) -> list[IPAddress]:
        from twisted.internet import reactor

        receiver = _Addresses()
        reactor.nameResolver.resolveHostName(receiver, host)  # type: ignore[attr-defined]
        receiver.done.addTimeout(self.dns_timeout, reactor)  # type: ignore[arg-type]
        try:
            found = await maybe_deferred_to_future(receiver.done)
        except Exception as error:
            raise DNSLookupError(f"{host}: {error}") from None
        addresses = [a for a in map(parse_address, found) if a is not None]
        if not addresses:
            raise DNSLookupError(host)
        return addresses


@implementer(IResolutionReceiver)
class _Addresses:
    def __init__(self) -> None:
        self.found: list[str] = []
        self.done: Deferred[list[str]] = Deferred()

    def resolutionBegan(self, resolution: object) -> None:
        pass

    def addressResolved(self, address: object) -> None:
        self.found.append(getattr(address, "host", ""))

    def resolutionComplete(self) -> None:
        if not self.done.called:
            self.done.callback(self.found)
