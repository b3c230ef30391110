"""Which network addresses the crawler may connect to (server-side request forgery guard).

A link from the open web must not turn the crawler against the user's own network: any
address that is not globally routable (loopback, private, link-local, carrier-grade NAT,
reserved) is refused, and so are cloud metadata endpoints even where they are routable.
IPv6 forms that embed an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by the
embedded address too.

The exception is a source the user configured on such an address (an intranet feed):
its requests may reach private addresses, but not metadata endpoints, unless the source
itself is one.

TEST ONLY: the environment variable NEWSWATCH_TREAT_AS_PUBLIC (comma-separated IP
addresses, e.g. "127.0.0.2,127.0.0.3") declares those addresses public, so tests can run
a "public" site on loopback and check that its links to 127.0.0.1 are refused. Never set
it in production: it switches the guard off for those addresses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

logger = logging.getLogger(__name__)

TREAT_AS_PUBLIC_ENV = "NEWSWATCH_TREAT_AS_PUBLIC"

IPAddress = IPv4Address | IPv6Address

METADATA_ADDRESSES = frozenset(
    ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (globally routable, so listed)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
_NAT64 = IPv6Network("64:ff9b::/96")


def parse_address(text: str) -> IPAddress | None:
    try:
        return ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def treat_as_public_from(value: str | None) -> frozenset[IPAddress]:
    """The addresses named in NEWSWATCH_TREAT_AS_PUBLIC (test-only)."""
    addresses = set()
    for item in (value or "").split(","):
        if not item.strip():
            continue
        address = parse_address(item)
        if address is None:
            logger.warning("%s: ignoring %r, not an IP address", TREAT_AS_PUBLIC_ENV, item)
        else:
            addresses.add(address)
    if addresses:
        logger.warning(
            "%s is set: %s treated as public addresses (a test-only setting)",
            TREAT_AS_PUBLIC_ENV, ", ".join(sorted(map(str, addresses))),
        )
    return frozenset(addresses)


def _with_embedded(address: IPAddress) -> list[IPAddress]:
    found: list[IPAddress] = [address]
    if isinstance(address, IPv6Address):
        for embedded in (address.ipv4_mapped, address.sixtofour):
            if embedded is not None:
                found.append(embedded)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in _NAT64:
            found.append(IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_metadata(address: IPAddress) -> bool:
    return any(part in METADATA_ADDRESSES for part in _with_embedded(address))


def describe(address: IPAddress) -> str:
    if is_metadata(address):
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    return "a private or reserved address"


@dataclass(frozen=True)
class AddressPolicy:
    treat_as_public: frozenset[IPAddress] = frozenset()

    def is_public(self, address: IPAddress) -> bool:
        if address in self.treat_as_public:
            return True
        return all(
            part.is_global and part not in METADATA_ADDRESSES
            for part in _with_embedded(address)
        )

    def refusal(
        self, address: IPAddress, source_addresses: Iterable[IPAddress] = ()
    ) -> str | None:
        """Why connecting to `address` is refused for a source whose own host has
        `source_addresses`; None when it is allowed."""
        if self.is_public(address):
            return None
        own = frozenset(source_addresses)
        if address in own:
            return None
        if is_metadata(address):
            return describe(address)
        if own and not all(self.is_public(a) for a in own):
            return None  # the source itself is on a private network
        return describe(address)
