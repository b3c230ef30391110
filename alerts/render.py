"""Turning notifications into messages: the variables templates see, rendered per channel.

An alert's variables are collected once (`AlertFacts`, from the database or a sample)
and then shaped for a channel: times in its timezone, the snippet highlighted and
escaped for its format. See `alerts.templates` for the variables and the defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from alerts.channels import Channel, RuleOptions
from alerts.documents import article_document
from alerts.escaping import Format, highlight, mark_safe, message_title, one_line
from alerts.highlight import snippet_spans
from alerts.matcher import Hit
from alerts.models import Notification
from alerts.templates import AlertTemplateError, default_template, render, render_plain
from crawler.urls import site_of

logger = logging.getLogger(__name__)

SNIPPET_WIDTH = 240


@dataclass(frozen=True)
class Message:
    """A rendered message: `title` is one line of plain text (see
    `alerts.escaping.service_title` for how each service gets it), `body` is in `format`."""

    title: str
    body: str
    format: Format = "text"


@dataclass(frozen=True)
class AlertFacts:
    """Everything an alert can say about one story, independent of any channel."""

    rule: str
    query: str
    headline: str
    link: str
    source: str
    published: datetime
    language: str | None
    authors: tuple[str, ...]
    snippet: str
    snippet_spans: tuple[tuple[int, int], ...]
    outlets: tuple[str, ...]  # every site carrying the story
    story_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outlet(self) -> str:
        return site_of(self.link)


def facts_of(notification: Notification, query: str = "") -> AlertFacts:
    """The facts of a notification (its article, match and story must be loadable)."""
    match = notification.match
    article = match.article if match is not None else notification.article
    hits = [Hit(**hit) for hit in (match.hits if match is not None else [])]
    document = article_document(article)
    excerpt, spans = snippet_spans(document, hits, SNIPPET_WIDTH)
    story_articles = notification.story.articles if notification.story is not None else []
    outlets = {site_of(other.url) for other in story_articles} | {site_of(article.url)}
    return AlertFacts(
        rule=notification.rule,
        query=query,
        headline=one_line(article.title or ""),
        link=article.url,
        source=document.source,
        published=article.published_at or article.first_seen_at,
        language=article.language,
        authors=document.authors,
        snippet=excerpt,
        snippet_spans=tuple(spans),
        outlets=tuple(sorted(outlets)),
        story_id=notification.story_id,
    )


def alert_variables(facts: AlertFacts, format: Format, zone: tzinfo) -> dict[str, Any]:
    """The template variables of one alert, for a channel in `format` and `zone`."""
    local = facts.published.astimezone(zone)
    snippet = highlight(facts.snippet, facts.snippet_spans, format)
    return {
        "rule": facts.rule,
        "query": facts.query,
        "headline": facts.headline,
        "link": facts.link,
        "source": facts.source,
        "outlet": facts.outlet,
        "other_outlets": [outlet for outlet in facts.outlets if outlet != facts.outlet],
        "outlet_count": len(facts.outlets),
        "published": local,
        "published_text": f"{local:%Y-%m-%d %H:%M} {local.tzname()}",
        "timezone": str(zone),
        "language": facts.language,
        "authors": list(facts.authors),
        "snippet": snippet if format == "text" else mark_safe(snippet),
        "story_id": facts.story_id,
    }


def digest_variables(
    facts: Sequence[AlertFacts], format: Format, zone: tzinfo, channel: str, reason: str
) -> dict[str, Any]:
    stories = [alert_variables(item, format, zone) for item in facts]
    return {
        "stories": stories,
        "count": len(stories),
        "rules": list(dict.fromkeys(item.rule for item in facts)),
        "channel": channel,
        "reason": reason,
    }


def render_alert(channel: Channel, facts: AlertFacts) -> Message:
    variables = alert_variables(facts, channel.format, channel.zone)
    return _render(channel, "title", "body", variables)


def render_digest(channel: Channel, facts: Sequence[AlertFacts], reason: str) -> Message:
    variables = digest_variables(facts, channel.format, channel.zone, channel.name, reason)
    return _render(channel, "digest_title", "digest_body", variables)


def _render(channel: Channel, title_key: str, body_key: str,
            variables: Mapping[str, Any]) -> Message:
    try:
        title = render_plain(channel.template(title_key), variables)
        body = render(channel.template(body_key), channel.format, variables)
    except AlertTemplateError as error:
        # Templates are checked at start; one failing on real data still sends the alert.
        logger.error("channel %r: template failed (%s); using the default", channel.name, error)
        title = render_plain(default_template(channel.format, title_key), variables)
        body = render(default_template(channel.format, body_key), channel.format, variables)
    return Message(message_title(title), body.strip(), channel.format)


def render_notifications(
    channel: Channel, notifications: Sequence[Notification],
    rules: Mapping[str, RuleOptions], reason: str = "digest",
) -> Message:
    """One notification as an alert, several as a digest listing their stories."""
    facts = [
        facts_of(item, rules[item.rule].query if item.rule in rules else "")
        for item in notifications
    ]
    if len(facts) == 1:
        return render_alert(channel, facts[0])
    return render_digest(channel, facts, reason)


def _spans_of(text: str, words: Sequence[str]) -> tuple[tuple[int, int], ...]:
    return tuple((text.index(word), text.index(word) + len(word)) for word in words)


_SAMPLE_SNIPPET = ("Russian President Vladimir Putin hailed North Korea ahead of a rare visit "
                   "to Pyongyang, his first in 24 years.")
SAMPLE_FACTS = AlertFacts(
    rule="Putin in Pyongyang",
    query="Putin visit Pyongyang",
    headline="Putin thanks North Korea for backing ahead of rare visit to Pyongyang",
    link="https://news.example.org/2024/06/18/putin-thanks-north-korea/",
    source="The Daily Example",
    published=datetime(2024, 6, 18, 9, 41, tzinfo=UTC),
    language="en",
    authors=("Jane Doe",),
    snippet=_SAMPLE_SNIPPET,
    snippet_spans=_spans_of(_SAMPLE_SNIPPET, ["Putin", "visit", "Pyongyang"]),
    outlets=("example.net", "example.org"),
    story_id=1,
)


def sample_message(channel: Channel) -> Message:
    """A sample alert as the channel would show it (for `newswatch alerts test`)."""
    facts = AlertFacts(**{
        **SAMPLE_FACTS.__dict__,
        "headline": f"newswatch test alert: {SAMPLE_FACTS.headline}",
        "published": datetime.now(UTC),
    })
    return render_alert(channel, facts)


def check_template(source: str, key: str, format: Format, timezone: str = "UTC") -> None:
    """Render a template with sample data; raise AlertTemplateError if it cannot."""
    zone = ZoneInfo(timezone)
    if key.startswith("digest"):
        variables = digest_variables([SAMPLE_FACTS, SAMPLE_FACTS], format, zone, "sample",
                                     "digest")
    else:
        variables = alert_variables(SAMPLE_FACTS, format, zone)
    if key.endswith("title"):
        render_plain(source, variables)
    else:
        render(source, format, variables)
