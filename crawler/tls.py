"""TLS trust per source: a source's `ca_bundle` is trusted for its own hosts only.

Scrapy builds one TLS context factory per download handler, not per request, so a CA
bundle cannot ride in `Request.meta`. What it can do is choose by host: the factory's
`creatorForNetloc(host, port)` is asked for every connection, and connections are pooled
per host. This HTTPS handler wraps Scrapy's factory so that the hosts of a source with a
`ca_bundle` (its URL's and its resolved feed's) are verified against that bundle, and
every other host keeps the crawl's default (DOWNLOAD_VERIFY_CERTIFICATES).
The limit of this approach: two sources on one host can't trust different CAs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from twisted.internet.ssl import Certificate, optionsForClientTLS, trustRootFromCertificates
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from crawler.sites import host_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


def read_ca_bundle(path: str) -> list[Certificate]:
    """The certificates of a PEM bundle; raises OSError or ValueError if there are none."""
    data = Path(path).read_bytes()
    certificates = [Certificate.loadPEM(block) for block in _PEM_CERTIFICATE.findall(data)]
    if not certificates:
        raise ValueError(f"no PEM certificate in {path}")
    return certificates


@implementer(IPolicyForHTTPS)
class PerHostTrust:
    """Verifies the listed hosts against their own CA certificates; others as `default`."""

    def __init__(self, default: Any, trust: dict[str, list[Certificate]]) -> None:
        self.default = default
        self.trust = trust

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        host = hostname.decode("ascii").lower()
        certificates = self.trust.get(host)
        if certificates is None:
            return self.default.creatorForNetloc(hostname, port)
        return optionsForClientTLS(host, trustRoot=trustRootFromCertificates(certificates))


class SourceTrustDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler with per-source CA bundles (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        job = crawler.settings["NEWSWATCH_JOB"]
        trust: dict[str, list[Certificate]] = {}
        for source in job.sources if job else []:
            if not source.ca_bundle:
                continue
            try:
                certificates = read_ca_bundle(source.ca_bundle)
            except (OSError, ValueError) as error:
                # The spider does not crawl such a source and records why.
                logger.error("source %r: cannot use ca_bundle: %s", source.name, error)
                continue
            for url in (source.url, source.resolved_url):
                if url and host_of(url):
                    trust[host_of(url).lower()] = certificates
        if trust:
            self._contextFactory = PerHostTrust(self._contextFactory, trust)
