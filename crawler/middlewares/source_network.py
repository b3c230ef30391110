"""Per-source network settings: extra headers, basic auth, cookies and an HTTP(S) proxy.

Headers, credentials and cookies go only to the source's own site (its URL's registrable
domain and the hosts it allows): a feed's items may point anywhere, and a redirect may
leave the site, so on any other host they are removed again. The proxy carries all of a
source's requests; the address guard (crawler/middlewares/guard.py, which runs after this
middleware so it sees the proxy) still refuses those bound for private addresses, and
names only the proxy can resolve off the source's site. robots.txt requests, which
Scrapy makes without a source, get the settings of the source whose site they are on.
A per-source CA bundle is a TLS matter, see crawler/tls.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from w3lib.http import basic_auth_header

from crawler import meta
from crawler.job import SourceSpec
from crawler.sites import SourceDirectory

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class SourceNetworkMiddleware:
    def __init__(self, directory: SourceDirectory) -> None:
        self.directory = directory

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceNetworkMiddleware:
        job = crawler.settings["NEWSWATCH_JOB"]
        return cls(SourceDirectory(job.sources if job else []))

    def process_request(self, request: Request) -> None:
        source: SourceSpec | None = request.meta.get(meta.SOURCE)
        if source is None:
            source = self.directory.owner_of(request.url)
            if source is None:
                return
        if source.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = source.proxy
        private = source_headers(source)
        if self.directory.scope(source).contains(request.url):
            for name, value in private.items():
                request.headers[name] = value
        else:
            for name in private:
                request.headers.pop(name, None)


def source_headers(source: SourceSpec) -> dict[str, str | bytes]:
    """The headers a source adds to requests on its own site."""
    headers: dict[str, str | bytes] = dict(source.headers)
    if source.username is not None:
        headers["Authorization"] = basic_auth_header(source.username, source.password or "")
    if source.cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in source.cookies.items())
    return headers
