"""Alert templates: Jinja2 in a sandbox, one environment per message format.

Every `{{ value }}` a template prints is escaped for the channel's format unless it is
already marked safe (the highlighted snippet is): HTML through Jinja's autoescaping,
Markdown through a `finalize` hook, plain text as is. So a user's template cannot let
a headline such as `<script>` or `*[x](y)*` inject markup, even by accident. The
sandbox keeps templates from reaching Python internals. Undefined variables are
errors, and config validation renders every template once with a sample alert, so a
typo is reported at start rather than when the first alert is due.

Variables of an alert (`title`, `body`):

    rule, query             the rule's name and query
    headline, link          the article's headline and canonical URL
    source                  the configured source (feed) name
    outlet                  the site of the link, e.g. "bbc.co.uk"
    other_outlets           other sites carrying the story (list of str)
    outlet_count            how many sites carry the story, this one included
    published               publish time (first seen if unknown) in the channel's timezone
    published_text          the same as "2024-06-18 11:41 CEST"
    timezone                the channel's timezone name
    language                ISO 639-1 code, or None
    authors                 list of str
    snippet                 excerpt with the matched terms highlighted, escaped
    story_id                the story's id (for `newswatch stories show`)

Variables of a digest (`digest_title`, `digest_body`): `stories` (a list of the
alert variables above, one per story), `count`, `rules` (rule names), `channel`,
`reason` ("digest", "quiet_hours" or "rate_limit": why the stories were batched).
Filters: `url` makes a link safe inside Markdown `(...)` or an HTML attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from alerts.escaping import Format, escape_markdown, link_target

TEXT_DEFAULTS = {
    "title": "[{{ rule }}] {{ headline }}",
    "body": (
        "{{ headline }}\n"
        "{{ source }} · {{ published_text }}\n"
        "{{ link }}\n"
        "{% if other_outlets %}Also carried by {{ other_outlets|join(', ') }}"
        " ({{ outlet_count }} outlets)\n{% endif %}"
        "\n{{ snippet }}\n\nRule: {{ rule }}"
    ),
    "digest_title": "[{{ rules|join(', ') }}] {{ count }} new "
                    "{{ 'story' if count == 1 else 'stories' }}",
    "digest_body": (
        "{% for story in stories %}"
        "{{ loop.index }}. {{ story.headline }}\n"
        "   {{ story.source }} · {{ story.published_text }} · {{ story.rule }}\n"
        "   {{ story.link }}\n"
        "{% endfor %}"
    ),
}

MARKDOWN_DEFAULTS = {
    "title": TEXT_DEFAULTS["title"],
    "body": (
        "**[{{ headline }}]({{ link|url }})**\n"
        "{{ source }} · {{ published_text }}\n"
        "{% if other_outlets %}Also carried by {{ other_outlets|join(', ') }}"
        " ({{ outlet_count }} outlets)\n{% endif %}"
        "\n> {{ snippet }}\n\nRule: *{{ rule }}*"
    ),
    "digest_title": TEXT_DEFAULTS["digest_title"],
    "digest_body": (
        "{% for story in stories %}"
        "{{ loop.index }}. **[{{ story.headline }}]({{ story.link|url }})**  \n"
        "   {{ story.source }} · {{ story.published_text }} · *{{ story.rule }}*\n"
        "{% endfor %}"
    ),
}

HTML_DEFAULTS = {
    "title": TEXT_DEFAULTS["title"],
    "body": (
        '<p><b><a href="{{ link }}">{{ headline }}</a></b><br>\n'
        "{{ source }} · {{ published_text }}"
        "{% if other_outlets %}<br>\nAlso carried by {{ other_outlets|join(', ') }}"
        " ({{ outlet_count }} outlets){% endif %}</p>\n"
        "<blockquote>{{ snippet }}</blockquote>\n"
        "<p>Rule: <i>{{ rule }}</i></p>"
    ),
    "digest_title": TEXT_DEFAULTS["digest_title"],
    "digest_body": (
        "<ol>\n{% for story in stories %}"
        '<li><b><a href="{{ story.link }}">{{ story.headline }}</a></b><br>\n'
        "{{ story.source }} · {{ story.published_text }} · <i>{{ story.rule }}</i></li>\n"
        "{% endfor %}</ol>"
    ),
}

DEFAULTS: dict[str, dict[str, str]] = {
    "text": TEXT_DEFAULTS, "markdown": MARKDOWN_DEFAULTS, "html": HTML_DEFAULTS,
}
TEMPLATE_KEYS = ("title", "body", "digest_title", "digest_body")


class AlertTemplateError(ValueError):
    """A template that does not compile or render; the message says where and why."""


def default_template(format: Format, key: str) -> str:
    return DEFAULTS[format][key]


def render(source: str, format: Format, context: Mapping[str, Any]) -> str:
    """Render template text `source` for a message in `format`."""
    try:
        return _compiled(source, format, plain=False).render(context)
    except TemplateSyntaxError as error:
        raise AlertTemplateError(f"line {error.lineno}: {error.message}") from None
    except TemplateError as error:
        raise AlertTemplateError(str(error)) from None


def render_plain(source: str, context: Mapping[str, Any]) -> str:
    """Render a title template: plain text whatever the channel's format."""
    try:
        return _compiled(source, "text", plain=True).render(context)
    except TemplateSyntaxError as error:
        raise AlertTemplateError(f"line {error.lineno}: {error.message}") from None
    except TemplateError as error:
        raise AlertTemplateError(str(error)) from None


@lru_cache(maxsize=256)
def _compiled(source: str, format: Format, plain: bool) -> Template:
    return _environment(format, plain).from_string(source)


@cache
def _environment(format: Format, plain: bool) -> SandboxedEnvironment:
    if format == "html" and not plain:
        environment = SandboxedEnvironment(
            autoescape=True, undefined=StrictUndefined, finalize=_nothing_for_none
        )
    elif format == "markdown" and not plain:
        environment = SandboxedEnvironment(
            undefined=StrictUndefined, finalize=_markdown_finalize
        )
    else:
        environment = SandboxedEnvironment(
            undefined=StrictUndefined, finalize=_plain_finalize
        )
    environment.filters["url"] = lambda url: Markup(link_target(str(url), format))
    return environment


def _nothing_for_none(value: Any) -> Any:
    return "" if value is None else value


def _markdown_finalize(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Markup):
        return str(value)
    return escape_markdown(str(value))


def _plain_finalize(value: Any) -> str:
    return "" if value is None else str(value)
