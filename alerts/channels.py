"""Channels as the sender sees them: where to send, in which format, how often, when not.

A channel is a named list of Apprise URLs with a message format, optional templates,
a timezone for times in messages and schedules, and optional digest, rate limit and
quiet hours. Alerts reach a channel in two ways:

* a rule lists the channel in its `channels`;
* the channel routes by tag or source: `tags = ["russia"]` makes it receive every
  alert of a rule tagged "russia", `sources = ["BBC World"]` every alert whose article
  came from that configured source, whichever channels the rule names. Routing copies
  alerts: a rule's own channels still get theirs, and each (rule, story, channel) is
  still alerted once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from alerts.digests import DigestSchedule
from alerts.escaping import Format
from alerts.quiet_hours import QuietHours
from alerts.rate_limit import RateLimit
from alerts.templates import TEMPLATE_KEYS, default_template

DEFAULT_RETRY_PERIOD = timedelta(days=1)


@dataclass(frozen=True)
class Channel:
    name: str
    urls: tuple[str, ...]
    format: Format = "text"
    templates: Mapping[str, str] = field(default_factory=dict)  # title, body, digest_*
    timezone: str = "UTC"
    digest: DigestSchedule | None = None
    rate_limit: RateLimit | None = None
    quiet_hours: QuietHours | None = None
    retry_period: timedelta = DEFAULT_RETRY_PERIOD
    route_tags: frozenset[str] = frozenset()
    route_sources: frozenset[str] = frozenset()

    @cached_property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def template(self, key: str) -> str:
        """The channel's template for `key`, or the default for its format."""
        return self.templates.get(key) or default_template(self.format, key)

    @property
    def routes(self) -> bool:
        return bool(self.route_tags or self.route_sources)

    def routed_to(self, rule_tags: Iterable[str], source: str) -> bool:
        """Whether an alert of a rule with `rule_tags`, on an article from `source`,
        is routed to this channel."""
        return source in self.route_sources or not self.route_tags.isdisjoint(rule_tags)


@dataclass(frozen=True)
class RuleOptions:
    """What delivery needs to know of a rule: its query (for templates), its own digest
    (which wins over the channel's) and its tags (for routing)."""

    name: str
    query: str = ""
    digest: DigestSchedule | None = None
    tags: frozenset[str] = frozenset()


def as_channels(channels: Mapping[str, Channel | Sequence[str]]) -> dict[str, Channel]:
    """Channels from either Channel objects or bare lists of URLs (plain text defaults)."""
    return {
        name: value if isinstance(value, Channel) else Channel(name, tuple(value))
        for name, value in channels.items()
    }


def channel_from_settings(name: str, settings: Any) -> Channel:
    """A Channel from a validated `[channels.NAME]` table (scheduler.config.ChannelConfig)."""
    return Channel(
        name=name,
        urls=tuple(settings.urls),
        format=settings.format,
        templates={key: getattr(settings, key) for key in TEMPLATE_KEYS
                   if getattr(settings, key)},
        timezone=settings.timezone,
        digest=DigestSchedule.parse(settings.digest) if settings.digest else None,
        rate_limit=RateLimit.parse(settings.rate_limit) if settings.rate_limit else None,
        quiet_hours=QuietHours.parse(settings.quiet_hours) if settings.quiet_hours else None,
        retry_period=settings.retry_for,
        route_tags=frozenset(settings.tags),
        route_sources=frozenset(settings.sources),
    )


def rule_options(settings: Any) -> RuleOptions:
    """RuleOptions from a validated `[[rules]]` table; `tags` is used when rules have it."""
    digest = getattr(settings, "digest", None)
    return RuleOptions(
        name=settings.name,
        query=settings.query,
        digest=DigestSchedule.parse(digest) if digest else None,
        tags=frozenset(getattr(settings, "tags", None) or ()),
    )
